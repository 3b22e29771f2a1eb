#!/usr/bin/env bash
# A Linux guest's life under mpvm: power-off -> 0, a panic with panic=1 -> 2,
# Ctrl-Alt-Del over the API (Linux's init reboots) -> 2, pause and resume
# while the guest counts and writes to disk (it stops, then carries on,
# nothing lost), SIGTERM -> 143 with the socket removed and the terminal
# restored, and the serial console driven over --serial socket:.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v script >/dev/null || skip "script(1) not installed"

boot=(--kernel "$LINUX/vmlinuz" --initrd "$LINUX/initrd.cpio.gz" --memory 128)
api() { curl -s --max-time 10 --unix-socket "$1" -X "$2" "http://localhost$3" ${4:+-d "$4"} -o /dev/null -w '%{http_code}'; }
wait_for() { local n=$(($1 * 10)); shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

run_linux poweroff 120 -- "$MPVM" run "${boot[@]}" --cmdline "$LINUX_CMDLINE mpvm.test=lifecycle mpvm.end=poweroff"
expect_status poweroff 0
expect_ok poweroff "up, ending with poweroff"

run_linux panic 120 -- "$MPVM" run "${boot[@]}" --cmdline "$LINUX_CMDLINE mpvm.test=lifecycle mpvm.end=panic"
expect_status panic 2
expect_out panic "Kernel panic - not syncing"

# start_bg NAME ARGS...: mpvm in the background, stdin a FIFO we hold.
start_bg() {
	local name=$1
	shift
	mkfifo "$T_TMP/$name.in"
	exec {BG_IN}<>"$T_TMP/$name.in"
	"$MPVM" run "$@" <"$T_TMP/$name.in" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	BG_PID=$!
	T_PIDS+=("$BG_PID")
}
# bg_end NAME SECONDS: waits for the background mpvm; sets STATUS/OUT/ERR.
bg_end() {
	if wait_for "$2" eval '! kill -0 $BG_PID 2>/dev/null'; then
		wait "$BG_PID"
		STATUS=$?
	else
		kill -KILL "$BG_PID"
		STATUS=timeout
	fi
	OUT=$(tr -d '\r' <"$T_TMP/$1.out")
	ERR=$(cat "$T_TMP/$1.err")
	exec {BG_IN}>&-
}
has() { grep -q "$2" "$T_TMP/$1.out" 2>/dev/null; }
ticks() { grep -c '^LTEST: tick' "$T_TMP/$1.out" 2>/dev/null; }

# Ctrl-Alt-Del: i8042 -> Linux -> SIGINT to init -> reboot.
sock=$T_TMP/cad.sock
start_bg cad "${boot[@]}" --api-sock "$sock" --cmdline "$LINUX_CMDLINE mpvm.test=lifecycle mpvm.end=cad"
wait_for 120 has cad "LTEST: ready" || fail "cad: the guest never got ready"
code=$(api "$sock" PUT /actions '{"action_type": "SendCtrlAltDel"}')
[ "$code" = 204 ] && pass "cad: SendCtrlAltDel: 204" || fail "cad: SendCtrlAltDel: $code"
bg_end cad 60
expect_status cad 2
expect_ok cad "Ctrl-Alt-Del reached init"

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
last=$(grep '^LTEST: tick' <<<"$OUT" | tail -n 1 | cut -d' ' -f3)
[ -n "$last" ] && [ "$(debugfs -R 'cat /counter' "$T_TMP/root.ext4" 2>/dev/null)" = "$last" ] &&
	pass "loop: the image holds the last tick ($last): nothing lost across the pause" ||
	fail "loop: the image's counter is not the last tick ($last)"

# SIGTERM on a terminal: 143, the API socket removed, the terminal restored.
sock=$T_TMP/term.sock
cat >"$T_TMP/term.sh" <<SH
stty -g >"$T_TMP/stty.before"
"$MPVM" run ${boot[*]} --api-sock "$sock" --cmdline "$LINUX_CMDLINE mpvm.test=lifecycle mpvm.end=wait" >"$T_TMP/term.out" 2>"$T_TMP/term.err" &
pid=\$!
for _ in \$(seq 1200); do grep -q "LTEST: ready" "$T_TMP/term.out" && break; sleep 0.1; done
kill -TERM \$pid
wait \$pid
echo \$? >"$T_TMP/term.status"
stty -g >"$T_TMP/stty.after"
SH
timeout 200 script -qfec "bash $T_TMP/term.sh" /dev/null >/dev/null 2>&1 </dev/null
STATUS=$(cat "$T_TMP/term.status" 2>/dev/null || echo none)
[ "$STATUS" = 143 ] && pass "term: SIGTERM: exit status 143" || fail "term: exit status $STATUS" "$(cat "$T_TMP/term.err")"
[ ! -e "$sock" ] && pass "term: API socket removed" || fail "term: API socket left behind"
[ -s "$T_TMP/stty.before" ] && cmp -s "$T_TMP/stty.before" "$T_TMP/stty.after" &&
	pass "term: terminal settings restored" || fail "term: terminal settings differ after SIGTERM"

# The serial console over a UNIX socket: a shell, driven from outside.
csock=$T_TMP/console.sock
"$MPVM" run "${boot[@]}" --serial "socket:$csock" --cmdline "$LINUX_CMDLINE" \
	</dev/null >"$T_TMP/console.out" 2>"$T_TMP/console.err" &
pid=$!
T_PIDS+=("$pid")
wait_for 60 test -S "$csock"
if timeout 200 python3 - "$csock" >"$T_TMP/console.py" 2>&1 <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(1)
buf = b""
def until(text, secs):
    global buf
    end = time.time() + secs
    while text not in buf and time.time() < end:
        try:
            b = s.recv(4096)
            if not b: break
            buf += b
        except socket.timeout:
            pass
    return text in buf
if not until(b"'poweroff -f' ends it", 150): sys.exit("no shell prompt: " + buf[-300:].decode(errors="replace"))
time.sleep(1)
s.sendall(b"echo $((6 * 7))-from-the-console\n")
if not until(b"42-from-the-console", 30): sys.exit("no answer: " + buf[-300:].decode(errors="replace"))
s.sendall(b"poweroff -f\n")
until(b"never", 10)
PY
then pass "console: a shell over --serial socket: answers a command"
else fail "console: driving the shell failed" "$(cat "$T_TMP/console.py")"; fi
wait_for 30 eval '! kill -0 $pid 2>/dev/null'
wait "$pid"
STATUS=$?
ERR=$(cat "$T_TMP/console.err")
expect_status console 0
finish
