# Shared helpers for integration tests: they run the real mpvm binary on the
# real /dev/kvm with the freestanding test guests, and assert on what a user
# sees (output, exit status). Sourced by test_*.sh.
set -uo pipefail

: "${MPVM:?MPVM must point at the mpvm binary}"
: "${GUESTS:?GUESTS must point at the built test guests}"

# Integration tests run the real mpvm on a real /dev/kvm: without one the
# test is skipped (77, CTest's SKIP_RETURN_CODE), never passed. A test that
# never starts a VM sets T_NEEDS_KVM=0 before sourcing this file (and
# tests/CMakeLists.txt then leaves it out of the `kvm` label).
skip() { echo "SKIPPED $(basename "$0"): $*"; exit 77; }
T_HAVE_KVM=0
[ -r /dev/kvm ] && [ -w /dev/kvm ] && T_HAVE_KVM=1
[ "$T_HAVE_KVM" = 1 ] || [ "${T_NEEDS_KVM:-1}" = 0 ] ||
	skip "no usable /dev/kvm (run the suite through scripts/kvm-lab.sh)"

T_FAILS=0
T_PASSES=0
T_TMP=$(mktemp -d /tmp/mpvm-test.XXXXXX)
T_PIDS=()

t_cleanup() {
	for p in "${T_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T_TMP"
}
trap t_cleanup EXIT

# netns_tap NAME TAP ADDR/LEN: a network namespace of the test's own, $ns
# (NAME-<pid>; deleted at exit; IPv6 off, so the host side sends nothing
# unasked), holding tap TAP, up at ADDR. Needs root and iproute2.
netns_tap() {
	ns="$1-$$"
	ip netns add "$ns" || { fail "ip netns add $ns"; finish; }
	trap 'ip netns del "$ns" 2>/dev/null; t_cleanup' EXIT
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
	ip -n "$ns" tuntap add dev "$2" mode tap
	ip -n "$ns" addr add "$3" dev "$2"
	ip -n "$ns" link set "$2" up
}

# CPU time a process has used so far, in clock ticks of 1/$clk s (0 once it is gone).
clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

pass() { T_PASSES=$((T_PASSES + 1)); echo "ok   - $1"; }
fail() { T_FAILS=$((T_FAILS + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/       /'; }

# run NAME TIMEOUT -- ARGS...: runs mpvm with ARGS (stdin from $T_STDIN if
# set, else /dev/null), bounded by TIMEOUT seconds; sets OUT (stdout), ERR
# (stderr) and STATUS.
run() {
	local name=$1 timeout=$2
	shift 3
	run_cmd "$name" "$timeout" -- "$MPVM" "$@"
}

# run_cmd NAME TIMEOUT -- CMD...: the same for any command (e.g. mpvm inside
# `ip netns exec`).
run_cmd() {
	local name=$1 timeout=$2
	shift 3
	local out="$T_TMP/$name.out" errf="$T_TMP/$name.err"
	timeout --kill-after=5 "$timeout" "$@" <"${T_STDIN:-/dev/null}" >"$out" 2>"$errf"
	STATUS=$?
	OUT=$(cat "$out")
	ERR=$(cat "$errf")
}

expect_status() { # name expected
	if [ "$STATUS" = "$2" ]; then pass "$1: exit status $2"; else
		fail "$1: exit status $STATUS, expected $2" "stdout: $OUT
stderr: $ERR"; fi
}

expect_out() { # name pattern (grep -E on stdout)
	if grep -qE -- "$2" <<<"$OUT"; then pass "$1: output has /$2/"; else
		fail "$1: output lacks /$2/" "stdout: $OUT
stderr: $ERR"; fi
}

expect_err() { # name pattern (grep -E on stderr)
	if grep -qE -- "$2" <<<"$ERR"; then pass "$1: stderr has /$2/"; else
		fail "$1: stderr lacks /$2/" "stderr: $ERR"; fi
}

# Ends the test script; the last line is the count CI reads.
finish() {
	echo "$T_PASSES passed, $T_FAILS failed"
	[ "$T_FAILS" -eq 0 ]
	exit $?
}
