# Helpers for the Linux test scenarios (sourced by /init). Each check prints
# one "LTEST: ok ..." or "LTEST: FAIL ..." line, which the host-side tests
# (tests/integration/test_linux_*.sh) match; "LTEST: end N failed" closes.
LTEST_FAILS=0
ok() { echo "LTEST: ok $*"; }
fail() { echo "LTEST: FAIL $*"; LTEST_FAILS=$((LTEST_FAILS + 1)); }
check() { # check WHAT CMD...: ok if CMD succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
# A value from the kernel command line: arg NAME (mpvm.NAME=VALUE).
arg() { sed -n "s/.*mpvm\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# end ACTION: poweroff | reboot | panic | hold (wait for a line on the console).
end() {
	echo "LTEST: end $LTEST_FAILS failed"
	sync
	case $1 in
	poweroff) poweroff -f ;;
	reboot) reboot -f ;;
	panic) echo c >/proc/sysrq-trigger ;;
	hold) read -r _ ; poweroff -f ;;
	esac
	sleep 10
}
# Mount the root drive the kernel command line names (root=...), as a real
# initramfs does: Debian's ext4 is a module, so the kernel cannot itself.
mount_root() {
	local dev mode
	dev=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)
	mode=rw
	grep -qw ro /proc/cmdline && mode=ro
	mkdir -p /root
	mount -t ext4 -o "$mode" "$dev" /root
}
