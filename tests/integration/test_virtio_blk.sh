#!/usr/bin/env bash
# virtio-blk and virtio-rng on real /dev/kvm with the freestanding guests:
# the block guest (patterns across the disk, flush, serial, read-only disk,
# interrupt) with the Sync and the Async engine, the same from a config file,
# the hostile guest (mpvm must survive and report; once more with a
# rate-limited entropy device, whose timer must not serve a queue the guest
# resized after DRIVER_OK), the entropy guest, and a clear error for a
# missing image.
. "$(dirname "$0")/lib.sh"

disk="$T_TMP/disk.img" ro="$T_TMP/ro.img"
truncate -s 8M "$disk"
truncate -s 1M "$ro"

# Word 0 of the pattern block the guest writes at `sector` (see virtio_blk.c).
pattern_word0() { printf '%08x' $(( (($1 * 0x9E3779B1) & 0xffffffff) ^ $2 )); }
file_word0() { od -An -tx4 -j $(($1 * 512)) -N4 "$disk" | tr -d ' '; }

for engine in sync async; do
	rm -f "$disk" && truncate -s 8M "$disk"
	run "blk-$engine" 120 -- run --kernel "$GUESTS/virtio_blk.elf" --exit-port \
		--drive "id=rootdisk,path=$disk,root,engine=$engine,cache=writeback" \
		--drive "id=ro,path=$ro,ro" --cmdline "serial=rootdisk seed=0x1234"
	expect_status "blk-$engine" 1
	expect_out "blk-$engine" "blk0: .* 16384 sectors, read-write, flush"
	expect_out "blk-$engine" "blk: 16 blocks written and verified"
	expect_out "blk-$engine" "blk: serial \"rootdisk\""
	expect_out "blk-$engine" "blk: interrupt on GSI [0-9]+ delivered"
	expect_out "blk-$engine" "blk: read-only disk refused the write"
	expect_out "blk-$engine" "blk: PASS"
	# The data is in the image file, not only in mpvm's view of it.
	last=$(( (16384 - 8) & ~7 ))
	if [ "$(file_word0 0)" = "$(pattern_word0 0 0x1234)" ] &&
		[ "$(file_word0 $last)" = "$(pattern_word0 $last 0x1234)" ]; then
		pass "blk-$engine: patterns are in the image file"
	else
		fail "blk-$engine: image file lacks the patterns" "$(file_word0 0) / $(file_word0 $last)"
	fi
	# Reading them back in a fresh VM with the other engine.
	other=$([ $engine = sync ] && echo async || echo sync)
	run "blk-$engine-reread" 120 -- run --kernel "$GUESTS/virtio_blk.elf" --exit-port \
		--drive "id=rootdisk,path=$disk,root,engine=$other" --cmdline "verify seed=0x1234"
	expect_status "blk-$engine-reread" 1
	expect_out "blk-$engine-reread" "blk: 16 blocks verified"
done

# Drives and entropy from a config file (Firecracker's keys).
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/virtio_blk.elf", "boot_args": "serial=fromconfig" },
  "drives": [
    { "drive_id": "ro", "path_on_host": "$ro", "is_root_device": false, "is_read_only": true },
    { "drive_id": "fromconfig", "path_on_host": "$disk", "is_root_device": true,
      "is_read_only": false, "io_engine": "Async", "cache_type": "Writeback" }
  ],
  "entropy": {},
  "debug": { "exit_port": true }
}
JSON
run blk-config-file 120 -- run --config-file "$T_TMP/vm.json"
expect_status blk-config-file 1
# The root device comes first (vda) although it is listed second.
expect_out blk-config-file "blk0: at 0xd0000000 irq 10, 16384 sectors, read-write"
expect_out blk-config-file "blk: serial \"fromconfig\""
expect_out blk-config-file "blk: PASS"

run hostile 120 -- run --kernel "$GUESTS/virtio_hostile.elf" --exit-port --memory 128M --cmdline ram_mib=128 \
	--drive "id=victim,path=$disk,root,engine=async" --entropy --metrics-path "$T_TMP/hostile.metrics"
expect_status hostile 1
expect_out hostile "descriptor pointing to itself -> request failed"
expect_out hostile "absurd length .* -> request failed"
expect_out hostile "indirect table inside an indirect table -> request failed"
expect_out hostile "available index 200 ahead -> DEVICE_NEEDS_RESET"
expect_out hostile "entropy device survived a loop"
expect_out hostile "DRIVER_OK cleared, queue grown 1 -> 256 .* -> DEVICE_NEEDS_RESET, queue untouched"
expect_out hostile "entropy device works again after reset"
expect_out hostile "hostile: PASS"
expect_err hostile "rng: guest driver error: status 0xb clears bits 0x4 without a reset"
expect_err hostile "blk:victim: bad request .*loop"
expect_err hostile "blk:victim: guest driver error: .*device needs reset"
# The faults are counted in the device's metrics (the line written at exit).
if python3 - "$T_TMP/hostile.metrics" <<'PY'
import json, sys
m = json.loads(open(sys.argv[1]).read().splitlines()[-1])
b = m["block_victim"]
r = m["entropy"]
sys.exit(0 if b["bad_requests"] > 0 and b["device_errors"] > 0 and b["kicks"] > 0 and
         r["device_errors"] > 0 and r["register_errors"] > 0 else 1)
PY
then pass "hostile: metrics count bad requests, device and register errors"
else fail "hostile: metrics lack the fault counts" "$(tail -1 "$T_TMP/hostile.metrics" 2>&1)"; fi

# The entropy device's rate limiter holds a request back on its timer while
# the guest clears DRIVER_OK and grows the queue over rings that end where
# RAM ends: the timer's pass must not serve it (that would write past the
# end of mpvm's guest memory mapping).
cat >"$T_TMP/hostile.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/virtio_hostile.elf", "boot_args": "ram_mib=64" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 },
  "drives": [ { "drive_id": "victim", "path_on_host": "$disk", "is_root_device": true, "is_read_only": false } ],
  "entropy": { "rate_limiter": { "bandwidth": { "size": 64, "refill_time": 300 } } },
  "debug": { "exit_port": true }
}
JSON
run hostile-throttled 120 -- run --config-file "$T_TMP/hostile.json"
expect_status hostile-throttled 1
expect_out hostile-throttled "queue grown 1 -> 256 .* -> DEVICE_NEEDS_RESET, queue untouched \(1 of 2 served\)"
expect_out hostile-throttled "hostile: PASS"
expect_err hostile-throttled "rng: queue 0: configuration written after DRIVER_OK \(ignored\)"

run hostile-sync 120 -- run --kernel "$GUESTS/virtio_hostile.elf" --exit-port \
	--drive "id=victim,path=$disk,root,engine=sync"
expect_status hostile-sync 1
expect_out hostile-sync "hostile: PASS"

run rng 60 -- run --kernel "$GUESTS/virtio_rng.elf" --exit-port --entropy
expect_status rng 1
expect_out rng "rng: [0-9a-f]{32}"
expect_out rng "rng: PASS"

run missing-image 60 -- run --kernel "$GUESTS/virtio_blk.elf" --exit-port \
	--drive "id=gone,path=$T_TMP/nonexistent.img"
expect_status missing-image 78
expect_err missing-image "drive gone: cannot open .*nonexistent.img"

finish
