#!/usr/bin/env bash
# kvm-lab.sh: run a command with a real /dev/kvm, on any x86_64 Linux machine.
#
#   scripts/kvm-lab.sh [options] -- CMD [ARG...]
#   scripts/kvm-lab.sh --which          print "native" or "lab" and why
#
# Where the host has hardware KVM (kvm_intel or kvm_amd loaded, /dev/kvm
# usable) CMD runs natively. With --guest any, so does it on any /dev/kvm
# that creates a VM (e.g. kvm_pvm, a software KVM backend): enough for
# mpvm's freestanding test guests, not for a stock Linux kernel. Otherwise it
# runs inside the lab: Debian's stock
# kernel under QEMU TCG with an emulated AMD CPU that has SVM, where kvm-amd
# gives a real /dev/kvm (KVM's own nested-SVM code path, emulated by QEMU).
# The lab sees the host's files over 9p (chroot into /), so CMD runs in the
# same working directory with the same environment; /tmp, /run and /dev/shm
# are the lab's own tmpfs (9p cannot hold UNIX sockets), so the working
# directory must not be under them.
#
# Options (and the environment variables that set the same):
#   --mode auto|native|lab  MPVM_LAB_MODE   (auto: native iff hardware KVM)
#   --guest linux|any       what CMD's guests need (linux): `any` runs
#                           natively on any working /dev/kvm
#   --timeout SECS          MPVM_LAB_TIMEOUT (3600) bound on CMD's run
#   --mem MIB               MPVM_LAB_MEM     (6144, at most 2/5 of the host's,
#                           so that two labs fit side by side)
#   --cpus N                MPVM_LAB_CPUS    (1) lab CPUs: one suits Linux
#                           guests, freestanding ones need two (a PMI-storm
#                           guest stalled a one-CPU lab's kernel; a Linux
#                           guest crawled in a two-CPU one; docs/kvm-lab.md)
#   --stall SECS            MPVM_LAB_STALL   (240) no heartbeat from the
#                           lab's kernel for this long: the lab is stalled
#   --tcg multi|single      MPVM_LAB_TCG    QEMU's TCG threading: multi (QEMU's
#                           default) for one lab CPU, single (all lab CPUs
#                           on one host thread) for more: under multi, two
#                           lab CPUs crashed the lab's kernel (docs/kvm-lab.md)
#   --quiet                 no progress lines from kvm-lab itself
#   MPVM_LAB_APPEND         extra lab kernel parameters (experiments, e.g.
#                           mpvm_lab.nohold: see scripts/lab/kvm-hold.c)
#
# Exit status: CMD's own; 124 when the timeout ended it; 125 when the lab
# itself failed (did not boot, stalled, QEMU died): "kvm-lab:" on stderr says
# which. In the lab CMD's stdout and stderr arrive merged on stdout, live,
# and its stdin is /dev/null. QEMU is stopped on timeout, SIGINT and SIGTERM
# and nothing is left behind but what CMD itself wrote.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/debian-kernel.sh"

mode=${MPVM_LAB_MODE:-auto}
timeout=${MPVM_LAB_TIMEOUT:-3600}
mem=${MPVM_LAB_MEM:-}
cpus=${MPVM_LAB_CPUS:-1}
stall=${MPVM_LAB_STALL:-240}
tcg_threads=${MPVM_LAB_TCG:-}
quiet=0
which_only=0
guest=linux
BOOT_TIMEOUT=120

usage() { sed -n '2,30s/^# \{0,1\}//p' "$0" >&2; exit 2; }
say() { [ "$quiet" = 1 ] || echo "kvm-lab: $*" >&2; }
lab_fail() { echo "kvm-lab: $*" >&2; exit 125; }

while [ $# -gt 0 ]; do
	case $1 in
	--mode) mode=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--stall) stall=$2; shift 2 ;;
	--tcg) tcg_threads=$2; shift 2 ;;
	--guest) guest=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	--which) which_only=1; shift ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) echo "kvm-lab: unknown option $1" >&2; usage ;;
	esac
done
[ "$which_only" = 1 ] || [ $# -gt 0 ] || usage
case $mode in auto | native | lab) ;; *) echo "kvm-lab: --mode is auto, native or lab" >&2; exit 2 ;; esac
case $guest in linux | any) ;; *) echo "kvm-lab: --guest is linux or any" >&2; exit 2 ;; esac
if [ -z "$tcg_threads" ]; then
	if [ "$cpus" = 1 ]; then tcg_threads=multi; else tcg_threads=single; fi
fi

# native_kvm: is /dev/kvm here a hardware KVM? Sets WHY either way (and
# KVM_MODS, the kvm modules loaded, when it is not). A /dev/kvm
# without kvm_intel/kvm_amd (e.g. kvm_pvm, software virtualization without
# VMX/SVM) runs small freestanding guests but not a stock Linux kernel
# (measured: no output in 120 s), so the suite cannot rely on it.
native_kvm() {
	if [ ! -e /dev/kvm ]; then WHY="no /dev/kvm on this host"; return 1; fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then WHY="/dev/kvm is not readable and writable by $(id -un)"; return 1; fi
	if [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
		WHY="/dev/kvm is hardware KVM ($(ls -d /sys/module/kvm_intel /sys/module/kvm_amd 2>/dev/null | xargs -n1 basename | tr '\n' ' ')loaded)"
		return 0
	fi
	KVM_MODS=$(ls -d /sys/module/kvm_* 2>/dev/null | xargs -rn1 basename | tr '\n' ' ')
	WHY="/dev/kvm here is not hardware KVM (no kvm_intel/kvm_amd; modules: ${KVM_MODS:-none}; cpu flags vmx/svm: $(grep -cwE 'vmx|svm' /proc/cpuinfo)): it cannot boot stock Linux guests"
	return 1
}

# working_kvm: does /dev/kvm here create a VM (KVM_GET_API_VERSION is 12,
# KVM_CREATE_VM succeeds)? Any backend will do: for --guest any.
working_kvm() {
	python3 - <<'PY' 2>/dev/null
import fcntl, os, sys
fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
if fcntl.ioctl(fd, 0xAE00) != 12:   # KVM_GET_API_VERSION
    sys.exit(1)
os.close(fcntl.ioctl(fd, 0xAE01, 0))  # KVM_CREATE_VM
PY
}

pick_auto() {
	if native_kvm; then where=native; return; fi
	if [ "$guest" = any ] && [ -e /dev/kvm ] && working_kvm; then
		where=native
		WHY="/dev/kvm here works but is not hardware KVM (modules: $KVM_MODS): enough for freestanding guests (--guest any)"
		return
	fi
	where=lab
}

case $mode in
native) where=native; native_kvm || true; WHY="forced by --mode native ($WHY)" ;;
lab) where=lab; native_kvm || true; WHY="forced by --mode lab ($WHY)" ;;
auto) pick_auto ;;
esac
if [ "$which_only" = 1 ]; then echo "$where: $WHY"; exit 0; fi

if [ "$where" = native ]; then
	say "running natively: $WHY"
	exec timeout --kill-after=10 "$timeout" "$@"
fi

# ---- the lab ----------------------------------------------------------------
say "running in the KVM lab: $WHY"
command -v qemu-system-x86_64 >/dev/null || lab_fail "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
cwd=$(pwd -P)
case $cwd/ in
/tmp/* | /run/* | /dev/* | /proc/* | /sys/*)
	echo "kvm-lab: the working directory $cwd is under a folder the lab replaces with its own; run from elsewhere" >&2
	exit 2 ;;
esac
if [ -z "$mem" ]; then
	host_mib=$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
	mem=$((host_mib * 2 / 5 < 6144 ? host_mib * 2 / 5 : 6144))
fi

image=$("$HERE/lab/image.sh") || lab_fail "could not build the lab image"
jobs_root=$(mpvm_cache_dir)/lab/jobs
mkdir -p "$jobs_root"
job=$(mktemp -d "$jobs_root/job.XXXXXX")
case $job/ in /tmp/* | /run/*) lab_fail "the cache $job is under /tmp or /run; set MPVM_CACHE elsewhere" ;; esac

# The job: the caller's environment (less what describes this shell), its
# working directory, the command word for word.
export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_|TERM|TMUX[A-Z_]*|SSH_[A-Z_]*)=' >"$job/env.sh"
{
	echo ". $(printf '%q' "$job/env.sh")"
	echo "cd $(printf '%q' "$cwd") || exit 125"
	printf 'exec'
	printf ' %q' "$@"
	echo
} >"$job/job.sh"

qpid=
stop_qemu() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	qpid=
}
cleanup() {
	stop_qemu
	rm -rf "$job"
}
trap cleanup EXIT
trap 'echo "kvm-lab: interrupted, stopping the lab" >&2; exit 130' INT
trap 'echo "kvm-lab: terminated, stopping the lab" >&2; exit 143' TERM

# quiet + loglevel 4: only the lab kernel's warnings (soft lockups, panics)
# reach the console among CMD's output. panic=-1 with -no-reboot makes a lab
# panic end QEMU at once. nokaslr keeps the kernel's addresses stable, so a
# stall diagnosis reads the same as the last one. tsc=reliable: TCG's TSC is
# the host's, but the lab kernel's synchronisation check fails under
# emulation and falls back to the HPET, which makes the vCPU threads' CPU time
# coarse (the soft PMU counts it) and kvm-clock unstable for nested guests;
# real hosts have a stable TSC. mitigations=off: the lab is a test machine,
# not a security boundary, and TCG emulates each barrier, return thunk and
# IBPB at great cost (measured: the KVM suite 1.3x faster without them).
append="console=ttyS0 quiet loglevel=4 panic=-1 nokaslr tsc=reliable mitigations=off mpvm_lab.job=$job${MPVM_LAB_APPEND:+ $MPVM_LAB_APPEND}"

# lab_run: boots the lab and runs the job. Returns 0 when the job ended (its
# status is in $job/status), 3 when the lab did not come up (nothing of the
# job ran: worth one more try); exits itself on timeout and stall.
lab_run() {
	rm -f "$job/ready" "$job/heartbeat" "$job/status" "$job/console.log" "$job/kallsyms"
	qemu-system-x86_64 -accel tcg,thread="$tcg_threads" -cpu EPYC,+svm -M q35 -m "$mem" -smp "$cpus" \
		-nodefaults -display none -no-reboot \
		-monitor unix:"$job/monitor.sock",server=on,wait=off \
		-chardev stdio,id=con,signal=off,logfile="$job/console.log" -serial chardev:con \
		-kernel "$image/vmlinuz" -initrd "$image/initrd.gz" -append "$append" \
		-virtfs local,path=/,mount_tag=host,security_model=passthrough,id=host0,multidevs=remap \
		-virtfs local,path="$job",mount_tag=job,security_model=passthrough,id=job0 \
		-device virtio-rng-pci </dev/null \
		2> >(grep -v -E '^qemu-system-x86_64: warning: TCG doesn.t support requested feature' >&2) &
	qpid=$!
	local start=$SECONDS elapsed ready_at= age
	while kill -0 "$qpid" 2>/dev/null; do
		sleep 0.5 &
		wait $! 2>/dev/null
		elapsed=$((SECONDS - start))
		if [ -z "$ready_at" ]; then
			if [ -f "$job/ready" ]; then
				ready_at=$elapsed
				say "lab up with /dev/kvm after ${ready_at}s"
			elif [ "$elapsed" -gt "$BOOT_TIMEOUT" ]; then
				echo "kvm-lab: the lab is not up after ${elapsed}s; where its CPUs are:" >&2
				timeout 20 python3 "$HERE/lab/diagnose.py" "$job/monitor.sock" || true
				stop_qemu
				return 3
			fi
			continue
		fi
		if [ $((elapsed - ready_at)) -gt "$timeout" ]; then
			echo "kvm-lab: timeout: the command ran over ${timeout}s; stopping the lab" >&2
			exit 124
		fi
		if [ -f "$job/heartbeat" ]; then
			age=$(($(date +%s) - $(stat -c %Y "$job/heartbeat" 2>/dev/null || date +%s)))
			if [ "$age" -gt "$stall" ]; then
				echo "kvm-lab: the lab's heartbeat stopped ${age}s ago; where its CPUs are:" >&2
				timeout 20 python3 "$HERE/lab/diagnose.py" "$job/monitor.sock" "$job/kallsyms" || true
				lab_fail "the lab stalled: its kernel has not run the heartbeat task for ${age}s (bound ${stall}s): lab failure, not a test result"
			fi
		fi
	done
	wait "$qpid"
	local qemu_rc=$?
	qpid=
	if [ ! -f "$job/ready" ]; then
		echo "kvm-lab: the lab ended before /dev/kvm was up (QEMU status $qemu_rc); its console ended:" >&2
		tail -n 20 "$job/console.log" 2>/dev/null | sed 's/^/  | /' >&2
		return 3
	fi
	[ -f "$job/status" ] || lab_fail "the lab ended without the command's status (QEMU status $qemu_rc; a lab kernel panic?): lab failure, not a test result"
	say "lab done in $((SECONDS - start))s, command status $(cat "$job/status")"
	return 0
}

say "lab: ${cpus} CPUs (TCG ${tcg_threads}-threaded), ${mem} MiB, kernel $(basename "$(readlink -f "$image/vmlinuz")") from $image"
for attempt in 1 2; do
	lab_run && exit "$(cat "$job/status")"
	[ "$attempt" = 2 ] || echo "kvm-lab: the lab did not come up (attempt $attempt of 2); booting it again" >&2
done
lab_fail "the lab did not boot twice in a row (no /dev/kvm reported): lab failure, not a test result"
