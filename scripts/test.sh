#!/usr/bin/env bash
# The README's second command: install what the tests need, build twice (gcc;
# clang with ASan+UBSan), run every test of both builds, fuzz for a bounded
# time, and print the wall time of each phase.
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

phase "install dependencies" scripts/deps.sh || { phase_summary; exit 1; }

builds=(build)
phase "build (gcc)" env BUILD_DIR=build scripts/build.sh || { phase_summary; exit 1; }
if [ "${TEST_SANITIZE:-1}" = 1 ]; then
	phase "build (clang, ASan+UBSan)" env BUILD_DIR=build-asan BUILD_TYPE=Debug \
		scripts/build.sh -DCMAKE_C_COMPILER=clang -DMPVM_SANITIZE=ON || { phase_summary; exit 1; }
	builds+=(build-asan)
fi

# Sanitizer settings for every test process of the ASan build (exported so
# they reach the lab too); harmless for the gcc build.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

rm -f "${builds[@]/%//Testing/skipped.txt}"
for b in "${builds[@]}"; do
	phase "tests without KVM ($b)" scripts/lib/ctest-run.sh "$b" -LE kvm -j"${TEST_JOBS:-2}"
done

where=$(scripts/kvm-lab.sh --which)
phase "tests with KVM (${builds[*]}) ${where%%:*}" \
	scripts/kvm-lab.sh -- scripts/lib/ctest-run.sh --each "${builds[@]}" -- -L kvm -j"${LAB_JOBS:-2}"

if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
	phase "fuzz (${FUZZ_SECONDS:-60} s in all)" scripts/fuzz.sh
fi

phase_summary
skips=$(cat "${builds[@]/%//Testing/skipped.txt}" 2>/dev/null)
if [ -n "$skips" ]; then
	echo "FAILED: these tests were skipped, so they did not run (CI needs every test to run):"
	echo "$skips" | sed 's/^/  /'
	exit 1
fi
phase_ok
