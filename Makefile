# Thin wrapper around CMake; see README.md.
BUILD ?= build
JOBS ?= $(shell nproc)
MEM ?= 256

.PHONY: all wisp guest guest-python bench-faas run run-only test test-only clean setup bench

all: wisp

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

wisp: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

setup:
	bash .ci/setup

guest:
	guest/build.sh $(BUILD)/guest

# wisp-faas's python3 runtime drive from Debian trixie's riscv64 packages (cached; docs/faas.md).
guest-python: guest
	guest/python.sh $(BUILD)/guest

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
	rm -rf $(BUILD) $(BUILD)-san $(BUILD)-fuzz

# Benchmarks against qemu-system-riscv64 on the same guest (BENCH_ARGS=--quick for a short run).
bench: setup
	$(MAKE) wisp guest
	python3 bench/bench.py $(BUILD)/wisp $(BUILD)/guest $(BENCH_ARGS)
	python3 bench/smp.py $(BUILD)/wisp $(BUILD)/guest $(SMP_BENCH_ARGS)

# Density (issue 18): N idle clones of one snapshot, memory and idle CPU per clone, creation rate.
# DENSITY_ARGS e.g. "--clones 10000 --raise-limits"; see bench/density.py.
.PHONY: bench-density
bench-density: setup
	$(MAKE) wisp guest
	python3 bench/density.py $(BUILD)/wisp $(BUILD)/guest $(DENSITY_ARGS)
# wisp-faas against runc (apt-get install runc busybox-static) and the keep-alive simulator (docs/faas.md).
bench-faas:
	$(MAKE) wisp guest
	python3 bench/faas.py $(BUILD) $(BENCH_ARGS)

# ---- sanitizers and fuzzing (fuzz/) ----
# test-tsan: ThreadSanitizer on the SMP paths (not in CI: slow): a 2-vCPU Linux runs wisp-smp-test under a TSan
# build in $(BUILD)-tsan; guest-memory accesses are suppressed (tests/tsan/wisp.supp), anything else fails.
.PHONY: test-tsan
test-tsan: setup
	$(MAKE) guest
	cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWISP_TSAN=ON -DWISP_GUEST_DIR=$(abspath $(BUILD))/guest
	cmake --build $(BUILD)-tsan -j$(JOBS) --target wisp
	python3 tests/tsan/smp_tsan.py $(BUILD)-tsan/wisp $(BUILD)/guest

# test-san: the whole tree and every test under ASan + UBSan, in $(BUILD)-san, booting the guest of $(BUILD); the
# end-to-end tests once (the default backend), the others also under the interpreter (their @interp twins).
# fuzz: the libFuzzer targets (clang), FUZZ_SECONDS each; see fuzz/run.sh. fuzz-corpus: regenerate the seeds.
FUZZ_SECONDS ?= 60
.PHONY: test-san fuzz fuzz-corpus
test-san: setup
	$(MAKE) guest
	cmake -S . -B $(BUILD)-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWISP_SANITIZE=ON \
		-DWISP_GUEST_DIR=$(abspath $(BUILD))/guest
	cmake --build $(BUILD)-san -j$(JOBS)
	cd $(BUILD)-san && ctest --output-on-failure -j$(JOBS) -E '^e2e_.*@interp$$'

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh $(BUILD)-fuzz

fuzz-corpus:
	python3 fuzz/gen_corpus.py
