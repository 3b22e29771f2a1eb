#!/usr/bin/env bash
# The soft PMU across a snapshot, end to end on the real /dev/kvm: the pmu
# test guest (mode "snap") counts core cycles on PMC0 and FIXED_CTR1, sets
# PMC1 to raise a PMI after about a second of its cycles, says "armed" and
# sits halted (the soft PMU counts the vCPU thread's CPU time, so its
# counters stand almost still) until a byte comes on its serial port. The
# test pauses it, snapshots it, kills mpvm, and restores the snapshot in a
# new mpvm process: GET /pmu says where it came from, GET /pmu/counters goes
# on from the values before; resumed and sent the byte, the guest sees its
# counters go on monotonically from where they were and takes the PMI it
# programmed before the snapshot, once. Then a snapshot whose PMU this host
# cannot give is refused, naming the probe's reason.
# Guest exit codes: tests/guests/pmu_guest.h (mpvm status = code * 2 + 1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"

command -v python3 >/dev/null || skip "python3 is needed to read mpvm's JSON"
PMU_ELF="$GUESTS/pmu.elf"
if ! "$MPVM" pmu probe --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["modes"]["soft"]["available"] else 1)'; then
	skip "this host cannot run the soft PMU (see mpvm pmu probe)"
fi
D="$T_TMP"

# start NAME ARGS...: mpvm run in the background with a fifo on its serial
# input ($D/NAME.in, held open on fd IN); waits for the API socket $SOCK.
start() {
	local name=$1
	mkfifo "$D/$name.in"
	exec {IN}<>"$D/$name.in"
	T_STDIN="$D/$name.in" start_mpvm "$@" --api-sock "$SOCK" || finish
}

# counters FILE: "pmc0 pmc1 fixed1" of vCPU 0 from a GET /pmu/counters answer.
counters() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["vcpus"][0]
print(int(v["counters"][0],16), int(v["counters"][1],16), int(v["fixed_counters"][1],16))' "$1"
}

# ---- boot, arm, pause, snapshot, kill -----------------------------------------
SOCK="$D/a.sock"
start boot --kernel "$PMU_ELF" --exit-port --pmu soft --cmdline "snap"
for _ in $(seq 200); do grep -q "^pmu: snap armed" "$D/boot.out" && break; sleep 0.05; done
grep -q "^pmu: snap armed" "$D/boot.out" || { fail "boot: the guest never armed its counters" "$(cat "$D/boot.out" "$D/boot.err")"; finish; }
api PATCH /vm '{"state": "Paused"}'
expect_api "pause" 204
api GET /pmu/counters
echo "$BODY" >"$D/before.json"
read -r pmc0_a pmc1_a fixed1_a < <(counters "$D/before.json")
api PUT /snapshot/create "{\"snapshot_path\": \"$D/snap\", \"mem_file_path\": \"$D/mem\"}"
expect_api "snapshot/create" 204
sleep 1 # saved a while: the restored counters must not count it
kill -KILL "$MPID"
wait "$MPID" 2>/dev/null
exec {IN}>&-
grep -q "^pmu: snap pmi" "$D/boot.out" && fail "the PMI came before the snapshot" "$(cat "$D/boot.out")"

# ---- restore in a new process, paused --------------------------------------------
SOCK="$D/b.sock"
start restored --restore "$D/snap" --restore-mem "$D/mem"
api GET /pmu
echo "$BODY" >"$D/pmu.json"
if python3 - "$D/pmu.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["restored_from"]
assert r["mode"] == "soft" and "restored from a snapshot" in r["why"], r["why"]
assert f["mode"] == "soft" and f["requested"] == "soft" and f["fallback"] is False, f
assert f["changes"] == [] and f["counters"] == "restored" and f["state_restored"] is True, f
assert f["guest_pmu"]["gp_counters"] == 4 and f["guest_pmu"]["fixed_counters"] == 3, f
PY
then pass "GET /pmu: restored_from the snapshot's soft PMU, counters restored, no fallback"
else fail "GET /pmu after restore" "$(cat "$D/pmu.json")"; fi
api GET /pmu/counters
echo "$BODY" >"$D/after.json"
read -r pmc0_b pmc1_b fixed1_b < <(counters "$D/after.json")
# The new process's vCPU threads have run a little (started, confined,
# parked): up to ~0.2 s of cycles even in a slow lab; far less than the
# second or more the VM spent saved, which a counter on wall time would add.
slack=$((500 * 1000 * 1000))
if [ "$pmc0_b" -ge "$pmc0_a" ] && [ "$pmc0_b" -le $((pmc0_a + slack)) ] &&
	[ "$pmc1_b" -ge "$pmc1_a" ] && [ "$pmc1_b" -le $((pmc1_a + slack)) ] &&
	[ "$fixed1_b" -ge "$fixed1_a" ] && [ "$fixed1_b" -le $((fixed1_a + slack)) ]; then
	pass "GET /pmu/counters goes on: PMC0 $pmc0_a -> $pmc0_b, PMC1 $pmc1_a -> $pmc1_b, FIXED_CTR1 $fixed1_a -> $fixed1_b"
else
	fail "GET /pmu/counters after restore" "before: $pmc0_a $pmc1_a $fixed1_a
after:  $pmc0_b $pmc1_b $fixed1_b"
fi

# ---- resume, go: counters go on, the PMI arrives ----------------------------------
api PATCH /vm '{"state": "Resumed"}'
expect_api "resume" 204
echo g >&"$IN"
for _ in $(seq 600); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$MPID" 2>/dev/null
wait "$MPID"
STATUS=$?
exec {IN}>&-
OUT=$(cat "$D/restored.out")
ERR=$(cat "$D/restored.err")
expect_status restored 1
expect_out restored "^pmu: ok   the go came on the serial port"
expect_out restored "^pmu: ok   no PMI while waiting"
expect_out restored "^pmu: ok   the counters did not go back while waiting"
expect_out restored "^pmu: ok   PMC0 and FIXED_CTR1 only went up"
expect_out restored "^pmu: ok   PMC0 went on counting"
expect_out restored "^pmu: ok   the PMI programmed before the snapshot arrived once, at vector 240"
expect_out restored "^pmu: ok   GLOBAL_STATUS says PMC1 overflowed"
grep -q "^pmu: version=" <<<"$OUT" && fail "the restored guest booted again" "$OUT" ||
	pass "the restored guest did not boot again"
# The guest's own reading at the go is the one the snapshot saved, give or
# take what the vCPU ran before and after (halted: little).
go0=$(grep -oE '^pmu: snap go pmc0=0x[0-9a-f]+' <<<"$OUT" | grep -oE '0x[0-9a-f]+$')
if [ -n "$go0" ] && [ $((go0)) -ge "$pmc0_a" ]; then
	pass "the guest's PMC0 at the go ($((go0))) is past the snapshot's ($pmc0_a)"
else
	fail "the guest's PMC0 at the go (${go0:-none}) is before the snapshot's ($pmc0_a)" "$OUT"
fi

# ---- a snapshot whose PMU this host cannot give --------------------------------
# The same snapshot with its PMU_ section saying mode mediated (the section's
# payload byte 0; docs/snapshot-pmu.md), the file's trailing CRC32 redone
# (vmm/builder/snapshot_file.h). Whether this host has a vPMU or not, the
# soft guest's shape is not what its KVM would give a mediated guest.
python3 - "$D/snap" "$D/snap-mediated" <<'PY'
import sys, zlib, struct
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"PMU_")
assert i > 0
b[i + 16] = 3  # mode in force: mediated
struct.pack_into("<I", b, len(b) - 4, zlib.crc32(bytes(b[:-4])) & 0xffffffff)
open(sys.argv[2], "wb").write(bytes(b))
PY
run mediated 30 -- run --restore "$D/snap-mediated" --restore-mem "$D/mem"
expect_status mediated 78
expect_err mediated "snapshot has PMU mode mediated, which this host cannot give: .+ \\(fix: .+; load with --pmu-fallback .+ to accept mode (off|soft|legacy)$"

finish
