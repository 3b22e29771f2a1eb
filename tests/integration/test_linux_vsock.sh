#!/usr/bin/env bash
# virtio-vsock with a Linux guest (issue 13), Firecracker's host side:
#  - host-initiated: 8 connections at once through uds_path ("CONNECT 5000"
#    / "OK <port>") to the guest's echo server, 256 KiB of random bytes each,
#    half-closed, the echo checked byte for byte (vsock_host.py connect);
#  - guest-initiated: 8 connections at once from the guest to the host's
#    port 6000, i.e. uds_path_6000 (vsock_host.py serve), 1 MiB each, half-
#    closed, echo checked in the guest;
#  - a guest connection to a port nobody serves on the host is refused;
#  - mpvm counts the bytes both ways and ends with no connection open.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v python3 >/dev/null || skip "python3 is needed for the host side"
HOST="$(dirname "$0")/vsock_host.py"
N=8
uds=$T_TMP/v.sock
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$LINUX/vmlinuz", "initrd_path": "$LINUX/initrd.cpio.gz",
                   "boot_args": "$LINUX_CMDLINE mpvm.test=vsock mpvm.vn=$N mpvm.vbytes=1048576" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "vsock": { "guest_cid": 3, "uds_path": "$uds" }
}
JSON
timeout 300 python3 "$HOST" serve "${uds}_6000" "$N" >"$T_TMP/serve.out" 2>&1 &
serve_pid=$!
start_bg vsock --config-file "$T_TMP/vm.json" --log-level Info
if wait_for 240 has vsock "LTEST: info vsock-echo-server listening"; then
	timeout 300 python3 "$HOST" connect "$uds" 5000 "$N" 262144 >"$T_TMP/connect.out" 2>&1
	st=$?
	[ "$st" -eq 0 ] && pass "host-initiated: $(cat "$T_TMP/connect.out")" ||
		fail "host-initiated (status $st)" "$(cat "$T_TMP/connect.out")"
else
	fail "the guest's vsock server never listened" "$(tail -5 "$T_TMP/vsock.out")"
fi
bg_end vsock 300
expect_status vsock 0
expect_scenario vsock
expect_ok vsock "/dev/vsock present"
expect_ok vsock "host-initiated: vsock-echo-server served=$N of $N"
expect_ok vsock "guest-initiated: vsock-echo-client echoed=$N of $N bytes=1048576"
expect_ok vsock "a port nobody serves on the host is refused"
if wait "$serve_pid"; then
	pass "host server: $(cat "$T_TMP/serve.out")"
else
	fail "host server" "$(cat "$T_TMP/serve.out")"
fi
[ ! -e "$uds" ] && pass "mpvm removed its vsock socket at exit" || fail "$uds left behind"
finish
