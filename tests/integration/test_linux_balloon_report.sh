#!/usr/bin/env bash
# lab-weight: 3
# virtio-balloon free page reporting with a Linux guest (issue 13): with
# "free_page_reporting": true, Linux's virtio_balloon driver reports blocks
# of free memory (2 MiB and up, a couple of seconds after they are freed);
# mpvm gives them back to the host without any inflation. The guest dirties
# 120 MiB and frees it: mpvm's RSS must first grow by most of it (the
# guest really used the memory) and then drop by at least 64 MiB while the
# balloon stays at 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
sock=$T_TMP/api.sock
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$LINUX/vmlinuz", "initrd_path": "$LINUX/initrd.cpio.gz",
                   "boot_args": "$LINUX_CMDLINE mpvm.test=balloon mpvm.dirty=1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "balloon": { "amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1,
               "free_page_reporting": true }
}
JSON
# VmRSS with bash builtins only: in the emulated lab every process started
# costs a good fraction of a second, and the peak must be caught.
# Sets RSS (KiB; 0 once mpvm is gone).
rss_now() {
	local k v _
	RSS=0
	while read -r k v _; do
		[ "$k" = VmRSS: ] && { RSS=$v; return; }
	done <"/proc/$BG_PID/status" 2>/dev/null
}
get() { curl -s --max-time 30 --unix-socket "$sock" "http://localhost$1"; }

start_bg balloon --config-file "$T_TMP/vm.json" --api-sock "$sock"
if ! wait_for 240 has balloon "LTEST: ready"; then
	fail "the guest never got ready" "$(tail -5 "$T_TMP/balloon.out")"
	bg_end balloon 5
	finish
fi
case $(get /balloon) in
*'"free_page_reporting":true'*) pass "GET /balloon shows free_page_reporting" ;;
*) fail "GET /balloon: $(get /balloon)" ;;
esac
sleep 3 # what boot freed has been reported
rss_now
rss0=$RSS
echo "dirty 120" >&"$BG_IN"
# Track the peak while the guest dirties (reporting starts only once the
# memory is free again, about 2 s later), then wait for the drop.
peak=$rss0 dropped=0 deadline=$((SECONDS + 180))
while [ "$SECONDS" -lt "$deadline" ]; do
	rss_now
	r=$RSS
	[ "$r" -gt "$peak" ] && peak=$r
	if [ $((peak - r)) -ge $((64 * 1024)) ] && has balloon "dirtied"; then
		dropped=1
		break
	fi
	sleep 0.2
done
grew=$(( (peak - rss0) / 1024 ))
[ "$grew" -ge 80 ] && pass "the guest used the memory: mpvm's RSS grew by $grew MiB" ||
	fail "mpvm's RSS grew by only $grew MiB while the guest dirtied 120 MiB" "$(grep dirt "$T_TMP/balloon.out")"
[ "$dropped" = 1 ] &&
	pass "freed memory went back to the host: RSS $((peak / 1024)) -> $((r / 1024)) MiB, balloon at 0" ||
	fail "RSS did not drop by 64 MiB after the guest freed the memory (peak $((peak / 1024)), now $((r / 1024)) MiB)"
st=$(get /balloon/statistics)
case $st in
*'"actual_mib":0'*|*'"actual_pages":0'*) pass "the balloon never inflated: $st" ;;
*) fail "balloon statistics: $st" ;;
esac
echo stop >&"$BG_IN"
bg_end balloon 120
expect_status balloon 0
expect_scenario balloon
finish
