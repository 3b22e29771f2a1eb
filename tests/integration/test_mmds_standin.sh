#!/usr/bin/env bash
# MMDS over a real Linux TCP/IP stack without KVM: the stand-in guest is the
# host kernel in a network namespace of this test's own, its tap served by
# mmds-standin (tests/integration/mmds_standin.c: MMDS's stack as virtio-net
# runs it). curl and busybox wget fetch values, listings, JSON and 404s (V1),
# sessions tokens (V2: PUT, use, refuse, expire), 20 clients at once and 60
# in a row; nothing but MMDS's traffic leaves the namespace's side (the
# counter of other frames is what the tap would have got: ARP and TCP to
# MMDS never count). test_linux_mmds.sh does the same with a real guest in
# the lab.
T_NEEDS_KVM=0
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] && command -v ip >/dev/null || skip "needs root and iproute2 for the network namespace"
command -v curl >/dev/null || skip "curl is not installed"
[ -x "${MMDS_STANDIN:-}" ] || skip "mmds-standin is not built"
M=http://169.254.169.254
ud=$(python3 -c 'print("".join(chr(97 + (i * 7 + i // 26) % 26) for i in range(40000)), end="")')
cat >"$T_TMP/store.json" <<JSON
{"latest": {"meta-data": {"ami-id": "ami-12345678", "hostname": "vm-mmds",
 "network": {"mac": "06:00:0a:00:03:02"}}, "n": 7}, "user-data": "$ud"}
JSON

# run_standin VERSION [imds_compat]: the stand-in on tap mmds0 in the
# namespace, which the kernel there uses as its eth0 (10.0.3.2, a route to
# MMDS); end_standin stops it and reads its counters.
ns="mpvm-mmds-$$"
ip netns add "$ns" || { fail "ip netns add $ns"; finish; }
trap 'ip netns del "$ns" 2>/dev/null; t_cleanup' EXIT
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link set lo up
run_standin() {
	rm -f "$T_TMP/standin.out"
	ip netns exec "$ns" "$MMDS_STANDIN" mmds0 "$T_TMP/store.json" "$@" >"$T_TMP/standin.out" 2>&1 &
	SPID=$!
	T_PIDS+=("$SPID")
	for _ in $(seq 50); do grep -q ready "$T_TMP/standin.out" 2>/dev/null && break; sleep 0.1; done
	ip -n "$ns" link set mmds0 up
	ip -n "$ns" addr add 10.0.3.2/24 dev mmds0 2>/dev/null
	ip -n "$ns" route add 169.254.169.254/32 dev mmds0 2>/dev/null
}
end_standin() {
	kill -TERM "$SPID"
	wait "$SPID"
	STATS=$(tail -n 1 "$T_TMP/standin.out")
}
in_ns() { ip netns exec "$ns" "$@"; }
# body URL [curl args]: the body; status URL [args]: the status code.
body() { in_ns curl -s --max-time 10 "$@"; }
status() { in_ns curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@"; }
is() { [ "$2" = "$3" ] && pass "$1: $2" || fail "$1: got '$2', expected '$3'"; }

# ---- V1 ----
run_standin V1
is "V1 GET a value" "$(body $M/latest/meta-data/ami-id)" ami-12345678
is "V1 listing, sub-objects with /" "$(body $M/latest/meta-data/ | tr '\n' ' ')" "ami-id hostname network/"
is "V1 root listing" "$(body $M/ | tr '\n' ' ')" "latest/ user-data"
is "V1 JSON with Accept" "$(body -H 'Accept: application/json' $M/latest/meta-data/network)" '{"mac":"06:00:0a:00:03:02"}'
is "V1 a number in IMDS format is 501" "$(status $M/latest/n)" 501
is "V1 a number as JSON" "$(body -H 'Accept: application/json' $M/latest/n)" 7
is "V1 missing key" "$(status $M/latest/nope)" 404
is "V1 404 message" "$(body $M/latest/nope)" "Resource not found: /latest/nope."
is "V1 PUT is 405" "$(status -X PUT -H 'X-metadata-token-ttl-seconds: 60' $M/latest/api/token)" 405
is "V1 busybox wget" "$(in_ns timeout 15 busybox wget -q -O - $M/latest/meta-data/hostname)" vm-mmds
got=$(body $M/user-data | sha256sum | cut -d' ' -f1)
is "V1 a 40000-byte value over many segments" "$got" "$(printf '%s' "$ud" | sha256sum | cut -d' ' -f1)"
# Keep-alive: curl reuses one connection for three requests.
is "V1 three requests on one connection" "$(body $M/latest/meta-data/ami-id $M/latest/meta-data/hostname $M/latest/meta-data/ami-id)" \
	"ami-12345678vm-mmdsami-12345678"
# 20 clients at once, then 60 in a row: every one answered.
for i in $(seq 20); do body $M/latest/meta-data/hostname >"$T_TMP/par.$i" & done
wait_pids=$(jobs -p | grep -v "^$SPID$")
wait $wait_pids 2>/dev/null
bad=0
for i in $(seq 20); do [ "$(cat "$T_TMP/par.$i")" = vm-mmds ] || bad=$((bad + 1)); done
is "V1 20 clients at once, failures" "$bad" 0
bad=0
for i in $(seq 60); do [ "$(body $M/latest/meta-data/ami-id)" = ami-12345678 ] || bad=$((bad + 1)); done
is "V1 60 connections in a row, failures" "$bad" 0
# Hostile: 3000 SYNs from random ports and 3000 malformed frames (bad
# checksums, lengths past the frame, truncated headers, fragments) to the
# MMDS address, from a packet socket; then MMDS still answers.
in_ns python3 - <<'PY'
import random, socket, struct
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
src, dst = socket.inet_aton("10.0.3.2"), socket.inet_aton("169.254.169.254")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("mmds0", 0))
mac = open("/sys/class/net/mmds0/address").read().strip().replace(":", "")
eth = bytes.fromhex("060123456701") + bytes.fromhex(mac) + b"\x08\x00"
def frame(flags, sport, payload=b""):
    th = bytearray(struct.pack("!HHIIBBHHH", sport, 80, random.getrandbits(32), 0, 5 << 4, flags, 65535, 0, 0)) + payload
    struct.pack_into("!H", th, 16, csum(src + dst + struct.pack("!BBH", 0, 6, len(th)) + bytes(th)))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(th), 0, 0x4000, 64, 6, 0, src, dst))
    struct.pack_into("!H", ip, 10, csum(bytes(ip)))
    return bytearray(eth + ip + th)
random.seed(13)
for i in range(3000):
    s.send(frame(0x02, 20000 + i))
    f = frame(random.choice([0x02, 0x10, 0x18, 0x11, 0x04]), random.randrange(1, 65535), b"GET / HTTP/1.1\r\n\r\n")
    k = random.randrange(6)
    if k == 0: f[-1] ^= 0xff                      # TCP checksum
    elif k == 1: f[14 + 10] ^= 1                  # IPv4 header checksum
    elif k == 2: f[14 + 2:14 + 4] = b"\xff\xff"    # total length past the frame
    elif k == 3: f = f[:14 + 20 + random.randrange(20)]  # truncated TCP
    elif k == 4: f[14 + 6] = 0x20                 # a fragment
    else: f[14 + 20 + 12] = 0xf0                  # data offset past the end
    s.send(bytes(f))
PY
is "V1 still answers after a SYN flood and malformed frames" "$(body $M/latest/meta-data/ami-id)" ami-12345678
kill -0 "$SPID" && pass "V1: the stack is still up" || fail "V1: the stack died"
end_standin
[[ "$STATS" =~ other-frames\ 0\  ]] && pass "V1: nothing but MMDS traffic from the stand-in guest ($STATS)" ||
	fail "V1: frames that were not MMDS's: $STATS"

# ---- V2 ----
run_standin V2
is "V2 GET without a token" "$(status $M/latest/meta-data/ami-id)" 401
tok=$(body -X PUT -H 'X-metadata-token-ttl-seconds: 60' $M/latest/api/token)
is "V2 token length" "${#tok}" 44
is "V2 GET with the token" "$(body -H "X-metadata-token: $tok" $M/latest/meta-data/ami-id)" ami-12345678
is "V2 busybox wget --header" "$(in_ns timeout 15 busybox wget -q -O - --header "X-metadata-token: $tok" $M/latest/meta-data/hostname)" vm-mmds
is "V2 a wrong token" "$(status -H "X-metadata-token: x$tok" $M/latest/meta-data/ami-id)" 401
is "V2 TTL 0" "$(status -X PUT -H 'X-metadata-token-ttl-seconds: 0' $M/latest/api/token)" 400
is "V2 TTL 21601" "$(status -X PUT -H 'X-metadata-token-ttl-seconds: 21601' $M/latest/api/token)" 400
is "V2 no TTL" "$(status -X PUT $M/latest/api/token)" 400
is "V2 X-Forwarded-For" "$(status -X PUT -H 'X-metadata-token-ttl-seconds: 5' -H 'X-Forwarded-For: 1.2.3.4' $M/latest/api/token)" 400
is "V2 PATCH is 405" "$(status -X PATCH $M/latest)" 405
short=$(body -X PUT -H 'X-metadata-token-ttl-seconds: 1' $M/latest/api/token)
sleep 1.5
is "V2 an expired token" "$(status -H "X-metadata-token: $short" $M/latest/meta-data/ami-id)" 401
end_standin
[[ "$STATS" =~ other-frames\ 0\  ]] && pass "V2: nothing but MMDS traffic ($STATS)" || fail "V2: $STATS"

# ---- imds_compat: text whatever Accept says ----
run_standin V1 imds_compat
is "imds_compat ignores Accept: application/json" "$(body -H 'Accept: application/json' $M/latest/meta-data/network)" mac
end_standin
finish
