#!/usr/bin/env bash
# ctest-run.sh [--skip-done FILE] BUILD_DIR [CTEST ARGS...]
# ctest-run.sh [--skip-done FILE] --each BUILD_DIR[:LABEL|:-LABEL]... -- [CTEST ARGS...]
# Runs ctest in each build folder with the given arguments and appends the
# names of the tests it skipped (SKIP_RETURN_CODE 77: a precondition such as
# /dev/kvm, root or a tool was missing) to BUILD_DIR/Testing/skipped.txt, so
# that scripts/test.sh can refuse a run with skips. BUILD_DIR:LABEL also
# narrows that folder's run to tests carrying LABEL (e.g. build-tsan:tsan
# runs only the ThreadSanitizer tests there), BUILD_DIR:-LABEL to tests
# without it (build-asan:-linux); several may follow one another. --skip-done FILE leaves
# out the tests FILE lists as "BUILD_DIR TEST" lines (tests a lab that failed
# under them had already finished: see scripts/test.sh). Prints "== ctest in
# BUILD_DIR" before each run, which is how test.sh tells the runs apart.
# Status: non-zero if any ctest run failed.
set -uo pipefail
done_file=
if [ "${1:-}" = --skip-done ]; then done_file=$2; shift 2; fi
dirs=()
if [ "${1:-}" = --each ]; then
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do dirs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
else
	dirs=("$1")
	shift
fi
rc=0
for spec in "${dirs[@]}"; do
	d=${spec%%:*}
	narrow=()
	rest=${spec#"$d"}
	while [ -n "$rest" ]; do
		rest=${rest#:}
		item=${rest%%:*}
		rest=${rest#"$item"}
		case $item in -*) narrow+=(-LE "${item#-}") ;; ?*) narrow+=(-L "$item") ;; esac
	done
	mkdir -p "$d/Testing"
	exclude=()
	if [ -n "$done_file" ] && [ -s "$done_file" ]; then
		names=$(awk -v d="$d" '$1 == d { printf "%s%s", sep, $2; sep = "|" }' "$done_file" | sed 's/\./\\./g')
		[ -n "$names" ] && exclude=(-E "^($names)\$")
	fi
	# Not ctest-$$: two labs side by side can give their shells the same PID.
	log=$(mktemp "$d/Testing/ctest.XXXXXX")
	echo "== ctest in $d $* ${narrow[*]} ${exclude[*]}"
	(cd "$d" && ctest --output-on-failure --timeout 600 "$@" "${narrow[@]}" "${exclude[@]}") 2>&1 | tee "$log"
	st=${PIPESTATUS[0]}
	# ctest says "No tests were found" (status 0 or 8) when all are excluded.
	[ "$st" -eq 0 ] || grep -q "No tests were found" "$log" || rc=1
	# "  3/40 Test #12: unit.test_kvm ......***Skipped   0.01 sec"
	sed -n 's/.*Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p' "$log" | sed "s|^|$d: |" >>"$d/Testing/skipped.txt"
	rm -f "$log"
done
exit $rc
