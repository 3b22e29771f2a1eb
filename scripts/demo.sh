#!/usr/bin/env bash
# The README's first command: install, build, boot the default microVM (the
# "hello" test guest, which greets and powers off: status 0). It runs natively
# on any working /dev/kvm (the guest is freestanding: a software KVM such as
# kvm_pvm will do), else in the KVM lab (scripts/kvm-lab.sh: a real /dev/kvm
# under QEMU emulation, ~15 s more); one line says which and why.
# Extra arguments go to `mpvm run` (scripts/demo.sh --cpus 2 --log-level Info).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
where=$(scripts/kvm-lab.sh --guest any --which)
case $where in
native:*) echo "demo: booting natively: ${where#native: }" ;;
*) echo "demo: booting in the KVM lab (QEMU-emulated machine with a real /dev/kvm): ${where#lab: }" ;;
esac
exec scripts/kvm-lab.sh --guest any --quiet -- build/mpvm run --kernel build/tests/guests/hello.elf --cmdline "poweroff" "$@"
