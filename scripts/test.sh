#!/usr/bin/env bash
# The README's second command: install what the tests need, build twice (gcc;
# clang with ASan+UBSan), run every test of both builds, the threaded unit
# tests under ThreadSanitizer, fuzz for a bounded time, and print the wall
# time of each phase.
#
# Tests labelled `kvm` need a real /dev/kvm: natively where the host has one
# that can run them, else inside the KVM lab (scripts/kvm-lab.sh); see
# scripts/lib/kvm-suite.sh. Everything else runs natively. The run fails if
# any test failed or was skipped: CI is green only when every test ran.
#
# Env: TEST_JOBS (ctest -j for tests outside the lab, default 2),
#      FUZZ_SECONDS (60),
#      LINUX_BUILDS (build folders whose Linux-guest tests run: both),
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

# The Linux-guest tests run in the gcc and ASan+UBSan builds.
export LINUX_BUILDS=${LINUX_BUILDS:-${builds[*]}}
for b in $LINUX_BUILDS; do
	phase "Linux test guest ($b/linux)" cmake --build "$b" --target linux-guest || { phase_summary; exit 1; }
done

# Sanitizer settings for every test process (scripts/lib/sanitizer-env.sh).
. scripts/lib/sanitizer-env.sh

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

# The test scripts and kvm_suite keep their scratch files here, not under
# /tmp: in the lab /tmp is the lab's own.
TEST_TMP=$(mktemp -d "$PWD/build/.test-tmp.XXXXXX")
trap 'rm -rf "$TEST_TMP"' EXIT
. scripts/lib/kvm-suite.sh
kvm_suite "${lab_builds[@]}"

if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
	phase "fuzz (${FUZZ_SECONDS:-60} s in all)" scripts/fuzz.sh
fi

phase_summary
[ -s "$TEST_TMP/lab-failures" ] &&
	echo "note: the KVM lab failed $(wc -l <"$TEST_TMP/lab-failures") time(s) under the tests and was restarted (see above)"
skips=$(cat "${builds[@]/%//Testing/skipped.txt}" build-tsan/Testing/skipped.txt 2>/dev/null)
if [ -n "$skips" ]; then
	echo "FAILED: these tests were skipped, so they did not run (CI needs every test to run):"
	echo "$skips" | sed 's/^/  /'
	exit 1
fi
phase_ok
