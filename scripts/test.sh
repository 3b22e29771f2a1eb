#!/usr/bin/env bash
# The README's second command: install deps, build, run every test (unit +
# integration on real /dev/kvm), then the same suite under ASan+UBSan, then
# the fuzzers for a bounded time. Exit status non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== build (gcc) and test"
BUILD_DIR=build scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 300)

echo "== build (clang) with ASan+UBSan and test"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DCMAKE_C_COMPILER=clang -DMPVM_SANITIZE=ON
(cd build-asan && ctest --output-on-failure -j2 --timeout 300)

if [ -x scripts/fuzz.sh ]; then
	echo "== fuzz (bounded)"
	scripts/fuzz.sh
fi
