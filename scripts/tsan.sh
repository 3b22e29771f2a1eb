#!/usr/bin/env bash
# ThreadSanitizer run of the unit tests that run mpvm's threads (ctest label
# `tsan`, listed in tests/CMakeLists.txt): vCPU threads, virtio device
# workers, the API server, the serial console, the soft PMU's timer.
# Builds with clang and -DMPVM_TSAN=ON into build-tsan (or $TSAN_BUILD_DIR),
# then runs them; any race report fails the run (TSan's exit code 66), and so
# does any failing test. Suppressions, each with its reason, are in
# tests/tsan.supp. A test that needs /dev/kvm is skipped on a host without
# it (said at the end), which does not fail the run.
#
# Env: TSAN_BUILD_DIR  build directory (default build-tsan)
#      TSAN_CC         clang binary (default clang)
#      TSAN_JOBS       parallel tests and build jobs (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${TSAN_CC:-clang}
B=${TSAN_BUILD_DIR:-build-tsan}
J=${TSAN_JOBS:-2}
if ! command -v "$CC" >/dev/null; then
	echo "tsan: $CC not found (apt-get install clang)" >&2
	exit 1
fi

echo "== tsan: configuring $B with $CC and -fsanitize=thread"
mkdir -p "$B"
cmake -S . -B "$B" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPVM_TSAN=ON \
	>"$B/cmake.log" 2>&1 || { cat "$B/cmake.log"; exit 1; }
mapfile -t targets < <(cd "$B" && ctest -N -L tsan | sed -n 's/.* unit\.\(test_[a-z0-9_]*\)$/\1/p')
[ "${#targets[@]}" -gt 0 ] || { echo "tsan: no test carries the tsan label" >&2; exit 1; }
echo "== tsan: building ${targets[*]}"
# The test guests (tests/guests) are what the vCPU test boots.
cmake --build "$B" --target guests "${targets[@]}" -j"$J" >"$B/build.log" 2>&1 ||
	{ tail -40 "$B/build.log"; exit 1; }

# halt_on_error: the first race ends the test with exitcode 66, so CTest
# counts it as a failure and the report is the last thing in its output.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 history_size=4 suppressions=$PWD/tests/tsan.supp ${TSAN_OPTIONS:-}"
echo "== tsan: running ${#targets[@]} tests (ctest -L tsan)"
cd "$B"
rc=0
ctest -L tsan -j"$J" --timeout 600 --output-on-failure >ctest-tsan.log 2>&1 || rc=$?
grep -E '^ *[0-9]+/[0-9]+ Test|tests passed|tests failed' ctest-tsan.log || true
if grep -q "WARNING: ThreadSanitizer" ctest-tsan.log; then
	echo "tsan: race reports (full output in $B/ctest-tsan.log):" >&2
	grep -A30 "WARNING: ThreadSanitizer" ctest-tsan.log | head -120 >&2
	exit 1
fi
if [ "$rc" -ne 0 ]; then
	echo "tsan: tests failed (output in $B/ctest-tsan.log)" >&2
	tail -60 ctest-tsan.log >&2
	exit "$rc"
fi
if grep -q 'Skipped' ctest-tsan.log; then
	echo "tsan: skipped here (no /dev/kvm?):" $(grep -o 'unit\.test_[a-z0-9_]* \.*\*\*\*Skipped' ctest-tsan.log | cut -d' ' -f1)
fi
echo "== tsan: no races"
