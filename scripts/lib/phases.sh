# Phases of a long script, each timed: `phase NAME CMD...` runs CMD, prints a
# header and its wall time, and remembers the result; `phase_summary` prints
# the table; `phase_ok` exits 0 only when every phase passed. Sourced.
PHASE_NAMES=()
PHASE_TIMES=()
PHASE_RESULTS=()
PHASES_T0=$SECONDS

phase() {
	local name=$1 t0=$SECONDS rc
	shift
	echo
	echo "==== $name"
	"$@"
	rc=$?
	PHASE_NAMES+=("$name")
	PHASE_TIMES+=($((SECONDS - t0)))
	PHASE_RESULTS+=("$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")
	echo "==== $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED, status $rc") in $((SECONDS - t0)) s"
	return $rc
}

phase_summary() {
	local i
	echo
	echo "==== phases (wall time)"
	for i in "${!PHASE_NAMES[@]}"; do
		printf '  %-52s %6s s  %s\n' "${PHASE_NAMES[$i]}" "${PHASE_TIMES[$i]}" "${PHASE_RESULTS[$i]}"
	done
	printf '  %-52s %6s s\n' "total" $((SECONDS - PHASES_T0))
}

phase_ok() {
	local r
	for r in "${PHASE_RESULTS[@]}"; do
		[ "$r" = ok ] || { echo "FAILED: a phase failed (see above)"; exit 1; }
	done
	echo "all phases passed"
	exit 0
}
