#!/usr/bin/env bash
# virtio-net on a tap inside a network namespace this test creates (nothing
# leaves the machine): the guest resolves the host by ARP and pings it; the
# host kernel answers from the tap's address. Needs root and iproute2.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
	skip "needs root and iproute2 (ip netns)"
fi
netns_tap mpvm-net mpvmtap0 10.0.0.1/24

run_cmd net 60 -- ip netns exec "$ns" "$MPVM" run --kernel "$GUESTS/virtio_net.elf" --exit-port \
	--net "id=eth0,tap=mpvmtap0,mac=52:54:00:aa:bb:01" --cmdline "ip=10.0.0.2 host=10.0.0.1"
expect_status net 1
expect_out net "net: .* mac 52:54:00:aa:bb:01, ip 10.0.0.2"
expect_out net "net: 10.0.0.1 is at "
expect_out net "net: echo reply from 10.0.0.1"
expect_out net "net: PASS"

# The same interface from a config file, with a receive rate limiter.
cat >"$T_TMP/net.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/virtio_net.elf", "boot_args": "ip=10.0.0.3" },
  "network-interfaces": [
    { "iface_id": "eth0", "host_dev_name": "mpvmtap0", "guest_mac": "52:54:00:aa:bb:02",
      "rx_rate_limiter": { "ops": { "size": 100, "refill_time": 100 } } }
  ],
  "debug": { "exit_port": true }
}
JSON
run_cmd net-config 60 -- ip netns exec "$ns" "$MPVM" run --config-file "$T_TMP/net.json"
expect_status net-config 1
expect_out net-config "mac 52:54:00:aa:bb:02, ip 10.0.0.3"
expect_out net-config "net: PASS"

# An interface that is not a tap (the loopback) is a clear configuration error.
run_cmd net-not-a-tap 60 -- ip netns exec "$ns" "$MPVM" run --kernel "$GUESTS/virtio_net.elf" \
	--exit-port --net "id=eth1,tap=lo"
expect_status net-not-a-tap 78
expect_err net-not-a-tap "network interface eth1: tap lo: TUNSETIFF"

finish
