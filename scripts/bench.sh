#!/usr/bin/env bash
# Build and run the benchmarks; each prints a Markdown table and writes JSON
# to bench/results/. Usage: scripts/bench.sh [boot|pmu|api|blk|net|snapshot ...]
# (default: all). RUNS=N sets the repetition count where it applies,
# LINUX_RUNS=N that of bench/boot's Linux boots (default 5).
#
# Every benchmark needs /dev/kvm: they run natively on a host with hardware
# KVM, else in the KVM lab (scripts/kvm-lab.sh), and every QEMU comparison
# runs in that same place, in the same lab boot as mpvm's. In the lab
# absolute times are emulated (QEMU TCG under nested SVM): read the ratios.
# bench/results/environment.json says where the numbers come from, and each
# result file carries the same "environment" object.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH" # Debian's tools (see scripts/test.sh)

if [ "${1:-}" = --inside ]; then
	shift
	for b in "$@"; do
		case $b in
		boot)
			echo "== bench/boot"
			build/bench/mpvm-bench-boot --runs "${RUNS:-30}" --mpvm build/mpvm \
				--guests build/tests/guests --json bench/results/boot.json \
				--linux build/linux --linux-runs "${LINUX_RUNS:-5}" ;;
		api)
			echo "== bench/api"
			bench/api/run.sh ;;
		snapshot)
			echo "== bench/snapshot"
			bench/snapshot/run.sh "${RUNS:-5}" ;;
		*)
			echo "== bench/$b"
			"build/bench/mpvm-bench-$b" --mpvm build/mpvm --guests build/tests/guests \
				--json "bench/results/$b.json" ;;
		esac
	done
	exit 0
fi

scripts/deps.sh
BUILD_DIR=build BUILD_TYPE=Release scripts/build.sh
tests/linux/build.sh build/linux # the Linux guest of bench/boot
mkdir -p bench/results
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(boot pmu api blk net snapshot)
for b in "${want[@]}"; do
	case $b in
	boot | pmu | api | blk | net | snapshot) ;;
	*) echo "bench: unknown benchmark $b (boot, pmu, api, blk, net, snapshot)" >&2; exit 64 ;;
	esac
done

where=$(scripts/kvm-lab.sh --which)
echo "bench: ${where}"
python3 - "$where" "${want[@]}" >bench/results/environment.json <<'PY'
import json, subprocess, sys, time
where = sys.argv[1]
kind = where.split(":")[0]
env = {
    "where": kind,
    "why": where.split(": ", 1)[1] if ": " in where else "",
    "note": ("absolute times are emulated (QEMU TCG, nested SVM): compare the VMMs as ratios"
             if kind == "lab" else "native hardware KVM"),
    "host_cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
    "host_cores": len([l for l in open("/proc/cpuinfo") if l.startswith("processor")]),
    "date": time.strftime("%Y-%m-%d"),
    "benchmarks": sys.argv[2:],
}
print(json.dumps(env, indent=2))
PY
# In the lab: bench/boot and bench/snapshot (they boot Linux) with one lab CPU, the others with
# two (the reasons are in scripts/kvm-lab.sh --cpus), one lab after the
# other so that they do not compete for the host.
linux=() other=()
for b in "${want[@]}"; do
	if [ "$b" = boot ] || [ "$b" = snapshot ]; then linux+=("$b"); else other+=("$b"); fi
done
# A lab that fails under a benchmark (status 125: see README "The KVM lab")
# gets one more try; the numbers come from a run that finished.
in_lab() { # CPUS BENCH...
	local cpus=$1 rc
	shift
	for try in 1 2; do
		rc=0
		scripts/kvm-lab.sh --cpus "${MPVM_LAB_CPUS:-$cpus}" -- scripts/bench.sh --inside "$@" || rc=$?
		[ "$rc" = 125 ] || return "$rc"
		echo "bench: the lab failed under the benchmarks (try $try of 2)" >&2
	done
	return 125
}
[ ${#linux[@]} -eq 0 ] || in_lab 1 "${linux[@]}"
[ ${#other[@]} -eq 0 ] || in_lab 2 "${other[@]}"
# Label every result with where it was measured.
python3 - "${want[@]}" <<'PY'
import json, sys
env = json.load(open("bench/results/environment.json"))
for b in sys.argv[1:]:
    path = "bench/results/%s.json" % b
    try:
        r = json.load(open(path))
    except (OSError, ValueError):
        continue
    if isinstance(r, dict):
        r["environment"] = env
        json.dump(r, open(path, "w"), indent=2)
PY
echo "bench: results in bench/results/ ($(python3 -c 'import json; print(json.load(open("bench/results/environment.json"))["note"])'))"
