#!/usr/bin/env bash
# Debian's kernel on mpvm's virtio devices: its modular virtio_mmio finds
# them through ACPI; root on a virtio-blk ext4 image (is_root_device) that
# the guest writes and the host then reads with debugfs; sequential and
# random I/O checked against the pattern on the host; a read-only drive
# refuses writes; virtio-net on a tap in a network namespace this test
# creates (ping, a file each way, checksums); the entropy device. All
# drives on the io_uring engine here; test_linux_blk.sh covers Sync.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
[ "$(id -u)" = 0 ] && command -v ip >/dev/null || skip "needs root and iproute2 for the network namespace"
command -v debugfs >/dev/null || skip "debugfs (e2fsprogs) not installed"

# Images: the root file system, a scratch disk, a read-only disk.
mkdir -p "$T_TMP/rootdir"
echo "hello from the host" >"$T_TMP/rootdir/hello.txt"
make_ext4 "$T_TMP/root.ext4" 64M "$T_TMP/rootdir"
truncate -s 16M "$T_TMP/scratch.img"
pattern 44 1048576 >"$T_TMP/ro.img"
pattern 55 2097152 >"$T_TMP/to-guest.bin"
marker="m$RANDOM$RANDOM"

# The network: a tap in a namespace of our own, and the host's two ends of
# the file transfers (receive on 7001, send pattern 55 on 7002), bounded.
netns_tap mpvm-lt mpvmtap0 10.0.2.1/24
ip netns exec "$ns" timeout 300 python3 - "$T_TMP/from-guest.bin" "$T_TMP/to-guest.bin" <<'PY' &
import socket, sys, threading
def listener(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.0.2.1", port)); s.listen(1); s.settimeout(280)
    return s
rx, tx = listener(7001), listener(7002)
def receive():
    c, _ = rx.accept(); c.settimeout(60)
    with open(sys.argv[1], "wb") as f:
        while True:
            b = c.recv(65536)
            if not b: break
            f.write(b)
def send():
    c, _ = tx.accept(); c.sendall(open(sys.argv[2], 'rb').read()); c.close()
t = [threading.Thread(target=receive), threading.Thread(target=send)]
[x.start() for x in t]; [x.join() for x in t]
PY
T_PIDS+=($!)

cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$LINUX/vmlinuz", "initrd_path": "$LINUX/initrd.cpio.gz",
                   "boot_args": "$LINUX_CMDLINE mpvm.test=virtio mpvm.marker=$marker mpvm.net=1 mpvm.end=poweroff" },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "$T_TMP/root.ext4", "is_root_device": true, "is_read_only": false, "io_engine": "Async" },
    { "drive_id": "scratch", "path_on_host": "$T_TMP/scratch.img", "is_root_device": false, "is_read_only": false, "io_engine": "Async" },
    { "drive_id": "ro", "path_on_host": "$T_TMP/ro.img", "is_root_device": false, "is_read_only": true, "io_engine": "Async" }
  ],
  "network-interfaces": [ { "iface_id": "eth0", "host_dev_name": "mpvmtap0", "guest_mac": "06:00:0a:00:02:02" } ],
  "entropy": {}
}
JSON
run_linux virtio 300 -- ip netns exec "$ns" "$MPVM" run --config-file "$T_TMP/vm.json"
expect_status virtio 0
expect_scenario virtio
expect_ok virtio "virtio-mmio devices enumerated through ACPI"
expect_ok virtio "root ext4 on /dev/vda mounted rw"
expect_ok virtio "12 random 4 KiB blocks read back equal"
expect_ok virtio "the read-only drive refuses a write"
expect_ok virtio "read 32 bytes from /dev/hwrng"
expect_ok virtio "ping 10.0.2.1"
expect_out virtio "^LTEST: info eth0 06:00:0a:00:02:02$"

# What the guest wrote is on the images, as the host reads them.
got=$(debugfs -R "cat /from-guest.txt" "$T_TMP/root.ext4" 2>/dev/null)
[ "$got" = "$marker" ] && pass "host: debugfs reads the guest's file from the root image" || fail "host: from-guest.txt is '$got'"
debugfs -R "dump /written.bin $T_TMP/written.bin" "$T_TMP/root.ext4" >/dev/null 2>&1
want=$(pattern_sha 11 3145728)
[ "$(sha256sum <"$T_TMP/written.bin" | cut -d' ' -f1)" = "$want" ] && [ "$(info written.bin)" = "$want" ] &&
	pass "host: the guest's 3 MiB file on ext4 is the pattern, byte for byte" || fail "host: written.bin differs"
pattern_at "$T_TMP/scratch.img" 0 22 8388608 && pass "host: the sequential 8 MiB are on the scratch image" ||
	fail "host: sequential data differs on the image"
i=0
bad=0
for b in $(info "random blocks"); do
	pattern_at "$T_TMP/scratch.img" $((b * 4096)) $((100 + i)) 4096 || bad=$((bad + 1))
	i=$((i + 1))
done
[ "$i" = 12 ] && [ "$bad" = 0 ] && pass "host: the 12 random blocks are on the image where the guest wrote them" ||
	fail "host: $bad of $i random blocks differ"
pattern_at "$T_TMP/ro.img" 0 44 1048576 && pass "host: the read-only image is unchanged" || fail "host: ro.img changed"
[ "$(sha256sum <"$T_TMP/from-guest.bin" 2>/dev/null | cut -d' ' -f1)" = "$(pattern_sha 33 1048576)" ] &&
	pass "net: the guest's 1 MiB reached the host intact" || fail "net: guest -> host transfer differs"
[ "$(info received)" = "2097152 $(pattern_sha 55 2097152)" ] &&
	pass "net: the host's 2 MiB reached the guest intact" || fail "net: host -> guest: $(info received)"
finish
