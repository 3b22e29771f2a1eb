#!/usr/bin/env bash
# lab-soak.sh RUNS [BUILD_DIR...]: the flake-rate measurement of the KVM
# lab. Runs the KVM-labelled tests of the given builds (default: build
# build-asan, as scripts/test.sh does) RUNS times, each in a fresh lab boot,
# and tallies per run: every test passed, a test failed (which), or the lab
# itself failed (status 125: panic, stall; the kvm-lab line says which).
# Prints a table and writes bench/results/lab-soak.json. Build first
# (scripts/test.sh, or scripts/build.sh and the linux-guest target).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
runs=${1:?usage: scripts/lab-soak.sh RUNS [BUILD_DIR...]}
shift
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build build-asan)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p bench/results
log=$(mktemp)
trap 'rm -f "$log"' EXIT
results=()
for i in $(seq "$runs"); do
	t0=$SECONDS
	scripts/kvm-lab.sh -- scripts/lib/ctest-run.sh --each "${builds[@]}" -- -L kvm -j"${LAB_JOBS:-2}" >"$log" 2>&1
	rc=$?
	failed=$(grep -oE 'Test +#[0-9]+: [^ ]+ .*\*\*\*(Failed|Timeout)' "$log" | awk '{ print $3 }' | sort -u | tr '\n' ' ')
	if [ "$rc" = 125 ]; then
		what="lab failure: $(grep -m1 -oE 'kvm-lab: the lab [^:]*|Kernel panic - not syncing: .*' "$log" | head -n1)"
	elif [ "$rc" = 0 ]; then
		what=pass
	else
		what="test failure: ${failed:-status $rc}"
	fi
	printf 'run %2d  %5d s  %s\n' "$i" $((SECONDS - t0)) "$what"
	results+=("$(printf '{"run": %d, "seconds": %d, "status": %d, "result": "%s"}' "$i" $((SECONDS - t0)) "$rc" "${what//\"/\'}")")
	[ "$rc" = 0 ] || cp "$log" "bench/results/lab-soak-run$i.log"
done
{
	echo "{ \"benchmark\": \"lab-soak\", \"builds\": \"${builds[*]}\", \"runs\": ["
	(IFS=,; echo "${results[*]}" | sed 's/},{/},\n{/g')
	echo "] }"
} >bench/results/lab-soak.json
echo "lab-soak: $(grep -c '"result": "pass"' bench/results/lab-soak.json) of $runs runs passed; details in bench/results/lab-soak.json (failed runs' logs beside it)"
