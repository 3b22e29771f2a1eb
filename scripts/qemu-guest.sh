#!/usr/bin/env bash
# Runs one of mpvm's freestanding test guests under QEMU, the reference VMM,
# with the same device contract mpvm offers: 16550 on stdio, isa-debug-exit
# at 0xf4, an i8042 for the reset request, ACPI with a MADT, in-kernel LAPIC.
#
# Usage: scripts/qemu-guest.sh <guest.elf> [extra qemu args...]
#   e.g. scripts/qemu-guest.sh build/tests/guests/smp.elf -smp 4
#        scripts/qemu-guest.sh build/tests/guests/hello.elf -append exit=3
#
# Exit status is QEMU's: a guest `outl v, 0xf4` gives (v << 1) | 1 (so a
# passing guest gives 1); a reset request or a triple fault gives 0 (-no-reboot).
#
# Environment:
#   QEMU          QEMU binary (default qemu-system-x86_64)
#   QEMU_ACCEL    kvm or tcg (default kvm when /dev/kvm is usable, else tcg)
#   QEMU_MACHINE  microvm (default) or pc. microvm boots in tens of ms; with
#                 no firmware tables of its own to fake, it is what mpvm is
#                 benchmarked against. It has no i8042, so one is added.
#   QEMU_MEM      guest RAM (default 128M)
#   QEMU_CPU      -cpu model (default: QEMU's). Note: -cpu host aborts on
#                 hosts whose KVM rejects some MSRs (e.g. software-nested KVM).
#   QEMU_VERBOSE  1 = print the command line to stderr
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
fi
elf=$1
shift
if [[ ! -r $elf ]]; then
	echo "qemu-guest.sh: cannot read guest '$elf' (build it: make guests)" >&2
	exit 2
fi

qemu=${QEMU:-qemu-system-x86_64}
if ! command -v "$qemu" >/dev/null; then
	echo "qemu-guest.sh: $qemu not found (Debian: apt-get install qemu-system-x86)" >&2
	exit 2
fi

accel=${QEMU_ACCEL:-}
if [[ -z $accel ]]; then
	if [[ -r /dev/kvm && -w /dev/kvm ]]; then accel=kvm; else accel=tcg; fi
fi

machine=${QEMU_MACHINE:-microvm}
# shellcheck disable=SC2054 # the commas belong to QEMU's -device syntax
args=(-accel "$accel" -M "$machine" -m "${QEMU_MEM:-128M}"
	-display none -serial stdio -monitor none -no-reboot
	-device isa-debug-exit,iobase=0xf4,iosize=0x04)
case $machine in
microvm*) args+=(-device i8042) ;; # pc has one built in
esac
[[ -n ${QEMU_CPU:-} ]] && args+=(-cpu "$QEMU_CPU")
args+=(-kernel "$elf" "$@")

[[ ${QEMU_VERBOSE:-0} == 1 ]] && echo "+ $qemu ${args[*]}" >&2
exec "$qemu" "${args[@]}"
