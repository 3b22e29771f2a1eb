#!/usr/bin/env bash
# lab-weight: 4
# Snapshot and restore of a Linux guest (issue 14). The loop scenario counts
# and writes each tick to its root drive (virtio-blk, ext4); it is paused,
# snapshotted, mpvm killed with SIGKILL, and restored in a new process:
# the count goes on from the tick it was paused at, the console answers
# (the scenario reads "stop" from it, checks that its file holds the last
# tick and powers off), and the file system is clean (e2fsck). A Diff
# snapshot of the restored guest, applied on the Full one's memory file,
# restores where it was taken (the disk writes reach it). Two clones of
# one snapshot then run side by side, each with its own copy of the drive at
# the path the snapshot names (a mount namespace, as Firecracker's jailer
# gives each clone its own root). A corrupt snapshot is refused over the API
# with the VMM staying up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
boot=("${LINUX_BOOT[@]}")
D=$T_TMP

# tick_in FILE: the tick numbers in FILE.
tick_in() { tick_numbers <"$1"; }
# goes_on NAME AT: the restored guest NAME ticks on from AT + 1.
goes_on() {
	if ! wait_for 60 eval "[ \"\$(ticks $1)\" -ge 3 ]"; then
		fail "$1: no ticks after the restore" "$(tail -5 "$D/$1.out"; tail -5 "$D/$1.err")"
		return 1
	fi
	local first
	first=$(tick_in "$D/$1.out" | head -n 1)
	# A tick the guest had written into the UART that the old process had
	# not yet copied out when it was killed is gone with it: at most one.
	[ "$first" -gt "$2" ] && [ "$first" -le $(($2 + 2)) ] &&
		pass "$1: the count goes on at $first (snapshot at $2)" ||
		fail "$1: first tick $first, snapshot at $2"
}

# stop_clean NAME: "stop" on the console of the background guest NAME: it
# checks its counter file, powers off (status 0), and its ext4 root is clean.
stop_clean() {
	echo stop >&"$BG_IN"
	bg_end "$1" 60
	expect_status "$1: powers off after \"stop\" on its console" 0
	expect_ok "$1" "the counter file holds the last tick"
	e2fsck -fn "$D/root.ext4" >"$D/fsck.out" 2>&1 && pass "$1: the file system is clean (e2fsck -fn)" ||
		fail "$1: e2fsck" "$(tail -5 "$D/fsck.out")"
}

mkdir -p "$D/rootdir"
make_ext4 "$D/root.ext4" 32M "$D/rootdir"
sock=$D/a.sock
start_bg loop "${boot[@]}" --api-sock "$sock" --drive "id=root,path=$D/root.ext4,root" \
	--cmdline "$LINUX_CMDLINE mpvm.test=loop"
boot_pid=$BG_PID
if ! wait_for 120 eval '[ "$(ticks loop)" -ge 5 ]'; then
	fail "loop: the guest never counted to 5" "$(tail -5 "$D/loop.out"; tail -5 "$D/loop.err")"
	finish
fi
code=$(api "$sock" PATCH /vm '{"state": "Paused"}')
[ "$code" = 204 ] && pass "paused while counting" || fail "pause: $code"
sleep 0.5
at=$(tick_in "$D/loop.out" | tail -n 1)
t0=$(date +%s%N)
code=$(api "$sock" PUT /snapshot/create "{\"snapshot_path\": \"$D/snap\", \"mem_file_path\": \"$D/mem\"}")
t1=$(date +%s%N)
[ "$code" = 204 ] && pass "snapshot created at tick $at in $(((t1 - t0) / 1000000)) ms" ||
	fail "snapshot/create: $code" "$(tail -5 "$D/loop.err")"
kill -KILL "$boot_pid"
wait "$boot_pid" 2>/dev/null
exec {BG_IN}>&-
rm -f "$sock" "$D/loop.in"
cp --sparse=always "$D/root.ext4" "$D/root-at-snapshot.ext4"

# ---- restore in a new process
start_bg restored --api-sock "$sock" --restore "$D/snap" --restore-mem "$D/mem" --resume \
	--track-dirty-pages
goes_on restored "$at" && { ! grep -q "Linux version" "$D/restored.out" &&
	pass "restored: no new boot" || fail "restored: the kernel booted again"; }
# A Diff snapshot of the restored guest (dirty tracking on), mid-count:
# KVM's dirty log has the vCPUs' writes, guest_mem the virtio-blk device's.
code=$(api "$sock" PATCH /vm '{"state": "Paused"}')
[ "$code" = 204 ] || fail "pause the restored guest: $code"
sleep 0.5
diff_at=$(tick_in "$D/restored.out" | tail -n 1)
code=$(api "$sock" PUT /snapshot/create "{\"snapshot_path\": \"$D/snapD\", \"mem_file_path\": \"$D/memD\", \"snapshot_type\": \"Diff\"}")
[ "$code" = 204 ] && pass "Diff snapshot of the restored guest at tick $diff_at" ||
	fail "Diff snapshot: $code" "$(tail -3 "$D/restored.err")"
cp --sparse=always "$D/root.ext4" "$D/root-at-diff.ext4"
code=$(api "$sock" PATCH /vm '{"state": "Resumed"}')
[ "$code" = 204 ] || fail "resume after the Diff snapshot: $code"
stop_clean restored
last=$(tick_numbers <<<"$OUT" | tail -n 1)
[ -n "$last" ] && [ "$(debugfs -R 'cat /counter' "$D/root.ext4" 2>/dev/null)" = "$last" ] &&
	pass "the image holds the restored guest's last tick ($last)" ||
	fail "the image's counter is not the last tick ($last)"

# ---- the Diff applied on its base restores where it was taken
cp --sparse=always "$D/mem" "$D/merged"
cp --sparse=always "$D/root-at-diff.ext4" "$D/root.ext4"
"$MPVM" snapshot-rebase --base "$D/merged" --diff "$D/memD" && pass "snapshot-rebase" ||
	fail "snapshot-rebase"
start_bg fromdiff --restore "$D/snapD" --restore-mem "$D/merged" --resume
goes_on fromdiff "$diff_at" || true
stop_clean fromdiff
cp --sparse=always "$D/root-at-snapshot.ext4" "$D/root.ext4"

# ---- two clones side by side, each with its own drive at the snapshot's path
if unshare -m true 2>/dev/null; then
	for c in 1 2; do
		cp --sparse=always "$D/root-at-snapshot.ext4" "$D/clone$c.ext4"
		mkfifo "$D/clone$c.in"
		exec {fd}<>"$D/clone$c.in"
		eval "CLONE_IN$c=$fd"
		unshare -m sh -c 'mount --bind "$1" "$2" && exec "$3" run --restore "$4" --restore-mem "$5" --resume' \
			sh "$D/clone$c.ext4" "$D/root.ext4" "$MPVM" "$D/snap" "$D/mem" \
			<"$D/clone$c.in" >"$D/clone$c.out" 2>"$D/clone$c.err" &
		T_PIDS+=($!)
		eval "CLONE_PID$c=$!"
	done
	if wait_for 90 eval '[ "$(ticks clone1)" -ge 3 ] && [ "$(ticks clone2)" -ge 3 ]'; then
		pass "two clones of one snapshot count side by side"
	else
		fail "clones" "$(tail -3 "$D/clone1.out" "$D/clone1.err" "$D/clone2.out" "$D/clone2.err")"
	fi
	for c in 1 2; do
		fd_var=CLONE_IN$c pid_var=CLONE_PID$c
		echo stop >&"${!fd_var}"
		wait_for 60 eval "! kill -0 ${!pid_var} 2>/dev/null"
		wait "${!pid_var}"
		st=$?
		[ "$st" = 0 ] && grep -q '^LTEST: ok the counter file' "$D/clone$c.out" &&
			e2fsck -fn "$D/clone$c.ext4" >/dev/null 2>&1 &&
			pass "clone $c: stopped cleanly, its own drive is consistent" ||
			fail "clone $c: status $st" "$(tail -3 "$D/clone$c.out")"
	done
else
	fail "clones: unshare -m is not available here (needed to give each clone its drive)"
fi

# ---- a corrupt snapshot over the API: refused, the VMM stays up
cp "$D/snap" "$D/bad"
printf '\xff\xff\xff\xff' | dd of="$D/bad" bs=1 seek=200 conv=notrunc status=none
start_bg badload --api-sock "$sock"
wait_for 10 test -S "$sock"
body=$(curl -s --max-time 60 --unix-socket "$sock" -X PUT http://localhost/snapshot/load \
	-d "{\"snapshot_path\": \"$D/bad\", \"mem_file_path\": \"$D/mem\"}")
grep -q "checksum mismatch" <<<"$body" && pass "corrupt snapshot refused: checksum mismatch" ||
	fail "corrupt snapshot: $body"
[ "$(api "$sock" GET /)" = 200 ] && pass "the VMM answers after the refusal" || fail "VMM gone"
kill -TERM "$BG_PID"
bg_end badload 10

finish
