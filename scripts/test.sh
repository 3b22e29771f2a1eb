#!/usr/bin/env bash
# The README's second command: install what the tests need, build twice (gcc;
# clang with ASan+UBSan), run every test of both builds, the threaded unit
# tests under ThreadSanitizer, fuzz for a bounded time, and print the wall
# time of each phase.
#
# Tests labelled `kvm` need a real /dev/kvm: they run natively on a host with
# hardware KVM, else inside the KVM lab (scripts/kvm-lab.sh), both builds in
# one lab boot. Everything else runs natively. The run fails if any test
# failed or was skipped: CI is green only when every test ran.
#
# Env: TEST_JOBS (ctest -j for tests outside the lab, default 2),
#      LAB_JOBS (ctest -j inside the lab, default 2), FUZZ_SECONDS (60),
#      MPVM_LAB_MODE (auto|native|lab, see scripts/kvm-lab.sh),
#      TEST_SANITIZE=0 to skip the ASan+UBSan build (quicker local runs).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/phases.sh
# Debian's own tools first (deps.sh installs them): the tests run python3,
# curl and the like hundreds of times, and a version manager's shim in front
# (pyenv's costs 11 s a call in the lab, Debian's python3 1 s) would dominate.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

phase "install dependencies" scripts/deps.sh || { phase_summary; exit 1; }

builds=(build)
phase "build (gcc)" env BUILD_DIR=build scripts/build.sh || { phase_summary; exit 1; }
if [ "${TEST_SANITIZE:-1}" = 1 ]; then
	phase "build (clang, ASan+UBSan)" env BUILD_DIR=build-asan BUILD_TYPE=Debug \
		scripts/build.sh -DCMAKE_C_COMPILER=clang -DMPVM_SANITIZE=ON || { phase_summary; exit 1; }
	builds+=(build-asan)
fi

for b in "${builds[@]}"; do
	phase "Linux test guest ($b/linux)" cmake --build "$b" --target linux-guest || { phase_summary; exit 1; }
done

# Sanitizer settings for every test process of the ASan build (exported so
# they reach the lab too); harmless for the gcc build.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$PWD/tests/tsan.supp"

rm -f "${builds[@]/%//Testing/skipped.txt}" build-tsan/Testing/skipped.txt
for b in "${builds[@]}"; do
	phase "tests without KVM ($b)" scripts/lib/ctest-run.sh "$b" -LE kvm -j"${TEST_JOBS:-2}"
done

# ThreadSanitizer on the threaded unit tests (vCPUs, virtio workers, the
# API, the serial console, the soft PMU's timer): tests labelled tsan, here
# those that need no KVM; the KVM ones run with the other KVM tests below.
lab_builds=("${builds[@]}")
if [ "${TEST_SANITIZE:-1}" = 1 ]; then
	phase "ThreadSanitizer (threaded unit tests)" scripts/tsan.sh
	lab_builds+=(build-tsan:tsan)
fi

# kvm_tests: the KVM-labelled tests of every build, in one lab boot (or
# natively). If the lab itself fails (status 125: its kernel panicked or
# stalled; an emulation weakness, see README "The KVM lab"), the tests that
# had finished keep their result and the rest run in a new lab, at most
# twice more; the test that was running when it failed runs again. Each lab
# failure is reported, and LAB_FAILURES counts them for the summary.
LAB_FAILURES=0
kvm_tests() {
	local log=$TEST_TMP/kvm-tests.log done=$TEST_TMP/kvm-done.txt attempt rc
	: >"$done"
	for attempt in 1 2 3; do
		scripts/kvm-lab.sh -- scripts/lib/ctest-run.sh --skip-done "$done" --each "${lab_builds[@]}" -- \
			-L kvm -j"${LAB_JOBS:-2}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		[ "$rc" -eq 125 ] || return "$rc"
		LAB_FAILURES=$((LAB_FAILURES + 1))
		# Which tests finished, per build, from the console we received.
		awk '/^== ctest in / { d = $4 }
		     match($0, /Test +#[0-9]+: [^ ]+ .*(Passed|Failed|Skipped|Timeout|Not Run)/) {
			split(substr($0, RSTART, RLENGTH), f, " "); print d, f[3] }' "$log" >>"$done"
		echo "test: the lab failed under the tests (attempt $attempt of 3); $(wc -l <"$done") had finished; running the rest in a new lab" >&2
	done
	return 125
}
TEST_TMP=$(mktemp -d)
trap 'rm -rf "$TEST_TMP"' EXIT
where=$(scripts/kvm-lab.sh --which)
phase "tests with KVM (${lab_builds[*]}) ${where%%:*}" kvm_tests

if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
	phase "fuzz (${FUZZ_SECONDS:-60} s in all)" scripts/fuzz.sh
fi

phase_summary
[ "$LAB_FAILURES" -eq 0 ] || echo "note: the KVM lab failed $LAB_FAILURES time(s) under the tests and was restarted (see above)"
skips=$(cat "${builds[@]/%//Testing/skipped.txt}" build-tsan/Testing/skipped.txt 2>/dev/null)
if [ -n "$skips" ]; then
	echo "FAILED: these tests were skipped, so they did not run (CI needs every test to run):"
	echo "$skips" | sed 's/^/  /'
	exit 1
fi
phase_ok
