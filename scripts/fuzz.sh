#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c, CMake option
# MPVM_FUZZ) with clang, ASan and UBSan, replays the regression inputs
# (tests/fuzz/regress/<target>/: crashes found earlier), then fuzzes each
# target for a bounded time, starting from the seeds in
# tests/fuzz/corpus/<target>/.
#
# Env: FUZZ_SECONDS  total fuzzing budget, split over the targets (default 60)
#      FUZZ_BUILD_DIR build directory (default build-fuzz)
#      FUZZ_CC       clang binary (default clang)
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
	targets+=("$(basename "$src" .c)")
done
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
		"$B/$name" -runs=0 "$regress" 2>"$B/$name.regress.log" ||
			{ tail -40 "$B/$name.regress.log"; exit 1; }
	fi
	work=$B/corpus/$name
	mkdir -p "$work"
	seeds=()
	[ -d "tests/fuzz/corpus/$name" ] && seeds+=("tests/fuzz/corpus/$name")
	dict=()
	[ -f "tests/fuzz/$name.dict" ] && dict+=("-dict=tests/fuzz/$name.dict")
	echo "== fuzz: $name for ${per}s"
	if ! "$B/$name" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$B/artifacts/$name-" "${dict[@]}" \
		"$work" "${seeds[@]}" >"$B/$name.log" 2>&1; then
		tail -60 "$B/$name.log"
		echo "fuzz: $name failed; the input is in $B/artifacts/" >&2
		exit 1
	fi
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$B/$name.log" | sed "s/^/   $name: /"
done
echo "== fuzz: all targets clean"
