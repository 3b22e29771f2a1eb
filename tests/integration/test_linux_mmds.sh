#!/usr/bin/env bash
# lab-weight: 2
# MMDS with a Linux guest (issue 13): the guest reaches Firecracker's
# metadata service at 169.254.169.254 over eth0 and busybox wget fetches
# keys (tests/linux/scenarios/mmds.sh), answered by mpvm itself: nothing of
# it reaches the tap, which this test owns in a network namespace it
# creates and whose receive counter it reads (0 after the MMDS checks; a
# ping from the guest then shows that the counter does count).
# Two boots:
#  - V1 from the config file's mmds-config, the store PUT through the API
#    once the VM runs (the guest waits for its first key);
#  - V2 configured wholly through the API before InstanceStart (PUT
#    /mmds/config, PUT /mmds), session tokens in the guest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
[ "$(id -u)" = 0 ] && command -v ip >/dev/null || skip "needs root and iproute2 for the network namespace"
command -v curl >/dev/null || skip "curl is not installed"

netns_tap mpvm-mmds mpvmtap0 10.0.3.1/24
# What the guest sent that reached the host: the tap's receive counter.
tap_rx() { ip netns exec "$ns" cat /sys/class/net/mpvmtap0/statistics/rx_packets; }
# mpvm inside the namespace (start_bg runs "$MPVM"; `ip netns exec` execs,
# so the pid stays mpvm's).
cat >"$T_TMP/mpvm-ns" <<SH
#!/bin/sh
exec ip netns exec "$ns" "$MPVM" "\$@"
SH
chmod +x "$T_TMP/mpvm-ns"
MPVM_HOST=$MPVM
MPVM=$T_TMP/mpvm-ns

# The store: nested keys and a 32000-character user-data (several segments).
ud=$(python3 -c 'print("".join(chr(97 + (i * 7 + i // 26) % 26) for i in range(32000)), end="")')
ud_sha=$(printf '%s' "$ud" | sha256sum | cut -d' ' -f1)
cat >"$T_TMP/store.json" <<JSON
{"latest": {"meta-data": {"ami-id": "ami-12345678", "hostname": "vm-mmds",
 "network": {"mac": "06:00:0a:00:03:02"}}}, "user-data": "$ud"}
JSON
NET='{ "iface_id": "eth0", "host_dev_name": "mpvmtap0", "guest_mac": "06:00:0a:00:03:02" }'
ARGS="$LINUX_CMDLINE ipv6.disable=1 mpvm.test=mmds"

# check_boot NAME VERSION: the guest's checks (NAME is the scenario's
# mpvm.mmds, v1 or v2), the tap's counter, the end.
check_boot() {
	local name=$1 ver=$2 rx0 rx1
	if ! wait_for 240 has "$name" "LTEST: ready"; then
		fail "$name: the guest never finished its MMDS checks" "$(tail -8 "$T_TMP/$name.out")"
		echo stop >&"$BG_IN"
		bg_end "$name" 60
		return
	fi
	rx0=$(tap_rx)
	[ "$rx0" = 0 ] && pass "$name: nothing of the guest's MMDS traffic reached the tap (rx_packets 0)" ||
		fail "$name: the tap received $rx0 packets"
	echo ping >&"$BG_IN"
	wait_for 30 has "$name" "LTEST: info pinged"
	rx1=$(tap_rx)
	[ "$rx1" -gt 0 ] && pass "$name: the tap counts what does reach it (rx_packets $rx1 after a ping)" ||
		fail "$name: the ping did not reach the tap ($rx1)"
	echo stop >&"$BG_IN"
	bg_end "$name" 120
	expect_status "$name" 0
	expect_scenario "$name"
	expect_ok "$name" "wget $name /latest/meta-data/ami-id: ami-12345678"
	expect_ok "$name" "nested listing: ami-id hostname network/"
	expect_ok "$name" "a missing key is 404"
	expect_ok "$name" "40 connections in a row all answered"
	[ "$(info user-data)" = "32000 $ud_sha" ] && pass "$name: the 32000-byte user-data arrived intact" ||
		fail "$name: user-data in the guest: $(info user-data)"
	grep -q "MMDS ($ver) answers 169.254.169.254" <<<"$ERR" && pass "$name: mpvm logs MMDS $ver on eth0" ||
		fail "$name: no MMDS line in the log" "$(tail -5 <<<"$ERR")"
	! grep -qi "store.only\|cannot reach it" <<<"$ERR" && pass "$name: no store-only warning" ||
		fail "$name: a store-only warning"
}

# ---- V1: mmds-config in the file, the store PUT once the VM runs ----
sock=$T_TMP/v1.sock
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$LINUX/vmlinuz", "initrd_path": "$LINUX/initrd.cpio.gz",
                   "boot_args": "$ARGS mpvm.mmds=v1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "network-interfaces": [ $NET ],
  "mmds-config": { "version": "V1", "network_interfaces": ["eth0"] }
}
JSON
start_bg v1 --config-file "$T_TMP/vm.json" --api-sock "$sock" --log-level Info
wait_for 30 test -S "$sock"
code=$(api "$sock" PUT /mmds "@$T_TMP/store.json")
[ "$code" = 204 ] && pass "V1: PUT /mmds on the running VM: 204" || fail "V1: PUT /mmds: $code"
check_boot v1 V1

# ---- V2: everything through the API before InstanceStart ----
# A new tap: its counter starts at 0 again.
ip -n "$ns" link set mpvmtap0 down && ip -n "$ns" tuntap del dev mpvmtap0 mode tap
ip -n "$ns" tuntap add dev mpvmtap0 mode tap
ip -n "$ns" addr add 10.0.3.1/24 dev mpvmtap0
ip -n "$ns" link set mpvmtap0 up
sock=$T_TMP/v2.sock
start_bg v2 --api-sock "$sock" --log-level Info
wait_for 30 test -S "$sock"
ok2=1
put() {
	local code
	code=$(api "$sock" PUT "$1" "$2")
	[ "$code" = 204 ] || { ok2=0; fail "V2: PUT $1: $code" "$(tail -3 "$T_TMP/v2.err")"; }
}
put /boot-source "{\"kernel_image_path\": \"$LINUX/vmlinuz\", \"initrd_path\": \"$LINUX/initrd.cpio.gz\",
 \"boot_args\": \"$ARGS mpvm.mmds=v2\"}"
put /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
put /network-interfaces/eth0 "$NET"
put /mmds/config '{"version": "V2", "network_interfaces": ["eth0"]}'
put /mmds "@$T_TMP/store.json"
put /actions '{"action_type": "InstanceStart"}'
[ "$ok2" = 1 ] && pass "V2: configured through the API (PUT /mmds/config V2, PUT /mmds) and started"
check_boot v2 V2
MPVM=$MPVM_HOST
finish
