#!/usr/bin/env bash
# Guest output never blocks a vCPU: with a serial sink nobody reads (a socket
# client that connected and sleeps, a stdout pipe nobody drains) the guest
# keeps printing, mpvm drops what does not fit and says so, and SIGTERM still
# ends mpvm at once with 143 (before the fix the vCPU sat in write() for ever
# and only SIGKILL worked).
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed"

# wait_for SECONDS CMD...: polls CMD every 0.1 s; false if it never succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

dropping() { grep -q "dropping guest output" "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# term_within NAME PID SECONDS: SIGTERM, then the status if it ends in time.
term_within() {
	local name=$1 pid=$2 secs=$3
	kill -TERM "$pid"
	OUT=""
	if wait_for "$secs" gone "$pid"; then
		wait "$pid"
		STATUS=$?
		ERR=$(cat "$T_TMP/$name.err")
		expect_status "$name: SIGTERM with a stuck sink" 143
	else
		fail "$name: mpvm still running $secs s after SIGTERM (a vCPU blocked on serial output?)" \
			"$(cat "$T_TMP/$name.err")"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		ERR=$(cat "$T_TMP/$name.err")
	fi
}

# 1. --serial socket:PATH, a client that connects and never reads.
sock="$T_TMP/console.sock"
"$MPVM" run --kernel "$GUESTS/counter.elf" --cmdline "period_ms=1 burst=256" --serial "socket:$sock" \
	</dev/null >"$T_TMP/socket.out" 2>"$T_TMP/socket.err" &
mpvm_pid=$!
T_PIDS+=("$mpvm_pid")
if ! wait_for 20 test -S "$sock"; then
	fail "socket: $sock never appeared" "$(cat "$T_TMP/socket.err")"
else
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
print("connected", flush=True)
time.sleep(600)
' "$sock" >"$T_TMP/client.out" 2>&1 &
	client_pid=$!
	T_PIDS+=("$client_pid")
	wait_for 10 grep -q connected "$T_TMP/client.out" || fail "socket: the client could not connect"
	# The socket buffer and mpvm's 64 KiB fill up at the guest's pace.
	if wait_for 90 dropping "$T_TMP/socket.err"; then
		pass "socket: output to a client that does not read is dropped, not waited for"
	else
		fail "socket: no drop warning within 90 s" "$(cat "$T_TMP/socket.err")"
	fi
	term_within socket "$mpvm_pid" 5
	expect_err "socket: dropped bytes counted" "[0-9]+ bytes of guest output dropped in all"
	kill -KILL "$client_pid" 2>/dev/null
	wait "$client_pid" 2>/dev/null
fi

# 2. --serial stdio with stdout a pipe nobody drains: we hold the FIFO's
# read end open and never read it.
fifo="$T_TMP/stdout.fifo"
mkfifo "$fifo"
exec {hold}<>"$fifo"
"$MPVM" run --kernel "$GUESTS/counter.elf" --cmdline "period_ms=1 burst=256" \
	</dev/null >"$fifo" 2>"$T_TMP/pipe.err" &
mpvm_pid=$!
T_PIDS+=("$mpvm_pid")
if wait_for 90 dropping "$T_TMP/pipe.err"; then
	pass "pipe: output to a full stdout pipe is dropped, not waited for"
else
	fail "pipe: no drop warning within 90 s" "$(cat "$T_TMP/pipe.err")"
fi
term_within pipe "$mpvm_pid" 5
# What the guest printed before the pipe filled is there, in order.
head_lines=$(timeout 5 head -c 4096 <&"$hold" | head -n 3)
if grep -qE "^counter: start" <<<"$head_lines" && grep -qE "^counter: 0$" <<<"$head_lines"; then
	pass "pipe: the output that fit is intact and in order"
else
	fail "pipe: unexpected output" "$head_lines"
fi
exec {hold}>&-
finish
