#!/usr/bin/env bash
# scripts/pmu-hw-check.sh on a host that cannot run it (no hardware PMU or
# no hardware KVM, as the development machines): it must say "cannot run
# here" with each reason this test finds on its own, and exit 77, quickly
# and without building or booting anything. Needs no /dev/kvm. On a host
# that can run the check this test is skipped: run the script itself there.
set -uo pipefail
: "${MPVM:?MPVM must point at the mpvm binary}"
: "${MPVM_SOURCE_DIR:?MPVM_SOURCE_DIR must point at the source tree}"
fails=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/       /' <<<"$2"; fails=$((fails + 1)); }

backend=$("$MPVM" pmu probe --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvm"]["backend"] or "none")')
expect=()
[ -e /sys/bus/event_source/devices/cpu ] || expect+=("the host has no hardware PMU")
case $backend in kvm_intel | kvm_amd) ;; *) expect+=("KVM here is $backend, not kvm_intel or kvm_amd") ;; esac
[ -e /dev/kvm ] || expect+=("no /dev/kvm")
if [ ${#expect[@]} -eq 0 ]; then
	echo "SKIPPED $(basename "$0"): this host has a PMU and hardware KVM: run scripts/pmu-hw-check.sh"
	exit 77
fi

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
[ "$fails" = 0 ] || exit 1
