#!/usr/bin/env bash
# Pause and resume a Linux guest over the API while it counts and writes to
# its root drive: it stops (no tick for 2 s), then carries on, and the disk
# holds the last count: nothing lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
boot=("${LINUX_BOOT[@]}")

# Pause and resume while the guest counts and writes to its root drive.
mkdir -p "$T_TMP/rootdir"
make_ext4 "$T_TMP/root.ext4" 32M "$T_TMP/rootdir"
sock=$T_TMP/loop.sock
start_bg loop "${boot[@]}" --api-sock "$sock" --drive "id=root,path=$T_TMP/root.ext4,root" \
	--cmdline "$LINUX_CMDLINE mpvm.test=loop"
if wait_for 120 eval '[ "$(ticks loop)" -ge 5 ]'; then
	code=$(api "$sock" PATCH /vm '{"state": "Paused"}')
	[ "$code" = 204 ] && pass "loop: paused while counting: 204" || fail "loop: pause: $code"
	sleep 0.5
	a=$(ticks loop)
	sleep 2
	b=$(ticks loop)
	[ "$a" = "$b" ] && pass "loop: no tick in 2 s while paused (at $a)" || fail "loop: ticked from $a to $b while paused"
	code=$(api "$sock" PATCH /vm '{"state": "Resumed"}')
	[ "$code" = 204 ] && pass "loop: resumed: 204" || fail "loop: resume: $code"
	wait_for 60 eval '[ "$(ticks loop)" -ge $((b + 3)) ]' && pass "loop: counts on after resume" ||
		fail "loop: stuck at $(ticks loop) after resume"
else
	fail "loop: the guest never counted to 5" "$(tail -5 "$T_TMP/loop.out")"
fi
echo stop >&"$BG_IN"
bg_end loop 60
expect_status loop 0
expect_ok loop "the counter file holds the last tick"
last=$(tick_numbers <<<"$OUT" | tail -n 1)
[ -n "$last" ] && [ "$(debugfs -R 'cat /counter' "$T_TMP/root.ext4" 2>/dev/null)" = "$last" ] &&
	pass "loop: the image holds the last tick ($last): nothing lost across the pause" ||
	fail "loop: the image's counter is not the last tick ($last)"

finish
