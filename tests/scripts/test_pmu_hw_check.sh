#!/usr/bin/env bash
# scripts/pmu-hw-check.sh
#  1. on this host, if it cannot run the check (no hardware PMU or no
#     hardware KVM, as the development machines): it must say "cannot run
#     here" with each reason this test finds on its own, and exit 77,
#     quickly and without building or booting anything (on a host that can
#     run it, this part is skipped: run the script itself there);
#  2. standin_*: its hardware path against a stand-in (a fake mpvm that
#     prints what the guest would, a fake guest-tool for the host, made-up
#     /dev/kvm and perf "cpu" paths), so the verdict table's logic is
#     checked here: every check passing, then a filter that lets the denied
#     event count, which must fail. Not a measurement of anything.
# Needs no /dev/kvm.
set -uo pipefail
: "${MPVM:?MPVM must point at the mpvm binary}"
: "${MPVM_SOURCE_DIR:?MPVM_SOURCE_DIR must point at the source tree}"
fails=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/       /' <<<"$2"; fails=$((fails + 1)); }

# ---- 1. this host ----
backend=$("$MPVM" pmu probe --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvm"]["backend"] or "none")')
expect=()
[ -e /sys/bus/event_source/devices/cpu ] || expect+=("the host has no hardware PMU")
case $backend in kvm_intel | kvm_amd) ;; *) expect+=("KVM here is $backend, not kvm_intel or kvm_amd") ;; esac
[ -e /dev/kvm ] || expect+=("no /dev/kvm")
if [ ${#expect[@]} -eq 0 ]; then
	echo "skip - part 1: this host has a PMU and hardware KVM: run scripts/pmu-hw-check.sh itself"
else
	start=$(date +%s)
	out=$(MPVM=$MPVM BUILD_DIR=/nonexistent-must-not-build timeout 60 "$MPVM_SOURCE_DIR/scripts/pmu-hw-check.sh" 2>&1)
	status=$?
	took=$(($(date +%s) - start))
	[ "$status" = 77 ] && pass "exit status 77 (cannot run here)" || fail "exit status $status, expected 77" "$out"
	[ "$(wc -l <<<"$out")" = 1 ] && pass "one line" || fail "more than one line" "$out"
	grep -q '^pmu-hw-check: cannot run here: ' <<<"$out" && pass "says \"cannot run here\"" ||
		fail "no \"cannot run here\" line" "$out"
	for r in "${expect[@]}"; do
		grep -qF "$r" <<<"$out" && pass "names the reason: $r" || fail "does not name: $r" "$out"
	done
	[ "$took" -le 10 ] && pass "answered in ${took}s, before building anything" || fail "took ${took}s"
fi

# ---- 2. the hardware path against a stand-in ----
sd=$(mktemp -d /tmp/pmu-hw-standin.XXXXXX)
trap 'rm -rf "$sd"' EXIT # the script keeps its logs in $TMPDIR: here
mkdir -p "$sd/linux" "$sd/cpu"
touch "$sd/kvm" "$sd/linux/vmlinuz" "$sd/linux/initrd.cpio.gz"
cat >"$sd/mpvm" <<'FAKE'
#!/usr/bin/env bash
# A stand-in of mpvm for pmu-hw-check.sh: an Intel host offering mediated,
# soft and off; each guest "boot" prints the perfstat line a guest would.
if [ "$1" = pmu ]; then
	if [ "${3:-}" = --json ]; then
		echo '{"kvm":{"backend":"kvm_intel"},"cpu":{"vendor":"intel"},"modes":{"mediated":{"available":true},"legacy":{"available":false,"reasons":[{"why":"kvm_intel.enable_mediated_pmu=Y"}]},"soft":{"available":true},"off":{"available":true}}}'
	else
		echo "Guest PMU modes (stand-in)"
	fi
	exit 0
fi
mode=$(sed -n 's/.*--pmu \([a-z]*\).*/\1/p' <<<"$*")
br=2000000
[[ "$*" == *filter-deny* && -z "${STANDIN_FILTER_BROKEN:-}" ]] && br=0
echo "LTEST: info perf-binary none (busybox initramfs: counting with guest-tool perfstat)"
case $mode in
mediated) echo "LTEST: info perfstat iterations=1 cycles=5100000 instructions=10000090 branches=$br check=1" ;;
*) echo "LTEST: info perfstat iterations=1 cycles=n/a(ENOENT) instructions=n/a(ENOENT) branches=n/a(ENOENT) check=1" ;;
esac
[[ "$*" == *trap-event-selects* ]] &&
	echo "[mpvm:INFO] PMU summary: mode mediated (configured: mediated); 9 PMU MSR exits to mpvm (0 answered #GP); PMIs injected 0, masked 0, dropped 0; denied programs 0; overflow-timer wake-ups 0; by MSR: 0x186:r0w3; events programmed: 0xc0:00(instructions)=1 0xc4:00(branches)=1" >&2
exit 0
FAKE
cat >"$sd/linux/guest-tool" <<'FAKE'
#!/usr/bin/env bash
echo "perfstat iterations=$2 cycles=5000000 instructions=10000000 branches=2000000 check=1"
FAKE
chmod +x "$sd/mpvm" "$sd/linux/guest-tool"
standin() {
	TMPDIR=$sd MPVM=$sd/mpvm MPVM_LINUX_GUEST=$sd/linux PMU_HW_KVM_DEV=$sd/kvm PMU_HW_CPU_PMU=$sd/cpu PMU_HW_ITERS=1000 \
		timeout 60 "$MPVM_SOURCE_DIR/scripts/pmu-hw-check.sh" 2>&1
}
out=$(standin)
status=$?
[ "$status" = 0 ] && pass "standin_all_pass: exit status 0" || fail "standin_all_pass: exit status $status" "$out"
for row in '^mediated +perf stat +cycles=5100000 instr=10000090 br=2000000 +instr \+0\.0% br \+0\.0% +PASS$' \
	'^legacy +perf stat +not offered by this host.* SKIP$' \
	'^soft +perf stat +cycles=n/a\(ENOENT\).* PASS$' \
	'^off +perf stat +cycles=n/a\(ENOENT\).*no PMU, as configured +PASS$' \
	'^mediated +filter +deny 0xc4: .*br=0 +branches 0, instr \+0\.0% +PASS$' \
	'^mediated +trap +9 MSR exits to mpvm; .* PASS$'; do
	grep -qE -- "$row" <<<"$out" && pass "standin_all_pass: table row /$row/" || fail "standin_all_pass: no row /$row/" "$out"
done
out=$(STANDIN_FILTER_BROKEN=1 standin)
status=$?
[ "$status" = 1 ] && pass "standin_denied_event_counts: exit status 1" || fail "standin_denied_event_counts: exit status $status" "$out"
grep -qE '^mediated +filter +deny 0xc4: .*br=2000000 .*denied event must read 0 +FAIL$' <<<"$out" &&
	pass "standin_denied_event_counts: the filter row fails" || fail "standin_denied_event_counts: no failing filter row" "$out"
[ "$fails" = 0 ] || exit 1
