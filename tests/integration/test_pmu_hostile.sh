#!/usr/bin/env bash
# A hostile guest against the soft PMU: a PMI storm (PMC0 re-armed one cycle
# short of overflow in every PMI handler) and an idle vCPU parked next to an
# overflow (mpvm's overflow timer keeps waking it). mpvm must stay responsive
# on its API, burn no more than the vCPU's own core plus a little, keep its
# overflow-timer wake-ups under the documented bound (20000 a second per
# vCPU, the 50 us floor), and the guest must carry on afterwards.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is needed to read mpvm's JSON"

PMU_ELF="$GUESTS/pmu.elf"

# hostile NAME MS: runs the pmu guest with NAME=MS and "hold"; while the guest
# is at it, GET / must answer within 5 s every time (curl's own start is
# included: about 0.5 s in the emulated lab, a few ms natively); then GET /pmu.
hostile() {
	local name=$1 ms=$2 sock="$T_TMP/$1.sock" fifo="$T_TMP/$1.in" hold pid
	mkfifo "$fifo"
	exec {hold}<>"$fifo"
	"$MPVM" run --kernel "$PMU_ELF" --exit-port --pmu soft --api-sock "$sock" --log-level Info \
		--cmdline "$name=$ms hold" <"$fifo" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	pid=$!
	T_PIDS+=("$pid")
	for _ in $(seq 300); do [ -S "$sock" ] && grep -q "^pmu: version" "$T_TMP/$name.out" && break; sleep 0.1; done
	local t0=$SECONDS c0 slow=0 answered=0
	c0=$(cpu_ticks "$pid")
	# Poll the API while the guest misbehaves (until it says it is done).
	while ! grep -q "^pmu: $name done" "$T_TMP/$name.out" && [ $((SECONDS - t0)) -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
		local a=$(date +%s%N)
		if curl -s --max-time 10 --unix-socket "$sock" http://localhost/ | grep -q '"state":"Running"'; then
			answered=$((answered + 1))
			[ $(( ($(date +%s%N) - a) / 1000000 )) -le 5000 ] || slow=$((slow + 1))
		else
			slow=$((slow + 1))
		fi
		sleep 0.2
	done
	local wall=$((SECONDS - t0)) c1
	c1=$(cpu_ticks "$pid")
	[ "$wall" -ge 1 ] || wall=1
	if [ "$answered" -ge 1 ] && [ "$slow" -eq 0 ]; then
		pass "$name: the API answered all $answered polls within 5 s"
	else
		fail "$name: the API was slow or silent $slow times ($answered answers)" "$(cat "$T_TMP/$name.err")"
	fi
	# One vCPU: its own core, plus half a core for everything else.
	local used=$(( (c1 - c0) * 100 / clk )) # hundredths of a CPU-second
	local said="mpvm used $((used / 100)).$(printf %02d $((used % 100))) CPU-seconds in ${wall} s"
	if [ "$used" -le $((wall * 150)) ]; then
		pass "$name: $said (at most 1.5 cores)"
	else
		fail "$name: $said (over 1.5 cores)"
	fi
	curl -s --max-time 60 --unix-socket "$sock" http://localhost/pmu >"$T_TMP/$name.pmu.json"
	if python3 - "$T_TMP/$name.pmu.json" "$wall" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall = int(sys.argv[2])
s = r["stats"]
assert s["overflow_timer_wakeups"] <= 20000 * (wall + 1), s
assert s["pmis_injected"] >= 1, s
print("wake-ups %d, PMIs %d" % (s["overflow_timer_wakeups"], s["pmis_injected"]))
PY
	then pass "$name: overflow-timer wake-ups within 20000/s and PMIs delivered"
	else fail "$name: GET /pmu out of bounds" "$(cat "$T_TMP/$name.pmu.json")"; fi
	echo >&"$hold"
	# Bounded: a guest that never ends is a failure, not a hang.
	local waited=0
	while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 600 ]; do sleep 0.1; waited=$((waited + 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$name: mpvm still running 60 s after the guest was released" "$(tail -5 "$T_TMP/$name.out")
$(curl -s --max-time 10 --unix-socket "$sock" http://localhost/pmu)"
		kill -9 "$pid"
	fi
	wait "$pid"
	STATUS=$?
	OUT=$(cat "$T_TMP/$name.out")
	ERR=$(cat "$T_TMP/$name.err")
	exec {hold}>&-
	expect_status "$name" 1
	expect_out "$name" "^pmu: $name: [1-9][0-9]* PMIs in $ms ms"
	expect_out "$name" "^pmu: pass$"
}

hostile storm 3000
hostile idle 3000
finish
