/* What KVM intercepts under a guest PMU: the kernel's own rules, mirrored.
 *
 * Contract: pure functions, one per kernel function, same name with a pmu_
 * prefix, same inputs, same answer (arch/x86/kvm/pmu.c of Linux 7.0, tag
 * kvm-x86-pmu-6.20; docs/pmu.md §3). GET /pmu's routing table, the
 * pass-through costs and their tests take the answer from here and nowhere
 * else. Each function may also say why (`why`, NULL for none): one line
 * per condition that holds, in the kernel's order.
 *  - pmu_kvm_need_any_pmc_intercept(): no mediated PMU, or the guest's GP
 *    or fixed counter *count* differs from the host's (perf's view,
 *    kvm_host_pmu). Widths play no part.
 *  - pmu_kvm_need_perf_global_ctrl_intercept(): any PMC intercepted, or
 *    the guest has no PERF_GLOBAL_CTRL (PMU version < 2; on AMD, no
 *    PerfMonV2).
 *  - pmu_kvm_need_rdpmc_intercept(): kvm.enable_vmware_backdoor, or any
 *    PMC intercepted, or a guest counter width differs from the host's.
 *    The PMU version plays no part.
 * The inputs are built from a shape and a probed host by
 * pmu_vcpu_pmu_of_shape() (what KVM's struct kvm_pmu holds after
 * kvm_pmu_refresh()) and pmu_host_perf_of() (perf_get_x86_pmu_capability()).
 */
#ifndef MPVM_PMU_INTERCEPT_H
#define MPVM_PMU_INTERCEPT_H

#include <stdbool.h>

#include "pmu/probe.h"

struct pmu_shape;

/* struct kvm_pmu, the parts the rules read. Widths are those of
 * counter_bitmask[]: 0 where the guest has no such counters. */
struct pmu_kvm_vcpu_pmu {
	bool mediated;   /* kvm_vcpu_has_mediated_pmu() */
	int version;     /* Intel: leaf 0xA EAX[7:0] capped by KVM; AMD: 2 with PerfMonV2, else 1 */
	int nr_gp, nr_fixed;
	int gp_width, fixed_width;
};

/* kvm_host_pmu: perf's view of the host PMU. */
struct pmu_host_perf {
	int nr_gp, nr_fixed;
	int gp_width, fixed_width; /* cntval_bits, 0 when there are no such counters */
};

#define PMU_WHY_MAX 4
struct pmu_why {
	int n;
	char line[PMU_WHY_MAX][160];
};

bool pmu_kvm_need_any_pmc_intercept(const struct pmu_kvm_vcpu_pmu *g, const struct pmu_host_perf *h,
				    struct pmu_why *why);
bool pmu_kvm_need_perf_global_ctrl_intercept(const struct pmu_kvm_vcpu_pmu *g,
					     const struct pmu_host_perf *h, struct pmu_why *why);
/* enable_vmware_backdoor: 1/0 as kvm's module parameter; -1 (unreadable)
 * counts as set, so mpvm never claims a pass-through it cannot know of. */
bool pmu_kvm_need_rdpmc_intercept(const struct pmu_kvm_vcpu_pmu *g, const struct pmu_host_perf *h,
				  int enable_vmware_backdoor, struct pmu_why *why);

/* perf's view of this host, from its CPUID as intel_pmu_init() and
 * amd_pmu_init() read it (model-specific quirks and leaf 0x23 aside). */
void pmu_host_perf_of(struct pmu_host_perf *o, const struct pmu_host *h);
/* What kvm_pmu_refresh() makes of the CPUID a shape writes, on this host
 * (counts and widths capped by what KVM supports). */
void pmu_vcpu_pmu_of_shape(struct pmu_kvm_vcpu_pmu *o, const struct pmu_shape *s,
			   const struct pmu_host *h);

#endif
