#!/bin/sh
# Build the ISA tests without CMake and run them under QEMU (spike machine) and/or wisp.
#   tests/isa/run.sh [qemu|wisp|both] [test...]
# Builds into ${OUT:-/tmp/wisp-isa}: NAME.elf for wisp, NAME-qemu.elf (-DQEMU: skips the few
# checks QEMU 7.2 gets wrong or lacks, see the tests' headers) for QEMU.
# wisp is ${WISP:-build/wisp} under the repository root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-/tmp/wisp-isa}
wisp=${WISP:-$root/build/wisp}
mode=${1:-qemu}
[ $# -gt 0 ] && shift
tests=${*:-"rv64i rv64m rv64a rvc rvfd csr trap vm misaligned"}
cflags="-march=rv64gc -mabi=lp64d -fno-pie -no-pie -nostdlib -nostartfiles -static -mcmodel=medany -Wl,--build-id=none"
mkdir -p "$out"
status=0
for t in $tests; do
	if [ "$mode" = qemu ] || [ "$mode" = both ]; then
		# shellcheck disable=SC2086
		riscv64-linux-gnu-gcc $cflags -DQEMU -I"$here" -T "$here/link.ld" \
			-o "$out/$t-qemu.elf" "$here/$t.S" || { echo "$t: BUILD FAILED"; status=1; continue; }
		timeout 30 qemu-system-riscv64 -machine spike -bios none -nographic \
			-kernel "$out/$t-qemu.elf" </dev/null >/dev/null 2>&1
		rc=$?
		echo "qemu $t: $rc"; [ $rc -eq 0 ] || status=1
	fi
	if [ "$mode" = wisp ] || [ "$mode" = both ]; then
		# shellcheck disable=SC2086
		riscv64-linux-gnu-gcc $cflags -I"$here" -T "$here/link.ld" \
			-o "$out/$t.elf" "$here/$t.S" || { echo "$t: BUILD FAILED"; status=1; continue; }
		timeout 30 "$wisp" --elf "$out/$t.elf" --timeout 20 </dev/null >"$out/$t.wisp.log" 2>&1
		rc=$?
		echo "wisp $t: $rc"; [ $rc -eq 0 ] || status=1
	fi
done
exit $status
