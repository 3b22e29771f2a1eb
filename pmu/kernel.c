/* The in-kernel modes (mediated, legacy) and the opt-out, in the order the
 * kernel requires (docs/pmu.md §2): opt-out and event filter before
 * the first KVM_CREATE_VCPU, EBUSY handled there, PERF_CAPABILITIES before
 * each vCPU's first run. Also the trapped control plane
 * (trap_event_selects): event selects exit to mpvm, which counts them,
 * checks them against the filter and forwards them into KVM. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "core/log.h"
#include "pmu/pmu_int.h"

static int opt_out(struct pmu *p, struct vm *vm, char *err, size_t errlen)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_PMU_CAPABILITY, .args[0] = KVM_PMU_CAP_DISABLE };
	int rc = kvm_vm_ioctl_named(vm, KVM_ENABLE_CAP,
				    "KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)", &cap,
				    err, errlen);
	if (rc < 0)
		return err_append(err, errlen, "%s", rc == -EINVAL ?
				  " (it must come before the first KVM_CREATE_VCPU, and before KVM has created a mediated PMU for the VM)" : "");
	p->opted_out = true;
	return 0;
}

static int set_event_filter(struct pmu *p, struct vm *vm, const struct pmu_filter *f, char *err,
			    size_t errlen)
{
	char what[96];
	snprintf(what, sizeof(what), "KVM_SET_PMU_EVENT_FILTER (%s, %u events%s)",
		 f->cfg.action == CFG_FILTER_DENY ? "deny" : "allow", f->kvm->nevents,
		 f->cfg.masked_events ? ", masked" : "");
	int rc = kvm_vm_ioctl_named(vm, KVM_SET_PMU_EVENT_FILTER, what, f->kvm, err, errlen);
	if (rc == -E2BIG)
		return err_append(err, errlen, ": more events than this kernel accepts");
	return rc < 0 ? -1 : 0;
}

int kernel_before_vcpus(struct pmu *p, struct vm *vm, char *err, size_t errlen)
{
	int cap = kvm_vm_check_extension(vm, KVM_CAP_PMU_CAPABILITY);
	const struct pmu_msr_range *r;
	int n;

	p->opt_out_possible = cap > 0 && (cap & KVM_PMU_CAP_DISABLE);
	switch (p->mode) {
	case PMU_MODE_OFF:
	case PMU_MODE_SOFT:
		/* Hiding the PMU in CPUID is not enough: the in-kernel PMU would
		 * still exist, could fail vCPU creation with EBUSY on a mediated
		 * host and would block host profiling. */
		if (p->opt_out_possible) {
			if (opt_out(p, vm, err, errlen))
				return -1;
		} else if (p->host.enable_pmu != 0) {
			pmu_note(p, "the kernel cannot opt this VM out of KVM's vPMU (KVM_CAP_PMU_CAPABILITY=%d); only CPUID hides it",
				 cap < 0 ? 0 : cap);
		}
		if (p->mode == PMU_MODE_OFF)
			return 0;
		n = pmu_soft_ranges(&r);
		return pmu_msr_filter_apply(p, r, n, err, errlen);
	case PMU_MODE_LEGACY:
	case PMU_MODE_MEDIATED:
		pthread_rwlock_wrlock(&p->filter_lock);
		int rc = p->filter ? set_event_filter(p, vm, p->filter, err, errlen) : 0;
		p->kernel_filter_live = rc == 0;
		pthread_rwlock_unlock(&p->filter_lock);
		if (rc)
			return -1;
		if (!p->trap)
			return 0;
		n = pmu_trap_ranges(p->shape.flavour, &r);
		return pmu_msr_filter_apply(p, r, n, err, errlen);
	default:
		FAIL("PMU: invalid mode %d", (int)p->mode);
	}
}

int kernel_vcpu_create_failed(struct pmu *p, struct vm *vm, int e, char *err, size_t errlen)
{
	if (e != EBUSY || p->mode != PMU_MODE_MEDIATED) {
		err_set(err, errlen, "KVM_CREATE_VCPU 0: %s", strerror(e));
		return 0;
	}
	/* perf_create_mediated_pmu() refuses while any event on the core PMU
	 * counts guests, whoever opened it: system-wide or attached to a task. */
	char cause[480];
	if (p->host.nmi_watchdog == 1)
		snprintf(cause, sizeof(cause),
			 "a host perf event on the core PMU counts guests (exclude_guest=0): nmi_watchdog=1 is the usual culprit; fix: echo 0 > /proc/sys/kernel/nmi_watchdog (or boot with nmi_watchdog=0); any other such event, system-wide or per-task, blocks it too");
	else
		snprintf(cause, sizeof(cause),
			 "a host perf event on the core PMU counts guests (exclude_guest=0); nmi_watchdog=%d, so it is another one, system-wide or per-task: a perf stat/record of the system or of any process without :H, a profiling agent; fix: stop it (or make it count the host only, :H), or use pmu mode off",
			 p->host.nmi_watchdog);

	if (p->cfg.mode == CFG_PMU_AUTO && !p->fell_back && p->opt_out_possible) {
		char oe[256];
		if (opt_out(p, vm, oe, sizeof(oe))) {
			err_set(err, errlen, "KVM_CREATE_VCPU 0: EBUSY (%s); opting out then failed: %s", cause, oe);
			return 0;
		}
		if (p->msr_filter_set && pmu_msr_filter_apply(p, NULL, 0, oe, sizeof(oe)))
			log_warn("removing the PMU MSR filter after falling back to off: %s", oe);
		p->fell_back = true;
		p->trap = false;
		p->mode = PMU_MODE_OFF;
		pmu_shape_compute(&p->shape, PMU_MODE_OFF, &p->cfg, &p->host, oe, sizeof(oe));
		snprintf(p->why, sizeof(p->why),
			 "auto fell back to off because the first KVM_CREATE_VCPU failed with EBUSY: the host could not give a mediated PMU; %s",
			 cause);
		log_warn("PMU: %s", p->why);
		return 1;
	}
	err_set(err, errlen,
		"KVM_CREATE_VCPU 0: EBUSY: the host could not create a mediated PMU for this VM: %s", cause);
	return 0;
}

static int set_msr(struct pmu *p, struct vcpu *v, uint32_t index, uint64_t val)
{
	PMU_MSRS(1) m = { .nmsrs = 1, .e[0] = { .index = index, .data = val } };
	int rc = kvm_vcpu_ioctl(v, KVM_SET_MSRS, &m);
	return rc == 1 ? 0 : rc < 0 ? rc : -EINVAL;
}

static int get_msr(struct pmu *p, struct vcpu *v, uint32_t index, uint64_t *val)
{
	PMU_MSRS(1) m = { .nmsrs = 1, .e[0] = { .index = index } };
	int rc = kvm_vcpu_ioctl(v, KVM_GET_MSRS, &m);
	if (rc != 1)
		return rc < 0 ? rc : -EINVAL;
	*val = m.e[0].data;
	return 0;
}

int kernel_vcpu_init(struct pmu *p, struct vcpu *v, char *err, size_t errlen)
{
	if (p->mode != PMU_MODE_MEDIATED && p->mode != PMU_MODE_LEGACY)
		return 0;
	/* Without an in-kernel LAPIC before the first vCPU a mediated host
	 * silently gives no PMU, and a legacy one a perf-based vPMU that cannot
	 * deliver PMIs: catch a VM built in the wrong order. */
	struct kvm_lapic_state lapic;
	if (vcpu_ioctl(v, KVM_GET_LAPIC, &lapic, err, errlen) < 0)
		return err_append(err, errlen, "%s", p->mode == PMU_MODE_MEDIATED ?
				  ": the VM has no in-kernel LAPIC, so the mediated host gave it no PMU" :
				  ": the VM has no in-kernel LAPIC, so KVM gave it only a degraded perf-based vPMU (no PMIs)");
	if (!p->shape.pdcm)
		return 0;
	int rc = set_msr(p, v, MSR_IA32_PERF_CAPABILITIES, p->shape.perf_caps);
	if (rc < 0)
		FAIL("vCPU %d: KVM_SET_MSRS IA32_PERF_CAPABILITIES=0x%llx: %s (must precede the first KVM_RUN)",
		     v->id, (unsigned long long)p->shape.perf_caps, strerror(-rc));
	return 0;
}

/* Whether the guest's PMU (as shaped) has this trapped MSR. mpvm forwards
 * with KVM_GET/SET_MSRS, and KVM answers a host-initiated access to a
 * counter MSR the vCPU does not have with 0 / success, where hardware (and
 * KVM for the guest's own access) raises #GP: so check here first. */
static bool trap_msr_exists(const struct pmu_shape *s, uint32_t msr)
{
	if (s->flavour == PMU_VENDOR_AMD) {
		/* The legacy K7 MSRs alias counters 0-3, when there are that many. */
		if (msr >= MSR_K7_EVNTSEL0 && msr < MSR_K7_EVNTSEL0 + 4)
			return (int)(msr - MSR_K7_EVNTSEL0) < s->gp;
		if (msr >= MSR_F15H_PERF_CTL0 && msr < MSR_F15H_PERF_CTL0 + 12)
			return s->amd_perfctr_core && (int)((msr - MSR_F15H_PERF_CTL0) / 2) < s->gp;
		return true;
	}
	if (msr >= MSR_IA32_PERFEVTSEL0 && msr < MSR_IA32_PERFEVTSEL0 + 8)
		return (int)(msr - MSR_IA32_PERFEVTSEL0) < s->gp;
	if (msr == MSR_CORE_PERF_FIXED_CTR_CTRL)
		return s->version >= 2; /* exists from v2 on, even with no fixed counter */
	return true;
}

/* FIXED_CTR_CTRL has 4 bits per fixed counter; those of counters the guest
 * does not have are reserved (#GP if set). */
static bool fixed_ctrl_reserved(const struct pmu_shape *s, uint64_t val)
{
	int bits = 4 * (s->fixed < 0 ? 0 : s->fixed);
	return bits < 64 && (val >> bits);
}

int kernel_trap_msr(struct pmu *p, struct vcpu *v, uint32_t msr, bool is_write, uint64_t *data)
{
	const enum pmu_vendor vend = p->shape.flavour;
	int rc;

	pmu_count_msr(p, msr, is_write);
	if (!trap_msr_exists(&p->shape, msr))
		return -1;
	if (is_write && vend == PMU_VENDOR_INTEL && msr == MSR_CORE_PERF_FIXED_CTR_CTRL &&
	    fixed_ctrl_reserved(&p->shape, *data))
		return -1;
	if (!is_write) {
		rc = get_msr(p, v, msr, data);
		return rc < 0 ? -1 : 0;
	}
	uint64_t val = *data;
	pthread_rwlock_rdlock(&p->filter_lock);
	if (pmu_is_event_select(vend, msr) && (val & EVTSEL_EN)) {
		pmu_count_event(p, pmu_event_key(val), !pmu_filter_allows_gp(p->filter, val));
	} else if (vend == PMU_VENDOR_INTEL && msr == MSR_CORE_PERF_FIXED_CTR_CTRL) {
		for (int i = 0; i < p->shape.fixed; i++)
			if ((val >> (4 * i)) & 3)
				pmu_count_event(p, PMU_EVENT_KEY_FIXED(i), !pmu_filter_allows_fixed(p->filter, i));
	}
	pthread_rwlock_unlock(&p->filter_lock);
	/* Denied events are forwarded too: as under the mediated PMU, the
	 * guest keeps the value it wrote and KVM's filter stops the count.
	 * KVM's own checks (reserved bits) still apply: a refused write is a
	 * #GP, as if the guest had written KVM directly. */
	rc = set_msr(p, v, msr, val);
	return rc < 0 ? -1 : 0;
}

int kernel_pmu_msrs(const struct pmu_shape *s, uint32_t *m, int max)
{
	int n = 0;
#define ADD(x) do { if (n < max) m[n++] = (x); } while (0)
	if (s->mode != PMU_MODE_LEGACY && s->mode != PMU_MODE_MEDIATED)
		return 0;
	if (s->flavour == PMU_VENDOR_AMD) {
		for (int i = 0; i < s->gp; i++) {
			ADD(s->amd_perfctr_core ? MSR_F15H_PERF_CTL0 + 2 * i + 1 : MSR_K7_PERFCTR0 + i);
			ADD(s->amd_perfctr_core ? MSR_F15H_PERF_CTL0 + 2 * i : MSR_K7_EVNTSEL0 + i);
		}
		if (s->amd_perfmon_v2) {
			ADD(MSR_AMD_GLOBAL_STATUS);
			ADD(MSR_AMD_GLOBAL_STATUS_CLR);
			ADD(MSR_AMD_GLOBAL_CTL);
		}
		return n;
	}
	for (int i = 0; i < s->gp; i++) {
		ADD(MSR_IA32_PMC0 + i);
		ADD(MSR_IA32_PERFEVTSEL0 + i);
	}
	for (int i = 0; i < s->fixed; i++)
		ADD(MSR_CORE_PERF_FIXED_CTR0 + i);
	if (s->version >= 2) {
		ADD(MSR_CORE_PERF_GLOBAL_STATUS);
		ADD(MSR_CORE_PERF_GLOBAL_OVF_CTRL);
		ADD(MSR_CORE_PERF_FIXED_CTR_CTRL);
		ADD(MSR_CORE_PERF_GLOBAL_CTRL);
	}
#undef ADD
	return n;
}

int kernel_counter_msrs(const struct pmu *p, uint32_t *m, int max)
{
	/* The shape's MSRs less the write-only ones (they read as 0). */
	uint32_t all[PMU_MAX_MSRS];
	int n = 0, k = kernel_pmu_msrs(&p->shape, all, PMU_MAX_MSRS);
	for (int i = 0; i < k && n < max; i++)
		if (all[i] != MSR_CORE_PERF_GLOBAL_OVF_CTRL && all[i] != MSR_AMD_GLOBAL_STATUS_CLR)
			m[n++] = all[i];
	return n;
}
