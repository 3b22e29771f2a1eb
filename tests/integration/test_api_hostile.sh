#!/usr/bin/env bash
# Hostile API clients against a real mpvm running a guest: 200 connections
# at once mixing idle, trickling, malformed, oversized and valid requests,
# three rounds, while a well-behaved client keeps asking (api_hostile.py
# says what is checked). mpvm must answer the well-behaved client within the
# documented bound, answer or evict each hostile one, and end with the fds
# and RSS it started with.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is not installed"
command -v curl >/dev/null || skip "curl is not installed"

SOCK="$T_TMP/api.sock"
"$MPVM" run --api-sock "$SOCK" --kernel "$GUESTS/counter.elf" --serial "file:$T_TMP/serial" \
	</dev/null >"$T_TMP/mpvm.out" 2>"$T_TMP/mpvm.err" &
MPID=$!
T_PIDS+=("$MPID")
for _ in $(seq 100); do
	[ -S "$SOCK" ] && curl -s --max-time 2 --unix-socket "$SOCK" -o /dev/null http://localhost/ && break
	sleep 0.1
done
[ -S "$SOCK" ] || { fail "API socket not ready" "$(cat "$T_TMP/mpvm.err")"; finish; }

# Under ASan and TSan freed memory sits in quarantine or shadow, so RSS says
# nothing about leaks there; under ASan LeakSanitizer does, when mpvm exits
# (StopVmm below).
asan=0 sanitized=0
syms=$(nm -D "$MPVM" 2>/dev/null)
grep -q __asan_init <<<"$syms" && asan=1 sanitized=1
grep -q __tsan_init <<<"$syms" && sanitized=1
timeout 120 python3 "$(dirname "$0")/api_hostile.py" "$SOCK" "$MPID" 3 \
	$([ "$sanitized" = 1 ] && echo --no-rss) >"$T_TMP/hostile.out" 2>&1
st=$?
sed 's/^/       /' "$T_TMP/hostile.out"
if [ "$st" -eq 0 ] && grep -q "^RESULT ok" "$T_TMP/hostile.out"; then
	pass "200 hostile clients x3: the well-behaved client was always answered; no fd or RSS growth"
else
	fail "hostile clients (status $st)" "$(grep -E '^finding|^RESULT' "$T_TMP/hostile.out" | head -20)"
fi
if kill -0 "$MPID" 2>/dev/null; then
	pass "mpvm is still running"
else
	fail "mpvm died" "$(tail -5 "$T_TMP/mpvm.err")"
fi
curl -s --max-time 5 --unix-socket "$SOCK" -o "$T_TMP/state" -w '%{http_code}' http://localhost/ >"$T_TMP/code"
[ "$(cat "$T_TMP/code")" = 200 ] && pass "the API still answers: $(cat "$T_TMP/state")" ||
	fail "the API no longer answers: $(cat "$T_TMP/code")"
# A clean exit: status 0, which under ASan also means LeakSanitizer found
# nothing left behind by the 600 hostile connections.
curl -s --max-time 5 --unix-socket "$SOCK" -X PUT -d '{"action_type": "StopVmm"}' \
	-o /dev/null http://localhost/actions
for _ in $(seq 100); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.1; done
wait "$MPID"
st=$?
[ "$st" -eq 0 ] && pass "StopVmm: mpvm exited 0$([ "$asan" = 1 ] && echo ', LeakSanitizer clean')" ||
	fail "StopVmm: mpvm exited $st" "$(tail -20 "$T_TMP/mpvm.err")"
finish
