#!/usr/bin/env bash
# Firecracker parity, with curl against a real mpvm's socket: every endpoint
# of Firecracker's swagger answers as Firecracker does or with a 400 naming
# the feature mpvm lacks (never a 404), Firecracker's body rules and words,
# the MMDS data store, and Firecracker's example config files (paths made
# mpvm's: tests/configs/firecracker/). Starts no VM, so it needs no /dev/kvm;
# where one is usable it also checks the pre-boot resources after start.
T_NEEDS_KVM=0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"

FC_CONFIGS="$MPVM_SOURCE_DIR/tests/configs/firecracker"
FEATURE='(is|are) not supported by mpvm yet \(Firecracker feature: '

# ---- Firecracker's example files with --config-file ----
# A file that asks for a missing feature fails before anything starts (78),
# naming the feature; one that is fine gets past the config to the kernel.
for f in vm_config_cpu_template_C3:'machine-config.cpu_template: static CPU templates'; do
	run "${f%%:*}" 10 -- run --config-file "$FC_CONFIGS/${f%%:*}.json"
	expect_status "${f%%:*}.json" 78
	expect_err "${f%%:*}.json" "${f#*:} $FEATURE"
done
for f in vm_config vm_config_network vm_config_with_mmdsv1 vm_config_with_mmdsv2 getting_started \
	balloon_vsock; do
	run "$f" 10 -- run --config-file "$FC_CONFIGS/$f.json" --no-api
	# It gets as far as opening the host's files (absent here).
	stop=$(grep -oE 'rootfs\.ext4|vmlinux\.bin|/dev/kvm|tap0' <<<"$ERR" | head -1)
	if grep -qE 'unknown key|not supported|expected ' <<<"$ERR" || [ -z "$stop" ]; then
		fail "$f.json: refused as a config" "$ERR"
	else
		pass "$f.json: the config is accepted (it stops at $stop)"
	fi
done

# ---- the API before InstanceStart ----
SOCK="$T_TMP/fc.sock"
start_mpvm fc --api-sock "$SOCK" || finish

# Firecracker's rules on bodies, in its words.
api GET /machine-config '{}'
expect_api "GET with a body" 400 '"GET request cannot have a body\."'
api PATCH /machine-config ''
expect_api "empty PATCH" 400 '"Empty PATCH request\."'
api PUT /boot-source ''
expect_api "empty PUT" 400 '"Empty PUT request\."'

# Resources mpvm lacks: the body is checked as Firecracker defines it, then
# a 400 names the feature.
while IFS='|' read -r method path body want; do
	[ -n "$method" ] || continue
	if [ -n "$body" ]; then api "$method" "$path" "$body"; else api "$method" "$path"; fi
	expect_api "$method $path" 400 "$want"
done <<EOF_CASES
PUT|/balloon|{"amount_mib": 64, "deflate_on_oom": true, "free_page_hinting": true}|balloon.free_page_hinting: free page hinting $FEATURE
PUT|/balloon|{"amount_mib": 64}|balloon.deflate_on_oom: required field is missing
GET|/balloon||No balloon device is configured
PATCH|/balloon|{"amount_mib": 32}|No balloon device is configured
GET|/balloon/statistics||No balloon device is configured
PATCH|/balloon/statistics|{"stats_polling_interval_s": 1}|No balloon device is configured
PATCH|/balloon/hinting/start|{"acknowledge_on_stop": true}|virtio-balloon
PATCH|/balloon/hinting/stop||virtio-balloon
GET|/balloon/hinting/status||virtio-balloon
PUT|/vsock|{"guest_cid": 1, "uds_path": "/tmp/v.sock"}|vsock.guest_cid: expected an integer in 3\.\.
PUT|/cpu-config|{"kvm_capabilities": ["!121"]}|cpu-config: custom CPU templates
PUT|/pmem/p0|{"id": "p0", "path_on_host": "/tmp/p.img"}|pmem: virtio-pmem devices $FEATURE
PATCH|/pmem/p0|{"id": "p0"}|virtio-pmem
PUT|/hotplug/memory|{"total_size_mib": 1024}|memory-hotplug: memory hotplug $FEATURE
PATCH|/hotplug/memory|{"requested_size_mib": 512}|virtio-mem
GET|/hotplug/memory||virtio-mem
PUT|/snapshot/create|{"snapshot_path": "/s", "mem_file_path": "/m"}|not supported before starting
PUT|/snapshot/load|{"snapshot_path": "/s"}|exactly one of mem_backend and mem_file_path
PUT|/machine-config|{"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2S"}|cpu_template: static CPU templates
PUT|/drives/v|{"drive_id": "v", "is_root_device": false, "socket": "/tmp/vhost.sock"}|drive.socket: vhost-user block devices
PUT|/network-interfaces/e|{"iface_id": "e", "host_dev_name": "tap0", "mtu": 9001}|network-interface.mtu: advertising an MTU
PUT|/logger|{"level": "Info", "module": "api_server"}|logger.module: filtering the log by module
PUT|/serial|{"serial_out_path": "/tmp/s", "rate_limiter": {"size": 1, "refill_time": 1}}|serial.rate_limiter: rate limiting
EOF_CASES
api GET /vm/config
expect_api "the refusals stored nothing" 200 '"drives":[[:space:]]*\[\]'

# What mpvm honours: no-op values, Firecracker's serial shape, THP.
api PUT /cpu-config '{"kvm_capabilities": [], "cpuid_modifiers": []}'
expect_api "PUT /cpu-config without modifiers" 204
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "cpu_template": "None", "huge_pages": "Transparent"}'
expect_api "cpu_template None, huge_pages Transparent" 204
api PUT /serial "{\"serial_out_path\": \"$T_TMP/console.log\"}"
expect_api "PUT /serial {serial_out_path}" 204
api GET /vm/config
expect_api "serial_out_path is mpvm's file mode" 200 '"mode":[[:space:]]*"file"'
expect_api "... and GET /vm/config shows THP" 200 '"huge_pages":[[:space:]]*"Transparent"'

# PUT /metrics is one-shot, as in Firecracker.
api PUT /metrics "{\"metrics_path\": \"$T_TMP/fc.metrics\"}"
expect_api "PUT /metrics" 204
api PUT /metrics "{\"metrics_path\": \"$T_TMP/fc2.metrics\"}"
expect_api "PUT /metrics again" 400 'Reinitialization of metrics not allowed'

# MMDS: the data store (host side) and its configuration.
api GET /mmds
expect_api "GET /mmds before any PUT" 200 '^\{\}$'
api PATCH /mmds '{"a": 1}'
expect_api "PATCH /mmds before any PUT" 400 'The MMDS data store is not initialized\.'
api PUT /mmds '{"latest": {"meta-data": {"ami-id": "ami-1", "hostname": "vm1"}}}'
expect_api "PUT /mmds" 204
api PATCH /mmds '{"latest": {"meta-data": {"hostname": null, "zone": "z1"}}, "user-data": "hi"}'
expect_api "PATCH /mmds (merge patch)" 204
api GET /mmds
expect_api "GET /mmds after the merge" 200 '^\{"latest":\{"meta-data":\{"ami-id":"ami-1","zone":"z1"\}\},"user-data":"hi"\}$'
head -c 51300 /dev/zero | tr '\0' a | sed 's/^/{"pad": "/; s/$/"}/' | head -c 51150 >"$T_TMP/mmds-big.json"
printf '"}' >>"$T_TMP/mmds-big.json"
api PUT /mmds "@$T_TMP/mmds-big.json"
expect_api "PUT /mmds near the limit" 204
api PATCH /mmds '{"more": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}'
expect_api "PATCH /mmds past 51200 bytes" 413 "The MMDS patch request doesn't fit\."
# mpvm ctl knows the MMDS verbs.
"$MPVM" ctl --api-sock "$SOCK" mmds-put '{"instance": {"id": "i-1"}}' &&
	"$MPVM" ctl --api-sock "$SOCK" mmds-patch '{"instance": {"zone": "z"}}' &&
	out=$("$MPVM" ctl --api-sock "$SOCK" mmds) &&
	[ "$out" = '{"instance":{"id":"i-1","zone":"z"}}' ] && pass "mpvm ctl mmds-put, mmds-patch, mmds" ||
	fail "mpvm ctl mmds verbs" "${out:-}"
# ... and the balloon and vsock verbs.
"$MPVM" ctl --api-sock "$SOCK" balloon-put '{"amount_mib": 0, "deflate_on_oom": true}' &&
	"$MPVM" ctl --api-sock "$SOCK" balloon-set '{"amount_mib": 16}' &&
	out=$("$MPVM" ctl --api-sock "$SOCK" balloon) &&
	[ "$out" = '{"amount_mib":16,"deflate_on_oom":true,"stats_polling_interval_s":0,"free_page_reporting":false}' ] &&
	"$MPVM" ctl --api-sock "$SOCK" vsock "{\"guest_cid\": 3, \"uds_path\": \"$T_TMP/v.sock\"}" &&
	pass "mpvm ctl balloon-put, balloon-set, balloon, vsock" || fail "mpvm ctl balloon/vsock verbs" "${out:-}"
api PUT /mmds/config '{"network_interfaces": ["eth0"]}'
expect_api "PUT /mmds/config on an unknown interface" 400 'mmds-config.network_interfaces: \\"eth0\\" is not a configured network interface'
api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}'
expect_api "PUT /network-interfaces/eth0" 204
api PUT /mmds/config '{"network_interfaces": ["eth0"], "version": "V2", "ipv4_address": "169.254.169.250"}'
expect_api "PUT /mmds/config" 204
api PUT /mmds/config '{"network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1"}'
expect_api "PUT /mmds/config, not link-local" 400 'ipv4_address: expected a link-local address'
api GET /vm/config
expect_api "GET /vm/config shows mmds-config" 200 '"169\.254\.169\.250"'
expect_utf8() { python3 -c 'import json,sys; json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))' "$T_TMP/body" 2>/dev/null; }
expect_utf8 && pass "GET /vm/config is JSON" || fail "GET /vm/config is not JSON" "$BODY"
kill -TERM "$MPID"

# ---- after InstanceStart (needs a VM, so a usable /dev/kvm) ----
if [ "$T_HAVE_KVM" = 1 ]; then
	SOCK="$T_TMP/run.sock"
	start_mpvm run --api-sock "$SOCK" --kernel "$GUESTS/counter.elf" --serial none || finish
	for r in "/vsock {\"guest_cid\":3,\"uds_path\":\"/v\"}" "/balloon {\"amount_mib\":1,\"deflate_on_oom\":true}" \
		"/cpu-config {}" "/mmds/config {\"network_interfaces\":[]}" "/serial {\"serial_out_path\":\"/x\"}"; do
		api PUT "${r%% *}" "${r#* }"
		expect_api "PUT ${r%% *} after start" 400 'The requested operation is not supported after starting the microVM\.'
	done
	api PUT /mmds '{"k": "v"}'
	expect_api "PUT /mmds on a running VM" 204
	api PUT /actions '{"action_type": "StopVmm"}'
	expect_api "StopVmm" 204
else
	echo "note: no usable /dev/kvm; the after-start checks are left to the router's unit test"
fi

finish
