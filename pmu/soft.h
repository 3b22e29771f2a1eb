/* The userspace architectural PMU model (Intel PMU v1/v2 semantics), pure.
 *
 * Contract: struct soft_pmu holds one vCPU's PMU registers. soft_rdmsr()/
 * soft_wrmsr() implement the guest-visible MSRs exactly (reserved bits, MSRs
 * that do not exist for the configured version/counters and writes to
 * read-only MSRs return -1, which becomes #GP). soft_advance() moves time
 * forward: every enabled counter counting core or reference cycles gains
 * `cycles`, wraps at its width, sets its PERF_GLOBAL_STATUS bit when it
 * wraps, and the return value says which wrapped counters want a PMI.
 * soft_cycles_to_pmi() says how far away the next such PMI is. Nothing here
 * touches KVM, clocks or locks: soft_vcpu.c adds those.
 *
 * What counts (documented limits): only unhalted core cycles (event 0x3C
 * umask 0x00, fixed counter 1) and reference cycles (0x3C umask 0x01, fixed
 * counter 2), both at the TSC rate, and only with EDGE/INV clear and CMASK
 * zero, and only when leaf 0xA EBX (`unavail`, which the config may extend)
 * does not mark them unavailable; that applies to the GP encodings, the
 * fixed counters have their own enumeration. Instructions retired (fixed
 * counter 0) and every other event keep their value and never count. The model cannot tell guest CPL apart: a
 * counter with USR or OS set counts always; with neither it counts nothing.
 */
#ifndef MPVM_PMU_SOFT_H
#define MPVM_PMU_SOFT_H

#include <stdbool.h>
#include <stdint.h>

#include "pmu/shape.h"

/* Intel PMU MSRs. */
#define MSR_IA32_PMC0 0xc1
#define MSR_IA32_PERFEVTSEL0 0x186
#define MSR_IA32_PERF_CAPABILITIES 0x345
#define MSR_CORE_PERF_FIXED_CTR0 0x309
#define MSR_CORE_PERF_FIXED_CTR_CTRL 0x38d
#define MSR_CORE_PERF_GLOBAL_STATUS 0x38e
#define MSR_CORE_PERF_GLOBAL_CTRL 0x38f
#define MSR_CORE_PERF_GLOBAL_OVF_CTRL 0x390
#define MSR_IA32_PMC0_FULL 0x4c1 /* A_PMC0 */

/* Event select bits. */
#define EVTSEL_USR (1ULL << 16)
#define EVTSEL_OS (1ULL << 17)
#define EVTSEL_EDGE (1ULL << 18)
#define EVTSEL_INT (1ULL << 20)
#define EVTSEL_ANY (1ULL << 21)
#define EVTSEL_EN (1ULL << 22)
#define EVTSEL_INV (1ULL << 23)
#define EVTSEL_CMASK (0xffULL << 24)
/* v1/v2: AnyThread (v3+) and bits 63:32 are reserved. */
#define EVTSEL_RESERVED_V2 (0xffffffff00000000ULL | EVTSEL_ANY)

/* Global-register bit of a counter: GP i at bit i, fixed i at bit 32 + i. */
#define SOFT_FIXED_BIT(i) (32 + (i))
/* OVF_CTRL bits 62 (ClrOvfBuffer) and 63 (ClrCondChgd): accepted, no effect. */
#define SOFT_OVF_CTRL_EXTRA (3ULL << 62)

enum soft_event { SOFT_EV_NONE, SOFT_EV_CORE_CYCLES, SOFT_EV_REF_CYCLES };

struct soft_pmu {
	/* shape (version, gp, fixed, widths, pdcm, perf_caps) */
	int version, ngp, nfixed, gp_width, fixed_width;
	uint32_t unavail;  /* leaf 0xA EBX: GP encodings that do not count */
	bool pdcm;
	uint64_t perf_caps;
	/* registers */
	uint64_t evtsel[SOFT_MAX_GP];
	uint64_t pmc[SOFT_MAX_GP];
	uint64_t fixed[SOFT_MAX_FIXED];
	uint64_t fixed_ctrl;
	uint64_t global_ctrl;
	uint64_t global_status;
};

/* The filter's say on a counter (GP: its event select; fixed: its index).
 * NULL callback: everything allowed. */
typedef bool (*soft_allow_fn)(void *opaque, int bit, uint64_t eventsel);

/* Power-on state for a shape (mode soft). Global ctrl resets with every
 * counter enabled, as KVM does, so v1-style software works on v2. */
void soft_pmu_init(struct soft_pmu *s, const struct pmu_shape *shape);

/* Is `index` one of the MSRs the model owns (the whole architectural range,
 * present or not, so absent ones #GP instead of reaching KVM)? */
bool soft_msr_owned(uint32_t index);

int soft_rdmsr(const struct soft_pmu *s, uint32_t index, uint64_t *val);
int soft_wrmsr(struct soft_pmu *s, uint32_t index, uint64_t val);

/* Masks of valid bits. */
uint64_t soft_counter_mask(const struct soft_pmu *s, int bit);
uint64_t soft_global_mask(const struct soft_pmu *s);
uint64_t soft_fixed_ctrl_mask(const struct soft_pmu *s);

/* What counter `bit` counts now (NONE when disabled or uncountable). */
enum soft_event soft_counter_event(const struct soft_pmu *s, int bit);
/* Does counter `bit` raise a PMI when it wraps? */
bool soft_counter_int(const struct soft_pmu *s, int bit);

/* Add `cycles` to counting counters the filter allows. Returns the bits
 * (GP i, fixed 32+i) that wrapped with their INT/PMI bit set. */
uint64_t soft_advance(struct soft_pmu *s, uint64_t cycles, soft_allow_fn allow, void *opaque);
/* Cycles until the first wrap that raises a PMI; UINT64_MAX if none, or if
 * it is 2^64 cycles away (a 64-bit counter at 0). */
uint64_t soft_cycles_to_pmi(const struct soft_pmu *s, soft_allow_fn allow, void *opaque);

/* TSC-rate conversions (128-bit intermediate, no drift when computed from
 * absolute times). */
uint64_t soft_ns_to_cycles(uint64_t ns, uint64_t tsc_khz);
uint64_t soft_cycles_to_ns(uint64_t cycles, uint64_t tsc_khz); /* rounded up */

#endif
