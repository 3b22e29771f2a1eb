#!/usr/bin/env bash
# Snapshot and restore with a freestanding guest: the counter guest (it
# prints "counter: N" every 10 ms, timed by its LAPIC timer) is paused,
# snapshotted, mpvm killed, and restored in a new process: the count goes on
# from where it stopped, never restarting at 0. Two restores of one snapshot
# run side by side; a Diff snapshot on top of a Full one restores too; the
# API's refusals (not paused, after boot config, Uffd) and corrupt,
# truncated, foreign-version or wrong-size snapshot files are refused with
# the VMM staying up (API) or a clear exit (CLI).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"

SOCK="$T_TMP/api.sock"
D="$T_TMP"
COUNTER="$GUESTS/counter.elf"

# last_count FILE: the last "counter: N" in FILE (empty if none).
last_count() { grep -oE '^counter: [0-9]+' "$1" 2>/dev/null | tail -1 | awk '{print $2}'; }
first_count() { grep -oE '^counter: [0-9]+' "$1" 2>/dev/null | head -1 | awk '{print $2}'; }
# wait_count FILE N: until FILE shows a count >= N (10 s).
wait_count() {
	for _ in $(seq 100); do
		local n; n=$(last_count "$1")
		[ -n "$n" ] && [ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
stop_mpvm() { kill -KILL "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null; rm -f "$SOCK"; }

# ---- boot, pause, snapshot, kill
start_mpvm boot --api-sock "$SOCK" --kernel "$COUNTER" --cmdline "period_ms=10"
wait_count "$T_TMP/boot.out" 20 || fail "boot: the counter guest did not count to 20"
api PUT /snapshot/create "{\"snapshot_path\": \"$D/snap\", \"mem_file_path\": \"$D/mem\"}"
expect_api "create while running" 400 "must be paused"
api PATCH /vm '{"state": "Paused"}'
expect_api "pause" 204
before=$(last_count "$T_TMP/boot.out")
api PUT /snapshot/create "{\"snapshot_path\": \"$D/snap\", \"mem_file_path\": \"$D/mem\", \"snapshot_type\": \"Full\"}"
expect_api "create (Full)" 204
api PUT /snapshot/create "{\"snapshot_path\": \"$D/snap2\", \"mem_file_path\": \"$D/mem2\", \"snapshot_type\": \"Diff\"}"
expect_api "Diff without dirty tracking" 400 "track_dirty_pages"
# A snapshot file that cannot be written: nothing is left behind, not even
# the memory file that could be.
api PUT /snapshot/create "{\"snapshot_path\": \"$D/no/such/dir/s\", \"mem_file_path\": \"$D/memX\"}"
expect_api "unwritable snapshot path" 400 "no/such/dir/s.tmp.*No such file"
[ ! -e "$D/memX" ] && [ -z "$(ls "$D" | grep '\.tmp')" ] && pass "a failed create leaves no file" ||
	fail "a failed create left files" "$(ls "$D")"
api PUT /snapshot/load "{\"snapshot_path\": \"$D/snap\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$D/mem\"}}"
expect_api "load after start" 400 "not allowed after configuring"
stop_mpvm
[ -s "$D/snap" ] && [ "$(stat -c %s "$D/mem")" = $((128 << 20)) ] &&
	pass "snapshot file written, memory file holds 128 MiB" ||
	fail "snapshot files" "$(ls -l "$D")"

# ---- restore in a new process: the count goes on
run restore 6 -- run --restore "$D/snap" --restore-mem "$D/mem" --resume
first=$(first_count "$T_TMP/restore.out")
last=$(last_count "$T_TMP/restore.out")
# The guest may have written a line or two into the UART that the old
# process had not yet copied to its stdout when it was killed: those are
# gone with it, and the restored guest goes on after them.
if [ -n "$first" ] && [ "$first" -gt "$before" ] && [ "$first" -le $((before + 3)) ] &&
	[ "$last" -gt $((first + 20)) ]; then
	pass "restored counter goes on: paused at $before, restored from $first to $last"
else
	fail "restored counter: paused at $before, restored output from ${first:-none} to ${last:-none}" \
		"$(head -3 "$T_TMP/restore.out"; cat "$T_TMP/restore.err")"
fi
grep -q "counter: start" "$T_TMP/restore.out" &&
	fail "the restored guest booted again" || pass "the restored guest did not boot again"

# ---- loaded over the API (mpvm ctl) without resume: Paused until resumed
start_mpvm paused --api-sock "$SOCK"
"$MPVM" ctl --api-sock "$SOCK" snapshot-load "$D/snap" "$D/mem" >"$D/ctl.out" 2>&1 &&
	pass "mpvm ctl snapshot-load" || fail "mpvm ctl snapshot-load" "$(cat "$D/ctl.out")"
api GET /
expect_api "restored VM is Paused" 200 '"state":"Paused"'
sleep 0.5
[ -z "$(last_count "$T_TMP/paused.out")" ] && pass "paused: no output" ||
	fail "paused restore printed" "$(head -3 "$T_TMP/paused.out")"
api PATCH /vm '{"state": "Resumed"}'
expect_api "resume" 204
wait_count "$T_TMP/paused.out" $((before + 20)) && pass "resumed over the API: counting" ||
	fail "resumed: no counting" "$(cat "$T_TMP/paused.err")"

# ---- a snapshot of a restored VM (dirty tracking on), Full then Diff
api PATCH /vm '{"state": "Paused"}'
"$MPVM" ctl --api-sock "$SOCK" snapshot-create "$D/snapA" "$D/memA" >"$D/ctl.out" 2>&1 &&
	pass "mpvm ctl snapshot-create of a restored VM" ||
	fail "mpvm ctl snapshot-create" "$(cat "$D/ctl.out")"
stop_mpvm
start_mpvm tracked --api-sock "$SOCK" --restore "$D/snapA" --restore-mem "$D/memA" --resume \
	--track-dirty-pages
a_first=$(first_count "$T_TMP/tracked.out")
wait_count "$T_TMP/tracked.out" $((a_first + 30))
api PATCH /vm '{"state": "Paused"}'
diff_at=$(last_count "$T_TMP/tracked.out")
"$MPVM" ctl --api-sock "$SOCK" snapshot-create "$D/snapD" "$D/memD" --diff >"$D/ctl.out" 2>&1 &&
	pass "create (Diff, mpvm ctl)" || fail "create (Diff)" "$(cat "$D/ctl.out")"
stop_mpvm
a_used=$(du -k "$D/memA" | cut -f1)
d_used=$(du -k "$D/memD" | cut -f1)
[ "$d_used" -lt "$a_used" ] && pass "Diff memory file is smaller (${d_used} KiB vs ${a_used} KiB on disk)" ||
	fail "Diff memory file: ${d_used} KiB, Full ${a_used} KiB"
# The diff goes on top of the base, as in Firecracker (docs/snapshot.md).
cp --sparse=always "$D/memA" "$D/merged"
"$MPVM" snapshot-rebase --base "$D/merged" --diff "$D/memD" &&
	pass "snapshot-rebase" || fail "snapshot-rebase failed"
run diff 5 -- run --restore "$D/snapD" --restore-mem "$D/merged" --resume
first=$(first_count "$T_TMP/diff.out")
if [ -n "$first" ] && [ "$first" -gt "$diff_at" ] && [ "$first" -le $((diff_at + 3)) ]; then
	pass "Diff snapshot restored on its base: goes on from $first (paused at $diff_at)"
else
	fail "Diff restore: paused at $diff_at, restored from ${first:-none}" "$(cat "$T_TMP/diff.err")"
fi

# ---- two restores of one snapshot side by side
sum=$(md5sum <"$D/mem")
"$MPVM" run --restore "$D/snap" --restore-mem "$D/mem" --resume >"$D/c1.out" 2>"$D/c1.err" &
p1=$!
"$MPVM" run --restore "$D/snap" --restore-mem "$D/mem" --resume >"$D/c2.out" 2>"$D/c2.err" &
p2=$!
T_PIDS+=("$p1" "$p2")
wait_count "$D/c1.out" $((before + 50)) && wait_count "$D/c2.out" $((before + 50)) &&
	pass "two clones of one snapshot count side by side" ||
	fail "clones" "$(tail -1 "$D/c1.out"; tail -1 "$D/c2.out"; cat "$D/c1.err" "$D/c2.err")"
kill -KILL "$p1" "$p2" 2>/dev/null
wait "$p1" "$p2" 2>/dev/null
[ "$(md5sum <"$D/mem")" = "$sum" ] && pass "the memory file is unchanged by its clones (MAP_PRIVATE)" ||
	fail "a clone changed the memory file"

# ---- hostile snapshot files: refused, never a crash
# recrc FILE: a valid checksum again after an edit (CRC32 of all but the last 4 bytes).
recrc() {
	python3 -c 'import sys, zlib, struct
b = bytearray(open(sys.argv[1], "rb").read())
b[-4:] = struct.pack("<I", zlib.crc32(bytes(b[:-4])))
open(sys.argv[1], "wb").write(b)' "$1"
}
bad() { # NAME PATTERN: restore $D/bad (CLI) and over the API
	run "bad-$1" 10 -- run --restore "$D/bad" --restore-mem "${BADMEM:-$D/mem}"
	expect_status "$1 (CLI)" 78
	expect_err "$1 (CLI)" "$2"
	start_mpvm "bad-api-$1" --api-sock "$SOCK" || return
	api PUT /snapshot/load "{\"snapshot_path\": \"$D/bad\", \"mem_file_path\": \"${BADMEM:-$D/mem}\"}"
	expect_api "$1 (API)" 400 "$2"
	api GET /
	expect_api "$1: VMM still up" 200 '"state":"Not started"'
	stop_mpvm
}
size=$(stat -c %s "$D/snap")
head -c $((size / 2)) "$D/snap" >"$D/bad"
bad truncated "truncated"
cp "$D/snap" "$D/bad"
printf '\xff' | dd of="$D/bad" bs=1 seek=$((size - 100)) conv=notrunc status=none
bad corrupt "checksum mismatch"
cp "$D/snap" "$D/bad"
printf '\x09' | dd of="$D/bad" bs=1 seek=8 conv=notrunc status=none
bad "other version" "format version 9"
cp "$D/snap" "$D/bad"
printf 'NotMyVendorX' | dd of="$D/bad" bs=1 seek=16 conv=notrunc status=none
recrc "$D/bad"
bad "other vendor" "NotMyVendorX"
cp "$D/snap" "$D/bad"
printf '\x80' | dd of="$D/bad" bs=1 seek=35 conv=notrunc status=none
recrc "$D/bad"
bad "unknown capability" "capabilities .* this mpvm does not"
head -c 1000 /dev/urandom >"$D/bad"
bad garbage "not an mpvm snapshot"
cp "$D/snap" "$D/bad"
truncate -s 64M "$D/short-mem"
BADMEM="$D/short-mem" bad "short memory file" "memory file .*67108864 bytes"

run cli-no-mem 5 -- run --restore "$D/snap"
expect_status "--restore without --restore-mem" 64
expect_err "--restore without --restore-mem" "needs --restore-mem"
run cli-conflict 5 -- run --restore "$D/snap" --restore-mem "$D/mem" --cpus 2
expect_status "--restore with --cpus" 64

start_mpvm uffd --api-sock "$SOCK"
api PUT /snapshot/load "{\"snapshot_path\": \"$D/snap\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"/x\"}}"
expect_api "Uffd backend" 400 "Uffd is not supported"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
api PUT /snapshot/load "{\"snapshot_path\": \"$D/snap\", \"mem_file_path\": \"$D/mem\"}"
expect_api "load after boot config" 400 "not allowed after configuring boot-specific"
stop_mpvm

finish
