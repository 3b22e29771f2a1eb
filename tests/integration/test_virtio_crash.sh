#!/usr/bin/env bash
# Crash consistency: what the guest wrote and flushed is on the image after
# mpvm is killed with SIGKILL right after the flush completed, with both
# engines. The guest prints "blk: flushed" once the FLUSH request is
# complete and then stops; the test kills mpvm as soon as it sees the line,
# then a second VM reads the blocks back and compares them.
. "$(dirname "$0")/lib.sh"

for engine in sync async; do
	disk="$T_TMP/crash-$engine.img"
	truncate -s 8M "$disk"
	seed=$((RANDOM * 65536 + RANDOM))
	out="$T_TMP/crash-$engine.out"
	"$MPVM" run --kernel "$GUESTS/virtio_blk.elf" --exit-port --serial "file:$out" \
		--drive "id=root,path=$disk,root,engine=$engine,cache=writeback" \
		--cmdline "crash seed=$seed" </dev/null >/dev/null 2>"$T_TMP/crash-$engine.err" &
	pid=$!
	T_PIDS+=("$pid")
	flushed=0
	for _ in $(seq 1 3000); do  # up to 30 s
		if grep -q "blk: flushed" "$out" 2>/dev/null; then flushed=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	status=$?
	if [ $flushed = 1 ] && [ $status = 137 ]; then
		pass "crash-$engine: killed with SIGKILL right after the flush"
	else
		fail "crash-$engine: flushed=$flushed status=$status" "$(cat "$out" "$T_TMP/crash-$engine.err" 2>/dev/null)"
	fi
	run "crash-$engine-verify" 120 -- run --kernel "$GUESTS/virtio_blk.elf" --exit-port \
		--drive "id=root,path=$disk,root,engine=$engine" --cmdline "verify seed=$seed"
	expect_status "crash-$engine-verify" 1
	expect_out "crash-$engine-verify" "blk: 16 blocks verified"
done

finish
