#!/usr/bin/env bash
# Opt-in (MPVM_LINUX_TEST=1), for real hosts with VT-x/AMD-V: boot Debian's
# cloud kernel with a busybox initramfs and check it comes up and powers off.
# On software-nested KVM (the development machines) a stock kernel does not
# boot without host-specific hacks, so this test skips there by default.
. "$(dirname "$0")/lib.sh"
if [ "${MPVM_LINUX_TEST:-0}" != 1 ]; then
	skip "set MPVM_LINUX_TEST=1 on a host with VT-x/AMD-V"
fi
"$MPVM_SOURCE_DIR/scripts/linux-guest.sh" --build-only >/dev/null
L="$MPVM_SOURCE_DIR/build/linux"
run linux 300 -- run --kernel "$L/vmlinuz" --initrd "$L/initrd.cpio.gz" --cpus 2 --memory 512 \
	--cmdline "console=ttyS0 reboot=k panic=-1 mpvm.test"
expect_out linux "mpvm-linux-guest: up"
expect_out linux "2 cpus"
expect_status linux 0
finish
