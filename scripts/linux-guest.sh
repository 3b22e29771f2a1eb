#!/usr/bin/env bash
# Boot a Linux microVM built from Debian packages only: Debian's stock kernel
# (the package linux-image-amd64 depends on) and a busybox initramfs
# (tests/linux/build.sh), with a shell on the console. Natively with hardware
# KVM, else in the KVM lab (where the console is output only: the guest's
# shell cannot read your keyboard there, so pass --cmdline ... to run
# something and power off, as below).
#   scripts/linux-guest.sh [mpvm run flags]
#   scripts/linux-guest.sh --cpus 2 --memory 512
#   scripts/linux-guest.sh --cmdline "console=ttyS0 reboot=k panic=1 pci=off quiet mpvm.test=boot mpvm.cpus=1 mpvm.mem_mib=256 mpvm.marker=x mpvm.end=poweroff"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
tests/linux/build.sh build/linux
where=$(scripts/kvm-lab.sh --which)
echo "linux-guest: ${where%%:*}: ${where#*: }"
exec scripts/kvm-lab.sh --quiet -- build/mpvm run --kernel build/linux/vmlinuz \
	--initrd build/linux/initrd.cpio.gz --memory 256 "$@"
