#!/usr/bin/env bash
# A Linux guest's end under mpvm: power-off -> 0, a panic with panic=1 -> 2,
# Ctrl-Alt-Del over the API (Linux's init reboots) -> 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
boot=("${LINUX_BOOT[@]}")

run_linux poweroff 240 -- "$MPVM" run "${boot[@]}" --cmdline "$LINUX_CMDLINE mpvm.test=lifecycle mpvm.end=poweroff"
expect_status poweroff 0
expect_ok poweroff "up, ending with poweroff"

run_linux panic 240 -- "$MPVM" run "${boot[@]}" --cmdline "$LINUX_CMDLINE mpvm.test=lifecycle mpvm.end=panic"
expect_status panic 2
expect_out panic "Kernel panic - not syncing"

# Ctrl-Alt-Del: i8042 -> Linux -> SIGINT to init -> reboot.
sock=$T_TMP/cad.sock
start_bg cad "${boot[@]}" --api-sock "$sock" --cmdline "$LINUX_CMDLINE mpvm.test=lifecycle mpvm.end=cad"
wait_for 120 has cad "LTEST: ready" || fail "cad: the guest never got ready"
code=$(api "$sock" PUT /actions '{"action_type": "SendCtrlAltDel"}')
[ "$code" = 204 ] && pass "cad: SendCtrlAltDel: 204" || fail "cad: SendCtrlAltDel: $code"
bg_end cad 60
expect_status cad 2
expect_ok cad "Ctrl-Alt-Del reached init"

finish
