# Helpers for the API integration tests (sourced after lib.sh): curl on
# mpvm's UNIX socket $SOCK, and mpvm run in the background.
command -v curl >/dev/null || skip "curl is not installed"

# api METHOD PATH [BODY|@FILE]: one request; sets CODE and BODY.
api() {
	local args=(-s --max-time 60 --unix-socket "$SOCK" -X "$1" -o "$T_TMP/body" -w '%{http_code}')
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	CODE=$(curl "${args[@]}" "http://localhost$2")
	BODY=$(cat "$T_TMP/body" 2>/dev/null)
}

# expect_api NAME CODE [PATTERN]: checks the last answer.
expect_api() {
	if [ "$CODE" = "$2" ] && { [ -z "${3:-}" ] || grep -qE -- "$3" <<<"$BODY"; }; then
		pass "$1: $2${3:+ /$3/}"
	else
		fail "$1: got $CODE, want $2${3:+ /$3/}" "body: $BODY"
	fi
}

# start_mpvm NAME ARGS...: mpvm run in the background (stdin from $T_STDIN if
# set, else /dev/null); waits (10 s) for $SOCK.
start_mpvm() {
	local name=$1
	shift
	# No `timeout` wrapper: signals in a test must reach mpvm itself.
	# Every wait is bounded and the EXIT trap kills what is left.
	"$MPVM" run "$@" <"${T_STDIN:-/dev/null}" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	MPID=$!
	T_PIDS+=("$MPID")
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && curl -s --max-time 2 --unix-socket "$SOCK" -o /dev/null http://localhost/ && return 0
		kill -0 "$MPID" 2>/dev/null || break
		sleep 0.1
	done
	fail "$name: API socket $SOCK not ready" "$(cat "$T_TMP/$name.err")"
	return 1
}
