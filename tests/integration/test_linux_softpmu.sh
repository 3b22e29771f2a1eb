#!/usr/bin/env bash
# Linux's perf counting through mpvm's soft PMU (issue 12): the guest loads
# mpvm_softpmu.ko (tests/linux/softpmu/), which programs and reads the soft
# counters by WRMSR/RDMSR (KVM's MSR filter hands them to mpvm; KVM gives
# RDPMC no userspace exit), and counts unhalted core cycles of a fixed
# workload with perf_event_open(). The count must grow while the workload
# runs and be of the size the soft PMU promises (the vCPU thread's CPU time
# at the TSC rate: at most the TSC ticks the workload took, and more than a
# twentieth of them). With --pmu off the driver must refuse to load.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"

boot=(--kernel "$LINUX/vmlinuz" --initrd "$LINUX/initrd.cpio.gz" --memory 128)

run_linux soft 300 -- "$MPVM" run "${boot[@]}" --pmu soft --log-level Info \
	--cmdline "$LINUX_CMDLINE mpvm.test=softpmu"
expect_status soft 0
expect_out soft "^LTEST: info softpmu loaded$"
expect_out soft "^LTEST: info sources .*mpvm_soft"
line=$(grep -m1 '^LTEST: info softperf ' <<<"$OUT")
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
half=$(field cycles_half)
cycles=$(field cycles)
tsc=$(field tsc)
if [ -n "$cycles" ] && [ -n "$half" ] && [ -n "$tsc" ] && [ "$half" -gt 0 ] && [ "$cycles" -gt "$half" ]; then
	pass "soft: Linux's perf counts cycles through mpvm_soft, and they grow ($half, then $cycles)"
else
	fail "soft: no growing cycle count through mpvm_soft" "$line"
fi
if [ -n "$cycles" ] && [ -n "$tsc" ] && [ "$cycles" -le $((tsc + tsc / 10)) ] && [ "$cycles" -gt $((tsc / 20)) ]; then
	pass "soft: $cycles cycles for $tsc TSC ticks: the vCPU's CPU time at the TSC rate"
else
	fail "soft: $cycles cycles for $tsc TSC ticks is out of range (tsc/20 .. tsc*1.1)" "$line"
fi
# mpvm saw the driver's MSR accesses: its PMU summary counts them.
expect_err soft "PMU summary: mode soft .*0x186:r[0-9]+w[1-9]"

run_linux off 300 -- "$MPVM" run "${boot[@]}" --pmu off --cmdline "$LINUX_CMDLINE mpvm.test=softpmu"
expect_status off 0
expect_out off "^LTEST: info softpmu not-loaded"
expect_out off "^LTEST: info softpmu-dmesg mpvm_softpmu: no soft PMU"
expect_out off "^LTEST: info softperf pmu=none$"
finish
