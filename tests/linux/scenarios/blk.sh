# blk: the Sync engine, a rate limiter and a drive replaced while Linux
# runs. vda root ext4, vdb scratch (no limiter), vdc scratch limited by the
# host to 2 MiB/s, vdd a raw disk the host swaps (PATCH /drives) while the
# guest waits: it holds pattern 66 before and pattern 77 after.
mount_root && { echo blk >/root/blk.txt; sync; umount /root; ok "root written on the Sync engine"; } || fail "mount root"
now_cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }
for d in vdb vdc; do
	t0=$(now_cs)
	dd if=/dev/zero of=/dev/$d bs=1M count=6 oflag=direct conv=fsync 2>/dev/null || fail "dd to $d"
	echo "LTEST: info dd $d $(($(now_cs) - t0))"
done
[ "$(dd if=/dev/vdd bs=1M count=1 iflag=direct 2>/dev/null | sha256sum)" = "$(guest-tool pattern 66 1048576 | sha256sum)" ] &&
	ok "vdd holds the first image" || fail "vdd before the swap"
echo "LTEST: ready-for-patch"
read -r line
echo 3 >/proc/sys/vm/drop_caches
blockdev --flushbufs /dev/vdd 2>/dev/null
[ "$(dd if=/dev/vdd bs=1M count=1 iflag=direct 2>/dev/null | sha256sum)" = "$(guest-tool pattern 77 1048576 | sha256sum)" ] &&
	ok "vdd holds the new image after PATCH /drives" || fail "vdd after the swap"
end poweroff
