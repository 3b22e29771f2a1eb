#!/usr/bin/env bash
# ctest-run.sh BUILD_DIR [CTEST ARGS...]
# ctest-run.sh --each BUILD_DIR... -- [CTEST ARGS...]
# Runs ctest in each build folder with the given arguments and writes the
# names of the tests it skipped (SKIP_RETURN_CODE 77: a precondition such as
# /dev/kvm, root or a tool was missing) to BUILD_DIR/Testing/skipped.txt, so
# that scripts/test.sh can refuse a run with skips. Status: non-zero if any
# ctest run failed.
set -uo pipefail
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
for d in "${dirs[@]}"; do
	mkdir -p "$d/Testing"
	log=$d/Testing/ctest-$$.log
	echo "== ctest in $d $*"
	(cd "$d" && ctest --output-on-failure --timeout 600 "$@") 2>&1 | tee "$log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
	# "  3/40 Test #12: unit.test_kvm ......***Skipped   0.01 sec"
	sed -n 's/.*Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p' "$log" | sed "s|^|$d: |" >>"$d/Testing/skipped.txt"
	rm -f "$log"
done
exit $rc
