#!/usr/bin/env bash
# The guest PMU end to end on the real /dev/kvm, with mpvm's userspace
# (soft) PMU model: the pmu test guest reads leaf 0xA, programs counters,
# sees cycles advance, takes #GPs on reserved bits and PMIs at its LVTPC
# vector (fixed and NMI), clears overflow status; a deny filter or an event
# marked unavailable stops a GP counter; mode off and auto (off on a host
# with no vPMU) show no PMU. The guest counts its own PMU MSR accesses and
# the test compares them with what mpvm says it trapped (the "PMU summary"
# log line at exit, and GET /pmu over the API socket while the guest waits).
# Guest exit codes: tests/guests/pmu_guest.h (mpvm status = code * 2 + 1).
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null; then
	skip "python3 is needed to read mpvm's JSON"
fi

PMU_ELF="$GUESTS/pmu.elf"
SOFT_LEAF="version=2 gp=4 width=48 fixed=3 fixed_width=48 ebx=0x7a"

if ! "$MPVM" pmu probe --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["modes"]["soft"]["available"] else 1)'; then
	skip "this host cannot run the soft PMU (see mpvm pmu probe)"
fi

# The MSR accesses the guest says it made and the ones mpvm trapped, as
# sorted "0xMSR:rRwW" tokens.
guest_accesses() { grep -E '^pmu: msr accesses ' <<<"$OUT" | grep -oE '0x[0-9a-f]+:r[0-9]+w[0-9]+' | sort; }
mpvm_accesses() { grep -oE 'PMU summary: .*' <<<"$ERR" | sed 's/.*; by MSR://; s/; events programmed.*//' |
	grep -oE '0x[0-9a-f]+:r[0-9]+w[0-9]+' | sort; }

# name: the guest's own count of PMU MSR accesses equals mpvm's, token for
# token, and so do the totals and #GPs.
expect_accesses_match() {
	local g m total gp
	g=$(guest_accesses)
	m=$(mpvm_accesses)
	if [ -n "$g" ] && [ "$g" = "$m" ]; then
		pass "$1: mpvm trapped exactly the PMU MSR accesses the guest made ($(wc -l <<<"$g") MSRs)"
	else
		fail "$1: trapped accesses differ from the guest's" "guest: $(echo $g)
mpvm:  $(echo $m)"
	fi
	total=$(grep -oE '^pmu: msr accesses total=[0-9]+' <<<"$OUT" | grep -oE '[0-9]+$')
	gp=$(grep -oE '^pmu: msr accesses total=[0-9]+ gp=[0-9]+' <<<"$OUT" | grep -oE '[0-9]+$')
	expect_err "$1" "PMU summary: mode soft .*; $total PMU MSR exits to mpvm \($gp answered #GP\)"
}

# ---- soft, from flags: every check of the guest ---------------------------
run soft 60 -- run --kernel "$PMU_ELF" --exit-port --pmu soft --log-level Info \
	--cmdline "expect=soft $SOFT_LEAF"
expect_status soft 1
expect_out soft "^pmu: version=2 gp=4 width=48 fixed=3 ebx=0x7a$"
expect_out soft "^pmu: ok   PMC0 \(0x3c core cycles\) advances while spinning"
expect_out soft "^pmu: ok   FIXED_CTR1 \(core cycles\) advances while spinning"
expect_out soft "^pmu: ok   #GP on PERFEVTSEL0 bit 21"
expect_out soft "^pmu: ok   #GP on FIXED_CTR_CTRL bit 2"
expect_out soft "^pmu: ok   #GP on write to GLOBAL_STATUS"
expect_out soft "^pmu: ok   rdpmc does not read the soft counters"
expect_out soft "^pmu: ok   PMI arrived at vector 240 "
expect_out soft "^pmu: ok   PMI arrived at vector 2 "
expect_out soft "^pmu: ok   OVF_CTRL clears the bit: GLOBAL_STATUS = 0x0"
expect_out soft "^pmu: [0-9]+ checks, 0 failed$"
expect_out soft "^pmu: pass$"
expect_err soft "PMU summary: mode soft \(configured: soft\);.*PMIs injected 2, masked 1, dropped 0; denied programs 0"
expect_err soft "events programmed: 0x3c:00\(core_cycles\)=[0-9]+ 0xc0:00\(instructions\)=1 fixed0=1 fixed1=[0-9]+ fixed2=[0-9]+"
expect_accesses_match soft

# Another LVTPC vector: the PMI follows the guest's choice.
run soft-vector 60 -- run --kernel "$PMU_ELF" --exit-port --pmu soft --cmdline "expect=soft pmi_vector=0x40"
expect_status soft-vector 1
expect_out soft-vector "^pmu: ok   PMI arrived at vector 64 "

# ---- soft, from a config file: fewer/narrower counters, deny filter, an
# event hidden in leaf 0xA ---------------------------------------------------
cat >"$T_TMP/pmu.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$PMU_ELF",
                   "boot_args": "expect=soft version=2 gp=2 width=40 fixed=3 fixed_width=44 ebx=0x7e expect_denied=1" },
  "logger": { "level": "Info" },
  "debug": { "exit_port": true },
  "pmu": { "mode": "soft", "gp_counters": 2, "gp_width": 40, "fixed_width": 44,
           "unavailable_events": ["reference_cycles"],
           "filter": { "action": "deny", "events": [ { "event_select": "0x3c", "unit_mask": "0x00" } ] } }
}
JSON
run config 60 -- run --config-file "$T_TMP/pmu.json"
expect_status config 1
expect_out config "^pmu: version=2 gp=2 width=40 fixed=3 ebx=0x7e$"
expect_out config "^pmu: ok   denied event 0x3c:00 on PMC0 does not count \(PMC0=0, then 0\)"
expect_out config "^pmu: ok   FIXED_CTR1 \(core cycles\) advances while spinning"
expect_out config "^pmu: ok   legacy PMC0 write sign-extends bit 31 to the width: 0xffffff3cb0$"
expect_out config "^pmu: ok   PMI \(fixed delivery\) from FIXED_CTR2"
expect_out config "^pmu: pass$"
expect_err config "denied programs 1;"
expect_err config "0x3c:00\(core_cycles\)=1\(1 denied\)"
expect_accesses_match config

# The guest notices when a denied event counts after all, and the other way
# round: these runs must fail with the filter exit code (13) / counting (7).
run denied-but-counts 60 -- run --kernel "$PMU_ELF" --exit-port --pmu soft --cmdline "expect=soft expect_denied=1"
expect_status denied-but-counts 27
expect_out denied-but-counts "^pmu: FAIL denied event 0x3c:00 on PMC0 does not count"
run counts-but-denied 60 -- run --kernel "$PMU_ELF" --exit-port --pmu soft --pmu-filter-deny 3c \
	--cmdline "expect=soft"
expect_status counts-but-denied 15
expect_out counts-but-denied "^pmu: FAIL PMC0 \(0x3c core cycles\) advances while spinning: 0 then 0"

# An event marked unavailable from the command line: CPUID says so and the
# soft model does not count it on GP counters.
run unavailable 60 -- run --kernel "$PMU_ELF" --exit-port --pmu soft --log-level Info \
	--pmu-unavailable-events core_cycles --cmdline "expect=soft ebx=0x7b expect_denied=1"
expect_status unavailable 1
expect_out unavailable "^pmu: ok   leaf 0xA ebx=123 \(expected 123\)"
expect_out unavailable "^pmu: ok   denied event 0x3c:00 on PMC0 does not count"
expect_out unavailable "^pmu: pass$"

# ---- mode off and auto: no PMU; every access goes to KVM, none to mpvm ----
# What KVM does with PMU MSRs when it has no vPMU, as measured on the AMD
# development hosts (kvm.enable_pmu=N): the Intel PERFEVTSEL0/PMC0 indices
# read 0 and drop writes (KVM's legacy K7 aliases), every other
# architectural PMU MSR #GPs, RDPMC #GPs.
for mode in off auto; do
	run "$mode" 60 -- run --kernel "$PMU_ELF" --exit-port --pmu "$mode" --log-level Info --cmdline "expect=off"
	expect_status "$mode" 1
	expect_out "$mode" "^pmu: version=0 gp=0 width=0 fixed=0 ebx=0x0$"
	expect_out "$mode" "^pmu: ok   off: leaf 0xA is zero"
	expect_out "$mode" "^pmu: ok   off: CPUID.1:ECX.PDCM clear"
	expect_out "$mode" "^pmu: ok   off: msr 0x38f read=(gp|0x0) write=(gp|ok,readback=(gp|0x0))$"
	expect_out "$mode" "^pmu: ok   off: rdpmc 0 is KVM's, with nothing to count"
	expect_out "$mode" "^pmu: pass$"
	expect_err "$mode" "PMU summary: mode off .*; 0 PMU MSR exits to mpvm \(0 answered #GP\);.*by MSR: none"
done
if "$MPVM" pmu probe --json | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["kvm"]["enable_pmu"] is not False)'; then
	expect_out off "^pmu: ok   off: msr 0x186 read=0x0 write=ok,readback=0x0$"
	expect_out off "^pmu: ok   off: msr 0x309 read=gp write=gp$"
fi
expect_err auto "PMU: auto: off, because mediated is unavailable"
# The soft guest's checks fail loudly when there is no PMU.
run off-but-soft 60 -- run --kernel "$PMU_ELF" --exit-port --pmu off --cmdline "expect=soft"
expect_status off-but-soft 13

# ---- GET /pmu while the guest waits: the API's counts are the guest's ------
fifo="$T_TMP/in"
sock="$T_TMP/api.sock"
mkfifo "$fifo"
exec {hold}<>"$fifo"
"$MPVM" run --kernel "$PMU_ELF" --exit-port --pmu soft --api-sock "$sock" \
	--cmdline "expect=soft hold" <"$fifo" >"$T_TMP/api.out" 2>"$T_TMP/api.err" &
pid=$!
T_PIDS+=("$pid")
for _ in $(seq 200); do grep -q "^pmu: holding" "$T_TMP/api.out" 2>/dev/null && break; sleep 0.05; done
if command -v curl >/dev/null && grep -q "^pmu: holding" "$T_TMP/api.out"; then
	curl -s --max-time 60 --unix-socket "$sock" http://localhost/pmu >"$T_TMP/pmu-report.json"
	curl -s --max-time 60 --unix-socket "$sock" http://localhost/pmu/counters >"$T_TMP/pmu-counters.json"
	OUT=$(cat "$T_TMP/api.out")
	g=$(guest_accesses)
	m=$(python3 - "$T_TMP/pmu-report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k, v in r["stats"]["by_msr"].items():
    print("%s:r%dw%d" % (k, v["reads"], v["writes"]))
PY
	)
	m=$(sort <<<"$m")
	if [ -n "$g" ] && [ "$g" = "$m" ]; then
		pass "api: GET /pmu stats.by_msr equals the guest's own accesses"
	else
		fail "api: GET /pmu stats.by_msr differs from the guest" "guest: $(echo $g)
api:   $(echo $m)"
	fi
	if python3 - "$T_TMP/pmu-report.json" "$T_TMP/pmu-counters.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
s = r["stats"]
assert r["mode"] == "soft" and r["requested"] == "soft", r["mode"]
assert r["cpuid"]["leaf_0xa"]["ebx"] == "0x7a", r["cpuid"]
assert r["guest_pmu"]["events_available"] == ["core_cycles", "reference_cycles"]
assert s["pmis_injected"] == 2 and s["pmis_masked"] == 1, s
assert s["msr_exits"] == sum(v["reads"] + v["writes"] for v in s["by_msr"].values()), s
assert r["rdpmc"]["goes"] == "kvm"
v = c["vcpus"][0]
assert c["mode"] == "soft" and len(v["counters"]) == 4 and len(v["fixed_counters"]) == 3, c
# The guest quiesced everything before holding.
assert v["global_ctrl"] == "0x0" and v["global_status"] == "0x0", v
PY
	then pass "api: GET /pmu and /pmu/counters report the soft PMU, its PMIs and counters"
	else fail "api: GET /pmu reports unexpected values" "$(cat "$T_TMP/pmu-report.json")"; fi
else
	fail "api: the guest never reached 'pmu: holding' (or curl is missing)" "$(cat "$T_TMP/api.out" "$T_TMP/api.err")"
fi
echo >&"$hold"
wait "$pid"
STATUS=$?
OUT=$(cat "$T_TMP/api.out")
ERR=$(cat "$T_TMP/api.err")
expect_status api 1
exec {hold}>&-

finish
