# vsock: Linux's virtio-vsock driver against mpvm's device and Firecracker's
# host side. Host-initiated: the guest serves mpvm.vn echo connections on
# vsock port 5000 (the host connects through uds_path with "CONNECT 5000").
# Guest-initiated: mpvm.vn connections at once to the host's port 6000
# (uds_path_6000), each sending mpvm.vbytes bytes and checking the echo.
# A port nobody serves on the host is refused.
n=$(arg vn)
n=${n:-8}
bytes=$(arg vbytes)
bytes=${bytes:-1048576}
[ -c /dev/vsock ] && ok "/dev/vsock present" || fail "no /dev/vsock"
guest-tool vsock-echo-server 5000 "$n" >/tmp/srv.out 2>&1 &
srv=$!
for _ in $(seq 100); do grep -q listening /tmp/srv.out && break; sleep 0.1; done
echo "LTEST: info $(head -n 1 /tmp/srv.out)"
if wait "$srv"; then
	ok "host-initiated: $(tail -n 1 /tmp/srv.out)"
else
	fail "host-initiated: $(tr '\n' ' ' </tmp/srv.out)"
fi
if guest-tool vsock-echo-client 6000 "$n" "$bytes" >/tmp/cli.out 2>&1; then
	ok "guest-initiated: $(tail -n 1 /tmp/cli.out)"
else
	fail "guest-initiated: $(tr '\n' ' ' </tmp/cli.out)"
fi
if guest-tool vsock-echo-client 6001 1 16 >/tmp/ref.out 2>&1; then
	fail "a connection to a port nobody serves on the host succeeded"
else
	ok "a port nobody serves on the host is refused ($(head -n 1 /tmp/ref.out))"
fi
end poweroff
