/* PMU MSR names and mpvm's MSR filter (docs/pmu.md §4: a filter
 * wins over pass-through, and KVM_MSR_EXIT_REASON_FILTER sends the denied
 * accesses to userspace). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "pmu/pmu_int.h"

const char *pmu_msr_name(uint32_t m, char *b, size_t len)
{
	if (m >= MSR_IA32_PMC0 && m < MSR_IA32_PMC0 + 8)
		snprintf(b, len, "IA32_PMC%u", m - MSR_IA32_PMC0);
	else if (m >= MSR_IA32_PMC0_FULL && m < MSR_IA32_PMC0_FULL + 8)
		snprintf(b, len, "IA32_A_PMC%u", m - MSR_IA32_PMC0_FULL);
	else if (m >= MSR_IA32_PERFEVTSEL0 && m < MSR_IA32_PERFEVTSEL0 + 8)
		snprintf(b, len, "IA32_PERFEVTSEL%u", m - MSR_IA32_PERFEVTSEL0);
	else if (m >= MSR_CORE_PERF_FIXED_CTR0 && m < MSR_CORE_PERF_FIXED_CTR0 + 4)
		snprintf(b, len, "IA32_FIXED_CTR%u", m - MSR_CORE_PERF_FIXED_CTR0);
	else if (m == MSR_IA32_PERF_CAPABILITIES)
		snprintf(b, len, "IA32_PERF_CAPABILITIES");
	else if (m == MSR_CORE_PERF_FIXED_CTR_CTRL)
		snprintf(b, len, "IA32_FIXED_CTR_CTRL");
	else if (m == MSR_CORE_PERF_GLOBAL_STATUS)
		snprintf(b, len, "IA32_PERF_GLOBAL_STATUS");
	else if (m == MSR_CORE_PERF_GLOBAL_CTRL)
		snprintf(b, len, "IA32_PERF_GLOBAL_CTRL");
	else if (m == MSR_CORE_PERF_GLOBAL_OVF_CTRL)
		snprintf(b, len, "IA32_PERF_GLOBAL_OVF_CTRL");
	else if (m >= MSR_K7_EVNTSEL0 && m < MSR_K7_EVNTSEL0 + 4)
		snprintf(b, len, "K7_EVNTSEL%u", m - MSR_K7_EVNTSEL0);
	else if (m >= MSR_K7_PERFCTR0 && m < MSR_K7_PERFCTR0 + 4)
		snprintf(b, len, "K7_PERFCTR%u", m - MSR_K7_PERFCTR0);
	else if (m >= MSR_F15H_PERF_CTL0 && m < MSR_F15H_PERF_CTL0 + 12)
		snprintf(b, len, "PERF_%s%u", (m - MSR_F15H_PERF_CTL0) & 1 ? "CTR" : "CTL",
			 (m - MSR_F15H_PERF_CTL0) / 2);
	else if (m >= MSR_AMD_GLOBAL_STATUS && m <= MSR_AMD_GLOBAL_STATUS + 3)
		snprintf(b, len, "%s", (const char *[]){ "PERF_CNTR_GLOBAL_STATUS", "PERF_CNTR_GLOBAL_CTL",
					"PERF_CNTR_GLOBAL_STATUS_CLR", "PERF_CNTR_GLOBAL_STATUS_SET" }[m - MSR_AMD_GLOBAL_STATUS]);
	else
		snprintf(b, len, "MSR_0x%x", m);
	return b;
}

/* Exactly the MSRs the soft model owns (soft_msr_owned()). */
static const struct pmu_msr_range soft_ranges[] = {
	{ MSR_IA32_PMC0, SOFT_MAX_GP, 0 },
	{ MSR_IA32_PERFEVTSEL0, SOFT_MAX_GP, 0 },
	{ MSR_CORE_PERF_FIXED_CTR0, SOFT_MAX_FIXED, 0 },
	{ MSR_IA32_PERF_CAPABILITIES, 1, 0 },
	{ MSR_CORE_PERF_FIXED_CTR_CTRL, 4, 0 }, /* FIXED_CTR_CTRL, STATUS, CTRL, OVF_CTRL */
	{ MSR_IA32_PMC0_FULL, SOFT_MAX_GP, 0 },
};

/* Control plane only: the counters stay passed through. */
static const struct pmu_msr_range trap_intel[] = {
	{ MSR_IA32_PERFEVTSEL0, 8, 0 },
	{ MSR_CORE_PERF_FIXED_CTR_CTRL, 1, 0 },
};
static const struct pmu_msr_range trap_amd[] = {
	{ MSR_K7_EVNTSEL0, 4, 0 },
	{ MSR_F15H_PERF_CTL0, 12, 0xaaa }, /* CTLs at even offsets; CTRs (odd) stay direct */
};

int pmu_soft_ranges(const struct pmu_msr_range **r)
{
	*r = soft_ranges;
	return (int)(sizeof(soft_ranges) / sizeof(soft_ranges[0]));
}

int pmu_trap_ranges(enum pmu_vendor v, const struct pmu_msr_range **r)
{
	if (v == PMU_VENDOR_AMD) {
		*r = trap_amd;
		return 2;
	}
	*r = trap_intel;
	return 2;
}

bool pmu_is_event_select(enum pmu_vendor v, uint32_t m)
{
	if (v == PMU_VENDOR_AMD)
		return (m >= MSR_K7_EVNTSEL0 && m < MSR_K7_EVNTSEL0 + 4) ||
		       (m >= MSR_F15H_PERF_CTL0 && m < MSR_F15H_PERF_CTL0 + 12 && !((m - MSR_F15H_PERF_CTL0) & 1));
	return m >= MSR_IA32_PERFEVTSEL0 && m < MSR_IA32_PERFEVTSEL0 + 8;
}

int pmu_msr_filter_apply(struct pmu *p, const struct pmu_msr_range *r, int n, char *err, size_t errlen)
{
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
	/* KVM copies the bitmaps during the ioctl; 12 MSRs fit in 2 bytes. */
	uint8_t bitmaps[KVM_MSR_FILTER_MAX_RANGES][4];

	if (n > KVM_MSR_FILTER_MAX_RANGES)
		n = KVM_MSR_FILTER_MAX_RANGES;
	if (n > 0) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
					      .args[0] = KVM_MSR_EXIT_REASON_FILTER };
		if (kvm_vm_ioctl_named(p->vm, KVM_ENABLE_CAP,
				       "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR, FILTER)", &cap,
				       err, errlen) < 0)
			return -1;
	}
	for (int i = 0; i < n; i++) {
		uint32_t allow = r[i].allow;
		memcpy(bitmaps[i], &allow, sizeof(allow)); /* little endian: bit i = MSR base+i */
		f.ranges[i] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			.nmsrs = r[i].n,
			.base = r[i].base,
			.bitmap = bitmaps[i],
		};
	}
	if (vm_ioctl(p->vm, KVM_X86_SET_MSR_FILTER, &f, err, errlen) < 0)
		return err_append(err, errlen, " (%d PMU ranges)", n);
	p->msr_filter_set = n > 0;
	return 0;
}
