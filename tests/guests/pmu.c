/* pmu: what PMU does the guest see? A probe for mpvm's PMU modes.
 *
 * Always prints CPUID leaf 0xA as
 *   "pmu: version=V gp=N width=W fixed=F ebx=0xB"
 * plus a details line. Options:
 *   expect=off   exit 0 iff version == 0 (the PMU is hidden), else exit 6
 *   expect=on    exit 0 iff version >= 1, else exit 6
 *   dump         read the architectural PMU MSRs and RDPMC 0 with the
 *                fault-tolerant helpers and print values or the fault
 * Without expect= it exits 0 after the probe.
 *
 * The steps are separate functions so that the soft-PMU tests can add theirs
 * (see the TODO hooks) without touching the probe.
 */
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
#define CPUID1_ECX_PDCM        (1u << 15)

struct pmu_info {
	char vendor[13];
	uint32_t max_leaf;
	uint32_t version;     /* EAX[7:0] */
	uint32_t gp;          /* EAX[15:8] general-purpose counters */
	uint32_t gp_width;    /* EAX[23:16] */
	uint32_t ebx_len;     /* EAX[31:24] length of the EBX event vector */
	uint32_t ebx;         /* set bit = architectural event NOT available */
	uint32_t fixed;       /* EDX[4:0] */
	uint32_t fixed_width; /* EDX[12:5] */
	bool pdcm;            /* CPUID.1:ECX[15], IA32_PERF_CAPABILITIES exists */
	/* AMD: leaf 0xA is Intel's; AMD describes its counters elsewhere. */
	bool amd_perfctr_core; /* 0x80000001.ECX[23]: 6 counters at 0xC0010200 */
	bool amd_perfmon_v2;   /* 0x80000022.EAX[0] */
	uint32_t amd_counters; /* 0x80000022.EBX[3:0] */
};

static void pmu_probe(struct pmu_info *p)
{
	struct cpuid_regs r = cpuid(0, 0);

	*p = (struct pmu_info){ .max_leaf = r.eax };
	memcpy(p->vendor, &r.ebx, 4);
	memcpy(p->vendor + 4, &r.edx, 4);
	memcpy(p->vendor + 8, &r.ecx, 4);
	p->pdcm = (cpuid(1, 0).ecx & CPUID1_ECX_PDCM) != 0;
	uint32_t max_ext = cpuid(0x80000000, 0).eax;
	if (max_ext >= 0x80000001)
		p->amd_perfctr_core = (cpuid(0x80000001, 0).ecx >> 23) & 1;
	if (max_ext >= 0x80000022) {
		r = cpuid(0x80000022, 0);
		p->amd_perfmon_v2 = r.eax & 1;
		p->amd_counters = r.ebx & 0xf;
	}
	if (p->max_leaf < 0xA)
		return; /* no leaf 0xA: no architectural PMU */
	r = cpuid(0xA, 0);
	p->version = r.eax & 0xff;
	p->gp = (r.eax >> 8) & 0xff;
	p->gp_width = (r.eax >> 16) & 0xff;
	p->ebx_len = r.eax >> 24;
	p->ebx = r.ebx;
	p->fixed = r.edx & 0x1f;
	p->fixed_width = (r.edx >> 5) & 0xff;
}

static void pmu_print(const struct pmu_info *p)
{
	gprintf("pmu: version=%u gp=%u width=%u fixed=%u ebx=0x%x\n",
		p->version, p->gp, p->gp_width, p->fixed, p->ebx);
	gprintf("pmu: vendor=%s max_leaf=0x%x fixed_width=%u ebx_len=%u pdcm=%u\n",
		p->vendor, p->max_leaf, p->fixed_width, p->ebx_len, p->pdcm);
	gprintf("pmu: amd perfctr_core=%u perfmon_v2=%u counters=%u\n",
		p->amd_perfctr_core, p->amd_perfmon_v2, p->amd_counters);
}

static void dump_msr(const char *name, uint32_t msr)
{
	uint64_t v;
	int fault = rdmsr_safe(msr, &v);

	if (fault)
		gprintf("pmu: rdmsr %s (0x%x) -> fault %u\n", name, msr, fault);
	else
		gprintf("pmu: rdmsr %s (0x%x) = 0x%llx\n", name, msr, (unsigned long long)v);
}

/* Reads whatever the probe says exists, and the PMU MSRs regardless: under a
 * userspace PMU model these accesses are the VMM's MSR-filter exits. */
static void pmu_dump(const struct pmu_info *p)
{
	uint64_t v;
	int fault;

	if (p->pdcm)
		dump_msr("PERF_CAPABILITIES", MSR_PERF_CAPABILITIES);
	dump_msr("PERFEVTSEL0", MSR_PERFEVTSEL0);
	dump_msr("PMC0", MSR_PMC0);
	dump_msr("FIXED_CTR0", MSR_FIXED_CTR0);
	dump_msr("FIXED_CTR_CTRL", MSR_FIXED_CTR_CTRL);
	dump_msr("PERF_GLOBAL_STATUS", MSR_PERF_GLOBAL_STATUS);
	dump_msr("PERF_GLOBAL_CTRL", MSR_PERF_GLOBAL_CTRL);
	dump_msr("PERF_GLOBAL_OVF_CTRL", MSR_PERF_GLOBAL_OVF);
	fault = rdpmc_safe(0, &v);
	if (fault)
		gprintf("pmu: rdpmc 0 -> fault %u\n", fault);
	else
		gprintf("pmu: rdpmc 0 = 0x%llx\n", (unsigned long long)v);
}

/* TODO(soft-pmu): counting test. Program PERFEVTSEL0 (event 0x3c unhalted
 * core cycles, USR|OS|EN) and/or FIXED_CTR_CTRL, enable in PERF_GLOBAL_CTRL,
 * halt or spin for a known time, read back with rdmsr_safe (not RDPMC: with
 * no in-kernel vPMU KVM answers RDPMC with #GP) and check the value moved
 * plausibly. Return an exit code, GUEST_EXIT_PASS on success. */
static uint32_t pmu_test_counting(const struct pmu_info *p, const char *cmdline)
{
	(void)p;
	(void)cmdline;
	return GUEST_EXIT_PASS;
}

/* TODO(soft-pmu): PMI test. Install a handler with idt_set_handler(vector),
 * program LVTPC (lapic_write(LAPIC_LVT_PMC, vector)), preload a counter
 * near overflow with INT enabled in its event select, enable interrupts
 * (sti) and wait for the handler; check PERF_GLOBAL_STATUS, clear it through
 * PERF_GLOBAL_OVF_CTRL, unmask LVTPC and lapic_eoi(). */
static uint32_t pmu_test_pmi(const struct pmu_info *p, const char *cmdline)
{
	(void)p;
	(void)cmdline;
	return GUEST_EXIT_PASS;
}

/* TODO(soft-pmu): decide whether expect=off should also require the AMD
 * bits to be clear; today it follows CPUID leaf 0xA only. */
static uint32_t pmu_check_expectation(const struct pmu_info *p, const char *cmdline)
{
	if (cmdline_has(cmdline, "expect=off") && p->version != 0) {
		gprintf("pmu: expected no PMU, got version %u\n", p->version);
		return GUEST_EXIT_PMU_MISMATCH;
	}
	if (cmdline_has(cmdline, "expect=on") && p->version == 0) {
		gprintf("pmu: expected a PMU, got version 0\n");
		return GUEST_EXIT_PMU_MISMATCH;
	}
	return GUEST_EXIT_PASS;
}

void guest_main(const char *cmdline)
{
	struct pmu_info p;
	uint32_t rc;

	pmu_probe(&p);
	pmu_print(&p);
	if (cmdline_has(cmdline, "dump"))
		pmu_dump(&p);
	rc = pmu_check_expectation(&p, cmdline);
	if (rc == GUEST_EXIT_PASS)
		rc = pmu_test_counting(&p, cmdline);
	if (rc == GUEST_EXIT_PASS)
		rc = pmu_test_pmi(&p, cmdline);
	gprintf("pmu: %s\n", rc == GUEST_EXIT_PASS ? "pass" : "fail");
	guest_exit(rc);
}
