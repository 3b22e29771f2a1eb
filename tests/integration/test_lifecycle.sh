#!/usr/bin/env bash
# Signals end mpvm cleanly with 128+signal, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

# A guest that waits for a line on serial input never gets one (stdin is a
# FIFO we hold open), so it is still running when the signal arrives.
for sig in TERM INT; do
	fifo="$T_TMP/in-$sig"
	mkfifo "$fifo"
	exec {hold}<>"$fifo"
	"$MPVM" run --kernel "$GUESTS/reset.elf" --exit-port <"$fifo" >"$T_TMP/$sig.out" 2>"$T_TMP/$sig.err" &
	pid=$!
	T_PIDS+=("$pid")
	for _ in $(seq 100); do grep -q "type a line" "$T_TMP/$sig.out" 2>/dev/null && break; sleep 0.1; done
	kill -"$sig" "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		fail "SIG$sig: mpvm still running 10 s after the signal"
	else
		wait "$pid"
		STATUS=$?
		OUT=$(cat "$T_TMP/$sig.out")
		ERR=$(cat "$T_TMP/$sig.err")
		expected=$((128 + $(kill -l "$sig")))
		expect_status "SIG$sig" "$expected"
	fi
	exec {hold}>&-
done
finish
