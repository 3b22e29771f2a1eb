#!/usr/bin/env bash
# The README's second command: install what the tests need, build twice (gcc;
# clang with ASan+UBSan), run every test of both builds, the threaded unit
# tests under ThreadSanitizer, fuzz for a bounded time, and print the wall
# time of each phase.
#
# Tests labelled `kvm` need a real /dev/kvm: natively where the host has one
# that can run them, else inside the KVM lab (scripts/kvm-lab.sh); see
# "Two kinds of KVM test" below. Everything else runs natively. The run fails if any test
# failed or was skipped: CI is green only when every test ran.
#
# Env: TEST_JOBS (ctest -j for tests outside the lab, default 2),
#      LAB_JOBS (ctest -j inside the lab, default 2), FUZZ_SECONDS (60),
#      LINUX_BUILDS (build folders whose Linux-guest tests run, "build"),
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

for b in ${LINUX_BUILDS:-build}; do
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

# kvm_tests TAG GUEST SPEC... -- CTEST-ARGS: tests that need /dev/kvm,
# through scripts/kvm-lab.sh --guest GUEST (natively, or all of them in one
# lab boot); output lines start with "[TAG] " when TAG is not empty. If the
# lab itself fails (status 125: its kernel panicked or stalled; an emulation
# weakness, see README "The KVM lab"), the tests that had finished keep
# their result and the rest run in a new lab, at most twice more; the test
# that was running when it failed runs again. Each lab failure is reported
# and counted in $TEST_TMP/lab-failures for the summary.
kvm_tests() {
	local tag=$1 guest=$2 log done attempt rc
	shift 2
	log=$(mktemp "$TEST_TMP/log.XXXXXX")
	done=$(mktemp "$TEST_TMP/done.XXXXXX")
	for attempt in 1 2 3; do
		scripts/kvm-lab.sh --guest "$guest" -- scripts/lib/ctest-run.sh --skip-done "$done" --each "$@" 2>&1 |
			tee "$log" | if [ -n "$tag" ]; then sed -u "s/^/[$tag] /"; else cat; fi
		rc=${PIPESTATUS[0]}
		[ "$rc" -eq 125 ] || return "$rc"
		echo "$tag" >>"$TEST_TMP/lab-failures"
		# Which tests finished, per build, from the console we received.
		awk '/^== ctest in / { d = $4 }
		     match($0, /Test +#[0-9]+: [^ ]+ .*(Passed|Failed|Skipped|Timeout|Not Run)/) {
			split(substr($0, RSTART, RLENGTH), f, " "); print d, f[3] }' "$log" >>"$done"
		echo "${tag:+[$tag] }test: the lab failed under the tests (attempt $attempt of 3); $(wc -l <"$done") had finished; running the rest in a new lab" >&2
	done
	return 125
}

# two_labs SPECS-A -- ARGS-A --- SPECS-B -- ARGS-B: two kvm_tests runs side
# by side, each in its own one-CPU lab (a one-CPU lab is the dependable kind,
# see README "The KVM lab"; two of them use both host cores). Fails if
# either failed.
two_labs() {
	local a=() b=() rc=0
	while [ "$1" != --- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	kvm_tests "lab 1" linux "${a[@]}" &
	local pa=$!
	kvm_tests "lab 2" linux "${b[@]}" &
	local pb=$!
	wait "$pa" || rc=1
	wait "$pb" || rc=1
	return $rc
}

# The tests of SPEC (BUILD:LABEL...) as a ctest -R regex, every Nth of them
# from the Kth (0-based): how two labs share the Linux tests.
share() { # K N BUILD
	(cd "$3" && ctest -N -L linux) | sed -n 's/.*Test *#[0-9]*: \(.*\)$/\1/p' |
		awk -v k="$1" -v n="$2" '(NR - 1) % n == k { gsub(/\./, "\\."); printf "%s%s", sep, $0; sep = "|" }' |
		sed 's/^/^(/; s/$/)$/'
}

# The test scripts put their scratch files here, not under /tmp: in the lab
# /tmp is the lab's own, and the tests record which tests finished here.
TEST_TMP=$(mktemp -d "$PWD/build/.test-tmp.XXXXXX")
trap 'rm -rf "$TEST_TMP"' EXIT

# Two kinds of KVM test. Those with freestanding guests run on any working
# /dev/kvm (natively even on a software KVM such as kvm_pvm), in every build:
# gcc, ASan+UBSan, and ThreadSanitizer for the threaded ones. Those that boot
# Debian's kernel (label linux) need hardware KVM, so on most CI runners they
# run in the lab, where everything is emulated 10-50x slower: they run in the
# gcc build only (LINUX_BUILDS), the product users run; the sanitizer builds
# exercise the same device models natively with the freestanding guests.
# In the lab the Linux tests are shared between two one-CPU labs; with no
# usable /dev/kvm at all, one lab takes the freestanding tests and the other
# the Linux tests.
free_specs=()
for b in "${lab_builds[@]}"; do
	case $b in *:*) free_specs+=("$b") ;; *) free_specs+=("$b:-linux") ;; esac
done
linux_specs=()
for b in ${LINUX_BUILDS:-build}; do linux_specs+=("$b:linux"); done
free_where=$(scripts/kvm-lab.sh --guest any --which)
linux_where=$(scripts/kvm-lab.sh --guest linux --which)
j=${TEST_JOBS:-2}
if [ "${free_where%%:*}" = lab ]; then
	phase "tests with KVM (${free_specs[*]} | ${linux_specs[*]}) in two labs" \
		two_labs "${free_specs[@]}" -- -L kvm -j1 --- "${linux_specs[@]}" -- -L kvm -j1
elif [ "${linux_where%%:*}" = lab ]; then
	phase "tests with KVM, freestanding guests (${free_specs[*]}) native" \
		kvm_tests "" any "${free_specs[@]}" -- -L kvm -j"$j"
	# Every other Linux test to each lab (the same split in every build).
	phase "tests with KVM, Linux guests (${linux_specs[*]}) in two labs" \
		two_labs "${linux_specs[@]}" -- -L kvm -j1 -R "$(share 0 2 build)" \
		--- "${linux_specs[@]}" -- -L kvm -j1 -R "$(share 1 2 build)"
else
	phase "tests with KVM (${free_specs[*]} ${linux_specs[*]}) native" \
		kvm_tests "" linux "${free_specs[@]}" "${linux_specs[@]}" -- -L kvm -j"$j"
fi

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
