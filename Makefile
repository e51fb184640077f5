# Thin wrapper around CMake; see README.md.
BUILD ?= build
JOBS ?= $(shell nproc)
MEM ?= 256

.PHONY: all wisp guest run run-only test test-only clean setup bench

all: wisp

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

wisp: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

setup:
	bash .ci/setup

guest:
	guest/build.sh $(BUILD)/guest

run: setup
	$(MAKE) wisp guest
	$(BUILD)/wisp --kernel $(BUILD)/guest/Image --initrd $(BUILD)/guest/initrd.cpio.gz --mem $(MEM)

run-only:
	$(BUILD)/wisp --kernel $(BUILD)/guest/Image --initrd $(BUILD)/guest/initrd.cpio.gz --mem $(MEM)

test: setup
	$(MAKE) wisp guest
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-only:
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

clean:
	rm -rf $(BUILD)

# Benchmarks against qemu-system-riscv64 on the same guest (BENCH_ARGS=--quick for a short run).
bench: setup
	$(MAKE) wisp guest
	python3 bench/bench.py $(BUILD)/wisp $(BUILD)/guest $(BENCH_ARGS)
