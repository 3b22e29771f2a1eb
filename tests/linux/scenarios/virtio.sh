# virtio: Debian's modular drivers find mpvm's virtio-mmio devices through
# ACPI and use them. Drives: vda the ext4 root (is_root_device), vdb a raw
# scratch disk, vdc a read-only raw disk holding pattern 44 (1 MiB); eth0 on
# the host's tap 10.0.2.1/24; the entropy device. Command line: mpvm.marker,
# mpvm.net=1 to run the network part, mpvm.end.
for d in vda vdb vdc; do
	[ -b /dev/$d ] && ok "/dev/$d present ($(cat /sys/block/$d/size) sectors)" || fail "no /dev/$d"
done
echo "LTEST: info virtio devices: $(ls /sys/bus/virtio/devices | tr '\n' ' ')"
grep -q LNRO0005 /sys/bus/platform/devices/*/modalias 2>/dev/null &&
	ok "virtio-mmio devices enumerated through ACPI (LNRO0005)" || fail "no LNRO0005 platform device"

# Root: mounted as a real initramfs would, written, synced.
if mount_root; then
	grep -q " /root ext4 rw" /proc/mounts && ok "root ext4 on $(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline) mounted rw" || fail "root not rw"
	[ "$(cat /root/hello.txt)" = "hello from the host" ] && ok "reads the host's file" || fail "hello.txt: $(cat /root/hello.txt)"
	arg marker >/root/from-guest.txt
	guest-tool pattern 11 3145728 >/root/written.bin
	echo "LTEST: info written.bin $(sha256sum /root/written.bin | cut -d' ' -f1)"
	sync
	umount /root && ok "root unmounted cleanly" || fail "umount /root"
else
	fail "mount root"
fi

# Sequential: 8 MiB of pattern 22 at the start of vdb, read back uncached.
guest-tool pattern 22 8388608 >/tmp/seq.bin
dd if=/tmp/seq.bin of=/dev/vdb bs=1M oflag=direct conv=fsync 2>/dev/null
echo 3 >/proc/sys/vm/drop_caches
[ "$(dd if=/dev/vdb bs=1M count=8 iflag=direct 2>/dev/null | sha256sum)" = "$(sha256sum </tmp/seq.bin)" ] &&
	ok "sequential 8 MiB read back equal" || fail "sequential read back differs"
rm -f /tmp/seq.bin
# Random: 4 KiB blocks of pattern 100+i at random block numbers in 2048..4095.
offs=""
i=0
while [ $i -lt 12 ]; do
	b=$((2048 + RANDOM % 2048))
	case " $offs " in *" $b "*) continue ;; esac
	offs="$offs $b"
	guest-tool pattern $((100 + i)) 4096 | dd of=/dev/vdb bs=4096 seek=$b oflag=direct conv=fsync 2>/dev/null
	i=$((i + 1))
done
echo "LTEST: info random blocks$offs"
echo 3 >/proc/sys/vm/drop_caches
i=0
bad=0
for b in $offs; do
	[ "$(dd if=/dev/vdb bs=4096 skip=$b count=1 iflag=direct 2>/dev/null | sha256sum)" = "$(guest-tool pattern $((100 + i)) 4096 | sha256sum)" ] || bad=$((bad + 1))
	i=$((i + 1))
done
[ $bad = 0 ] && ok "12 random 4 KiB blocks read back equal" || fail "$bad random blocks differ"

# Read-only: the kernel sees it, and the device itself refuses a write.
[ "$(cat /sys/block/vdc/ro)" = 1 ] && ok "vdc is read-only to the kernel" || fail "vdc ro=$(cat /sys/block/vdc/ro)"
blockdev --setrw /dev/vdc 2>/dev/null
if dd if=/dev/zero of=/dev/vdc bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null; then
	fail "a write to the read-only drive succeeded"
else
	ok "the read-only drive refuses a write"
fi
[ "$(dd if=/dev/vdc bs=4096 count=256 iflag=direct 2>/dev/null | sha256sum)" = "$(guest-tool pattern 44 1048576 | sha256sum)" ] &&
	ok "the read-only drive still holds its data" || fail "vdc changed"

# Entropy.
[ "$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)" != none ] && ok "hwrng: $(cat /sys/class/misc/hw_random/rng_current)" || fail "no hwrng"
[ "$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | wc -c)" = 32 ] && ok "read 32 bytes from /dev/hwrng" || fail "/dev/hwrng read"

# Network: address, ping, a file each way (the host's ends in the test).
if [ "$(arg net)" = 1 ]; then
	ip link set lo up
	ip link set eth0 up && ip addr add 10.0.2.2/24 dev eth0
	echo "LTEST: info eth0 $(cat /sys/class/net/eth0/address)"
	ping -c 3 -W 5 10.0.2.1 >/dev/null 2>&1 && ok "ping 10.0.2.1 (the host's tap)" || fail "ping"
	guest-tool pattern 33 1048576 | nc -w 10 10.0.2.1 7001 && ok "sent 1 MiB to the host" || fail "send to the host"
	nc -w 10 10.0.2.1 7002 >/tmp/in.bin
	echo "LTEST: info received $(wc -c </tmp/in.bin) $(sha256sum </tmp/in.bin | cut -d' ' -f1)"
fi
end "$(arg end)"
