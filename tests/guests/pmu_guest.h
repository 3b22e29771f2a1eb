/* Shared by the pmu guest's checks (pmu.c) and its benchmark (pmu_bench.c).
 *
 * Every PMU MSR access goes through pmu_rd()/pmu_wr(), which fault-tolerate
 * (#GP comes back as 13) and count the access per MSR, so that the guest can
 * print exactly what it did and the host side can compare that with mpvm's
 * count of trapped accesses. Counters are read with RDMSR only: with no
 * in-kernel vPMU KVM answers RDPMC with #GP.
 */
#ifndef MPVM_PMU_GUEST_H
#define MPVM_PMU_GUEST_H

#include "lib/libguest.h"

/* Intel architectural PMU MSRs (SDM vol. 4). */
#define MSR_PMC0               0x0C1
#define MSR_PERFEVTSEL0        0x186
#define MSR_FIXED_CTR0         0x309
#define MSR_PERF_CAPABILITIES  0x345
#define MSR_FIXED_CTR_CTRL     0x38D
#define MSR_PERF_GLOBAL_STATUS 0x38E
#define MSR_PERF_GLOBAL_CTRL   0x38F
#define MSR_PERF_GLOBAL_OVF    0x390
#define MSR_A_PMC0             0x4C1
#define CPUID1_ECX_PDCM        (1u << 15)
#define PERF_CAP_FW_WRITES     (1ull << 13)

/* Event select bits. */
#define EVT_USR  (1ull << 16)
#define EVT_OS   (1ull << 17)
#define EVT_INT  (1ull << 20)
#define EVT_ANY  (1ull << 21)
#define EVT_EN   (1ull << 22)
#define EV_CORE_CYCLES  0x003C /* event 0x3C umask 0x00 */
#define EV_INSTRUCTIONS 0x00C0
/* Fixed counter i's field in FIXED_CTR_CTRL: OS | USR, and PMI. */
#define FIXED_EN(i)  (3ull << (4 * (i)))
#define FIXED_PMI(i) (8ull << (4 * (i)))
#define FIXED_BIT(i) (32 + (i))

#define LVT_MASKED (1u << 16)
#define LVT_DM_NMI (4u << 8)

/* Exit codes of the pmu guest: the first failing area wins. */
#define PMU_EXIT_LEAF      6  /* CPUID leaf 0xA / PDCM not as expected (GUEST_EXIT_PMU_MISMATCH) */
#define PMU_EXIT_COUNTING  7  /* counters do not advance (or advance when they must not) */
#define PMU_EXIT_GP        8  /* reserved bits / read-only MSRs accepted, or valid writes refused */
#define PMU_EXIT_PMI_FIXED 9  /* no PMI at the LVTPC vector */
#define PMU_EXIT_PMI_NMI   10 /* no PMI as NMI */
#define PMU_EXIT_STATUS    11 /* GLOBAL_STATUS / OVF_CTRL semantics */
#define PMU_EXIT_OFF       12 /* mode off: PMU MSRs hold state */
#define PMU_EXIT_FILTER    13 /* a denied event counts */
#define PMU_EXIT_BENCH     14 /* the benchmark could not measure */

struct pmu_info {
	char vendor[13];
	uint32_t max_leaf;
	uint32_t eax, ebx, edx; /* leaf 0xA as read */
	uint32_t version;     /* EAX[7:0] */
	uint32_t gp;          /* EAX[15:8] general-purpose counters */
	uint32_t gp_width;    /* EAX[23:16] */
	uint32_t ebx_len;     /* EAX[31:24] length of the EBX event vector */
	uint32_t fixed;       /* EDX[4:0] */
	uint32_t fixed_width; /* EDX[12:5] */
	bool pdcm;            /* CPUID.1:ECX[15], IA32_PERF_CAPABILITIES exists */
	/* AMD: leaf 0xA is Intel's; AMD describes its counters elsewhere. */
	bool amd_perfctr_core; /* 0x80000001.ECX[23]: 6 counters at 0xC0010200 */
	bool amd_perfmon_v2;   /* 0x80000022.EAX[0] */
	uint32_t amd_counters; /* 0x80000022.EBX[3:0] */
};

/* Counted, fault-tolerant MSR access: 0 or the exception vector. */
int pmu_rd(uint32_t msr, uint64_t *val);
int pmu_wr(uint32_t msr, uint64_t val);
/* "pmu: msr accesses total=N gp=G 0xMSR:rRwW ..." sorted by MSR. */
void pmu_print_accesses(void);

/* 64-by-32-bit division without libgcc's __udivdi3 (divl takes edx:eax). */
static inline uint64_t udiv64(uint64_t n, uint32_t d)
{
	uint32_t hi = (uint32_t)(n >> 32), lo = (uint32_t)n;
	uint32_t qhi = hi / d, r = hi % d, qlo;

	__asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
	return ((uint64_t)qhi << 32) | qlo;
}

static inline uint64_t width_mask(uint32_t w)
{
	return w >= 64 ? ~0ull : (1ull << w) - 1;
}

/* TSC rate from the LAPIC timer (time_init() first), and its result. */
uint32_t tsc_calibrate_khz(void);
extern uint32_t pmu_tsc_khz;
/* Record accesses made without pmu_rd/pmu_wr (the benchmark's raw loops). */
void pmu_count_bulk(uint32_t msr, uint32_t reads, uint32_t writes);

/* PMI bookkeeping, filled by the handlers in pmu.c. */
struct pmi_log {
	volatile uint32_t count;
	volatile uint32_t vector;
	volatile uint64_t tsc;     /* rdtsc at handler entry */
	volatile uint64_t status;  /* GLOBAL_STATUS read in the handler */
	volatile int status_fault;
};
extern struct pmi_log pmi_log;
/* Install the fixed-vector handler at `vector` and the NMI handler. */
void pmi_install(uint8_t vector);
/* Spin until more than `seen` PMIs are logged or `timeout_cycles` of TSC
 * pass. `seen` is read before the counter is enabled: an NMI may arrive as
 * soon as the enabling wrmsr returns. With `irq_on` the wait runs with IF=1
 * (fixed delivery); NMIs need no IF. The loop touches neither MSRs nor
 * I/O, so it causes no exits of its own. */
bool pmi_wait(uint32_t seen, uint64_t timeout_cycles, bool irq_on);

/* Measurements (bench mode); returns 0 or PMU_EXIT_BENCH. */
uint32_t pmu_bench(const struct pmu_info *p, const char *cmdline);

#endif
