#!/usr/bin/env bash
# bench/api: mpvm's API next to QEMU's QMP (start -> socket ready, request
# latency). Builds the small driver if needed, prints a Markdown table and
# writes bench/results/api.json.
#
# Usage: bench/api/run.sh [api_bench options: --runs N --requests N --no-qemu]
# Env:   BUILD_DIR (default build): where mpvm and the guests are built.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
[ -x "$B/mpvm" ] || { echo "bench/api: build mpvm first (scripts/build.sh)" >&2; exit 1; }
[ -r "$B/tests/guests/counter.elf" ] || { echo "bench/api: build the guests first (make -C $B guests)" >&2; exit 1; }
bin=$B/bench/mpvm-bench-api
mkdir -p "$B/bench"
if [ ! -x "$bin" ] || [ bench/api/api_bench.c -nt "$bin" ]; then
	${CC:-cc} -std=gnu11 -O2 -Wall -Werror -o "$bin" bench/api/api_bench.c
fi
extra=()
command -v qemu-system-x86_64 >/dev/null || { echo "(QEMU not installed: mpvm only)"; extra+=(--no-qemu); }
mkdir -p bench/results
exec "$bin" --mpvm "$B/mpvm" --guest "$B/tests/guests/counter.elf" --json bench/results/api.json \
	"${extra[@]}" "$@"
