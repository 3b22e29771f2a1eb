#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c, CMake option
# MPVM_FUZZ) with clang, ASan and UBSan, replays the regression inputs
# (tests/fuzz/regress/<target>/: crashes found earlier), then fuzzes each
# target for a bounded time, starting from the seeds in
# tests/fuzz/corpus/<target>/.
#
# Two modes:
#  - smoke (the default, what scripts/test.sh runs): FUZZ_SECONDS in total,
#    split evenly over the targets;
#  - bounded long run: FUZZ_RUNS=1000000 runs every target until it has
#    executed that many inputs (no time limit), one target after the other,
#    and prints each one's executions and wall time (the numbers in
#    tests/fuzz/README.md come from this).
#
# Env: FUZZ_SECONDS  total fuzzing budget, split over the targets (default 60)
#      FUZZ_RUNS     executions per target: the bounded long run (unset: smoke)
#      FUZZ_TARGETS  space-separated subset of the targets (default: all)
#      FUZZ_BUILD_DIR build directory (default build-fuzz)
#      FUZZ_CC       clang binary (default clang)
# A target's tests/fuzz/<target>.options holds extra libFuzzer flags for it
# (e.g. a smaller -max_len than the default 65536).
# Exit status non-zero on any crash, leak or hang; the input that did it is in
# $FUZZ_BUILD_DIR/artifacts/. Once fixed, copy it into tests/fuzz/regress/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${FUZZ_CC:-clang}
B=${FUZZ_BUILD_DIR:-build-fuzz}
TOTAL=${FUZZ_SECONDS:-60}
if ! command -v "$CC" >/dev/null; then
	echo "fuzz: $CC not found (apt-get install clang); not fuzzing" >&2
	exit 1
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
targets=()
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then
		continue
	fi
	targets+=("$name")
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no target matches FUZZ_TARGETS=$FUZZ_TARGETS" >&2
	exit 1
fi
echo "== fuzz: building ${targets[*]} with $CC, coverage and sanitizers ($B)"
mkdir -p "$B"
cmake -S . -B "$B" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Debug -DMPVM_FUZZ=ON \
	-DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link $SAN" >"$B/cmake.log" 2>&1 ||
	{ cat "$B/cmake.log"; exit 1; }
cmake --build "$B" --target "${targets[@]}" -j2 >"$B/build.log" 2>&1 ||
	{ tail -40 "$B/build.log"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1
per=$((TOTAL / ${#targets[@]}))
[ "$per" -ge 1 ] || per=1
mkdir -p "$B/artifacts"
for name in "${targets[@]}"; do
	regress=tests/fuzz/regress/$name
	if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
		echo "== fuzz: $name: replaying $(ls "$regress" | wc -l) regression input(s)"
		"$B/$name" -runs=0 -timeout=10 "$regress" 2>"$B/$name.regress.log" ||
			{ tail -40 "$B/$name.regress.log"; exit 1; }
	fi
	work=$B/corpus/$name
	mkdir -p "$work"
	seeds=()
	[ -d "tests/fuzz/corpus/$name" ] && seeds+=("tests/fuzz/corpus/$name")
	dict=()
	[ -f "tests/fuzz/$name.dict" ] && dict+=("-dict=tests/fuzz/$name.dict")
	opts=(-max_len=65536)
	[ -f "tests/fuzz/$name.options" ] && read -r -a opts <"tests/fuzz/$name.options"
	if [ -n "${FUZZ_RUNS:-}" ]; then
		limit=(-runs="$FUZZ_RUNS")
		echo "== fuzz: $name for $FUZZ_RUNS executions"
	else
		limit=(-max_total_time="$per")
		echo "== fuzz: $name for ${per}s"
	fi
	start=$(date +%s)
	if ! "$B/$name" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 "${opts[@]}" \
		-print_final_stats=1 -artifact_prefix="$B/artifacts/$name-" "${dict[@]}" \
		"$work" "${seeds[@]}" >"$B/$name.log" 2>&1; then
		tail -60 "$B/$name.log"
		echo "fuzz: $name failed; the input is in $B/artifacts/" >&2
		exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/$name.log")
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$B/$name.log")
	echo "   $name: $execs executions in $(($(date +%s) - start)) s, peak RSS $rss MB"
done
echo "== fuzz: all targets clean"
