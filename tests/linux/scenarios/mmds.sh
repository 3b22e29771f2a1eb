# mmds: Firecracker's metadata service as a guest reaches it (Firecracker's
# MMDS user guide): eth0 gets an address and a route to 169.254.169.254,
# busybox wget fetches keys; V2 (mpvm.mmds=v2) first asks for a session
# token with a raw PUT (busybox wget cannot PUT) and sends it with
# `wget --header`. The host has put (test_linux_mmds.sh):
#   latest/meta-data/{ami-id: ami-12345678, hostname: vm-mmds,
#                     network/{mac: 06:00:0a:00:03:02}}, user-data: a
#   32000-character string (several TCP segments; the guest prints its
#   SHA-256 for the host to compare).
# After the checks the guest says "LTEST: ready" and waits on the console:
# "ping" pings the host's tap (the test's positive control that the tap
# counts what does reach it), "stop" ends.
ver=$(arg mmds)
M=169.254.169.254
ip link set lo up
ip link set eth0 up && ip addr add 10.0.3.2/24 dev eth0 && ip route add $M/32 dev eth0 &&
	ok "eth0 10.0.3.2/24, route to $M" || fail "configure eth0"

# raw METHOD PATH [HEADER]: one request on its own connection, the
# response with CRs removed (nc: busybox's, which half-closes on EOF).
raw() {
	{
		printf '%s %s HTTP/1.1\r\nHost: %s\r\n' "$1" "$2" $M
		[ -n "$3" ] && printf '%s\r\n' "$3"
		printf 'Connection: close\r\n\r\n'
	} | nc -w 10 $M 80 | tr -d '\r'
}
hdr=""
if [ "$ver" = v2 ]; then
	r=$(raw PUT /latest/api/token "X-metadata-token-ttl-seconds: 600")
	token=$(echo "$r" | tail -n 1)
	case $r in
	"HTTP/1.1 200 "*) [ ${#token} = 44 ] && ok "V2: PUT /latest/api/token gave a 44-character token" ||
		fail "V2: token '$token'" ;;
	*) fail "V2: PUT /latest/api/token: $(echo "$r" | head -n 1)" ;;
	esac
	hdr="X-metadata-token: $token"
	r=$(raw GET /latest/meta-data/ami-id)
	case $r in "HTTP/1.1 401 "*) ok "V2: a GET without a token is 401" ;;
		*) fail "V2: GET without a token: $(echo "$r" | head -n 1)" ;; esac
	r=$(raw GET /latest/meta-data/ami-id "X-metadata-token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	case $r in "HTTP/1.1 401 "*) ok "V2: a GET with a wrong token is 401" ;;
		*) fail "V2: GET with a wrong token: $(echo "$r" | head -n 1)" ;; esac
	r=$(raw PUT /latest/api/token "X-metadata-token-ttl-seconds: 21601")
	case $r in "HTTP/1.1 400 "*) ok "V2: a TTL over 21600 is 400" ;;
		*) fail "V2: TTL 21601: $(echo "$r" | head -n 1)" ;; esac
else
	r=$(raw PUT /latest/api/token "X-metadata-token-ttl-seconds: 60")
	case $r in "HTTP/1.1 405 "*) ok "V1: PUT is 405 (GET only)" ;;
		*) fail "V1: PUT: $(echo "$r" | head -n 1)" ;; esac
fi
# busybox wget: bounded by timeout(1), not its own -T (this busybox's wget
# crashes with -T, against any server).
get() {
	if [ -n "$hdr" ]; then
		timeout 15 wget -q -O - --header "$hdr" "$@"
	else
		timeout 15 wget -q -O - "$@"
	fi
}

# The host may still be filling the store (V1 is configured from the file
# and filled after start): wait for the first key.
v=""
i=0
while [ $i -lt 60 ]; do
	v=$(get http://$M/latest/meta-data/ami-id 2>/dev/null) && [ -n "$v" ] && break
	i=$((i + 1))
	sleep 0.5
done
[ "$v" = ami-12345678 ] && ok "wget $ver /latest/meta-data/ami-id: $v" || fail "ami-id: '$v'"
v=$(get http://$M/latest/meta-data/hostname)
[ "$v" = vm-mmds ] && ok "wget hostname: $v" || fail "hostname: '$v'"
v=$(get http://$M/latest/meta-data/ | tr '\n' ' ')
[ "$v" = "ami-id hostname network/" ] && ok "nested listing: $v" || fail "listing: '$v'"
v=$(get http://$M/latest/meta-data/network/mac)
[ "$v" = 06:00:0a:00:03:02 ] && ok "wget a nested value: $v" || fail "network/mac: '$v'"
v=$(get --header "Accept: application/json" http://$M/latest/meta-data/network)
[ "$v" = '{"mac":"06:00:0a:00:03:02"}' ] && ok "Accept: application/json: $v" || fail "json: '$v'"
if get http://$M/latest/no-such-key >/dev/null 2>&1; then
	fail "a missing key answered"
else
	r=$(raw GET /latest/no-such-key "$hdr")
	case $r in "HTTP/1.1 404 "*) ok "a missing key is 404: $(echo "$r" | tail -n 1)" ;;
		*) fail "missing key: $(echo "$r" | head -n 1)" ;; esac
fi
get http://$M/user-data >/tmp/ud
echo "LTEST: info user-data $(wc -c </tmp/ud) $(sha256sum </tmp/ud | cut -d' ' -f1)"
# Two requests on one connection (keep-alive, pipelined): two answers.
r=$(printf 'GET /latest/meta-data/ami-id HTTP/1.1\r\n%s\r\n\r\nGET /latest/meta-data/hostname HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n' \
	"${hdr:-X-a: b}" "${hdr:-X-a: b}" | nc -w 10 $M 80 | grep -o 'HTTP/1.1 200 ' | wc -l)
[ "$r" = 2 ] && ok "two pipelined requests on one connection, two answers" || fail "pipelined: $r answers"
# More connections than MMDS keeps at once, one after another: each is
# closed and its slot reused.
bad=0
i=0
while [ $i -lt 40 ]; do
	[ "$(get http://$M/latest/meta-data/hostname)" = vm-mmds ] || bad=$((bad + 1))
	i=$((i + 1))
done
[ $bad = 0 ] && ok "40 connections in a row all answered" || fail "$bad of 40 connections failed"
echo "LTEST: ready"
while read -r line; do
	case $line in
	ping*) ping -c 2 -W 5 10.0.3.1 >/dev/null 2>&1 && ok "ping 10.0.3.1 (the host's tap)" ||
		fail "ping the host's tap"
		echo "LTEST: info pinged" ;;
	stop*) break ;;
	esac
done
end poweroff
