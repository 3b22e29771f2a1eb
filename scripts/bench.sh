#!/usr/bin/env bash
# Build and run the benchmarks; each prints a Markdown table and writes JSON
# to bench/results/. Usage: scripts/bench.sh [boot|pmu|api|blk|net ...]
# (default: all that exist). RUNS=N sets the repetition count where it applies.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD_DIR=build BUILD_TYPE=Release scripts/build.sh
mkdir -p bench/results
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(boot pmu api blk net)
for b in "${want[@]}"; do
	case $b in
	boot)
		echo "== bench/boot"
		build/bench/mpvm-bench-boot --runs "${RUNS:-30}" --mpvm build/mpvm \
			--guests build/tests/guests --json bench/results/boot.json ;;
	*)
		if [ -x "build/bench/mpvm-bench-$b" ]; then
			echo "== bench/$b"
			"build/bench/mpvm-bench-$b" --mpvm build/mpvm --guests build/tests/guests \
				--json "bench/results/$b.json"
		elif [ -x "bench/$b/run.sh" ]; then
			echo "== bench/$b"
			"bench/$b/run.sh"
		fi ;;
	esac
done
