#!/usr/bin/env bash
# `mpvm pmu probe` on this host and on prepared sysfs/procfs trees, and the
# PMU config errors a user gets from `mpvm run` (exit 78 with the reason).
# The development hosts have no vPMU (kvm.enable_pmu=N, software-nested
# KVM): soft must be available, mediated and legacy not, each with reasons.
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null; then
	skip "python3 is needed to read mpvm's JSON"
fi

# json_check NAME FILE PYTHON-EXPRESSIONS...: each expression, evaluated
# with `d` = the parsed JSON, must be true.
json_check() {
	local name=$1 file=$2
	shift 2
	local msg
	if msg=$(python3 - "$file" "$@" <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
for e in sys.argv[2:]:
    if not eval(e):
        sys.exit("false: " + e)
PY
	); then pass "$name: JSON as expected"; else fail "$name: JSON check failed" "$msg"; fi
}

# ---- this host ----------------------------------------------------------------
run probe 30 -- pmu probe
expect_status probe 0
expect_out probe "^Guest PMU modes$"
expect_out probe "^  soft +yes$"
expect_out probe "^  off +yes$"
expect_out probe "^  mediated +no$"
expect_out probe "^  legacy +no$"
expect_out probe "because: kvm.enable_pmu=N: KVM has no vPMU"
expect_out probe "fix: +reload kvm with enable_pmu=1"
expect_out probe "^  kvm.enable_pmu +N$"
expect_out probe "RDPMC faults, so Linux perf cannot use it"

run probe-json 30 -- pmu probe --json
expect_status probe-json 0
printf '%s\n' "$OUT" >"$T_TMP/probe.json"
json_check probe-json "$T_TMP/probe.json" \
	'd["modes"]["soft"]["available"] is True' \
	'd["modes"]["off"]["available"] is True' \
	'd["modes"]["mediated"]["available"] is False' \
	'd["modes"]["legacy"]["available"] is False' \
	'all(r["why"] and r["fix"] for m in ("mediated", "legacy") for r in d["modes"][m]["reasons"])' \
	'len(d["modes"]["mediated"]["reasons"]) >= 1 and len(d["modes"]["legacy"]["reasons"]) >= 1' \
	'd["kvm"]["enable_pmu"] is False' \
	'd["kvm"]["caps"]["X86_MSR_FILTER"] >= 1 and d["kvm"]["caps"]["X86_USER_SPACE_MSR"] >= 1' \
	'd["root"] == "/"'
vendor=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cpu"]["vendor"])' "$T_TMP/probe.json")
vmod=kvm_intel
[ "$vendor" = amd ] && vmod=kvm_amd

# ---- prepared trees: a mediated host (as far as sysfs/procfs can say) -------
# kvm.enable_pmu=Y, <vendor module>.enable_mediated_pmu=Y, nmi_watchdog=1:
# the first KVM_CREATE_VCPU would fail with EBUSY, and the probe says why and
# what to do. The CPU itself is still this one (its CPUID is not in the tree).
tree() { # dir nmi_watchdog
	mkdir -p "$1/sys/module/kvm/parameters" "$1/sys/module/$vmod/parameters" "$1/proc/sys/kernel"
	echo Y >"$1/sys/module/kvm/parameters/enable_pmu"
	echo Y >"$1/sys/module/$vmod/parameters/enable_mediated_pmu"
	echo "$2" >"$1/proc/sys/kernel/nmi_watchdog"
	echo 2 >"$1/proc/sys/kernel/perf_event_paranoid"
}
tree "$T_TMP/watchdog" 1
run root-watchdog 30 -- pmu probe --root "$T_TMP/watchdog"
expect_status root-watchdog 0
expect_out root-watchdog "^  kvm.enable_pmu +Y$"
expect_out root-watchdog "^  $vmod.enable_mediated_pmu +Y$"
expect_out root-watchdog "^  nmi_watchdog +1$"
expect_out root-watchdog "because: nmi_watchdog=1: .*KVM_CREATE_VCPU would fail with EBUSY"
expect_out root-watchdog "fix: +echo 0 > /proc/sys/kernel/nmi_watchdog"
expect_out root-watchdog "because: $vmod.enable_mediated_pmu=Y: every VM with an in-kernel LAPIC gets the mediated vPMU"
run root-watchdog-json 30 -- pmu probe --root "$T_TMP/watchdog" --json
printf '%s\n' "$OUT" >"$T_TMP/watchdog.json"
json_check root-watchdog-json "$T_TMP/watchdog.json" \
	'd["root"].endswith("/watchdog")' \
	'd["nmi_watchdog"] == 1 and d["kvm"]["enable_pmu"] is True and d["kvm"]["enable_mediated_pmu"] is True' \
	'any("EBUSY" in r["why"] and "nmi_watchdog" in r["fix"] for r in d["modes"]["mediated"]["reasons"])'

# The same tree with the watchdog off: that reason is gone.
tree "$T_TMP/quiet" 0
run root-quiet 30 -- pmu probe --root "$T_TMP/quiet"
expect_status root-quiet 0
if grep -q "because: .*EBUSY" <<<"$OUT"; then fail "root-quiet: EBUSY reason with nmi_watchdog=0" "$OUT"
else pass "root-quiet: no EBUSY reason with nmi_watchdog=0"; fi

run root-missing 30 -- pmu probe --root "$T_TMP/nonexistent"
expect_status root-missing 64
expect_err root-missing "--root .*/nonexistent: No such file or directory"

# ---- config errors: refused before anything is created, exit 78 -----------
run mediated 30 -- run --kernel "$GUESTS/pmu.elf" --exit-port --pmu mediated
expect_status mediated 78
expect_err mediated "pmu.mode \"mediated\": this host cannot give it: kvm.enable_pmu=N: KVM has no vPMU \(fix: reload kvm with enable_pmu=1"
expect_err mediated "run \`mpvm pmu probe\` for details"
run legacy 30 -- run --kernel "$GUESTS/pmu.elf" --exit-port --pmu legacy
expect_status legacy 78
expect_err legacy "pmu.mode \"legacy\": this host cannot give it"

run too-many-gp 30 -- run --kernel "$GUESTS/pmu.elf" --exit-port --pmu soft --pmu-gp-counters 9
expect_status too-many-gp 78
expect_err too-many-gp "pmu.gp_counters: the soft model has at most 8, 9 asked"
run too-many-fixed 30 -- run --kernel "$GUESTS/pmu.elf" --exit-port --pmu soft --pmu-fixed-counters 4
expect_status too-many-fixed 78
expect_err too-many-fixed "pmu.fixed_counters: the soft model has at most 3, 4 asked"
run too-wide 30 -- run --kernel "$GUESTS/pmu.elf" --exit-port --pmu soft --pmu-gp-width 64
expect_status too-wide 78
expect_err too-wide "pmu.gp_width: the soft model takes 32..48 bits, 64 asked"
run bad-event-name 30 -- run --kernel "$GUESTS/pmu.elf" --exit-port --pmu soft --pmu-unavailable-events cache_misses
expect_status bad-event-name 64
expect_err bad-event-name "--pmu-unavailable-events: unknown architectural event \"cache_misses\""

finish
