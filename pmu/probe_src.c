/* The probe's real inputs: this CPU's CPUID and what /dev/kvm answers.
 * Tests never use this file; they hand pmu_probe() made-up sources. */
#include "pmu/probe.h"

#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "core/kvm.h"

#ifndef KVM_CAP_PMU_EVENT_MASKED_EVENTS
#define KVM_CAP_PMU_EVENT_MASKED_EVENTS 226
#endif
#define MSR_IA32_PERF_CAPABILITIES 0x345

void pmu_cpuid_read_host(struct pmu_cpuid_set *s)
{
	unsigned a, b, c, d;
	__cpuid_count(0, 0, a, b, c, d);
	unsigned max = a;
	pmu_cpuid_put(s, 0, 0, a, b, c, d);
	static const uint32_t basic[] = { 1, 7, 0xa };
	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		if (basic[i] <= max) {
			__cpuid_count(basic[i], 0, a, b, c, d);
			pmu_cpuid_put(s, basic[i], 0, a, b, c, d);
		}
	__cpuid_count(0x80000000, 0, a, b, c, d);
	unsigned emax = a;
	pmu_cpuid_put(s, 0x80000000, 0, a, b, c, d);
	static const uint32_t ext[] = { 0x80000001, 0x80000022 };
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (ext[i] <= emax) {
			__cpuid_count(ext[i], 0, a, b, c, d);
			pmu_cpuid_put(s, ext[i], 0, a, b, c, d);
		}
}

static int cap(int fd, long c)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, c);
	return r < 0 ? 0 : r;
}

int pmu_kvm_info_read(struct pmu_kvm_info *k, const char *kvm_path)
{
	memset(k, 0, sizeof(*k));
	int fd = kvm_open(kvm_path, k->error, sizeof(k->error));
	if (fd < 0)
		return -1;
	k->present = true;
	k->cap_pmu_capability = cap(fd, KVM_CAP_PMU_CAPABILITY);
	k->cap_pmu_event_filter = cap(fd, KVM_CAP_PMU_EVENT_FILTER);
	k->cap_masked_events = cap(fd, KVM_CAP_PMU_EVENT_MASKED_EVENTS);
	k->cap_user_space_msr = cap(fd, KVM_CAP_X86_USER_SPACE_MSR);
	k->cap_msr_filter = cap(fd, KVM_CAP_X86_MSR_FILTER);

	char err[256];
	struct kvm_cpuid2 *sup = kvm_supported_cpuid(fd, err, sizeof(err));
	if (sup) {
		for (uint32_t i = 0; i < sup->nent; i++) {
			struct kvm_cpuid_entry2 *e = &sup->entries[i];
			if ((e->function == 0 || e->function == 1 || e->function == 0xa ||
			     e->function == 0x80000001 || e->function == 0x80000022) && e->index == 0)
				pmu_cpuid_put(&k->supported, e->function, 0, e->eax, e->ebx, e->ecx, e->edx);
		}
		free(sup);
	}
	/* KVM's feature MSRs say which PERF_CAPABILITIES bits a guest may get. */
	if (cap(fd, KVM_CAP_GET_MSR_FEATURES) > 0) {
		struct {
			__u32 nmsrs, pad; /* struct kvm_msrs with one entry */
			struct kvm_msr_entry e;
		} m = { .nmsrs = 1, .e.index = MSR_IA32_PERF_CAPABILITIES };
		if (ioctl(fd, KVM_GET_MSRS, &m) == 1) {
			k->perf_caps_known = true;
			k->perf_caps = m.e.data;
		}
	}
	close(fd);
	return 0;
}
