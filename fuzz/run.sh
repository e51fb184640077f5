#!/usr/bin/env bash
# `make fuzz`: build the libFuzzer targets with clang (ASan + UBSan + coverage) and run each for a bounded
# time. New coverage is kept in BUILD_DIR/fuzz-corpus/<target> (reused by the next run); the committed
# seeds in fuzz/corpus/<target> are read, never written. A crash stops that target, leaves the input in
# BUILD_DIR/fuzz-artifacts/<target>/ and makes the script fail: copy the input to
# fuzz/corpus/<target>/regress-<what> (the corpus replay test then fails too), fix, re-run.
#
# usage: fuzz/run.sh [BUILD_DIR]     (default build-fuzz)
# env:   FUZZ_SECONDS   seconds per target (default 60)
#        FUZZ_TARGETS   space-separated subset (default: every target the build defines)
#        FUZZ_MAX_LEN   largest input libFuzzer makes (default 8192)
#        FUZZ_CC        compiler (default clang)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
maxlen=${FUZZ_MAX_LEN:-8192}
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found: apt-get install clang libclang-rt-14-dev (or run .ci/setup)" >&2
	exit 1
fi
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DWISP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzzers

targets=${FUZZ_TARGETS:-$(tr ';' ' ' <"$build/fuzz-targets.txt")}
summary="$build/fuzz-summary.txt"
: >"$summary"
failed=()
total=0
for t in $targets; do
	work="$build/fuzz-corpus/$t"
	art="$build/fuzz-artifacts/$t"
	log="$build/fuzz-$t.log"
	mkdir -p "$work" "$art"
	extra=()
	[ "$t" = loader ] && extra+=(-close_fd_mask=2) # it reports every rejected image on stderr
	echo "fuzz: $t for ${secs}s" >&2
	status=0
	"$build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" "${extra[@]}" "$work" "fuzz/corpus/$t" \
		>"$log" 2>&1 || status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	corp=$(find "$work" -type f | wc -l)
	total=$((total + ${execs:-0}))
	if [ "$status" -ne 0 ]; then
		failed+=("$t")
		printf '%-8s FAILED (status %d) after %s executions: see %s, input in %s\n' "$t" "$status" \
			"${execs:-?}" "$log" "$art" | tee -a "$summary"
		grep -E 'ERROR|runtime error|invariant broken|SUMMARY' "$log" | head -5 >&2 || true
	else
		printf '%-8s %12s executions  %6s edges  %6s corpus files\n' "$t" "${execs:-?}" "${cov:-?}" \
			"$corp" | tee -a "$summary"
	fi
done
echo "total    $total executions" | tee -a "$summary"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: crashes in: ${failed[*]}" >&2
	exit 1
fi
