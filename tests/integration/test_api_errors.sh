#!/usr/bin/env bash
# Every API resource against a real mpvm: success, wrong state, bad JSON,
# wrong type, unknown field, oversize body and text that is not UTF-8 or
# holds a NUL, with Firecracker's status codes and {"fault_message"} bodies
# that name the field. A refused request changes nothing (checked through GET
# /vm/config), and every answer is UTF-8 JSON.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib_api.sh"

# A body over the 51200-byte cap: valid JSON, so only its size is wrong.
big=$(head -c 60000 /dev/zero | tr '\0' a)
printf '{"kernel_image_path": "%s"}' "$big" >"$T_TMP/big.json"
truncate -s 1M "$T_TMP/disk.img"

# check_put NAME PATH GOOD WRONG_TYPE WRONG_FIELD UNKNOWN_FIELD_BODY
check_put() {
	local name=$1 path=$2 good=$3 wrongtype=$4 field=$5 unknown=$6
	api PUT "$path" "$good"
	expect_api "$name: success" 204
	api GET /vm/config
	local before=$BODY
	api PUT "$path" '{"oops": '
	expect_api "$name: bad JSON" 400 'fault_message'
	api PUT "$path" "$wrongtype"
	expect_api "$name: wrong type" 400 "$field"
	api PUT "$path" "$unknown"
	expect_api "$name: unknown field" 400 'no_such_field'
	api PUT "$path" ''
	expect_api "$name: empty body" 400 'Empty PUT request\.'
	api PUT "$path" "@$T_TMP/big.json"
	expect_api "$name: oversize" 400 'larger than the limit of 51200'
	api GET /vm/config
	[ "$BODY" = "$before" ] && pass "$name: refusals changed nothing" ||
		fail "$name: a refused request changed the config"
}

# ---- before InstanceStart: configuration resources ----
SOCK="$T_TMP/pre.sock"
start_mpvm pre --api-sock "$SOCK" || finish
check_put boot-source /boot-source \
	"{\"kernel_image_path\": \"$GUESTS/counter.elf\", \"boot_args\": \"period_ms=50\"}" \
	'{"kernel_image_path": 42}' 'kernel_image_path' \
	'{"kernel_image_path": "/k", "no_such_field": 1}'
check_put machine-config /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}' \
	'{"vcpu_count": "two", "mem_size_mib": 64}' 'vcpu_count' \
	'{"vcpu_count": 1, "mem_size_mib": 64, "no_such_field": true}'
check_put drive /drives/rootfs \
	"{\"drive_id\": \"rootfs\", \"path_on_host\": \"$T_TMP/disk.img\", \"is_root_device\": true, \"is_read_only\": false}" \
	'{"drive_id": "rootfs", "path_on_host": "/x", "is_root_device": "yes"}' 'is_root_device' \
	'{"drive_id": "rootfs", "path_on_host": "/x", "is_root_device": true, "no_such_field": 0}'
check_put network-interface /network-interfaces/eth0 \
	'{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}' \
	'{"iface_id": "eth0", "host_dev_name": ["tap0"]}' 'host_dev_name' \
	'{"iface_id": "eth0", "host_dev_name": "tap0", "no_such_field": 0}'
check_put entropy /entropy '{}' '{"rate_limiter": "fast"}' 'rate_limiter' '{"no_such_field": 1}'
check_put logger /logger '{"level": "Warning", "show_level": true}' '{"level": 3}' 'level' \
	'{"level": "Info", "no_such_field": 1}'
check_put metrics /metrics "{\"metrics_path\": \"$T_TMP/pre.metrics\"}" '{"metrics_path": 1}' \
	'metrics_path' '{"metrics_path": "/tmp/x", "no_such_field": 1}'
check_put serial /serial "{\"mode\": \"file\", \"path\": \"$T_TMP/serial.out\"}" '{"mode": 1}' 'mode' \
	'{"mode": "none", "no_such_field": 1}'
check_put debug /debug '{"exit_port": true}' '{"exit_port": "on"}' 'exit_port' '{"no_such_field": 1}'
check_put pmu /pmu '{"mode": "auto"}' '{"mode": 3}' 'mode' '{"mode": "off", "no_such_field": 1}'
check_put pmu-filter /pmu/filter '{"action": "deny", "events": [{"event_select": 60}]}' \
	'{"action": "deny", "events": "all"}' 'events' '{"action": "allow", "no_such_field": 1}'
api PATCH /machine-config '{"mem_size_mib": 32}'
expect_api "PATCH /machine-config" 204
api GET /machine-config
expect_api "GET /machine-config shows the PATCH" 200 '"vcpu_count":2,"mem_size_mib":32'
api PUT /drives/other '{"drive_id": "rootfs", "path_on_host": "/x", "is_root_device": false}'
expect_api "drive id must match the path" 400 'drive_id'
api PATCH /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "/y"}'
expect_api "PATCH /drives before start" 400 'before starting'

# Resources that need a running VM, and routing errors.
api PATCH /vm '{"state": "Paused"}'
expect_api "PATCH /vm before start" 400 'before starting'
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect_api "SendCtrlAltDel before start" 400 'before starting'
for p in /vcpus /pmu/counters /pmu; do
	api GET "$p"
	expect_api "GET $p before start" 400
done
for p in / /version /vm/config /machine-config /pmu/host /pmu/filter; do
	api GET "$p"
	expect_api "GET $p before start" 200 '^\{'
done
api GET /no/such/thing
expect_api "unknown path" 404 'fault_message'
api DELETE /machine-config
expect_api "wrong method" 405 'allowed: GET, PUT, PATCH'
api POST /actions '{"action_type": "InstanceStart"}'
expect_api "POST /actions" 405 'PUT'
for body in '{' '{"action_type": 1}' '{"action_type": "Reboot"}' '{"action_type": "FlushMetrics", "no_such_field": 1}' '[]'; do
	api PUT /actions "$body"
	expect_api "PUT /actions $body" 400 'fault_message'
done
api PUT /actions "@$T_TMP/big.json"
expect_api "PUT /actions oversize" 400 'larger than the limit'

# The text rule: strings in bodies and the {id} in a path are UTF-8 without
# NUL. Answers are checked as UTF-8 JSON from the raw bytes (strict decode:
# Python's stdin might otherwise smuggle bad bytes through surrogateescape).
utf8_json() { # FILE: 0 when it holds one JSON text in valid UTF-8
	python3 -c 'import json,sys; json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))' "$1" 2>/dev/null
}
expect_utf8_json() { # NAME
	if utf8_json "$T_TMP/body"; then pass "$1: the answer is UTF-8 JSON"; else
		fail "$1: the answer is not UTF-8 JSON" "body: $(od -c "$T_TMP/body" | head -5)"; fi
}
printf '{"a": "\xff"}' >"$T_TMP/bad-utf8.json"
! utf8_json "$T_TMP/bad-utf8.json" && pass "the UTF-8 JSON check rejects a 0xff byte" ||
	fail "the UTF-8 JSON check accepts invalid UTF-8: the checks below prove nothing"
api GET /vm/config
before=$BODY
printf '{"kernel_image_path": "/k", "boot_args": "a\xff\xc3"}' >"$T_TMP/boot-utf8.json"
api PUT /boot-source "@$T_TMP/boot-utf8.json"
expect_api "boot_args not UTF-8" 400 'boot-source.boot_args: not valid UTF-8 \(byte 0xff at offset 1\)'
expect_utf8_json "boot_args not UTF-8"
api PUT /boot-source '{"kernel_image_path": "/k", "boot_args": "a\u0000b"}'
expect_api "boot_args with \\u0000" 400 'boot-source.boot_args: contains a NUL character'
api PUT /drives/x '{"drive_id": "x\u0000y", "path_on_host": "/x", "is_root_device": false}'
expect_api "drive_id with \\u0000" 400 'drive.drive_id: contains a NUL character'
api PUT /drives/x '{"drive_id": "x", "path_on_host": "/x\u0000", "is_root_device": false}'
expect_api "path_on_host with \\u0000" 400 'drive.path_on_host: contains a NUL character'
api PUT '/drives/x%00y' '{"drive_id": "x", "path_on_host": "/x", "is_root_device": false}'
expect_api "/drives/x%00y" 400 'the id in the URL path: contains a NUL character'
api PUT '/drives/x%FF' '{"drive_id": "x", "path_on_host": "/x", "is_root_device": false}'
expect_api "/drives/x%FF" 400 'the id in the URL path: not valid UTF-8'
expect_utf8_json "/drives/x%FF"
api GET /vm/config
expect_utf8_json "GET /vm/config after the refusals"
[ "$BODY" = "$before" ] && pass "text refusals changed nothing" ||
	fail "a text refusal changed the config"
api GET '/nope%FF'
expect_api "/nope%FF" 404 'no resource at /nope'
expect_utf8_json "/nope%FF"
api GET "/$(printf '\xc3\xa9%.0s' $(seq 100))"
expect_api "a long path of 2-byte characters" 404 'no resource at'
expect_utf8_json "a long path cut at 128 bytes"
api PUT /actions '{"action_type": "FlushMetrics"}'
expect_api "FlushMetrics before start" 204
[ -s "$T_TMP/pre.metrics" ] && pass "FlushMetrics wrote a line" || fail "no metrics line"
kill -TERM "$MPID"

# A failed InstanceStart is a 400 that leaves mpvm waiting.
SOCK="$T_TMP/bad.sock"
start_mpvm bad --api-sock "$SOCK" || finish
api PUT /actions '{"action_type": "InstanceStart"}'
expect_api "InstanceStart with no kernel" 400 'kernel'
api GET /
expect_api "... still Not started" 200 'Not started'
kill -TERM "$MPID"

# ---- after InstanceStart ----
SOCK="$T_TMP/run.sock"
truncate -s 1M "$T_TMP/disk-a.img" "$T_TMP/disk-b.img"
start_mpvm run --api-sock "$SOCK" --kernel "$GUESTS/counter.elf" --serial "file:$T_TMP/run.serial" \
	--drive "id=data,path=$T_TMP/disk-a.img" || finish
# PATCH /drives/{id} is the one device change allowed on a running VM: a new
# backing file and/or rate limiter. Bad ones are refused and change nothing.
api PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$T_TMP/absent.img\"}"
expect_api "PATCH /drives to a missing file" 400 'absent.img'
api PATCH /drives/data '{"drive_id": "data", "is_read_only": true}'
expect_api "PATCH /drives of a field that cannot change" 400 'is_read_only'
api PATCH /drives/nope '{"drive_id": "nope", "path_on_host": "/x"}'
expect_api "PATCH /drives of an unknown drive" 400 'nope'
api GET /vm/config
expect_api "refused PATCHes kept the old file" 200 'disk-a.img'
api PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$T_TMP/disk-b.img\", \"rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 1000}}}"
expect_api "PATCH /drives path and limiter" 204
api GET /vm/config
expect_api "the config shows the new file" 200 'disk-b.img'
expect_api "the config shows the new limiter" 200 '"size":[[:space:]]*100'
api GET /vm/config
before=$BODY
for r in "/boot-source {\"kernel_image_path\":\"/k\"}" \
	"/machine-config {\"vcpu_count\":2,\"mem_size_mib\":64}" \
	"/drives/d {\"drive_id\":\"d\",\"path_on_host\":\"/x\",\"is_root_device\":false}" \
	"/network-interfaces/n {\"iface_id\":\"n\",\"host_dev_name\":\"t\"}" \
	"/entropy {}" "/serial {\"mode\":\"none\"}" "/debug {\"exit_port\":true}" "/pmu {\"mode\":\"off\"}" \
	"/actions {\"action_type\":\"InstanceStart\"}"; do
	api PUT "${r%% *}" "${r#* }"
	expect_api "PUT ${r%% *} after start" 400 'after starting'
done
api PATCH /machine-config '{"vcpu_count": 2}'
expect_api "PATCH /machine-config after start" 400 'after starting'
api GET /vm/config
[ "$BODY" = "$before" ] && pass "after start: refusals changed nothing" ||
	fail "after start: a refused request changed the config"
for body in '{' '{"state": true}' '{"state": "Frozen"}' '{"state": "Paused", "no_such_field": 1}' '{}'; do
	api PATCH /vm "$body"
	expect_api "PATCH /vm $body" 400 'fault_message'
done
api PATCH /vm "@$T_TMP/big.json"
expect_api "PATCH /vm oversize" 400 'larger than the limit'
api GET /
expect_api "refused PATCHes left it running" 200 'Running'
for p in / /version /vm/config /machine-config /vcpus /pmu /pmu/counters /pmu/host /pmu/filter; do
	api GET "$p"
	expect_api "GET $p after start" 200 '^\{'
done
api PUT /pmu/filter '{"action": 7}'
expect_api "PUT /pmu/filter wrong type after start" 400 'action'
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect_api "SendCtrlAltDel" 204
api PUT /actions '{"action_type": "StopVmm"}'
expect_api "StopVmm" 204
for _ in $(seq 100); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.1; done
wait "$MPID"
STATUS=$?
[ "$STATUS" -eq 0 ] && pass "StopVmm: exit 0" || fail "StopVmm: exit status $STATUS"

finish
