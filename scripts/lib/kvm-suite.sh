# The tests that need /dev/kvm, placed where they can run: sourced by
# scripts/test.sh (one run) and scripts/lab-soak.sh (many runs, for the lab's
# flake rate), so that both run exactly the same thing.
#
#   kvm_suite BUILD[:LABEL]...   the KVM tests of these builds (a build's
#                                Linux tests only if in LINUX_BUILDS); uses `phase` (scripts/lib/phases.sh) and
#                                $TEST_TMP (a folder outside /tmp: in the lab
#                                /tmp is the lab's own); each lab failure
#                                adds a line to $TEST_TMP/lab-failures.
# Env: TEST_JOBS (ctest -j natively; a lab runs one test at a time, its
# CPUs sharing one host thread), LINUX_BUILDS (default "build").

# kvm_tests TAG GUEST SPEC... -- CTEST-ARGS: tests that need /dev/kvm,
# through scripts/kvm-lab.sh --guest GUEST (natively, or all of them in one
# lab boot); output lines start with "[TAG] " when TAG is not empty. If the
# lab itself fails (status 125: its kernel panicked or stalled; an emulation
# weakness, see README "The KVM lab"), the tests that had finished keep
# their result and the rest run in a new lab, up to MPVM_LAB_ATTEMPTS labs
# in all (default 5: one CI run saw the same lab stall twice); the test
# that was running when it failed runs again. Each lab failure is reported
# and counted in $TEST_TMP/lab-failures for the summary.
kvm_tests() {
	local tag=$1 guest=$2 log done attempt rc cpus=1 attempts=${MPVM_LAB_ATTEMPTS:-5}
	shift 2
	# In a lab, Linux guests want one lab CPU and freestanding ones two (see
	# scripts/kvm-lab.sh --cpus).
	[ "$guest" = any ] && cpus=2
	log=$(mktemp "$TEST_TMP/log.XXXXXX")
	done=$(mktemp "$TEST_TMP/done.XXXXXX")
	for attempt in $(seq "$attempts"); do
		scripts/kvm-lab.sh --guest "$guest" --cpus "${MPVM_LAB_CPUS:-$cpus}" -- scripts/lib/ctest-run.sh --skip-done "$done" --each "$@" 2>&1 |
			tee "$log" | if [ -n "$tag" ]; then sed -u "s/^/[$tag] /"; else cat; fi
		rc=${PIPESTATUS[0]}
		[ "$rc" -eq 125 ] || return "$rc"
		echo "$tag" >>"$TEST_TMP/lab-failures"
		# Which tests finished, per build, from the console we received.
		awk '/^== ctest in / { d = $4 }
		     match($0, /Test +#[0-9]+: [^ ]+ .*(Passed|Failed|Skipped|Timeout|Not Run)/) {
			split(substr($0, RSTART, RLENGTH), f, " "); print d, f[3] }' "$log" >>"$done"
		echo "${tag:+[$tag] }test: the lab failed under the tests (attempt $attempt of $attempts); $(wc -l <"$done") had finished; running the rest in a new lab" >&2
	done
	return 125
}

# two_labs GUEST-A SPECS-A -- ARGS-A --- GUEST-B SPECS-B -- ARGS-B: two kvm_tests runs side
# by side, each in its own lab (a lab's TCG runs on one host thread, see
# README "The KVM lab": two of them use both host cores). Fails if either
# failed.
two_labs() {
	local a=() b=() rc=0
	while [ "$1" != --- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	kvm_tests "lab 1" "${a[@]}" &
	local pa=$!
	kvm_tests "lab 2" "${b[@]}" &
	local pb=$!
	wait "$pa" || rc=1
	wait "$pb" || rc=1
	return $rc
}

# BUILD's Linux-guest tests as a ctest -R regex, every Nth of them from the
# Kth (0-based): how N labs share the Linux tests. Balanced by weight, not
# count: a test script may say "# lab-weight: W" (default 1; about its lab
# time over a typical Linux test's), and each test, heaviest first, goes to
# the lab with the least weight so far (ties in name order: the same split
# in every build).
share() { # K N BUILD
	local t w
	(cd "$3" && ctest -N -L linux) | sed -n 's/.*Test *#[0-9]*: \(.*\)$/\1/p' |
		while read -r t; do
			w=$(sed -n 's/^# lab-weight: \([0-9]*\).*/\1/p' "tests/integration/${t#integration.}.sh" 2>/dev/null)
			echo "${w:-1} $t"
		done | sort -k1,1nr -k2,2 |
		awk -v k="$1" -v n="$2" '{
			best = 0
			for (i = 1; i < n; i++) if (load[i] < load[best]) best = i
			load[best] += $1
			if (best == k) { t = $2; gsub(/\./, "\\.", t); printf "%s%s", sep, t; sep = "|" }
		}' | sed 's/^/^(/; s/$/)$/'
}

# Two kinds of KVM test. Those with freestanding guests run on any working
# /dev/kvm (natively even on a software KVM such as kvm_pvm), in every build:
# gcc, ASan+UBSan, and ThreadSanitizer for the threaded ones. Those that boot
# Debian's kernel (label linux) need hardware KVM, so on most CI runners they
# run in the lab, where everything is emulated 10-50x slower: they run in the
# builds LINUX_BUILDS names (scripts/test.sh: gcc and ASan+UBSan; the TSan
# build runs only the threaded unit tests, label tsan).
# In the lab the Linux tests are shared between two labs; with no
# usable /dev/kvm at all, one lab takes the freestanding tests and the other
# the Linux tests.
kvm_suite() {
	local free_specs=() linux_specs=() b free_where linux_where rc=0 j=${TEST_JOBS:-2}
	for b in "$@"; do
		case $b in *:*) free_specs+=("$b") ;; *) free_specs+=("$b:-linux") ;; esac
	done
	local lb=(${LINUX_BUILDS:-build})
	for b in "${lb[@]}"; do linux_specs+=("$b:linux"); done
	free_where=$(scripts/kvm-lab.sh --guest any --which)
	linux_where=$(scripts/kvm-lab.sh --guest linux --which)
	echo
	echo "KVM tests: freestanding guests (${free_specs[*]}): $free_where"
	echo "KVM tests: Linux guests (${linux_specs[*]}): $linux_where"
	if [ "${free_where%%:*}" = lab ]; then
		phase "KVM tests, all (two labs)" \
			two_labs any "${free_specs[@]}" -- -L kvm -j1 --- linux "${linux_specs[@]}" -- -L kvm -j1 || rc=1
	elif [ "${linux_where%%:*}" = lab ]; then
		phase "KVM tests, freestanding guests (native)" \
			kvm_tests "" any "${free_specs[@]}" -- -L kvm -j"$j" || rc=1
		# Every other Linux test to each lab (the same split in every build).
		phase "KVM tests, Linux guests (two labs)" \
			two_labs linux "${linux_specs[@]}" -- -L kvm -j1 -R "$(share 0 2 "${lb[0]}")" \
			--- linux "${linux_specs[@]}" -- -L kvm -j1 -R "$(share 1 2 "${lb[0]}")" || rc=1
	else
		phase "KVM tests, all (native)" \
			kvm_tests "" linux "${free_specs[@]}" "${linux_specs[@]}" -- -L kvm -j"$j" || rc=1
	fi
	return $rc
}
