#!/usr/bin/env bash
# Builds the KVM lab's boot files once and prints the folder that holds them
# (vmlinuz, initrd.gz). Everything comes from Debian packages: the kernel that
# linux-image-amd64 depends on (scripts/lib/debian-kernel.sh), busybox-static
# and kmod's modprobe for the module order. Rebuilt when the kernel package,
# busybox or this folder's files change; concurrent callers wait on a lock.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/debian-kernel.sh"

# What the lab loads, in the order modprobe resolves: virtio PCI and 9p for the
# host's files, kvm-amd for /dev/kvm, tun and veth for network tests,
# virtio-rng so getrandom() never waits for entropy.
LAB_MODULES=(virtio_pci 9pnet_virtio 9p kvm_amd tun veth virtio_rng)

debian_kernel
busybox=/bin/busybox
! readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter' || {
	echo "kvm-lab: $busybox is not busybox-static (apt-get install busybox-static)" >&2; exit 1; }

key=$( { echo "$KERNEL_VER"; echo "${LAB_MODULES[*]}"; sha256sum "$busybox" "$HERE/init" "$HERE/kvm-hold.c" "$0"; } |
	sha256sum | cut -c1-16)
root=$(mpvm_cache_dir)/lab
out=$root/image-$key
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if [ ! -f "$out/.complete" ]; then
	echo "kvm-lab: building the lab image (kernel $KERNEL_VER) in $out" >&2
	tmp=$(mktemp -d "$root/.build.XXXXXX")
	ird=$tmp/initrd
	mkdir -p "$ird"/{bin,sbin,proc,sys,dev,tmp,modules}
	cp "$busybox" "$ird/bin/busybox"
	cp "$HERE/init" "$ird/init"
	${CC:-gcc} -static -O2 -Wall -Werror -o "$ird/bin/kvm-hold" "$HERE/kvm-hold.c"
	modules_in_order "$KERNEL_DIR" "$KERNEL_VER" "${LAB_MODULES[@]}" >"$tmp/order"
	while read -r m; do
		cp "$KERNEL_MODULES/$m" "$ird/modules/"
		basename "$m"
	done <"$tmp/order" >"$ird/modules.order"
	(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp/initrd.gz"
	cp "$KERNEL_IMAGE" "$tmp/vmlinuz"
	rm -rf "$ird" "$tmp/order"
	rm -rf "$root"/image-*
	mv "$tmp" "$out"
	touch "$out/.complete"
fi
echo "$out"
