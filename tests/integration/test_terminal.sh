#!/usr/bin/env bash
# On a real terminal (a pty from script(1)): mpvm puts it in raw mode while
# the guest runs, Ctrl-A x quits (status 130), guest input arrives, and the
# terminal is back in cooked mode afterwards, whatever ended the VM.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || skip "script(1) not installed"

# in_pty NAME INPUT_DELAY INPUT COMMAND: runs COMMAND in a pty; INPUT is typed
# after INPUT_DELAY seconds. Sets OUT (CRs stripped).
in_pty() {
	local name=$1 delay=$2 input=$3 cmd=$4
	{ sleep "$delay"; printf '%b' "$input"; sleep 1; } |
		timeout 60 script -qec "$cmd" /dev/null >"$T_TMP/$name.pty" 2>&1
	OUT=$(tr -d '\r' <"$T_TMP/$name.pty")
	ERR=""
}

cooked() { # name: the stty -a output in OUT shows a cooked terminal
	if grep -qE '(^| )icanon' <<<"$OUT" && grep -qE '(^| )echo( |$)' <<<"$OUT" &&
		! grep -qE -- '-icanon|-echo ' <<<"$OUT"; then
		pass "$1: terminal restored (icanon, echo)"
	else
		fail "$1: terminal not restored" "$OUT"
	fi
}

in_pty exit-port 0 "" "$MPVM run --kernel $GUESTS/hello.elf --exit-port; echo status=\$?; stty -a"
expect_out exit-port "hello from mpvm test guest"
expect_out exit-port "status=1"
cooked exit-port

# Typed input reaches the guest through the raw terminal.
in_pty typed 1 'hello\r' "$MPVM run --kernel $GUESTS/reset.elf; echo status=\$?; stty -a"
expect_out typed "got: hello"
expect_out typed "status=2"
cooked typed

# Ctrl-A x is the host escape: quit mpvm like SIGINT.
in_pty escape 1 '\001x' "$MPVM run --kernel $GUESTS/reset.elf; echo status=\$?; stty -a"
expect_out escape "status=130"
cooked escape

in_pty crash 0 "" "$MPVM run --kernel $GUESTS/crash.elf; echo status=\$?; stty -a"
expect_out crash "status=4"
cooked crash

# A forbidden syscall (mpvm-test's hook, tests/integration/test_seccomp.sh)
# kills mpvm from a vCPU thread while the terminal is raw: it is put back.
in_pty seccomp 0 "" "MPVM_TEST_FORBIDDEN_SYSCALL=vcpu $MPVM_TEST run --kernel $GUESTS/reset.elf; echo status=\$?; stty -a"
expect_out seccomp "seccomp: vcpu thread made a forbidden syscall: execve"
expect_out seccomp "status=159"
cooked seccomp
finish
