#!/usr/bin/env bash
# Builds the C test client (test_api_client.c) and runs it against a real
# mpvm started with only --api-sock; the client drives the whole life of the
# VM and stops it, so mpvm must end with status 0 and remove its socket.
. "$(dirname "$0")/lib.sh"

CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler ($CC)"
if ! "$CC" -std=gnu11 -O1 -Wall -Werror -o "$T_TMP/client" "$(dirname "$0")/test_api_client.c" \
	2>"$T_TMP/cc.err"; then
	fail "building the C test client" "$(cat "$T_TMP/cc.err")"
	finish
fi

SOCK="$T_TMP/api.sock"
# Debug: the log is printed only if the client fails, and then says why.
"$MPVM" run --api-sock "$SOCK" --log-level Debug </dev/null >"$T_TMP/mpvm.out" 2>"$T_TMP/mpvm.err" &
MPID=$!
T_PIDS+=("$MPID")
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done

timeout --kill-after=5 120 "$T_TMP/client" "$SOCK" "$T_TMP/serial.out" "$GUESTS/counter.elf" \
	>"$T_TMP/client.out" 2>&1
CLIENT=$?
sed 's/^/    /' "$T_TMP/client.out"
[ "$CLIENT" -eq 0 ] && pass "C client: every check passed" ||
	fail "C client: exit status $CLIENT" "$(cat "$T_TMP/mpvm.err")"

for _ in $(seq 100); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MPID" 2>/dev/null; then
	fail "mpvm still running after StopVmm"
else
	wait "$MPID"
	STATUS=$?
	[ "$STATUS" -eq 0 ] && pass "mpvm exit status 0 after StopVmm" ||
		fail "mpvm exit status $STATUS" "$(cat "$T_TMP/mpvm.err")"
fi
[ ! -e "$SOCK" ] && pass "socket removed" || fail "socket left behind"
finish
