/* The PMU a guest sees through CPUID, for a mode, a config and a host.
 *
 * Contract: pmu_shape_compute() is pure: it decides version, counter counts
 * and widths, available events, PDCM/PERF_CAPABILITIES and the AMD bits
 * (docs/pmu.md §3), and fails with `err` naming the config field
 * when the config asks for more than the host (or the soft model) has; it
 * never clamps silently. In the in-kernel modes counts and widths default to
 * what KVM supports (KVM_GET_SUPPORTED_CPUID, which already applies KVM's
 * own caps, such as its fixed-counter limit), and, for mediated, the shape
 * records whether KVM will pass the global MSRs and RDPMC through and, if
 * not, why: decided by the kernel's rules in intercept.h. pmu_shape_apply()
 * edits the PMU leaves of a kvm_cpuid2 in place (it cannot add entries) and
 * returns which leaves it needed but did not find.
 */
#ifndef MPVM_PMU_SHAPE_H
#define MPVM_PMU_SHAPE_H

#include <linux/kvm.h>

#include "config/config.h"
#include "pmu/intercept.h"
#include "pmu/probe.h"

#define PMU_PERF_CAP_FW_WRITES (1ULL << 13)

/* The soft model's limits and defaults (documented in the README). */
#define SOFT_MAX_GP 8
#define SOFT_MAX_FIXED 3
#define SOFT_DEFAULT_GP 4
#define SOFT_DEFAULT_WIDTH 48
#define SOFT_MIN_WIDTH 32
/* Leaf 0xA EBX: every architectural event unavailable except core cycles
 * (bit 0) and reference cycles (bit 2), the two the model counts. */
#define SOFT_EBX_LEN 7
#define SOFT_UNAVAIL 0x7au

struct pmu_shape {
	enum pmu_mode mode;
	enum pmu_vendor flavour;  /* INTEL: leaf 0xA PMU; AMD: K7/PerfCtrExtCore/PerfMonV2 */
	int version;
	int gp, gp_width;
	int fixed, fixed_width;
	int ebx_len;
	uint32_t unavail;
	bool pdcm;
	uint64_t perf_caps;       /* written with KVM_SET_MSRS / answered when pdcm */
	bool amd_perfctr_core, amd_perfmon_v2;
	/* Mediated only (intercept.h): pass-through, and why not. */
	bool globals_direct;      /* !kvm_need_perf_global_ctrl_intercept() */
	bool rdpmc_direct;        /* !kvm_need_rdpmc_intercept() */
	struct pmu_why globals_why, rdpmc_why;
	char kvm_limit[160];      /* KVM offers fewer counters than the host has ("" if not) */
};

int pmu_shape_compute(struct pmu_shape *s, enum pmu_mode m, const struct cfg_pmu *cfg,
		      const struct pmu_host *h, char *err, size_t errlen);

/* The leaf 0xA the shape describes. */
void pmu_shape_leaf_a(const struct pmu_shape *s, uint32_t out[4]);

enum {
	PMU_SHAPE_MISSING_LEAF_A = 1 << 0,  /* no 0xA entry, or leaf 0 max below 0xA */
	PMU_SHAPE_MISSING_LEAF_1 = 1 << 1,
	PMU_SHAPE_MISSING_EXT_1 = 1 << 2,   /* 0x80000001 */
	PMU_SHAPE_MISSING_EXT_22 = 1 << 3,  /* 0x80000022 */
};
unsigned pmu_shape_apply(const struct pmu_shape *s, struct kvm_cpuid2 *c);

#endif
