#!/usr/bin/env bash
# Check mpvm's PMU claims on real hardware, in one command:
#   scripts/pmu-hw-check.sh
# On a host with a hardware PMU and hardware KVM (kvm_intel or kvm_amd) it
#  1. runs `mpvm pmu probe`;
#  2. builds mpvm and the Linux test guest (tests/linux/build.sh) if needed;
#  3. counts cycles, instructions and branches of a fixed user-mode workload
#     on the host (guest-tool perfstat: the perf_event_open() calls of
#     `perf stat -e cycles:u,instructions:u,branches:u`);
#  4. boots the guest in each mode the probe offers (mediated, legacy, soft,
#     off) and counts the same workload inside (scenario perfstat: `perf
#     stat` if the guest has perf, else guest-tool perfstat, and it says so);
#  5. in the best in-kernel mode, boots once with a deny filter on the branch
#     event (it must read 0) and once with --pmu-trap-event-selects (mpvm
#     must see the event selects, and the counts must not change);
#  6. prints one verdict table.
# Elsewhere it prints "pmu-hw-check: cannot run here: <reasons>" and exits 77.
#
# Exit status: 0 every check passed; 1 a check failed (or a build failed);
# 77 cannot run here; 64 bad usage.
# Environment: MPVM (an mpvm binary; default: build it into $BUILD_DIR),
# BUILD_DIR (default build), MPVM_LINUX_GUEST (a built guest directory,
# used as it is; default: build one into $BUILD_DIR/linux),
# PMU_HW_ITERS (workload loop iterations, default 20000000),
# PMU_HW_TOLERANCE_PCT (guest vs host instructions/branches, default 2).
# For tests of this script against a stand-in only: PMU_HW_KVM_DEV (default
# /dev/kvm) and PMU_HW_CPU_PMU (default /sys/bus/event_source/devices/cpu).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
ITERS=${PMU_HW_ITERS:-20000000}
TOL=${PMU_HW_TOLERANCE_PCT:-2}
ME=pmu-hw-check
KVM_DEV=${PMU_HW_KVM_DEV:-/dev/kvm}
CPU_PMU=${PMU_HW_CPU_PMU:-/sys/bus/event_source/devices/cpu}

if [ $# -gt 0 ]; then
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	[ "$1" = -h ] || [ "$1" = --help ] && exit 0
	exit 64
fi

MPVM=${MPVM:-}
if [ -z "$MPVM" ]; then
	(cd "$ROOT" && BUILD_DIR=$BUILD_DIR scripts/build.sh) >/dev/null ||
		{ echo "$ME: building mpvm failed (BUILD_DIR=$BUILD_DIR scripts/build.sh)"; exit 1; }
	MPVM=$BUILD_DIR/mpvm
fi
command -v python3 >/dev/null || { echo "$ME: python3 is needed to read mpvm's JSON"; exit 1; }

# ---- can this host run the check? Every reason, on one line ----
probe=$("$MPVM" pmu probe --json 2>/dev/null) || probe='{}'
# backend vendor mediated legacy soft off, then the probe's legacy reasons
read -r backend vendor av_mediated av_legacy av_soft av_off kvm_why < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1] or "{}")
m = d.get("modes", {})
av = lambda k: "1" if m.get(k, {}).get("available") else "0"
why = "; ".join(r["why"] for r in m.get("legacy", {}).get("reasons", []))
print(d.get("kvm", {}).get("backend") or "none", d.get("cpu", {}).get("vendor", "other"),
      av("mediated"), av("legacy"), av("soft"), av("off"), why or "-")' "$probe")
why=()
if [ ! -e "$KVM_DEV" ]; then
	why+=("no $KVM_DEV")
elif [ ! -r "$KVM_DEV" ] || [ ! -w "$KVM_DEV" ]; then
	why+=("$KVM_DEV is not usable by $(id -un)")
fi
[ -e "$CPU_PMU" ] ||
	why+=("the host has no hardware PMU (perf has no \"cpu\" event source in /sys/bus/event_source/devices)")
case $backend in
kvm_intel | kvm_amd)
	[ "$av_mediated$av_legacy" != 00 ] || why+=("KVM offers no in-kernel vPMU: $kvm_why") ;;
*)
	why+=("KVM here is $backend, not kvm_intel or kvm_amd: no hardware KVM, so no in-kernel vPMU to check and no Linux test guest to boot") ;;
esac
if [ ${#why[@]} -gt 0 ]; then
	msg=$(printf '%s; ' "${why[@]}")
	echo "$ME: cannot run here: ${msg%; }"
	exit 77
fi

"$MPVM" pmu probe
if [ -n "${MPVM_LINUX_GUEST:-}" ]; then
	LINUX=$MPVM_LINUX_GUEST
else
	LINUX=$BUILD_DIR/linux
	"$ROOT/tests/linux/build.sh" "$LINUX" || { echo "$ME: building the Linux test guest failed"; exit 1; }
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pmu-hw-check.XXXXXX") # kept: the guests' consoles and mpvm's logs

# The branch event Linux uses for PERF_COUNT_HW_BRANCH_INSTRUCTIONS.
branch_event=c4
[ "$vendor" = amd ] && branch_event=c2

# field LINE NAME: the value of NAME=... in a perfstat line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
# pct A B: 100 * (A - B) / B, one decimal; "?" unless both are numbers.
pct() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $2 != 0 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", 100 * (a - b) / b }' || echo "?"; }
# near A B: |A - B| <= TOL% of B.
near() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] && awk -v a="$1" -v b="$2" -v t="$TOL" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d * 100 <= t * b) }'; }

host=$("$LINUX/guest-tool" perfstat "$ITERS")
h_cyc=$(field "$host" cycles) h_ins=$(field "$host" instructions) h_br=$(field "$host" branches)
echo "host: $host"

ROWS=()
FAILS=0
row() { # row MODE CHECK GUEST COMPARED VERDICT
	ROWS+=("$(printf '%-9s %-10s %-58s %-24s %s' "$@")")
	[ "$5" = FAIL ] && FAILS=$((FAILS + 1))
	return 0
}
# boot NAME MODE [mpvm flags]: the guest's perfstat line in GUEST (empty if
# none), mpvm's status in STATUS and its log in $TMP/NAME.err.
boot() {
	local name=$1 mode=$2
	shift 2
	timeout --kill-after=5 300 "$MPVM" run --kernel "$LINUX/vmlinuz" --initrd "$LINUX/initrd.cpio.gz" \
		--memory 256 --pmu "$mode" --log-level Info "$@" \
		--cmdline "console=ttyS0 reboot=k panic=1 pci=off quiet mpvm.test=perfstat mpvm.iters=$ITERS" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	STATUS=$?
	tr -d '\r' <"$TMP/$name.out" >"$TMP/$name.log"
	GUEST=$(sed -n 's/^LTEST: info perfstat /perfstat /p' "$TMP/$name.log" | head -n 1)
	PERF_BIN=$(sed -n 's/^LTEST: info perf-binary //p' "$TMP/$name.log" | head -n 1)
	echo "$name (--pmu $mode $*): status $STATUS; ${GUEST:-no perfstat line}; perf binary: ${PERF_BIN:-?}"
}
counts() { echo "cycles=$(field "$1" cycles) instr=$(field "$1" instructions) br=$(field "$1" branches)"; }

declare -A AVAILABLE=([mediated]=$av_mediated [legacy]=$av_legacy [soft]=$av_soft [off]=$av_off)
best=
for mode in mediated legacy soft off; do
	if [ "${AVAILABLE[$mode]}" != 1 ]; then
		row "$mode" "perf stat" "not offered by this host (mpvm pmu probe says why)" "" SKIP
		continue
	fi
	boot "$mode" "$mode"
	g_ins=$(field "$GUEST" instructions) g_br=$(field "$GUEST" branches) g_cyc=$(field "$GUEST" cycles)
	cmp="instr $(pct "$g_ins" "$h_ins")% br $(pct "$g_br" "$h_br")%"
	case $mode in
	mediated | legacy)
		[ -z "$best" ] && best=$mode
		if [ "$STATUS" = 0 ] && near "$g_ins" "$h_ins" && near "$g_br" "$h_br" && [[ $g_cyc =~ ^[0-9]+$ ]]; then
			row "$mode" "perf stat" "$(counts "$GUEST")" "$cmp" PASS
		else
			row "$mode" "perf stat" "$(counts "$GUEST") status $STATUS" "$cmp (tol $TOL%)" FAIL
		fi ;;
	soft)
		# README "Linux on the soft PMU": Linux's perf cannot count on it
		# (it reads counters with RDPMC, which #GPs without a vPMU).
		if [[ $g_ins =~ ^[0-9]+$ || $g_cyc =~ ^[0-9]+$ ]]; then
			row soft "perf stat" "$(counts "$GUEST")" "README says it cannot" FAIL
		elif grep -qiE "general protection|rdpmc" "$TMP/soft.log"; then
			row soft "perf stat" "guest kernel fault on RDPMC, status $STATUS" "as README says" PASS
		else
			row soft "perf stat" "${GUEST:+$(counts "$GUEST") }status $STATUS" "no count, as README says" PASS
		fi ;;
	off)
		if [ "$STATUS" = 0 ] && [[ ! $g_cyc =~ ^[0-9]+$ ]] && [ -n "$GUEST" ]; then
			row off "perf stat" "$(counts "$GUEST")" "no PMU, as configured" PASS
		else
			row off "perf stat" "${GUEST:-no perfstat line} status $STATUS" "expected no PMU" FAIL
		fi ;;
	esac
done

if [ -n "$best" ]; then
	boot filter "$best" --pmu-filter-deny "$branch_event"
	g_br=$(field "$GUEST" branches) g_ins=$(field "$GUEST" instructions)
	if [ "$STATUS" = 0 ] && [ "$g_br" = 0 ] && near "$g_ins" "$h_ins"; then
		row "$best" "filter" "deny 0x$branch_event: $(counts "$GUEST")" "branches 0, instr $(pct "$g_ins" "$h_ins")%" PASS
	else
		row "$best" "filter" "deny 0x$branch_event: $(counts "$GUEST") status $STATUS" "denied event must read 0" FAIL
	fi

	boot trap "$best" --pmu-trap-event-selects
	g_br=$(field "$GUEST" branches) g_ins=$(field "$GUEST" instructions)
	summary=$(sed -n 's/.*PMU summary: //p' "$TMP/trap.err" | head -n 1)
	exits=$(sed -n 's/.*; \([0-9]*\) PMU MSR exits to mpvm.*/\1/p' <<<"$summary")
	programmed=$(sed -n 's/.*events programmed: //p' <<<"$summary")
	if [ "$STATUS" = 0 ] && [ "${exits:-0}" -gt 0 ] && [ -n "$programmed" ] && [ "$programmed" != none ] &&
		near "$g_ins" "$h_ins" && near "$g_br" "$h_br"; then
		row "$best" "trap" "$exits MSR exits to mpvm; $(counts "$GUEST")" "counts unchanged" PASS
	else
		row "$best" "trap" "exits ${exits:-?}, programmed ${programmed:-?}; status $STATUS" "mpvm must see the selects" FAIL
	fi
fi

echo
echo "host: cycles=$h_cyc instructions=$h_ins branches=$h_br ($ITERS iterations, user mode)"
printf '%-9s %-10s %-58s %-24s %s\n' mode check "guest (user mode)" "vs host" verdict
printf '%s\n' "${ROWS[@]}"
echo "logs (guest consoles *.log, mpvm *.err): $TMP"
[ "$FAILS" = 0 ] && { echo "$ME: all checks passed"; exit 0; }
echo "$ME: $FAILS check(s) failed"
exit 1
