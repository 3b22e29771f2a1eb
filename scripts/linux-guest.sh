#!/usr/bin/env bash
# Build a Linux microVM guest from Debian packages only and boot it with mpvm:
#   kernel:    vmlinuz from linux-image-cloud-amd64 (a bzImage)
#   initramfs: busybox-static + a tiny /init (+ the kernel's virtio modules)
# Usage: scripts/linux-guest.sh [--build-only] [extra mpvm run flags]
# Output: build/linux/vmlinuz, build/linux/initrd.cpio.gz
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/linux
BUILD_ONLY=0
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; shift; fi
mkdir -p "$OUT"

if [ ! -f "$OUT/vmlinuz" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static cpio
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download linux-image-cloud-amd64 >/dev/null &&
	 dep=$(dpkg-deb -f linux-image-cloud-amd64_*.deb Depends | grep -o 'linux-image-[0-9][^ ,]*cloud-amd64' | head -1) &&
	 apt-get download "$dep" >/dev/null && dpkg-deb -x linux-image-[0-9]*.deb root)
	cp "$tmp"/root/boot/vmlinuz-* "$OUT/vmlinuz"
	rm -rf "$OUT/modules"
	cp -a "$tmp"/root/lib/modules "$OUT/modules"
	rm -rf "$tmp"
fi

root=$(mktemp -d)
mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc,lib/modules,mnt}
cp /bin/busybox "$root/bin/busybox"
for tool in sh mount umount insmod modprobe poweroff reboot cat ls echo ip dmesg mdev sleep uname; do
	ln -sf busybox "$root/bin/$tool"
done
# virtio modules so a distribution kernel finds the virtio-mmio devices (ACPI LNRO0005).
kver=$(ls "$OUT/modules" | head -1)
for m in virtio virtio_ring virtio_mmio virtio_blk virtio_net net_failover failover virtio_rng; do
	f=$(find "$OUT/modules/$kver" -name "$m.ko*" | head -1)
	[ -n "$f" ] && cp "$f" "$root/lib/modules/"
done
cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio virtio_ring virtio_mmio virtio_blk failover net_failover virtio_net virtio_rng; do
	for f in /lib/modules/$m.ko*; do [ -e "$f" ] && insmod "$f" 2>/dev/null; done
done
echo "mpvm-linux-guest: up, kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus"
ls /dev/vd* 2>/dev/null && echo "mpvm-linux-guest: block devices present"
ip link 2>/dev/null | grep -q eth0 && echo "mpvm-linux-guest: eth0 present"
if grep -q mpvm.test /proc/cmdline; then poweroff -f; fi
exec /bin/sh
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$OUT/initrd.cpio.gz"
rm -rf "$root"
echo "built $OUT/vmlinuz and $OUT/initrd.cpio.gz"
[ "$BUILD_ONLY" = 1 ] && exit 0
[ -x build/mpvm ] || scripts/build.sh
exec build/mpvm run --kernel "$OUT/vmlinuz" --initrd "$OUT/initrd.cpio.gz" \
	--cmdline "console=ttyS0 reboot=k panic=-1 quiet" --memory 512 "$@"
