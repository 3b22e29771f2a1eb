#!/usr/bin/env bash
# A Linux guest's console and SIGTERM: SIGTERM on a terminal -> 143 with the
# API socket removed and the terminal restored; a shell driven over
# --serial socket:.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v script >/dev/null || skip "script(1) not installed"
boot=("${LINUX_BOOT[@]}")

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
