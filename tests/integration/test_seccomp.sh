#!/usr/bin/env bash
# The per-thread seccomp allow lists on a real VM: a forbidden syscall on
# any thread kind (vCPU, each virtio worker, the soft PMU's timer, the main
# thread) kills mpvm at once with one line naming the thread kind and the
# syscall; --no-seccomp runs without the filters. The forbidden syscall is
# made by mpvm-test (tests/integration/sandbox_test_hook.c), which is mpvm
# plus a hook that obeys MPVM_TEST_FORBIDDEN_SYSCALL=<kind>.
. "$(dirname "$0")/lib.sh"

: "${MPVM_TEST:?MPVM_TEST must point at the mpvm-test binary}"
ulimit -c 0 # death by SIGSYS dumps core by default; not here

disk="$T_TMP/disk.img"
truncate -s 8M "$disk"
BLK=(--kernel "$GUESTS/virtio_blk.elf" --exit-port --drive "id=rootdisk,path=$disk,root"
	--cmdline "serial=rootdisk seed=0x1234")
RNG=(--kernel "$GUESTS/virtio_rng.elf" --exit-port --entropy)

# forbidden KIND NAME ARGS...: mpvm-test run with ARGS dies of SIGSYS (128 +
# 31) and says which thread made which syscall.
forbidden() {
	local kind=$1 name=$2
	shift 2
	run_cmd "$name" 60 -- env MPVM_TEST_FORBIDDEN_SYSCALL="$kind" "$MPVM_TEST" run "$@"
	expect_status "$name" 159
	expect_err "$name" "^mpvm: seccomp: $kind thread made a forbidden syscall: execve \(59\); killing mpvm"
}

# The filters on, nothing forbidden: the guests run to their end.
run hello 60 -- run --kernel "$GUESTS/hello.elf" --exit-port
expect_status hello 1
expect_out hello "hello from mpvm test guest"
run_cmd rng-allowed 60 -- "$MPVM_TEST" run "${RNG[@]}"
expect_status rng-allowed 1

forbidden vcpu vcpu --kernel "$GUESTS/hello.elf" --exit-port
forbidden main main --kernel "$GUESTS/hello.elf" --exit-port
forbidden virtio-blk blk "${BLK[@]}"
forbidden virtio-rng rng "${RNG[@]}"

if "$MPVM" pmu probe --json 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["modes"]["soft"]["available"] else 1)' 2>/dev/null; then
	forbidden pmu-timer pmu-timer --kernel "$GUESTS/pmu.elf" --exit-port --pmu soft
else
	echo "note: no soft PMU on this host; the pmu-timer thread is checked by unit.test_sandbox only"
fi

if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
	ns="mpvm-seccomp-$$"
	ip netns add "$ns"
	ip -n "$ns" tuntap add dev mpvmtap0 mode tap
	ip -n "$ns" link set mpvmtap0 up
	run_cmd net 60 -- ip netns exec "$ns" env MPVM_TEST_FORBIDDEN_SYSCALL=virtio-net "$MPVM_TEST" run \
		--kernel "$GUESTS/virtio_net.elf" --exit-port --net "id=eth0,tap=mpvmtap0,mac=52:54:00:aa:bb:01"
	ip netns del "$ns"
	expect_status net 159
	expect_err net "^mpvm: seccomp: virtio-net thread made a forbidden syscall: execve \(59\)"
else
	echo "note: not root: the virtio-net thread is checked by unit.test_sandbox only"
fi

# --no-seccomp: no filter, so the hook's execve just fails and the guest runs.
run_cmd no-seccomp 60 -- env MPVM_TEST_FORBIDDEN_SYSCALL=vcpu "$MPVM_TEST" run --no-seccomp \
	--kernel "$GUESTS/hello.elf" --exit-port
expect_status no-seccomp 1
expect_out no-seccomp "hello from mpvm test guest"

finish
