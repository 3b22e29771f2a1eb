#!/usr/bin/env bash
# Debian's stock kernel boots under mpvm: the bzImage through the Linux
# 64-bit boot protocol with 4 vCPUs (all online) and 3.5 GiB (RAM past the
# PCI hole, all of it usable), its command line from a config file; the same
# kernel as an ELF vmlinux (extracted from the bzImage by
# scripts/extract-vmlinux.py) through its PVH note with 1 vCPU and 128 MiB,
# its command line from the CLI. Power-off ends mpvm with 0, reboot with 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"

cat >"$T_TMP/big.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$LINUX/vmlinuz", "initrd_path": "$LINUX/initrd.cpio.gz",
                   "boot_args": "$LINUX_CMDLINE mpvm.test=boot mpvm.cpus=4 mpvm.mem_mib=3584 mpvm.marker=from-config mpvm.end=poweroff" },
  "machine-config": { "vcpu_count": 4, "mem_size_mib": 3584 },
  "logger": { "level": "Info" }
}
JSON
run_linux bzimage 300 -- "$MPVM" run --config-file "$T_TMP/big.json"
expect_status bzimage 0
expect_scenario bzimage
expect_err bzimage "kernel .*vmlinuz: entered through Linux 64-bit boot protocol"
expect_ok bzimage "all 4 CPUs online \(0-3\)"
expect_ok bzimage "e820 usable RAM 358[34] MiB of 3584 MiB"
expect_ok bzimage "RAM above 4 GiB"
expect_ok bzimage "command line carries the marker from-config"
expect_ok bzimage "kvm-clock is the clocksource"
expect_err bzimage "Guest-boot-time = [0-9]+ us"
expect_err bzimage "guest powered off \(ACPI S5\)"

run_linux vmlinux 300 -- "$MPVM" run --kernel "$LINUX/vmlinux" --initrd "$LINUX/initrd.cpio.gz" \
	--cpus 1 --memory 128 --log-level Info \
	--cmdline "$LINUX_CMDLINE mpvm.test=boot mpvm.cpus=1 mpvm.mem_mib=128 mpvm.marker=from-cli mpvm.end=reboot"
expect_status vmlinux 2
expect_scenario vmlinux
expect_err vmlinux "kernel .*vmlinux: entered through PVH"
expect_ok vmlinux "all 1 CPUs online"
expect_ok vmlinux "e820 usable RAM 12[78] MiB of 128 MiB"
expect_ok vmlinux "command line carries the marker from-cli"
finish
