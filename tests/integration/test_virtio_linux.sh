#!/usr/bin/env bash
# Opt-in (MPVM_LINUX_TEST=1), for real hosts with VT-x/AMD-V: a stock Debian
# cloud kernel under mpvm finds the virtio devices (ACPI LNRO0005, modules
# from the initramfs) and uses them: reads a marker from /dev/vda and writes
# one back (checked on the host image afterwards), brings eth0 up and pings
# the host over a tap in a private network namespace, reads /dev/hwrng.
# Needs root (netns + tap), cpio and gzip. Skips on this project's
# software-nested development hosts, where a stock kernel cannot boot.
. "$(dirname "$0")/lib.sh"
if [ "${MPVM_LINUX_TEST:-0}" != 1 ]; then
	skip "set MPVM_LINUX_TEST=1 on a host with VT-x/AMD-V"
fi
if [ "$(id -u)" != 0 ]; then
	skip "needs root for the network namespace"
fi
"$MPVM_SOURCE_DIR/scripts/linux-guest.sh" --build-only >/dev/null
L="$MPVM_SOURCE_DIR/build/linux"

# The shared initramfs with an /init that exercises the devices.
root="$T_TMP/initrd"
mkdir -p "$root"
(cd "$root" && gzip -dc "$L/initrd.cpio.gz" | cpio -id --quiet)
cat >"$root/init" <<'INIT'
#!/bin/sh
b=/bin/busybox
$b mount -t proc proc /proc
$b mount -t sysfs sys /sys
$b mount -t devtmpfs dev /dev
for m in virtio virtio_ring virtio_mmio virtio_blk failover net_failover virtio_net virtio_rng; do
	for f in /lib/modules/$m.ko*; do [ -e "$f" ] && $b insmod "$f" 2>/dev/null; done
done
$b sleep 1
echo "virtio-linux: up"
if $b dd if=/dev/vda bs=512 count=1 2>/dev/null | $b grep -q MPVM-HOST-MARKER; then
	echo "virtio-linux: vda read ok"
fi
echo MPVM-GUEST-MARKER | $b dd of=/dev/vda bs=512 seek=1 conv=sync,notrunc 2>/dev/null &&
	$b sync && echo "virtio-linux: vda written"
$b ip link set eth0 up && $b ip addr add 10.0.0.2/24 dev eth0 &&
	$b ping -c 1 -W 10 10.0.0.1 >/dev/null && echo "virtio-linux: ping ok"
if $b dd if=/dev/hwrng bs=16 count=1 2>/dev/null | $b od -An -tx1 | $b grep -q '[0-9a-f]'; then
	echo "virtio-linux: hwrng ok ($($b cat /sys/class/misc/hw_random/rng_current))"
fi
$b poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$T_TMP/initrd.cpio.gz"

disk="$T_TMP/disk.img"
truncate -s 16M "$disk"
printf 'MPVM-HOST-MARKER' | dd of="$disk" conv=notrunc 2>/dev/null

ns="mpvm-linux-$$"
ip netns add "$ns" || { fail "ip netns add"; finish; }
trap 'ip netns del "$ns" 2>/dev/null; t_cleanup' EXIT
ip -n "$ns" tuntap add dev mpvmtap0 mode tap
ip -n "$ns" addr add 10.0.0.1/24 dev mpvmtap0
ip -n "$ns" link set mpvmtap0 up

MPVM_REAL=$MPVM
MPVM=ip
run linux-virtio 600 -- netns exec "$ns" "$MPVM_REAL" run --kernel "$L/vmlinuz" \
	--initrd "$T_TMP/initrd.cpio.gz" --memory 512 \
	--cmdline "console=ttyS0 reboot=k panic=-1" \
	--drive "id=rootfs,path=$disk,root,engine=async,cache=writeback" \
	--net "id=eth0,tap=mpvmtap0,mac=52:54:00:aa:bb:10" --entropy
expect_status linux-virtio 0
expect_out linux-virtio "virtio-linux: vda read ok"
expect_out linux-virtio "virtio-linux: vda written"
expect_out linux-virtio "virtio-linux: ping ok"
expect_out linux-virtio "virtio-linux: hwrng ok"
if dd if="$disk" bs=512 skip=1 count=1 2>/dev/null | grep -q MPVM-GUEST-MARKER; then
	pass "linux-virtio: the guest's write is in the image"
else
	fail "linux-virtio: the guest's write is not in the image"
fi
finish
