#!/usr/bin/env bash
# virtio-blk under Linux on the Sync engine: root ext4 written by the guest
# and read by the host, a rate limiter that measurably slows the guest's dd
# (2 MiB/s against an unlimited drive), and PATCH /drives while Linux runs:
# the guest reads the new backing file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v debugfs >/dev/null || skip "debugfs (e2fsprogs) not installed"

mkdir -p "$T_TMP/rootdir"
make_ext4 "$T_TMP/root.ext4" 32M "$T_TMP/rootdir"
truncate -s 8M "$T_TMP/fast.img" "$T_TMP/slow.img"
pattern 66 1048576 >"$T_TMP/first.img"
pattern 77 1048576 >"$T_TMP/second.img"
sock=$T_TMP/api.sock
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$LINUX/vmlinuz", "initrd_path": "$LINUX/initrd.cpio.gz",
                   "boot_args": "$LINUX_CMDLINE mpvm.test=blk" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "$T_TMP/root.ext4", "is_root_device": true, "is_read_only": false, "io_engine": "Sync" },
    { "drive_id": "fast", "path_on_host": "$T_TMP/fast.img", "is_root_device": false, "is_read_only": false, "io_engine": "Sync" },
    { "drive_id": "slow", "path_on_host": "$T_TMP/slow.img", "is_root_device": false, "is_read_only": false, "io_engine": "Sync",
      "rate_limiter": { "bandwidth": { "size": 2097152, "refill_time": 1000 } } },
    { "drive_id": "swap", "path_on_host": "$T_TMP/first.img", "is_root_device": false, "is_read_only": true, "io_engine": "Sync" }
  ]
}
JSON
mkfifo "$T_TMP/in"
exec {hold}<>"$T_TMP/in"
"$MPVM" run --config-file "$T_TMP/vm.json" --api-sock "$sock" <"$T_TMP/in" >"$T_TMP/blk.out" 2>"$T_TMP/blk.err" &
pid=$!
T_PIDS+=("$pid")
for _ in $(seq 1800); do grep -q "LTEST: ready-for-patch" "$T_TMP/blk.out" && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if grep -q "LTEST: ready-for-patch" "$T_TMP/blk.out"; then
	code=$(curl -s --max-time 60 --unix-socket "$sock" -X PATCH http://localhost/drives/swap \
		-d "{\"drive_id\": \"swap\", \"path_on_host\": \"$T_TMP/second.img\"}" -o "$T_TMP/patch.body" -w '%{http_code}')
	[ "$code" = 204 ] && pass "PATCH /drives/swap while Linux runs: 204" || fail "PATCH /drives/swap: $code $(cat "$T_TMP/patch.body")"
else
	fail "the guest never asked for the swap" "$(tail -5 "$T_TMP/blk.out")"
fi
echo go >&"$hold"
for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -KILL $pid 2>/dev/null
wait "$pid"
STATUS=$?
exec {hold}>&-
OUT=$(tr -d '\r' <"$T_TMP/blk.out")
ERR=$(cat "$T_TMP/blk.err")
expect_status blk 0
expect_scenario blk
expect_ok blk "root written on the Sync engine"
expect_ok blk "vdd holds the new image after PATCH /drives"
[ "$(debugfs -R 'cat /blk.txt' "$T_TMP/root.ext4" 2>/dev/null)" = blk ] &&
	pass "host: the guest's file is on the root image (Sync engine)" || fail "host: blk.txt missing on the image"
# 6 MiB at 2 MiB/s with a 2 MiB bucket: at least 2 s, and far slower than
# the unlimited drive.
fast=$(info "dd vdb")
slow=$(info "dd vdc")
if [ -n "$fast" ] && [ -n "$slow" ] && [ "$slow" -ge 190 ] && [ "$slow" -ge $((fast * 2)) ]; then
	pass "rate limiter: 6 MiB took $slow cs limited, $fast cs unlimited"
else
	fail "rate limiter: limited ${slow:-?} cs, unlimited ${fast:-?} cs (want >= 190 and >= 2x)"
fi
finish
