#include "core/vm_snap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/snap.h"
#include "core/kvm_ops.h"
#include "core/log.h"
#include "core/vm.h"

/* Section versions: bump when a payload changes. */
#define VCPU_V 1
#define CLCK_V 1
#define IRQC_V 1
#define PIT2_V 1

#define MAX_MSRS 1024
/* Largest XSAVE area accepted from a snapshot (KVM's AMX-sized areas are
 * ~11 KiB; anything far beyond is corrupt). */
#define MAX_XSAVE (64 * 1024)

static const struct { uint32_t bit; long cap; const char *name; } caps_tab[] = {
	{ VM_SNAP_CAP_XSAVE, KVM_CAP_XSAVE, "KVM_CAP_XSAVE" },
	{ VM_SNAP_CAP_XCRS, KVM_CAP_XCRS, "KVM_CAP_XCRS" },
	{ VM_SNAP_CAP_DEBUGREGS, KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS" },
	{ VM_SNAP_CAP_VCPU_EVENTS, KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
	{ VM_SNAP_CAP_ADJUST_CLOCK, KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK" },
	{ VM_SNAP_CAP_PIT_STATE2, KVM_CAP_PIT_STATE2, "KVM_CAP_PIT_STATE2" },
	{ VM_SNAP_CAP_MP_STATE, KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
};
#define NCAPS (sizeof(caps_tab) / sizeof(caps_tab[0]))

uint32_t vm_snap_host_caps(struct vm *vm)
{
	uint32_t c = 0;
	for (size_t i = 0; i < NCAPS; i++)
		if (kvm_sys_ioctl(vm, KVM_CHECK_EXTENSION, KVM_ARG(caps_tab[i].cap)) > 0)
			c |= caps_tab[i].bit;
	return c;
}

int vm_snap_check_caps(struct vm *vm, uint32_t needed, char *err, size_t errlen)
{
	uint32_t missing = needed & ~vm_snap_host_caps(vm);
	if (!missing)
		return 0;
	char names[256] = "";
	size_t o = 0;
	for (size_t i = 0; i < NCAPS && o < sizeof(names); i++)
		if (missing & caps_tab[i].bit)
			o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", o ? ", " : "",
					      caps_tab[i].name);
	FAIL("this host's KVM lacks %s, which the snapshot's state needs (restore it on a host "
	     "like the one that took it)", names);
}

/* KVM_CAP_XSAVE2's size (on the VM fd: it grows with enabled dynamic
 * features), or the classic 4 KiB area. */
static size_t xsave_size(struct vm *vm)
{
	int n = kvm_vm_check_extension(vm, KVM_CAP_XSAVE2);
	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
}

/* The PMU's MSRs are pmu/'s (pmu_snap_save); Intel's architectural PMU
 * and AMD's legacy and PerfCtr/PerfMonV2 MSRs. */
static bool pmu_msr(uint32_t i)
{
	return (i >= 0xc1 && i <= 0xc8) || (i >= 0x186 && i <= 0x18d) ||
	       (i >= 0x309 && i <= 0x30c) || i == 0x345 || (i >= 0x38d && i <= 0x392) ||
	       i == 0x3f1 || (i >= 0x4c1 && i <= 0x4c8) || i == 0x600 ||
	       (i >= 0xc0010000 && i <= 0xc0010007) || (i >= 0xc0010200 && i <= 0xc001020b) ||
	       (i >= 0xc0000300 && i <= 0xc0000303);
}

/* KVM's list of MSRs to save, less the PMU's. NULL with err set. */
static struct kvm_msr_list *msr_index_list(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	int r = kvm_sys_ioctl(vm, KVM_GET_MSR_INDEX_LIST, &probe);
	if (r < 0 && r != -E2BIG) {
		char en[96];
		err_set(err, errlen, "KVM_GET_MSR_INDEX_LIST: %s", err_errno(-r, en, sizeof(en)));
		return NULL;
	}
	if (probe.nmsrs > MAX_MSRS)
		probe.nmsrs = MAX_MSRS;
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	if (!l) {
		err_set(err, errlen, "out of memory for the MSR list");
		return NULL;
	}
	l->nmsrs = probe.nmsrs;
	if (sys_ioctl(vm, KVM_GET_MSR_INDEX_LIST, l, err, errlen) < 0) {
		free(l);
		return NULL;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < l->nmsrs; i++)
		if (!pmu_msr(l->indices[i]))
			l->indices[n++] = l->indices[i];
	l->nmsrs = n;
	return l;
}

/* Reads every MSR of `list` the vCPU gives: KVM_GET_MSRS stops at the first
 * it refuses (one the vCPU's CPUID does not have); that one is left out and
 * the rest read on. Returns a kvm_msrs with the readable ones, or NULL. */
static struct kvm_msrs *read_msrs(struct vcpu *v, const struct kvm_msr_list *list, char *err,
				  size_t errlen)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + list->nmsrs * sizeof(struct kvm_msr_entry));
	struct kvm_msrs *one = calloc(1, sizeof(*one) + list->nmsrs * sizeof(struct kvm_msr_entry));
	if (!m || !one) {
		free(m);
		free(one);
		err_set(err, errlen, "out of memory for MSRs");
		return NULL;
	}
	uint32_t i = 0;
	while (i < list->nmsrs) {
		one->nmsrs = list->nmsrs - i;
		for (uint32_t k = 0; k < one->nmsrs; k++)
			one->entries[k] = (struct kvm_msr_entry){ .index = list->indices[i + k] };
		int r = kvm_vcpu_ioctl_named(v, KVM_GET_MSRS, "KVM_GET_MSRS", one, err, errlen);
		if (r < 0) {
			free(m);
			free(one);
			return NULL;
		}
		memcpy(&m->entries[m->nmsrs], one->entries, (size_t)r * sizeof(one->entries[0]));
		m->nmsrs += (uint32_t)r;
		i += (uint32_t)r + 1; /* skip the refused one */
	}
	free(one);
	return m;
}

static int save_vcpu(struct vm *vm, struct vcpu *v, const struct kvm_msr_list *list,
		     uint32_t caps, struct snap_w *w, char *err, size_t errlen)
{
	/* Firecracker's order: KVM_GET_MP_STATE may deliver pending INIT/SIPI
	 * into the LAPIC and registers, so it comes first; events last. */
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs = { 0 };
	struct kvm_debugregs dbg = { 0 };
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev = { 0 };
	struct kvm_fpu fpu = { 0 };
	size_t xsz = (caps & VM_SNAP_CAP_XSAVE) ? xsave_size(vm) : 0;
	void *xsave = xsz ? calloc(1, xsz) : NULL;
	struct kvm_msrs *msrs = NULL;
	int rc = -1;
	if (xsz && !xsave)
		FAIL("out of memory for the XSAVE area");
	if (((caps & VM_SNAP_CAP_MP_STATE) && vcpu_ioctl(v, KVM_GET_MP_STATE, &mp, err, errlen) < 0) ||
	    vcpu_ioctl(v, KVM_GET_REGS, &regs, err, errlen) < 0 ||
	    vcpu_ioctl(v, KVM_GET_SREGS, &sregs, err, errlen) < 0)
		goto out;
	if (xsz > sizeof(struct kvm_xsave) ? vcpu_ioctl(v, KVM_GET_XSAVE2, xsave, err, errlen) < 0
	    : xsz ? vcpu_ioctl(v, KVM_GET_XSAVE, xsave, err, errlen) < 0
		  : vcpu_ioctl(v, KVM_GET_FPU, &fpu, err, errlen) < 0)
		goto out;
	if (((caps & VM_SNAP_CAP_XCRS) && vcpu_ioctl(v, KVM_GET_XCRS, &xcrs, err, errlen) < 0) ||
	    ((caps & VM_SNAP_CAP_DEBUGREGS) && vcpu_ioctl(v, KVM_GET_DEBUGREGS, &dbg, err, errlen) < 0) ||
	    vcpu_ioctl(v, KVM_GET_LAPIC, &lapic, err, errlen) < 0)
		goto out;
	int khz = kvm_vcpu_ioctl(v, KVM_GET_TSC_KHZ, NULL);
	msrs = read_msrs(v, list, err, errlen);
	if (!msrs)
		goto out;
	if ((caps & VM_SNAP_CAP_VCPU_EVENTS) && vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev, err, errlen) < 0)
		goto out;

	size_t mark = snap_section_begin(w, "VCPU", VCPU_V);
	snap_put_u32(w, (uint32_t)v->id);
	snap_put_u32(w, khz > 0 ? (uint32_t)khz : 0);
	snap_put_u32(w, mp.mp_state);
	snap_put_bytes(w, &regs, sizeof(regs));
	snap_put_bytes(w, &sregs, sizeof(sregs));
	snap_put_u32(w, (uint32_t)xsz); /* 0: FPU state follows instead */
	if (xsz)
		snap_put_bytes(w, xsave, xsz);
	else
		snap_put_bytes(w, &fpu, sizeof(fpu));
	snap_put_bytes(w, &xcrs, sizeof(xcrs));
	snap_put_bytes(w, &dbg, sizeof(dbg));
	snap_put_bytes(w, &lapic, sizeof(lapic));
	snap_put_bytes(w, &ev, sizeof(ev));
	snap_put_u32(w, msrs->nmsrs);
	for (uint32_t i = 0; i < msrs->nmsrs; i++) {
		snap_put_u32(w, msrs->entries[i].index);
		snap_put_u64(w, msrs->entries[i].data);
	}
	snap_section_end(w, mark);
	rc = 0;
out:
	free(xsave);
	free(msrs);
	return rc;
}

static int save_vm_state(struct vm *vm, uint32_t caps, struct snap_w *w, char *err, size_t errlen)
{
	struct kvm_clock_data clock = { 0 };
	if (caps & VM_SNAP_CAP_ADJUST_CLOCK) {
		if (vm_ioctl(vm, KVM_GET_CLOCK, &clock, err, errlen) < 0)
			return -1;
		/* KVM_SET_CLOCK refuses this flag (Firecracker clears it too). */
		clock.flags &= ~(uint32_t)KVM_CLOCK_TSC_STABLE;
	}
	size_t mark = snap_section_begin(w, "CLCK", CLCK_V);
	snap_put_bytes(w, &clock, sizeof(clock));
	snap_section_end(w, mark);

	mark = snap_section_begin(w, "IRQC", IRQC_V);
	for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
		struct kvm_irqchip c = { .chip_id = chip };
		if (kvm_vm_ioctl_named(vm, KVM_GET_IRQCHIP, "KVM_GET_IRQCHIP", &c, err, errlen) < 0)
			return -1;
		snap_put_bytes(w, &c, sizeof(c));
	}
	snap_section_end(w, mark);

	struct kvm_pit_state2 pit = { 0 };
	if ((caps & VM_SNAP_CAP_PIT_STATE2) && vm_ioctl(vm, KVM_GET_PIT2, &pit, err, errlen) < 0)
		return -1;
	mark = snap_section_begin(w, "PIT2", PIT2_V);
	snap_put_bytes(w, &pit, sizeof(pit));
	snap_section_end(w, mark);
	return 0;
}

int vm_snap_save(struct vm *vm, struct snap_w *w, uint32_t *caps, char *err, size_t errlen)
{
	*caps = vm_snap_host_caps(vm);
	struct kvm_msr_list *list = msr_index_list(vm, err, errlen);
	if (!list)
		return -1;
	int rc = 0;
	for (uint32_t i = 0; i < vm->nvcpus && !rc; i++)
		rc = save_vcpu(vm, &vm->vcpus[i], list, *caps, w, err, errlen);
	free(list);
	if (!rc)
		rc = save_vm_state(vm, *caps, w, err, errlen);
	return rc;
}

/* ---- restore ---- */

/* The TSC frequency the guest calibrated against: set it when this host's
 * differs (TSC scaling), or warn that guest time will drift. */
static int restore_tsc_khz(struct vcpu *v, uint32_t khz, char *err, size_t errlen)
{
	int now = kvm_vcpu_ioctl(v, KVM_GET_TSC_KHZ, NULL);
	/* Within 250 ppm is the same clock (Firecracker's tolerance). */
	if (!khz || now <= 0 || (uint64_t)llabs((long long)now - khz) * 4000 <= khz)
		return 0;
	int r = kvm_vcpu_ioctl(v, KVM_SET_TSC_KHZ, KVM_ARG(khz));
	if (r < 0 && v->id == 0)
		log_warn("snapshot: the guest's TSC ran at %u kHz, this host's at %d kHz and KVM "
			 "cannot scale it (KVM_SET_TSC_KHZ: %s): guest time may drift",
			 khz, now, strerror(-r));
	return 0;
}

static int set_msrs(struct vcpu *v, struct snap_r *r, char *err, size_t errlen)
{
	uint32_t n = snap_get_u32(r);
	if (n > MAX_MSRS) {
		snap_r_fail(r, "more MSRs than any vCPU has");
		return 0; /* snap_r_done() reports it */
	}
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	if (!m)
		FAIL("out of memory for MSRs");
	m->nmsrs = n;
	for (uint32_t i = 0; i < n; i++) {
		m->entries[i].index = snap_get_u32(r);
		m->entries[i].data = snap_get_u64(r);
	}
	int rc = 0;
	if (!r->bad) {
		int set = kvm_vcpu_ioctl_named(v, KVM_SET_MSRS, "KVM_SET_MSRS", m, err, errlen);
		if (set < 0)
			rc = -1;
		else if ((uint32_t)set < n)
			rc = err_set(err, errlen, "vCPU %d: KVM_SET_MSRS: KVM refused MSR 0x%x = 0x%llx "
				     "(%d of %u set); this host's CPU or KVM differs from the one "
				     "the snapshot was taken on", v->id, m->entries[set].index,
				     (unsigned long long)m->entries[set].data, set, n);
	}
	free(m);
	return rc;
}

static int restore_vcpu(struct vm *vm, struct vcpu *v, struct snap_r *r, char *err, size_t errlen)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dbg;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_fpu fpu;
	void *xsave = NULL;
	int rc = -1;
	uint32_t caps = vm_snap_host_caps(vm);

	if (snap_get_u32(r) != (uint32_t)v->id)
		snap_r_fail(r, "vCPU sections out of order");
	uint32_t khz = snap_get_u32(r);
	mp.mp_state = snap_get_u32(r);
	snap_get_bytes(r, &regs, sizeof(regs));
	snap_get_bytes(r, &sregs, sizeof(sregs));
	uint32_t xsz = snap_get_u32(r);
	if (xsz && (xsz < sizeof(struct kvm_xsave) || xsz > MAX_XSAVE)) {
		snap_r_fail(r, "XSAVE area size out of range");
		return snap_r_done(r, err, errlen);
	}
	if (xsz) {
		/* KVM_SET_XSAVE reads as many bytes as the host's XSAVE2 size. */
		size_t host = xsave_size(vm);
		if (!(caps & VM_SNAP_CAP_XSAVE) || xsz > host)
			FAIL("vCPU %d: the snapshot's XSAVE area is %u bytes, this host's KVM "
			     "takes %zu: its CPU has extended state this host lacks", v->id, xsz,
			     (caps & VM_SNAP_CAP_XSAVE) ? host : 0);
		xsave = calloc(1, host);
		if (!xsave)
			FAIL("out of memory for the XSAVE area");
		snap_get_bytes(r, xsave, xsz);
	} else {
		snap_get_bytes(r, &fpu, sizeof(fpu));
	}
	snap_get_bytes(r, &xcrs, sizeof(xcrs));
	snap_get_bytes(r, &dbg, sizeof(dbg));
	snap_get_bytes(r, &lapic, sizeof(lapic));
	snap_get_bytes(r, &ev, sizeof(ev));
	if (xcrs.nr_xcrs > KVM_MAX_XCRS)
		snap_r_fail(r, "XCR count out of range");
	if (r->bad)
		goto done;

	if (restore_tsc_khz(v, khz, err, errlen) ||
	    ((caps & VM_SNAP_CAP_MP_STATE) && vcpu_ioctl(v, KVM_SET_MP_STATE, &mp, err, errlen) < 0) ||
	    vcpu_ioctl(v, KVM_SET_REGS, &regs, err, errlen) < 0 ||
	    vcpu_ioctl(v, KVM_SET_SREGS, &sregs, err, errlen) < 0)
		goto out;
	if (xsz ? vcpu_ioctl(v, KVM_SET_XSAVE, xsave, err, errlen) < 0
		: vcpu_ioctl(v, KVM_SET_FPU, &fpu, err, errlen) < 0)
		goto out;
	if ((xcrs.nr_xcrs && vcpu_ioctl(v, KVM_SET_XCRS, &xcrs, err, errlen) < 0) ||
	    ((caps & VM_SNAP_CAP_DEBUGREGS) && vcpu_ioctl(v, KVM_SET_DEBUGREGS, &dbg, err, errlen) < 0) ||
	    vcpu_ioctl(v, KVM_SET_LAPIC, &lapic, err, errlen) < 0)
		goto out;
	/* After the LAPIC: TSC_DEADLINE only takes in TSC-deadline mode. */
	if (set_msrs(v, r, err, errlen))
		goto out;
	if (!r->bad && (caps & VM_SNAP_CAP_VCPU_EVENTS) &&
	    vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &ev, err, errlen) < 0)
		goto out;
done:
	rc = snap_r_done(r, err, errlen);
out:
	free(xsave);
	return rc;
}

/* A section that is one fixed-size KVM structure (or an array of them). */
static int read_fixed(const void *state, size_t len, const char tag[4], uint32_t version,
		      void *out, size_t size, char *err, size_t errlen)
{
	struct snap_r r;
	if (snap_section_open(state, len, tag, 0, version, &r, err, errlen))
		return -1;
	snap_get_bytes(&r, out, size);
	return snap_r_done(&r, err, errlen);
}

static int restore_vm_state(struct vm *vm, const void *state, size_t len, char *err, size_t errlen)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	struct kvm_irqchip chips[3];
	if (read_fixed(state, len, "PIT2", PIT2_V, &pit, sizeof(pit), err, errlen) ||
	    read_fixed(state, len, "CLCK", CLCK_V, &clock, sizeof(clock), err, errlen) ||
	    read_fixed(state, len, "IRQC", IRQC_V, chips, sizeof(chips), err, errlen))
		return -1;
	for (uint32_t i = 0; i < 3; i++)
		if (chips[i].chip_id != i)
			FAIL("snapshot section IRQC (v%u): irqchip ids out of order; the snapshot is "
			     "corrupt", IRQC_V);
	if (vm_snap_host_caps(vm) & VM_SNAP_CAP_PIT_STATE2 &&
	    vm_ioctl(vm, KVM_SET_PIT2, &pit, err, errlen) < 0)
		return -1;
	if (vm_snap_host_caps(vm) & VM_SNAP_CAP_ADJUST_CLOCK) {
		int rc = kvm_vm_ioctl(vm, KVM_SET_CLOCK, &clock);
		/* Kernels before 5.16 take no flags (KVM_CLOCK_REALTIME lets a
		 * newer one add the time the snapshot spent on disk). */
		if (rc == -EINVAL && clock.flags) {
			clock.flags = 0;
			rc = kvm_vm_ioctl(vm, KVM_SET_CLOCK, &clock);
		}
		if (rc < 0) {
			char en[96];
			FAIL("KVM_SET_CLOCK: %s", err_errno(-rc, en, sizeof(en)));
		}
	}

	for (uint32_t i = 0; i < 3; i++)
		if (kvm_vm_ioctl_named(vm, KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP", &chips[i], err,
				       errlen) < 0)
			return err_append(err, errlen, " (chip %u)", i);
	return 0;
}

int vm_snap_restore(struct vm *vm, const void *state, size_t len, char *err, size_t errlen)
{
	unsigned n = snap_section_count(state, len, "VCPU");
	if (n != vm->nvcpus)
		FAIL("snapshot state: %u vCPU sections for a VM of %u vCPUs; the snapshot is corrupt",
		     n, vm->nvcpus);
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		struct snap_r r;
		if (snap_section_open(state, len, "VCPU", i, VCPU_V, &r, err, errlen))
			return -1;
		if (restore_vcpu(vm, &vm->vcpus[i], &r, err, errlen))
			return -1;
	}
	/* After the vCPUs (Firecracker's order): the clock is set against the
	 * TSCs just restored. */
	return restore_vm_state(vm, state, len, err, errlen);
}
