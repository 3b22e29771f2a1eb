#!/usr/bin/env bash
# lab-soak.sh RUNS [BUILD[:LABEL]...]: the flake-rate measurement of the KVM
# tests as CI runs them. Runs scripts/test.sh's KVM part (kvm_suite, from
# scripts/lib/kvm-suite.sh: the same placement, labs and retries) RUNS
# times, by default for build build-asan build-tsan:tsan as test.sh does, and
# tallies per run: every test passed, a test failed (which), and how often a
# lab itself failed (panic, stall: retried by kvm_suite, counted here).
# Prints a table and writes bench/results/lab-soak.json; a failed run's log
# goes beside it. Build first (scripts/test.sh does).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
. scripts/lib/phases.sh
. scripts/lib/kvm-suite.sh
runs=${1:?usage: scripts/lab-soak.sh RUNS [BUILD[:LABEL]...]}
shift
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build build-asan build-tsan:tsan)
# As scripts/test.sh: the Linux-guest tests of the gcc and ASan builds.
export LINUX_BUILDS=${LINUX_BUILDS:-build build-asan}
. scripts/lib/sanitizer-env.sh
mkdir -p bench/results
results=()
pass=0
lab_fail_total=0
for i in $(seq "$runs"); do
	TEST_TMP=$(mktemp -d "$PWD/build/.test-tmp.XXXXXX")
	log=$TEST_TMP/run.log
	t0=$SECONDS
	kvm_suite "${builds[@]}" >"$log" 2>&1
	rc=$?
	labf=0
	[ -s "$TEST_TMP/lab-failures" ] && labf=$(wc -l <"$TEST_TMP/lab-failures")
	lab_fail_total=$((lab_fail_total + labf))
	failed=$(grep -oE 'Test +#[0-9]+: [^ ]+ .*\*\*\*(Failed|Timeout)' "$log" | awk '{ print $3 }' | sort -u | tr '\n' ' ')
	if [ "$rc" = 0 ]; then
		what=pass
		pass=$((pass + 1))
	else
		what="failed: ${failed:-status $rc}"
	fi
	printf 'run %2d  %5d s  %-40s lab failures retried: %d\n' "$i" $((SECONDS - t0)) "$what" "$labf"
	results+=("$(printf '{"run": %d, "seconds": %d, "status": %d, "result": "%s", "lab_failures_retried": %d}' \
		"$i" $((SECONDS - t0)) "$rc" "${what//\"/\'}" "$labf")")
	[ "$rc" = 0 ] && [ "$labf" = 0 ] || cp "$log" "bench/results/lab-soak-run$i.log"
	rm -rf "$TEST_TMP"
done
{
	echo "{ \"benchmark\": \"lab-soak\", \"builds\": \"${builds[*]}\", \"where\": \"$(scripts/kvm-lab.sh --guest any --which | cut -d: -f1) / $(scripts/kvm-lab.sh --which | cut -d: -f1)\", \"runs\": ["
	(IFS=,; echo "${results[*]}" | sed 's/},{/},\n{/g')
	echo "] }"
} >bench/results/lab-soak.json
echo "lab-soak: $pass of $runs runs passed; $lab_fail_total lab failure(s) retried; details in bench/results/lab-soak.json"
