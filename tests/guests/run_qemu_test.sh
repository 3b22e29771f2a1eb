#!/usr/bin/env bash
# CTest driver for the "qemu" tests: runs a guest through scripts/qemu-guest.sh
# and checks its exit status and its serial output.
#
# Usage: run_qemu_test.sh <guest.elf> <expected-status> <regex> [qemu args...]
#   The regex (grep -E) is matched against the output with newlines turned
#   into spaces, so it can span lines. STDIN_TEXT, if set, is typed into the
#   serial port (followed by a newline).
# Exit: 0 pass, 1 fail, 77 skipped (no QEMU, or MPVM_QEMU_TESTS=0).
set -uo pipefail

elf=$1 want_status=$2 regex=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
runner=${MPVM_SOURCE_DIR:-$here/../..}/scripts/qemu-guest.sh

if [[ ${MPVM_QEMU_TESTS:-1} == 0 ]]; then
	echo "skipped: MPVM_QEMU_TESTS=0"
	exit 77
fi
if ! command -v "${QEMU:-qemu-system-x86_64}" >/dev/null; then
	echo "skipped: ${QEMU:-qemu-system-x86_64} not installed"
	exit 77
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [[ -n ${STDIN_TEXT+set} ]]; then
	printf '%s\n' "$STDIN_TEXT" |
		timeout "${QEMU_TEST_TIMEOUT:-60}" bash "$runner" "$elf" "$@" >"$out" 2>&1
else
	timeout "${QEMU_TEST_TIMEOUT:-60}" bash "$runner" "$elf" "$@" >"$out" 2>&1 </dev/null
fi
status=$?
cat "$out"

fail=0
if [[ $status -ne $want_status ]]; then
	[[ $status -eq 124 ]] && echo "FAIL: timed out after ${QEMU_TEST_TIMEOUT:-60} s"
	echo "FAIL: exit status $status, expected $want_status"
	fail=1
fi
if ! tr '\n' ' ' <"$out" | grep -Eq -- "$regex"; then
	echo "FAIL: output does not match: $regex"
	fail=1
fi
[[ $fail -eq 0 ]] && echo "PASS"
exit $fail
