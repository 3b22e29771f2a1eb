# Helpers for the Linux-guest integration tests (sourced after lib.sh): the
# guest built by tests/linux/build.sh (Debian's kernel, a busybox initramfs
# with the scenarios of tests/linux/scenarios/), images, and checks on the
# "LTEST:" lines the scenarios print.
LINUX=${MPVM_LINUX_GUEST:-$MPVM_BUILD_DIR/linux}
for f in vmlinuz vmlinux initrd.cpio.gz; do
	[ -r "$LINUX/$f" ] || { echo "FAIL - $LINUX/$f missing: build the Linux guest (cmake --build $MPVM_BUILD_DIR --target linux-guest)"; exit 1; }
done
# pattern SEED N: the bytes `guest-tool pattern` writes in the guest;
# pattern_sha SEED N: their SHA-256; pattern_at FILE OFFSET SEED N: true iff
# FILE holds them at OFFSET.
pattern() { "$LINUX/guest-tool" pattern "$1" "$2"; }
pattern_sha() { pattern "$1" "$2" | sha256sum | cut -d' ' -f1; }
pattern_at() { cmp -s -i "$2:0" -n "$4" "$1" <(pattern "$3" "$4"); }
# The command line every Linux test starts from: mpvm's default plus quiet
# (each console byte is an exit; the lab is slow).
LINUX_CMDLINE="console=ttyS0 reboot=k panic=1 pci=off quiet"

# run_linux NAME TIMEOUT -- CMD...: run_cmd, with the console's CRs removed.
run_linux() {
	run_cmd "$@"
	OUT=${OUT//$'\r'/}
}

# expect_scenario NAME: the scenario reported no failure and reached its end.
expect_scenario() {
	local fails
	fails=$(grep -E '^LTEST: FAIL' <<<"$OUT")
	if [ -z "$fails" ] && grep -qE '^LTEST: end 0 failed' <<<"$OUT"; then
		pass "$1: the guest's checks all passed ($(grep -c '^LTEST: ok' <<<"$OUT") of them)"
	else
		fail "$1: the guest's checks failed or did not finish" "$(grep -E '^LTEST: (FAIL|end)' <<<"$OUT")
stdout tail: $(tail -n 15 <<<"$OUT")
stderr tail: $(tail -n 10 <<<"$ERR")"
	fi
}
# expect_ok NAME REGEX: the guest printed "LTEST: ok" + REGEX.
expect_ok() { expect_out "$1" "^LTEST: ok $2"; }
# info KEY: the value of the guest's "LTEST: info KEY VALUE..." line.
info() { sed -n "s/^LTEST: info $1 //p" <<<"$OUT" | head -n 1; }

# make_ext4 IMG SIZE DIR: an ext4 image holding DIR (no root needed).
make_ext4() { mke2fs -q -F -t ext4 -d "$3" "$1" "$2" >/dev/null; }

# Small Linux guests for lifecycle tests, and their helpers.
LINUX_BOOT=(--kernel "$LINUX/vmlinuz" --initrd "$LINUX/initrd.cpio.gz" --memory 128)
# api SOCK METHOD PATH [BODY]: prints the HTTP status.
api() { curl -s --max-time 60 --unix-socket "$1" -X "$2" "http://localhost$3" ${4:+-d "$4"} -o /dev/null -w '%{http_code}'; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s; false if it never succeeds.
wait_for() { local n=$(($1 * 10)); shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
# start_bg NAME ARGS...: mpvm in the background, stdin a FIFO we hold.
start_bg() {
	local name=$1
	shift
	mkfifo "$T_TMP/$name.in"
	exec {BG_IN}<>"$T_TMP/$name.in"
	"$MPVM" run "$@" <"$T_TMP/$name.in" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	BG_PID=$!
	T_PIDS+=("$BG_PID")
}
# bg_end NAME SECONDS: waits for the background mpvm; sets STATUS/OUT/ERR.
bg_end() {
	if wait_for "$2" eval '! kill -0 $BG_PID 2>/dev/null'; then
		wait "$BG_PID"
		STATUS=$?
	else
		kill -KILL "$BG_PID"
		STATUS=timeout
	fi
	OUT=$(tr -d '\r' <"$T_TMP/$1.out")
	ERR=$(cat "$T_TMP/$1.err")
	exec {BG_IN}>&-
}
has() { grep -q "$2" "$T_TMP/$1.out" 2>/dev/null; }
ticks() { grep -c '^LTEST: tick' "$T_TMP/$1.out" 2>/dev/null; }
# The tick numbers on stdin (a console: CRs dropped; the tty's echo of a
# line we send can land right after a number, "LTEST: tick 10stop").
tick_numbers() { tr -d '\r' | sed -n 's/^LTEST: tick \([0-9][0-9]*\).*/\1/p'; }

