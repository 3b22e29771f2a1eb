#!/usr/bin/env bash
# Builds mpvm's Linux test guest from Debian packages only, into OUT
# (default build/linux):
#   vmlinuz         Debian's kernel (the package linux-image-amd64 depends
#                   on, shared with the KVM lab's cache), a bzImage
#   vmlinux         the same kernel as an ELF (scripts/extract-vmlinux.py);
#                   it carries the PVH note, so mpvm enters it through PVH
#   initrd.cpio.gz  busybox-static, guest-tool (guest-tool.c, static), the
#                   kernel's virtio/ext4 modules, /init and the scenarios
#   modules.txt     the modules in the initramfs, in load order
#   mpvm_softpmu.ko the soft-PMU perf driver (softpmu/), built against
#                   Debian's headers for the same kernel (linux-headers-*,
#                   installed here when missing), in the initramfs as
#                   /softpmu/mpvm_softpmu.ko, loaded only by the scenario
#                   that tests it
#   guest-tool      the static helper the initramfs carries, for the host
#                   side of the tests too (the same data patterns)
# Rebuilt only when an input changed. Usage: tests/linux/build.sh [OUT]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/lib/debian-kernel.sh"
OUT=${1:-$ROOT/build/linux}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The guest's drivers: virtio-mmio (its devices are found through ACPI, as
# LNRO0005), block, net, entropy, vsock; ext4 for the root drive.
GUEST_MODULES=(virtio_mmio virtio_blk virtio_net virtio_rng vmw_vsock_virtio_transport virtio_balloon ext4)

debian_kernel
stamp=$( { echo "$KERNEL_VER ${GUEST_MODULES[*]}"; sha256sum /bin/busybox "$HERE"/init "$HERE"/guest-tool.c \
	"$HERE"/scenarios/*.sh "$HERE"/softpmu/* "$0" "$ROOT/scripts/extract-vmlinux.py"; } | sha256sum | cut -c1-16)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then
	exit 0
fi
echo "linux guest: building in $OUT (kernel $KERNEL_VER)"
cp "$KERNEL_IMAGE" "$OUT/vmlinuz"
python3 "$ROOT/scripts/extract-vmlinux.py" "$OUT/vmlinuz" "$OUT/vmlinux"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ird=$tmp/initrd
mkdir -p "$ird"/{bin,sbin,proc,sys,dev,tmp,root,mnt,modules,scenarios,etc}
cp /bin/busybox "$ird/bin/busybox"
${CC:-gcc} -static -O2 -Wall -Wextra -Werror -o "$OUT/guest-tool" "$HERE/guest-tool.c"
cp "$OUT/guest-tool" "$ird/bin/guest-tool"
cp "$HERE/init" "$ird/init"
# The soft-PMU perf driver, against the headers of the guest's own kernel.
headers=/usr/src/linux-headers-$KERNEL_VER
if [ ! -d "$headers" ]; then
	echo "linux guest: installing linux-headers-$KERNEL_VER (Debian package) for mpvm_softpmu.ko"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "linux-headers-$KERNEL_VER" >"$tmp/headers.log" 2>&1 ||
		{ cat "$tmp/headers.log" >&2; exit 1; }
fi
mkdir -p "$tmp/softpmu" "$ird/softpmu"
cp "$HERE"/softpmu/mpvm_softpmu.c "$HERE"/softpmu/Kbuild "$tmp/softpmu/"
make -s -C "$headers" M="$tmp/softpmu" modules >"$tmp/softpmu.log" 2>&1 ||
	{ cat "$tmp/softpmu.log" >&2; exit 1; }
cp "$tmp/softpmu/mpvm_softpmu.ko" "$OUT/mpvm_softpmu.ko"
cp "$tmp/softpmu/mpvm_softpmu.ko" "$ird/softpmu/"
cp "$HERE"/scenarios/*.sh "$ird/scenarios/"
modules_in_order "$KERNEL_DIR" "$KERNEL_VER" "${GUEST_MODULES[@]}" >"$tmp/order"
while read -r m; do
	cp "$KERNEL_MODULES/$m" "$ird/modules/"
	basename "$m"
done <"$tmp/order" >"$ird/modules.order"
cp "$ird/modules.order" "$OUT/modules.txt"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -6) >"$OUT/initrd.cpio.gz"
echo "$stamp" >"$OUT/.stamp"
