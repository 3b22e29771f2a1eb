#!/usr/bin/env bash
# Firecracker's getting-started flow, with curl --unix-socket against a real
# mpvm and a real VM: configure over the API, InstanceStart, pause (the
# guest's counter stops), resume (it moves again), inspect, stop. Then the
# other ways in: --config-file with --api-sock, mpvm ctl, the socket file's
# life (mode, removal, stale, live).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"

COUNTER="$GUESTS/counter.elf"

# wait_exit NAME SECONDS: waits for $MPID; sets STATUS (255 on timeout).
wait_exit() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$MPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$MPID" 2>/dev/null; then
		kill -KILL "$MPID"
		STATUS=255
	else
		wait "$MPID"
		STATUS=$?
	fi
}

lines() { wc -l <"$1" 2>/dev/null || echo 0; }

# wait_lines FILE N: until FILE has more than N lines (10 s).
wait_lines() {
	for _ in $(seq 100); do
		[ "$(lines "$1")" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- the Firecracker flow: only --api-sock, everything else over the API ----
SOCK="$T_TMP/fc.sock"
SERIAL="$T_TMP/fc.serial"
# A 1 s metrics period (instead of 60 s) to see the periodic flush.
MPVM_METRICS_PERIOD_S=1 start_mpvm fc --api-sock "$SOCK" --id demo-vm || finish
mode=$(stat -c %a "$SOCK")
[ "$mode" = 600 ] && pass "socket mode 0600" || fail "socket mode is $mode"

api GET /
expect_api "GET / before start" 200 '"state":"Not started"'
expect_api "GET / names the instance" 200 '"id":"demo-vm"'
api GET /version
expect_api "GET /version" 200 'firecracker_version'
api PUT /logger "{\"log_path\": \"$T_TMP/fc.log\", \"level\": \"Info\", \"show_level\": true, \"show_log_origin\": true}"
expect_api "PUT /logger" 204
api PUT /metrics "{\"metrics_path\": \"$T_TMP/fc.metrics\"}"
expect_api "PUT /metrics" 204
api PUT /boot-source "{\"kernel_image_path\": \"$COUNTER\", \"boot_args\": \"period_ms=20\"}"
expect_api "PUT /boot-source" 204
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
expect_api "PUT /machine-config" 204
api PUT /serial "{\"mode\": \"file\", \"path\": \"$SERIAL\"}"
expect_api "PUT /serial (mpvm)" 204
api GET /vm/config
expect_api "GET /vm/config shows the PUTs" 200 'counter.elf'
api PATCH /vm '{"state": "Paused"}'
expect_api "pause before start is refused" 400 'before starting'
api GET /vcpus
expect_api "GET /vcpus before start is refused" 400 'before starting'

# A start that fails (the kernel is not a kernel) undoes itself: the
# orchestrator fixes the boot source and starts again in the same process.
printf 'not a kernel' >"$T_TMP/bogus.elf"
api PUT /boot-source "{\"kernel_image_path\": \"$T_TMP/bogus.elf\"}"
expect_api "PUT /boot-source (bad image)" 204
api PUT /actions '{"action_type": "InstanceStart"}'
expect_api "InstanceStart with a bad image fails" 400 'bogus.elf'
api GET /
expect_api "still not started after the failed start" 200 '"state":"Not started"'
api PUT /boot-source "{\"kernel_image_path\": \"$COUNTER\", \"boot_args\": \"period_ms=20\"}"
expect_api "PUT /boot-source (fixed)" 204

api PUT /actions '{"action_type": "InstanceStart"}'
expect_api "InstanceStart" 204
api GET /
expect_api "GET / after start" 200 '"state":"Running"'
api PUT /actions '{"action_type": "InstanceStart"}'
expect_api "second InstanceStart is refused" 400 'after starting'
api PUT /boot-source '{"kernel_image_path": "/elsewhere"}'
expect_api "boot-source after start is refused" 400 'after starting'
api GET /vm/config
expect_api "... and changed nothing" 200 'counter.elf'

if wait_lines "$SERIAL" 5; then pass "the guest counts"; else
	fail "the guest does not count" "$(tail -3 "$SERIAL" 2>/dev/null) $(cat "$T_TMP/fc.err")"; fi

api PATCH /vm '{"state": "Paused"}'
expect_api "PATCH /vm Paused" 204
sleep 0.3 # output already in flight lands in the file
a=$(lines "$SERIAL")
api GET /
expect_api "GET / while paused" 200 '"state":"Paused"'
api GET /vcpus
expect_api "GET /vcpus while paused" 200 '"state":"paused"'
sleep 1.5
b=$(lines "$SERIAL")
[ "$a" -eq "$b" ] && pass "paused: the counter stays at $a lines for 1.5 s" ||
	fail "paused: the counter moved from $a to $b lines"
api PATCH /vm '{"state": "Paused"}'
expect_api "pausing twice is fine" 204

api PATCH /vm '{"state": "Resumed"}'
expect_api "PATCH /vm Resumed" 204
if wait_lines "$SERIAL" "$b"; then pass "resumed: the counter moves on from $b lines"; else
	fail "resumed: the counter is stuck at $b lines"; fi
api GET /vcpus
expect_api "GET /vcpus while running" 200 '"thread_id":[1-9][0-9]*,"state":"running","exits":\{"io":[1-9]'

for _ in $(seq 50); do [ "$(lines "$T_TMP/fc.metrics")" -ge 2 ] && break; sleep 0.1; done
[ "$(lines "$T_TMP/fc.metrics")" -ge 2 ] && pass "metrics flushed periodically" ||
	fail "no periodic metrics lines" "$(cat "$T_TMP/fc.metrics")"
n=$(lines "$T_TMP/fc.metrics")
api PUT /actions '{"action_type": "FlushMetrics"}'
expect_api "FlushMetrics" 204
[ "$(lines "$T_TMP/fc.metrics")" -gt "$n" ] && pass "FlushMetrics adds a line" ||
	fail "FlushMetrics added no line"
if grep -qE '"PATCH /vm":\{[^}]*"204":[1-9]' "$T_TMP/fc.metrics" &&
	grep -q '"io":[1-9]' "$T_TMP/fc.metrics"; then
	pass "metrics line has API requests and vCPU exits"
else fail "metrics line lacks API requests or exits" "$(cat "$T_TMP/fc.metrics")"; fi
grep -q 'INFO\].*paused' "$T_TMP/fc.log" && pass "PUT /logger: Info lines go to log_path" ||
	fail "no Info line about the pause in log_path" "$(cat "$T_TMP/fc.log")"

# mpvm ctl on the same VM: JSON on stdout, HTTP status in the exit status.
out=$("$MPVM" ctl --api-sock "$SOCK" info)
[ $? -eq 0 ] && grep -q '"state":"Running"' <<<"$out" && pass "mpvm ctl info" || fail "mpvm ctl info" "$out"
"$MPVM" ctl --api-sock "$SOCK" pause && pass "mpvm ctl pause" || fail "mpvm ctl pause"
"$MPVM" ctl --api-sock "$SOCK" resume && pass "mpvm ctl resume" || fail "mpvm ctl resume"
out=$("$MPVM" ctl --api-sock "$SOCK" start 2>&1)
[ $? -eq 1 ] && grep -q 'fault_message' <<<"$out" && pass "mpvm ctl start twice: exit 1 with the fault" ||
	fail "mpvm ctl start twice" "$out"
"$MPVM" ctl --api-sock "$SOCK" vcpus >/dev/null && pass "mpvm ctl vcpus" || fail "mpvm ctl vcpus"
"$MPVM" ctl --api-sock "$SOCK" host >/dev/null && pass "mpvm ctl host" || fail "mpvm ctl host"
"$MPVM" ctl --api-sock "$T_TMP/nobody.sock" info 2>/dev/null
[ $? -eq 69 ] && pass "mpvm ctl without a server: exit 69" || fail "mpvm ctl without a server"

"$MPVM" ctl --api-sock "$SOCK" stop && pass "mpvm ctl stop" || fail "mpvm ctl stop"
wait_exit fc 10
[ "$STATUS" -eq 0 ] && pass "StopVmm: mpvm exits with 0" || fail "StopVmm: exit status $STATUS" "$(cat "$T_TMP/fc.err")"
[ ! -e "$SOCK" ] && pass "socket removed on exit" || fail "socket left behind"

# ---- --config-file with --api-sock: boots at once, the API serves it ----
SOCK="$T_TMP/cf.sock"
cat >"$T_TMP/vm.json" <<EOF
{ "boot-source": { "kernel_image_path": "$COUNTER" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 32 },
  "serial": { "mode": "file", "path": "$T_TMP/cf.serial" } }
EOF
start_mpvm cf --config-file "$T_TMP/vm.json" --api-sock "$SOCK" || finish
api GET /
expect_api "--config-file: running at once" 200 '"state":"Running"'
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 32}'
expect_api "--config-file: machine-config is locked" 400 'after starting'
kill -TERM "$MPID"
wait_exit cf 10
[ "$STATUS" -eq 143 ] && pass "SIGTERM: exit status 143" || fail "SIGTERM: exit status $STATUS"
[ ! -e "$SOCK" ] && pass "SIGTERM: socket removed" || fail "SIGTERM: socket left behind"

# ---- pause quiesces the devices, not only the vCPUs ----
# The block guest submits 16 writes at once; a rate limiter (one request per
# 500 ms, slow enough for an emulated lab) keeps most of them queued in the device. Paused mid-way, the
# device must complete none of them: the image does not change while paused
# (were only the vCPUs parked, the limiter's timer would let them through).
# Resumed, the guest finishes its checks.
SOCK="$T_TMP/blk.sock"
DISK="$T_TMP/disk.img"
truncate -s 8M "$DISK"
cat >"$T_TMP/blk.json" <<EOF
{ "boot-source": { "kernel_image_path": "$GUESTS/virtio_blk.elf", "boot_args": "serial=rootdisk seed=0x1234" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 },
  "drives": [ { "drive_id": "rootdisk", "path_on_host": "$DISK", "is_root_device": true,
                "is_read_only": false, "io_engine": "Async", "cache_type": "Writeback",
                "rate_limiter": { "ops": { "size": 1, "refill_time": 500 } } } ],
  "serial": { "mode": "file", "path": "$T_TMP/blk.serial" },
  "debug": { "exit_port": true } }
EOF
disk_blank() { cmp -s -n $((8 << 20)) "$DISK" /dev/zero; }
# The last of the 16 blocks (sector 16376) is the last write to land.
last_blank() { cmp -s -i $((16376 * 512)):0 -n 4096 "$DISK" /dev/zero; }
start_mpvm blk --config-file "$T_TMP/blk.json" --api-sock "$SOCK" || finish
for _ in $(seq 500); do disk_blank || break; sleep 0.02; done
api PATCH /vm '{"state": "Paused"}'
expect_api "blk guest: paused while its writes are throttled" 204
if disk_blank || ! last_blank; then
	fail "blk guest: not paused mid-way through its writes" "$(cat "$T_TMP/blk.err")"
else
	h1=$(md5sum <"$DISK")
	sleep 1
	h2=$(md5sum <"$DISK")
	[ "$h1" = "$h2" ] && pass "paused: the device completes no queued write for 1 s" ||
		fail "paused: the image changed while paused"
fi
api PATCH /vm '{"state": "Resumed"}'
expect_api "blk guest: resumed" 204
wait_exit blk 60
if [ "$STATUS" -eq 1 ] && grep -q "blk: PASS" "$T_TMP/blk.serial" && ! last_blank; then
	pass "resumed: the guest's writes and checks complete"
else
	fail "blk guest after resume: exit status $STATUS" "$(tail -3 "$T_TMP/blk.serial") $(cat "$T_TMP/blk.err")"
fi

# ---- the guest ending ends mpvm, which removes its socket ----
SOCK="$T_TMP/hello.sock"
run hello 30 -- run --kernel "$GUESTS/hello.elf" --exit-port --serial none --api-sock "$SOCK"
expect_status hello 1
[ ! -e "$SOCK" ] && pass "guest exit: socket removed" || fail "guest exit: socket left behind"

# ---- a stale socket (its mpvm was killed) is replaced; a live one is not ----
SOCK="$T_TMP/stale.sock"
start_mpvm stale1 --api-sock "$SOCK" || finish
{ kill -KILL "$MPID" && wait "$MPID"; } 2>/dev/null
[ -S "$SOCK" ] && pass "SIGKILL leaves the socket file" || fail "no stale socket to test with"
start_mpvm stale2 --api-sock "$SOCK" && pass "stale socket replaced"
first=$MPID
run live 10 -- run --api-sock "$SOCK"
expect_status live 70
expect_err live "another process"
api GET /
expect_api "the first server still answers" 200 'Not started'
MPID=$first
kill -TERM "$MPID"
wait_exit stale2 10
[ "$STATUS" -eq 143 ] && pass "stale2: SIGTERM ends it" || fail "stale2: exit status $STATUS" "$(cat "$T_TMP/stale2.err")"
run conflict 10 -- run --api-sock "$T_TMP/x.sock" --no-api
expect_status conflict 64

finish
