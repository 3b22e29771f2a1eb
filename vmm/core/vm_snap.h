/* The KVM state of a VM and its vCPUs in a snapshot (issue 14; sections
 * "VCPU", "CLCK", "IRQC", "PIT2" of docs/snapshot.md).
 *
 * Contract. vm_snap_save() runs while every vCPU is parked (vm_pause();
 * a parked vCPU has completed its last exit, vcpu.c) and writes one "VCPU"
 * section per vCPU (MP state, registers, special registers, XSAVE or FPU,
 * XCRs, debug registers, LAPIC, the MSRs the vCPU accepts from
 * KVM_GET_MSR_INDEX_LIST except the PMU's (pmu/ saves those), pending
 * events, TSC frequency) and the VM's sections (KVM clock, PIC master and
 * slave and IOAPIC, PIT). It reports in *caps the host capabilities the
 * state needs (VM_SNAP_CAP_*), which the file header carries.
 * vm_snap_restore() runs on a VM created with params.restore and its vCPUs
 * set up (CPUID set), before the first KVM_RUN; it sets the state in the
 * order KVM needs (after Firecracker's vstate: MP state, regs, sregs,
 * XSAVE, XCRs, debug regs, LAPIC, MSRs, events; then PIT, clock, irqchip).
 * Every section is bounds-checked (base/snap.h); KVM checks the values
 * themselves and a refusal is an error naming the vCPU and the ioctl.
 */
#ifndef MPVM_VM_SNAP_H
#define MPVM_VM_SNAP_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct snap_w;

/* Host capabilities a snapshot's state needs (bits of the header's caps). */
enum {
	VM_SNAP_CAP_XSAVE = 1u << 0,       /* KVM_CAP_XSAVE (else FPU state) */
	VM_SNAP_CAP_XCRS = 1u << 1,        /* KVM_CAP_XCRS */
	VM_SNAP_CAP_DEBUGREGS = 1u << 2,   /* KVM_CAP_DEBUGREGS */
	VM_SNAP_CAP_VCPU_EVENTS = 1u << 3, /* KVM_CAP_VCPU_EVENTS */
	VM_SNAP_CAP_ADJUST_CLOCK = 1u << 4,/* KVM_CAP_ADJUST_CLOCK */
	VM_SNAP_CAP_PIT_STATE2 = 1u << 5,  /* KVM_CAP_PIT_STATE2 */
	VM_SNAP_CAP_MP_STATE = 1u << 6,    /* KVM_CAP_MP_STATE */
	VM_SNAP_CAP_ALL = (1u << 7) - 1,
};

/* What this host's KVM offers of the above. */
uint32_t vm_snap_host_caps(struct vm *vm);
/* 0 when this host's KVM has every capability in `needed`, else -1 with
 * err naming the missing ones ("this host's KVM lacks KVM_CAP_XCRS, ..."). */
int vm_snap_check_caps(struct vm *vm, uint32_t needed, char *err, size_t errlen);

int vm_snap_save(struct vm *vm, struct snap_w *w, uint32_t *caps, char *err, size_t errlen);
int vm_snap_restore(struct vm *vm, const void *state, size_t len, char *err, size_t errlen);

#endif
