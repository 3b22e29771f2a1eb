#!/usr/bin/env bash
# lab-weight: 4
# virtio-balloon with a Linux guest (issue 13): a 256 MiB guest dirties 120
# MiB and frees it; the host inflates the balloon to 64 MiB through the API
# (PATCH /balloon): the driver gives the pages (the guest's MemFree drops by
# about 64 MiB; with deflate_on_oom Linux keeps MemTotal), mpvm gives the pages back to the host (its RSS drops by at
# least 32 MiB) and GET /balloon/statistics shows the guest's statistics;
# then it deflates to 0 and the memory comes back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
sock=$T_TMP/api.sock
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$LINUX/vmlinuz", "initrd_path": "$LINUX/initrd.cpio.gz",
                   "boot_args": "$LINUX_CMDLINE mpvm.test=balloon mpvm.dirty=120" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "balloon": { "amount_mib": 0, "deflate_on_oom": true, "stats_polling_interval_s": 1 }
}
JSON
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$BG_PID/status" 2>/dev/null || echo 0; }
get() { curl -s --max-time 30 --unix-socket "$sock" "http://localhost$1"; }
jfield() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null; }
meminfo() { tr -d '\r' <"$T_TMP/balloon.out" | sed -n "s/^LTEST: info $1-kib \([0-9]*\) report $2\$/\1/p" | head -n 1; }
memtotal() { meminfo memtotal "$1"; }
memfree() { meminfo memfree "$1"; }

start_bg balloon --config-file "$T_TMP/vm.json" --api-sock "$sock"
if ! wait_for 240 has balloon "LTEST: ready"; then
	fail "the guest never got ready" "$(tail -5 "$T_TMP/balloon.out")"
	bg_end balloon 5
	finish
fi
echo "report before" >&"$BG_IN"
wait_for 30 test -n "$(memtotal before)"
rss0=$(rss_kib)
code=$(api "$sock" PATCH /balloon '{"amount_mib": 64}')
[ "$code" = 204 ] && pass "PATCH /balloon 64 MiB: 204" || fail "PATCH /balloon: $code"
# The driver inflates in steps; wait for it to report the whole target.
inflated=0
for _ in $(seq 120); do
	st=$(get /balloon/statistics)
	[ "$(jfield "$st" actual_mib)" = 64 ] && { inflated=1; break; }
	sleep 0.5
done
[ "$inflated" = 1 ] && pass "the guest inflated to 64 MiB: $st" || fail "the balloon did not reach 64 MiB" "$st"
rss1=$(rss_kib)
echo "report inflated" >&"$BG_IN"
wait_for 30 test -n "$(memtotal inflated)"
before=$(memtotal before)
free0=$(memfree before)
free1=$(memfree inflated)
drop=$(( (${free0:-0} - ${free1:-0}) / 1024 ))
[ "$drop" -ge 54 ] && [ "$drop" -le 76 ] && pass "the guest's MemFree dropped by $drop MiB" ||
	fail "MemFree dropped by $drop MiB (before ${free0:-?} KiB, inflated ${free1:-?} KiB)"
[ "$(memtotal inflated)" = "$before" ] && pass "MemTotal kept at $before KiB (deflate_on_oom)" ||
	fail "MemTotal changed with deflate_on_oom: $before -> $(memtotal inflated) KiB"
freed=$(( (rss0 - rss1) / 1024 ))
[ "$freed" -ge 32 ] && pass "mpvm's RSS dropped by $freed MiB ($((rss0 / 1024)) -> $((rss1 / 1024)) MiB)" ||
	fail "mpvm's RSS dropped by only $freed MiB ($rss0 -> $rss1 KiB)"
# Fresh statistics, not the driver's first report (the driver sends new
# ones only if the device asks for each, see test_virtio_balloon): after two
# intervals, free_memory is what the idle guest's MemFree said just before.
sleep 2
st=$(get /balloon/statistics)
fm=$(jfield "$st" free_memory)
fm_mib=$(( ${fm:-0} >> 20 )) mf_mib=$(( ${free1:-0} / 1024 ))
diff_mib=$(( fm_mib > mf_mib ? fm_mib - mf_mib : mf_mib - fm_mib ))
[ -n "$fm" ] && [ -n "$free1" ] && [ "$diff_mib" -le 16 ] &&
	pass "statistics are fresh: free_memory $fm_mib MiB, the guest's MemFree $mf_mib MiB" ||
	fail "statistics are stale: free_memory ${fm_mib} MiB, the guest's MemFree ${mf_mib} MiB" "$st"
for k in free_memory total_memory available_memory; do
	[ -n "$(jfield "$st" $k)" ] && pass "statistics: $k = $(jfield "$st" $k)" || fail "statistics lack $k" "$st"
done
[ "$(jfield "$(get /balloon)" amount_mib)" = 64 ] && pass "GET /balloon: amount_mib 64" ||
	fail "GET /balloon: $(get /balloon)"
code=$(api "$sock" PATCH /balloon/statistics '{"stats_polling_interval_s": 0}')
[ "$code" = 400 ] && pass "statistics cannot be turned off after start (400)" ||
	fail "PATCH /balloon/statistics to 0: $code"
code=$(api "$sock" PATCH /balloon '{"amount_mib": 0}')
[ "$code" = 204 ] && pass "PATCH /balloon 0 MiB: 204" || fail "PATCH /balloon 0: $code"
deflated=0
for _ in $(seq 120); do
	[ "$(jfield "$(get /balloon/statistics)" actual_mib)" = 0 ] && { deflated=1; break; }
	sleep 0.5
done
[ "$deflated" = 1 ] && pass "the guest deflated to 0" || fail "the balloon did not deflate"
echo "report deflated" >&"$BG_IN"
wait_for 30 test -n "$(memtotal deflated)"
[ "$(memtotal deflated)" = "$before" ] && pass "MemTotal is back to $before KiB" ||
	fail "MemTotal after deflating: $(memtotal deflated) KiB, before: $before KiB"
echo stop >&"$BG_IN"
bg_end balloon 120
expect_status balloon 0
expect_scenario balloon
finish
