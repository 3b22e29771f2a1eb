/* pmu: what PMU does the guest see, and does it behave? The end-to-end
 * check of mpvm's PMU modes.
 *
 * Always prints CPUID leaf 0xA as
 *   "pmu: version=V gp=N width=W fixed=F ebx=0xB"
 * plus details. Then, by command line:
 *   expect=on      exit 0 iff version >= 1
 *   expect=off     no PMU: leaf 0xA, PDCM and the AMD PMU bits clear, and no
 *                  PMU MSR holds state (each read #GPs or returns 0, each
 *                  write #GPs or does not stick); prints what each MSR did
 *   expect=soft    the architectural PMU as mpvm's soft model gives it:
 *                  leaf 0xA against the values below, counting, reserved-bit
 *                  #GPs, PMIs at the LVTPC vector (fixed and NMI), overflow
 *                  status and its clearing through OVF_CTRL, RDPMC faulting
 *   version=N gp=N width=N fixed=N fixed_width=N ebx=0xN
 *                  expected leaf 0xA fields (only those given are checked)
 *   expect_denied=1  event 0x3C umask 0 on a GP counter must not count (a
 *                  deny filter, or the event marked unavailable); fixed
 *                  counters must; the fixed-delivery PMI then comes from
 *                  fixed counter 2 instead of PMC0
 *   pmi_vector=N   vector for fixed delivery (default 0xF0)
 *   dump           read the PMU MSRs and RDPMC 0 and print values/faults
 *   bench          measurements instead of checks (pmu_bench.c)
 *   hold           before exiting, print "pmu: holding" and wait for a line
 *                  on the serial port (lets a test query mpvm's API)
 *   storm=MS       hostile: for MS milliseconds keep PMC0 one cycle short of
 *                  overflow, re-arming it in every PMI handler (a PMI storm)
 *   idle=MS        hostile: for MS milliseconds sit halted with PMC0 a few
 *                  microseconds short of overflow, re-armed after each PMI
 *                  (mpvm's overflow timer keeps waking an idle vCPU)
 *                  Both print "pmu: storm|idle: N PMIs in MS ms" and "pmu:
 *                  storm|idle done", then go on (use with "hold" to query).
 *   snap           across a snapshot (test_pmu_snapshot.sh): PMC0 and
 *                  FIXED_CTR1 count core cycles, PMC1 is set to raise a PMI
 *                  after snap_pmi_ms (default 1000) ms of cycles; prints
 *                  "pmu: snap armed ...", then sits halted (the soft PMU
 *                  counts CPU time: the counters stand almost still) until
 *                  a byte comes on the serial port; then spins, checking
 *                  that the counters only go up from where they were and
 *                  that the PMI programmed before the wait arrives, once.
 * Each check prints "pmu: ok   <what>" or "pmu: FAIL <what>"; the guest
 * ends with its PMU MSR accesses ("pmu: msr accesses total=.. gp=.. 0xMSR:
 * rRwW ..."), then "pmu: pass|fail", and exits 0 or the code of the first
 * failing area (pmu_guest.h).
 */
#include "pmu_guest.h"

#define PMI_VECTOR_DEFAULT 0xF0
#define PRESET_CYCLES 50000u   /* a counter this far from overflow wraps in ~20 us */
/* ~0.4 ms: far enough that mpvm's overflow timer, not the enabling MSR
 * exit itself, finds the wrap (one exit costs ~20 us of CPU time here). */
#define PRESET_TIMER_CYCLES 1000000u
#define SPIN_US 3000u          /* how long a counting window lasts */
#define PMI_TIMEOUT_MS 500u

static uint32_t first_fail;
static unsigned nchecks, nfails;
uint32_t pmu_tsc_khz;

/* ---- checks -------------------------------------------------------------- */

static bool streq(const char *a, const char *b)
{
	return strlen(a) == strlen(b) && !memcmp(a, b, strlen(a));
}

__attribute__((format(printf, 3, 4)))
static bool check(uint32_t code, bool ok, const char *fmt, ...)
{
	va_list ap;

	nchecks++;
	gprintf("pmu: %s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
	gprintf("\n");
	if (!ok) {
		nfails++;
		if (!first_fail)
			first_fail = code;
	}
	return ok;
}

/* ---- counted MSR access ----------------------------------------------------- */

#define MAX_ACC 40
static struct { uint32_t msr, reads, writes; } acc[MAX_ACC];
static uint32_t nacc, acc_total, acc_gp, acc_lost;

void pmu_count_bulk(uint32_t msr, uint32_t reads, uint32_t writes)
{
	uint32_t i;

	acc_total += reads + writes;
	for (i = 0; i < nacc && acc[i].msr != msr; i++)
		;
	if (i == nacc) {
		if (nacc == MAX_ACC) {
			acc_lost += reads + writes;
			return;
		}
		acc[nacc++].msr = msr;
	}
	acc[i].reads += reads;
	acc[i].writes += writes;
}

static void count_access(uint32_t msr, bool write)
{
	pmu_count_bulk(msr, !write, write);
}

int pmu_rd(uint32_t msr, uint64_t *val)
{
	count_access(msr, false);
	int f = rdmsr_safe(msr, val);
	if (f)
		acc_gp++;
	return f;
}

int pmu_wr(uint32_t msr, uint64_t val)
{
	count_access(msr, true);
	int f = wrmsr_safe(msr, val);
	if (f)
		acc_gp++;
	return f;
}

/* Read that must succeed; a fault reads as an impossible value and is a
 * failure of `code`. */
static uint64_t rd(uint32_t msr, uint32_t code)
{
	uint64_t v = 0;
	int f = pmu_rd(msr, &v);

	if (f) {
		check(code, false, "rdmsr 0x%x faulted (vector %d)", msr, f);
		return ~0ull;
	}
	return v;
}

static void wr(uint32_t msr, uint64_t v, uint32_t code)
{
	int f = pmu_wr(msr, v);

	if (f)
		check(code, false, "wrmsr 0x%x <- 0x%llx faulted (vector %d)", msr,
		      (unsigned long long)v, f);
}

void pmu_print_accesses(void)
{
	/* Insertion sort by MSR: the host prints its counts in the same order. */
	for (uint32_t i = 1; i < nacc; i++)
		for (uint32_t j = i; j > 0 && acc[j - 1].msr > acc[j].msr; j--) {
			__typeof__(acc[0]) t = acc[j];
			acc[j] = acc[j - 1];
			acc[j - 1] = t;
		}
	gprintf("pmu: msr accesses total=%u gp=%u", acc_total, acc_gp);
	for (uint32_t i = 0; i < nacc; i++)
		gprintf(" 0x%x:r%uw%u", acc[i].msr, acc[i].reads, acc[i].writes);
	if (acc_lost)
		gprintf(" (+%u untracked)", acc_lost);
	gprintf("\n");
}

/* ---- time ------------------------------------------------------------------- */

uint32_t tsc_calibrate_khz(void)
{
	uint32_t t0 = time_us();
	while (time_us() == t0)
		cpu_relax();
	t0 = time_us();
	uint64_t c0 = rdtsc();
	uint32_t t1;
	while ((t1 = time_us()) - t0 < 2000)
		cpu_relax();
	uint64_t c1 = rdtsc();
	uint32_t us = t1 - t0;
	return (uint32_t)udiv64((c1 - c0) * 1000, us);
}

static uint64_t us_to_cycles(uint32_t us)
{
	return udiv64((uint64_t)us * pmu_tsc_khz, 1000);
}

static void spin_us(uint32_t us)
{
	uint64_t end = rdtsc() + us_to_cycles(us);
	while (rdtsc() < end)
		cpu_relax();
}

/* ---- PMIs ---------------------------------------------------------------------- */

struct pmi_log pmi_log;

static void pmi_record(struct trap_frame *f)
{
	uint64_t s = 0;

	pmi_log.tsc = rdtsc();
	pmi_log.vector = f->vector;
	pmi_log.status_fault = pmu_rd(MSR_PERF_GLOBAL_STATUS, &s);
	pmi_log.status = s;
	pmi_log.count++;
}

static bool pmi_fixed_handler(struct trap_frame *f)
{
	pmi_record(f);
	lapic_eoi();
	return true;
}

/* The trap stubs return with popf/ret, not iret, so NMIs stay blocked after
 * this one (KVM unblocks them at the next iret): one NMI per boot. */
static bool pmi_nmi_handler(struct trap_frame *f)
{
	pmi_record(f);
	return true;
}

void pmi_install(uint8_t vector)
{
	idt_set_handler(vector, pmi_fixed_handler);
	idt_set_handler(2, pmi_nmi_handler);
}

bool pmi_wait(uint32_t seen, uint64_t timeout_cycles, bool irq_on)
{
	uint64_t end = rdtsc() + timeout_cycles;

	if (irq_on)
		__asm__ volatile("sti" ::: "memory");
	while (pmi_log.count == seen && rdtsc() < end)
		cpu_relax();
	if (irq_on)
		__asm__ volatile("cli" ::: "memory");
	return pmi_log.count != seen;
}

/* ---- probe -------------------------------------------------------------------- */

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
	p->eax = r.eax;
	p->ebx = r.ebx;
	p->edx = r.edx;
	p->version = r.eax & 0xff;
	p->gp = (r.eax >> 8) & 0xff;
	p->gp_width = (r.eax >> 16) & 0xff;
	p->ebx_len = r.eax >> 24;
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
	int fault = pmu_rd(msr, &v);

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

/* ---- expect=on / expect=off / leaf 0xA ------------------------------------------ */

static void expect_field(const char *cmdline, const char *key, uint32_t got)
{
	uint32_t want;

	if (cmdline_get_u32(cmdline, key, &want))
		check(PMU_EXIT_LEAF, got == want, "leaf 0xA %s=%u (expected %u)", key, got, want);
}

static void check_leaf(const struct pmu_info *p, const char *cmdline)
{
	expect_field(cmdline, "version", p->version);
	expect_field(cmdline, "gp", p->gp);
	expect_field(cmdline, "width", p->gp_width);
	expect_field(cmdline, "fixed", p->fixed);
	expect_field(cmdline, "fixed_width", p->fixed_width);
	expect_field(cmdline, "ebx", p->ebx);
}

/* Mode off: KVM, not mpvm, answers every PMU MSR. What it does depends on
 * the host (on an AMD host with no vPMU it reads the Intel PERFEVTSEL0/PMC0
 * indices as the K7 aliases: 0 and writes dropped; the rest #GP), so the
 * rule checked is the one that matters: nothing holds state. */
static void check_off_msrs(void)
{
	static const struct { uint32_t msr; uint64_t val; } m[] = {
		{ MSR_PERFEVTSEL0, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN },
		{ MSR_PMC0, 0x1234 },
		{ MSR_FIXED_CTR0, 0x1234 },
		{ MSR_PERF_CAPABILITIES, 0 },
		{ MSR_FIXED_CTR_CTRL, FIXED_EN(1) },
		{ MSR_PERF_GLOBAL_STATUS, 0 },
		{ MSR_PERF_GLOBAL_CTRL, 1 },
		{ MSR_PERF_GLOBAL_OVF, 0 },
		{ MSR_A_PMC0, 0x1234 },
	};
	uint64_t v;

	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		int rf = pmu_rd(m[i].msr, &v), wf;
		char rb[32], wb[32];
		bool ok = rf || v == 0;

		if (rf)
			gsnprintf(rb, sizeof(rb), "gp");
		else
			gsnprintf(rb, sizeof(rb), "0x%llx", (unsigned long long)v);
		wf = pmu_wr(m[i].msr, m[i].val);
		if (wf) {
			gsnprintf(wb, sizeof(wb), "gp");
		} else if (pmu_rd(m[i].msr, &v)) {
			gsnprintf(wb, sizeof(wb), "ok,readback=gp");
		} else {
			gsnprintf(wb, sizeof(wb), "ok,readback=0x%llx", (unsigned long long)v);
			ok = ok && (m[i].val == 0 || v == 0);
		}
		check(PMU_EXIT_OFF, ok, "off: msr 0x%x read=%s write=%s", m[i].msr, rb, wb);
	}
}

static void check_off(const struct pmu_info *p)
{
	uint64_t v;

	check(PMU_EXIT_LEAF, p->eax == 0 && p->ebx == 0 && p->edx == 0,
	      "off: leaf 0xA is zero (eax=0x%x ebx=0x%x edx=0x%x)", p->eax, p->ebx, p->edx);
	check(PMU_EXIT_LEAF, !p->pdcm, "off: CPUID.1:ECX.PDCM clear");
	check(PMU_EXIT_LEAF, !p->amd_perfctr_core && !p->amd_perfmon_v2,
	      "off: AMD PerfCtrExtCore and PerfMonV2 clear");
	check_off_msrs();
	/* RDPMC never exits to userspace: KVM answers it. Without a vPMU it
	 * #GPs on some KVMs and reads 0 on others (Linux 6.1 on AMD keeps a
	 * version-1 counter file); either way there is nothing to read. */
	v = 0;
	int f = rdpmc_safe(0, &v);
	check(PMU_EXIT_OFF, f == 13 || (f == 0 && v == 0),
	      "off: rdpmc 0 is KVM's, with nothing to count (fault %d, value 0x%llx)", f,
	      (unsigned long long)v);
}

/* ---- expect=soft ------------------------------------------------------------------ */

/* A soft PMC0 value RDPMC must not return. */
#define RDPMC_MARKER 0x5a5a5aULL

struct soft_ctx {
	const struct pmu_info *p;
	bool denied;           /* 0x3C:00 on GP counters must not count */
	uint8_t vector;
	uint64_t gp_mask, fixed_mask;
	uint64_t all;          /* valid GLOBAL_CTRL bits */
};

static void quiesce(const struct soft_ctx *c)
{
	wr(MSR_PERF_GLOBAL_CTRL, 0, PMU_EXIT_GP);
	for (uint32_t i = 0; i < c->p->gp; i++)
		wr(MSR_PERFEVTSEL0 + i, 0, PMU_EXIT_GP);
	wr(MSR_FIXED_CTR_CTRL, 0, PMU_EXIT_GP);
	wr(MSR_PERF_GLOBAL_OVF, c->all, PMU_EXIT_STATUS);
	lapic_write(LAPIC_LVT_PMC, LVT_MASKED | c->vector);
}

static void check_caps(const struct soft_ctx *c)
{
	check(PMU_EXIT_LEAF, c->p->pdcm, "PDCM set (PERF_CAPABILITIES exists)");
	if (c->p->pdcm) {
		uint64_t caps = rd(MSR_PERF_CAPABILITIES, PMU_EXIT_GP);
		check(PMU_EXIT_GP, caps & PERF_CAP_FW_WRITES,
		      "PERF_CAPABILITIES=0x%llx has FW_WRITES (full-width A_PMC writes)",
		      (unsigned long long)caps);
	}
	uint64_t g = rd(MSR_PERF_GLOBAL_CTRL, PMU_EXIT_GP);
	check(PMU_EXIT_GP, g == c->all, "GLOBAL_CTRL resets to every counter enabled (0x%llx)",
	      (unsigned long long)g);
}

/* Programs PMC0 = core cycles, PMC1 = instructions (nothing counts those
 * here), and every fixed counter, then checks what moves. */
static void check_counting(const struct soft_ctx *c)
{
	const struct pmu_info *p = c->p;
	uint64_t en = 0;

	quiesce(c);
	wr(MSR_PMC0, 0, PMU_EXIT_COUNTING);
	wr(MSR_PERFEVTSEL0, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN, PMU_EXIT_COUNTING);
	en |= 1;
	if (p->gp >= 2) {
		wr(MSR_PMC0 + 1, 0, PMU_EXIT_COUNTING);
		wr(MSR_PERFEVTSEL0 + 1, EV_INSTRUCTIONS | EVT_USR | EVT_OS | EVT_EN,
		   PMU_EXIT_COUNTING);
		en |= 2;
	}
	uint64_t fctl = 0;
	for (uint32_t i = 0; i < p->fixed; i++) {
		wr(MSR_FIXED_CTR0 + i, 0, PMU_EXIT_COUNTING);
		fctl |= FIXED_EN(i);
		en |= 1ull << FIXED_BIT(i);
	}
	wr(MSR_FIXED_CTR_CTRL, fctl, PMU_EXIT_COUNTING);

	uint64_t t0 = rdtsc();
	wr(MSR_PERF_GLOBAL_CTRL, en, PMU_EXIT_COUNTING);
	spin_us(SPIN_US);
	uint64_t a1 = rd(MSR_PMC0, PMU_EXIT_COUNTING);
	uint64_t f1 = p->fixed > 1 ? rd(MSR_FIXED_CTR0 + 1, PMU_EXIT_COUNTING) : 0;
	spin_us(SPIN_US);
	uint64_t a2 = rd(MSR_PMC0, PMU_EXIT_COUNTING);
	uint64_t f2 = p->fixed > 1 ? rd(MSR_FIXED_CTR0 + 1, PMU_EXIT_COUNTING) : 0;
	uint64_t f2ref = p->fixed > 2 ? rd(MSR_FIXED_CTR0 + 2, PMU_EXIT_COUNTING) : 0;
	uint64_t t1 = rdtsc();
	uint64_t wall = t1 - t0;
	/* Cycles follow the vCPU thread's CPU time, which cannot exceed wall
	 * time; 1/8 plus 1 ms of slack for clock granularity. */
	uint64_t bound = wall + wall / 8 + us_to_cycles(1000);

	if (c->denied) {
		check(PMU_EXIT_FILTER, a1 == 0 && a2 == 0,
		      "denied event 0x3c:00 on PMC0 does not count (PMC0=%llu, then %llu)",
		      (unsigned long long)a1, (unsigned long long)a2);
	} else {
		check(PMU_EXIT_COUNTING, a1 > 0 && a2 > a1,
		      "PMC0 (0x3c core cycles) advances while spinning: %llu then %llu",
		      (unsigned long long)a1, (unsigned long long)a2);
		check(PMU_EXIT_COUNTING, a2 <= bound,
		      "PMC0 (%llu) not above the TSC time elapsed (%llu cycles)",
		      (unsigned long long)a2, (unsigned long long)wall);
		gprintf("pmu: info PMC0 counted %u%% of the TSC cycles elapsed\n",
			(uint32_t)udiv64(a2 * 100, wall && wall < (1ull << 32) ? (uint32_t)wall : 1));
	}
	if (p->fixed > 1) {
		check(PMU_EXIT_COUNTING, f1 > 0 && f2 > f1,
		      "FIXED_CTR1 (core cycles) advances while spinning: %llu then %llu",
		      (unsigned long long)f1, (unsigned long long)f2);
		check(PMU_EXIT_COUNTING, f2 <= bound, "FIXED_CTR1 (%llu) not above the TSC time elapsed",
		      (unsigned long long)f2);
	}
	if (p->fixed > 2)
		check(PMU_EXIT_COUNTING, f2ref > 0, "FIXED_CTR2 (reference cycles) advances: %llu",
		      (unsigned long long)f2ref);
	if (p->gp >= 2) {
		uint64_t i1 = rd(MSR_PMC0 + 1, PMU_EXIT_COUNTING);
		check(PMU_EXIT_COUNTING, i1 == 0,
		      "PMC1 (0xc0 instructions, marked unavailable) does not count: %llu",
		      (unsigned long long)i1);
	}
	if (p->fixed > 0) {
		uint64_t i0 = rd(MSR_FIXED_CTR0, PMU_EXIT_COUNTING);
		check(PMU_EXIT_COUNTING, i0 == 0,
		      "FIXED_CTR0 (instructions) does not count: %llu", (unsigned long long)i0);
	}

	/* GLOBAL_CTRL = 0 stops everything. */
	wr(MSR_PERF_GLOBAL_CTRL, 0, PMU_EXIT_COUNTING);
	uint64_t s1 = p->fixed > 1 ? rd(MSR_FIXED_CTR0 + 1, PMU_EXIT_COUNTING) : 0;
	uint64_t g1 = rd(MSR_PMC0, PMU_EXIT_COUNTING);
	spin_us(SPIN_US / 2);
	uint64_t s2 = p->fixed > 1 ? rd(MSR_FIXED_CTR0 + 1, PMU_EXIT_COUNTING) : 0;
	uint64_t g2 = rd(MSR_PMC0, PMU_EXIT_COUNTING);
	check(PMU_EXIT_COUNTING, s1 == s2 && g1 == g2,
	      "GLOBAL_CTRL=0 stops the counters (FIXED_CTR1 %llu -> %llu, PMC0 %llu -> %llu)",
	      (unsigned long long)s1, (unsigned long long)s2, (unsigned long long)g1,
	      (unsigned long long)g2);

	/* A write to a running counter continues from the written value. */
	if (!c->denied) {
		wr(MSR_PERF_GLOBAL_CTRL, 1, PMU_EXIT_COUNTING);
		/* Before the write: the counter restarts inside its exit, so what
		 * it counts lies between t2 and the end of the read. */
		uint64_t t2 = rdtsc();
		wr(MSR_PMC0, 1000000, PMU_EXIT_COUNTING);
		uint64_t w = rd(MSR_PMC0, PMU_EXIT_COUNTING);
		uint64_t el = rdtsc() - t2;
		check(PMU_EXIT_COUNTING, w >= 1000000 && w <= 1000000 + el + el / 8 + us_to_cycles(1000),
		      "write to a running PMC0 continues from it: 1000000 -> %llu",
		      (unsigned long long)w);
	}
	quiesce(c);
}

struct gp_case {
	uint32_t msr;
	uint64_t val;
	const char *what;
};

static void check_reserved(const struct soft_ctx *c)
{
	const struct pmu_info *p = c->p;
	struct gp_case cs[12];
	int n = 0;

	quiesce(c);
	cs[n++] = (struct gp_case){ MSR_PERFEVTSEL0, EV_CORE_CYCLES | EVT_ANY,
				    "PERFEVTSEL0 bit 21 (AnyThread, v3+)" };
	cs[n++] = (struct gp_case){ MSR_PERFEVTSEL0, EV_CORE_CYCLES | (1ull << 32),
				    "PERFEVTSEL0 bit 32" };
	cs[n++] = (struct gp_case){ MSR_PERF_GLOBAL_STATUS, 1, "write to GLOBAL_STATUS (read-only)" };
	if (p->gp < 32)
		cs[n++] = (struct gp_case){ MSR_PERF_GLOBAL_CTRL, 1ull << p->gp,
					    "GLOBAL_CTRL bit of a GP counter that does not exist" };
	cs[n++] = (struct gp_case){ MSR_PERF_GLOBAL_CTRL, 1ull << 40, "GLOBAL_CTRL bit 40" };
	cs[n++] = (struct gp_case){ MSR_PERF_GLOBAL_OVF, 1ull << 40, "OVF_CTRL bit 40" };
	cs[n++] = (struct gp_case){ MSR_PERF_CAPABILITIES, 0, "write to PERF_CAPABILITIES (read-only)" };
	if (p->fixed > 0) {
		cs[n++] = (struct gp_case){ MSR_FIXED_CTR_CTRL, 1ull << 2,
					    "FIXED_CTR_CTRL bit 2 (AnyThread, v3+)" };
		cs[n++] = (struct gp_case){ MSR_FIXED_CTR0, width_mask(p->fixed_width) + 1,
					    "FIXED_CTR0 above its width" };
	}
	if (p->fixed < 16)
		cs[n++] = (struct gp_case){ MSR_FIXED_CTR_CTRL, FIXED_EN(p->fixed),
					    "FIXED_CTR_CTRL field of a fixed counter that does not exist" };
	cs[n++] = (struct gp_case){ MSR_A_PMC0, width_mask(p->gp_width) + 1, "A_PMC0 above its width" };
	if (p->gp < 8)
		cs[n++] = (struct gp_case){ MSR_PERFEVTSEL0 + p->gp, 0,
					    "PERFEVTSEL of a GP counter that does not exist" };

	for (int i = 0; i < n; i++) {
		int f = pmu_wr(cs[i].msr, cs[i].val);
		check(PMU_EXIT_GP, f == 13, "#GP on %s (wrmsr 0x%x <- 0x%llx): got %d", cs[i].what,
		      cs[i].msr, (unsigned long long)cs[i].val, f);
	}
	uint64_t v;
	int f = p->gp < 8 ? pmu_rd(MSR_PERFEVTSEL0 + p->gp, &v) : 13;
	check(PMU_EXIT_GP, f == 13, "#GP on rdmsr of a PERFEVTSEL that does not exist: got %d", f);
	/* A refused write leaves the register alone. */
	uint64_t e = rd(MSR_PERFEVTSEL0, PMU_EXIT_GP);
	check(PMU_EXIT_GP, e == 0, "PERFEVTSEL0 unchanged by the refused writes (0x%llx)",
	      (unsigned long long)e);
	/* Legal values just inside the limits are accepted. */
	f = pmu_wr(MSR_A_PMC0, width_mask(p->gp_width));
	check(PMU_EXIT_GP, f == 0, "A_PMC0 takes a full-width value (got %d)", f);
	f = pmu_wr(MSR_PMC0, (uint32_t)-(int32_t)PRESET_CYCLES);
	v = rd(MSR_PMC0, PMU_EXIT_GP);
	check(PMU_EXIT_GP, f == 0 && v == width_mask(p->gp_width) - (PRESET_CYCLES - 1),
	      "legacy PMC0 write sign-extends bit 31 to the width: 0x%llx", (unsigned long long)v);
	/* RDPMC never reaches mpvm (KVM has no RDPMC exit to userspace): it
	 * #GPs or reads KVM's own counter, never the soft PMC0 set here. */
	wr(MSR_PMC0, RDPMC_MARKER, PMU_EXIT_GP);
	f = rdpmc_safe(0, &v);
	check(PMU_EXIT_GP, f == 13 || (f == 0 && v != RDPMC_MARKER),
	      "rdpmc does not read the soft counters (fault %d, value 0x%llx)", f, (unsigned long long)v);
	wr(MSR_PMC0, 0, PMU_EXIT_GP);
	quiesce(c);
}

/* Presets counter `bit` (GP i or fixed 32+i) `preset` cycles short of
 * overflow with its PMI bit, waits for the PMI and checks status and its
 * clearing. */
static void check_pmi(const struct soft_ctx *c, int bit, bool nmi, uint32_t preset)
{
	const uint32_t code = nmi ? PMU_EXIT_PMI_NMI : PMU_EXIT_PMI_FIXED;
	const char *how = nmi ? "NMI" : "fixed";
	uint64_t mask = bit < 32 ? c->gp_mask : c->fixed_mask;
	uint64_t bitv = 1ull << bit;
	char name[16];

	if (bit < 32)
		gsnprintf(name, sizeof(name), "PMC%d", bit);
	else
		gsnprintf(name, sizeof(name), "FIXED_CTR%d", bit - 32);
	quiesce(c);
	pmi_log.count = 0;
	if (bit < 32) {
		/* The legacy alias: -PRESET sign-extended to the width. */
		wr(MSR_PMC0 + bit, (uint32_t)-(int32_t)preset, code);
		wr(MSR_PERFEVTSEL0 + bit, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN | EVT_INT, code);
	} else {
		wr(MSR_FIXED_CTR0 + bit - 32, mask + 1 - preset, code);
		wr(MSR_FIXED_CTR_CTRL, FIXED_EN(bit - 32) | FIXED_PMI(bit - 32), code);
	}
	lapic_write(LAPIC_LVT_PMC, nmi ? LVT_DM_NMI : c->vector);
	uint64_t t0 = rdtsc();
	wr(MSR_PERF_GLOBAL_CTRL, bitv, code);
	bool got = pmi_wait(0, us_to_cycles(PMI_TIMEOUT_MS * 1000), !nmi);
	wr(MSR_PERF_GLOBAL_CTRL, 0, code);
	/* After the disabling write: the counter stopped inside that exit, so
	 * everything it counted lies between t0 and t1 (the exits' own time
	 * included, which a soft PMU counts as the vCPU's cycles). */
	uint64_t t1 = rdtsc();
	lapic_write(LAPIC_LVT_PMC, LVT_MASKED | c->vector);

	if (!check(code, got, "PMI (%s delivery) from %s preset %u cycles short of overflow", how,
		   name, preset)) {
		quiesce(c);
		return;
	}
	uint32_t after_us = (uint32_t)udiv64((pmi_log.tsc - t0) * 1000, pmu_tsc_khz);
	check(code, pmi_log.vector == (nmi ? 2u : c->vector), "PMI arrived at vector %u (%u us after enabling)",
	      pmi_log.vector, after_us);
	check(code, pmi_log.count == 1, "exactly one PMI (%u)", pmi_log.count);
	/* Counting starts inside the enabling wrmsr, after t0: the counter
	 * cannot have wrapped before `preset` TSC cycles. */
	check(code, pmi_log.tsc - t0 >= preset, "PMI not early: %llu TSC cycles after enabling, preset %u",
	      (unsigned long long)(pmi_log.tsc - t0), preset);
	check(PMU_EXIT_STATUS, !pmi_log.status_fault && (pmi_log.status & bitv),
	      "GLOBAL_STATUS in the handler has %s's overflow bit (0x%llx)", name,
	      (unsigned long long)pmi_log.status);
	uint64_t v = rd(bit < 32 ? MSR_PMC0 + bit : MSR_FIXED_CTR0 + bit - 32, code);
	check(code, v < t1 - t0, "%s wrapped to a small value (%llu, %llu TSC cycles from enabling to disabling)",
	      name, (unsigned long long)v, (unsigned long long)(t1 - t0));
	uint64_t s = rd(MSR_PERF_GLOBAL_STATUS, PMU_EXIT_STATUS);
	check(PMU_EXIT_STATUS, s == bitv, "GLOBAL_STATUS = 0x%llx after the PMI", (unsigned long long)s);
	wr(MSR_PERF_GLOBAL_OVF, bitv, PMU_EXIT_STATUS);
	s = rd(MSR_PERF_GLOBAL_STATUS, PMU_EXIT_STATUS);
	check(PMU_EXIT_STATUS, s == 0, "OVF_CTRL clears the bit: GLOBAL_STATUS = 0x%llx",
	      (unsigned long long)s);
	uint64_t o = rd(MSR_PERF_GLOBAL_OVF, PMU_EXIT_STATUS);
	check(PMU_EXIT_STATUS, o == 0, "OVF_CTRL reads as 0 (0x%llx)", (unsigned long long)o);
	quiesce(c);
}

/* With the PMI masked in LVTPC an overflow still sets the status bit, and
 * no interrupt arrives. */
static void check_masked_overflow(const struct soft_ctx *c)
{
	quiesce(c);
	pmi_log.count = 0;
	int fbit = c->p->fixed > 1 ? FIXED_BIT(1) : 0;
	if (fbit) {
		wr(MSR_FIXED_CTR0 + 1, c->fixed_mask + 1 - PRESET_CYCLES, PMU_EXIT_STATUS);
		wr(MSR_FIXED_CTR_CTRL, FIXED_EN(1) | FIXED_PMI(1), PMU_EXIT_STATUS);
	} else {
		wr(MSR_PMC0, (uint32_t)-(int32_t)PRESET_CYCLES, PMU_EXIT_STATUS);
		wr(MSR_PERFEVTSEL0, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN | EVT_INT, PMU_EXIT_STATUS);
	}
	wr(MSR_PERF_GLOBAL_CTRL, 1ull << fbit, PMU_EXIT_STATUS);
	/* Wait for the overflow itself (the vCPU may be descheduled for a
	 * while), then give a PMI that should not come 1 ms more, IF=1. */
	uint64_t end = rdtsc() + us_to_cycles(PMI_TIMEOUT_MS * 1000), s;
	__asm__ volatile("sti" ::: "memory");
	do
		s = rd(MSR_PERF_GLOBAL_STATUS, PMU_EXIT_STATUS);
	while (!(s & (1ull << fbit)) && rdtsc() < end);
	spin_us(1000);
	__asm__ volatile("cli" ::: "memory");
	bool got = pmi_log.count != 0;
	check(PMU_EXIT_STATUS, !got && s == 1ull << fbit,
	      "masked LVTPC: overflow sets GLOBAL_STATUS (0x%llx) but no PMI arrives (%s)",
	      (unsigned long long)s, got ? "one did" : "none");
	quiesce(c);
}

static void check_soft(const struct pmu_info *p, const char *cmdline)
{
	uint32_t vec = PMI_VECTOR_DEFAULT, d = 0;
	struct soft_ctx c = { .p = p };

	if (cmdline_get_u32(cmdline, "pmi_vector", &vec) && (vec < 32 || vec > 255)) {
		gprintf("pmu: pmi_vector=%u is not a usable vector (32..255)\n", vec);
		vec = PMI_VECTOR_DEFAULT;
	}
	c.vector = (uint8_t)vec;
	c.denied = cmdline_get_u32(cmdline, "expect_denied", &d) && d;
	if (!check(PMU_EXIT_LEAF, p->version >= 2 && p->gp >= 1 && p->gp_width >= 32,
		   "an architectural PMU v2 with GP counters (version=%u gp=%u width=%u)", p->version,
		   p->gp, p->gp_width))
		return;
	c.gp_mask = width_mask(p->gp_width);
	c.fixed_mask = width_mask(p->fixed_width);
	c.all = width_mask(p->gp) | (width_mask(p->fixed) << 32);
	pmi_install(c.vector);

	check_caps(&c);
	check_counting(&c);
	check_reserved(&c);
	/* Fixed delivery first: the NMI leaves NMIs blocked (no iret). */
	if (!c.denied)
		check_pmi(&c, 0, false, PRESET_CYCLES);
	else if (p->fixed > 2)
		check_pmi(&c, FIXED_BIT(2), false, PRESET_CYCLES);
	check_masked_overflow(&c);
	if (p->fixed > 1)
		check_pmi(&c, FIXED_BIT(1), true, PRESET_TIMER_CYCLES);
	else
		check_pmi(&c, 0, true, PRESET_TIMER_CYCLES);
}

/* ---- storm=MS / idle=MS: hostile use of the soft PMU ---------------------------- */

static volatile uint32_t hostile_pmis;
static uint32_t hostile_preset; /* PMC0 is re-armed this many cycles short */

static void hostile_arm(void)
{
	pmu_wr(MSR_PMC0, (uint32_t)-(int32_t)hostile_preset);
	pmu_wr(MSR_PERF_GLOBAL_OVF, 1);
}

/* The handler only counts: the trap stubs return with popf/ret, and a PMI
 * already pending at that popf would nest, frame on frame, until the stack
 * overflows. So PMC0 is re-armed by the loop below, with interrupts off. */
static bool hostile_handler(struct trap_frame *f)
{
	(void)f;
	hostile_pmis++;
	lapic_eoi();
	return true;
}

static void hostile(const char *what, uint32_t ms, uint32_t preset, bool halt)
{
	uint64_t end = rdtsc() + us_to_cycles(ms * 1000u);

	hostile_pmis = 0;
	hostile_preset = preset;
	idt_set_handler(PMI_VECTOR_DEFAULT, hostile_handler);
	pmu_wr(MSR_PERF_GLOBAL_CTRL, 0); /* its reset value enables the GP counters */
	hostile_arm();
	pmu_wr(MSR_PERFEVTSEL0, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN | EVT_INT);
	lapic_write(LAPIC_LVT_PMC, PMI_VECTOR_DEFAULT);
	pmu_wr(MSR_PERF_GLOBAL_CTRL, 1);
	uint32_t seen = 0;
	while (rdtsc() < end) {
		if (halt) {
			/* Take a PMI that became pending while interrupts were
			 * off (the re-arm's own MSR exits can overflow the
			 * counter) before halting: halting on an interrupt
			 * already pending since before STI was seen to sleep
			 * for good under nested SVM emulated by QEMU (the lab).
			 * Nothing can inject between here and the HLT: mpvm
			 * injects only on a vCPU exit. */
			__asm__ volatile("sti; nop; cli" ::: "memory");
			if (hostile_pmis == seen)
				wait_for_interrupt(); /* a PMI wakes us */
		} else
			__asm__ volatile("sti; nop; cli" ::: "memory");
		if (hostile_pmis != seen) {
			seen = hostile_pmis;
			hostile_arm(); /* at once: the next PMI is as close as it can be */
		}
		if (halt && lapic_read(LAPIC_TIMER_CUR) == 0)
			break; /* no clock left to wait on */
	}
	pmu_wr(MSR_PERF_GLOBAL_CTRL, 0);
	pmu_wr(MSR_PERFEVTSEL0, 0);
	pmu_wr(MSR_PERF_GLOBAL_OVF, 1);
	lapic_write(LAPIC_LVT_PMC, LVT_MASKED | PMI_VECTOR_DEFAULT);
	gprintf("pmu: %s: %u PMIs in %u ms\n", what, hostile_pmis, ms);
	check(PMU_EXIT_PMI_FIXED, hostile_pmis > 0, "%s: the guest took PMIs (%u)", what, hostile_pmis);
	gprintf("pmu: %s done\n", what);
}

/* ---- snap: the soft PMU across a snapshot ---------------------------------------- */

#define SNAP_TIMER_VECTOR 0xE0
#define SNAP_TICK (10u * 62500u) /* 10 ms of the LAPIC timer: 1 GHz bus, divide-by-16 */

static bool snap_tick(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
	return true;
}

/* Halted, woken every 10 ms to look at the serial port, until a byte comes
 * or limit_ms pass. The vCPU thread sleeps meanwhile, so the soft PMU's
 * counters stand almost still however long the test takes to pause,
 * snapshot, kill and restore (the LAPIC timer is part of the snapshot). */
static bool snap_wait_for_go(uint32_t limit_ms)
{
	bool go = false;

	idt_set_handler(SNAP_TIMER_VECTOR, snap_tick);
	lapic_write(LAPIC_LVT_TIMER, SNAP_TIMER_VECTOR); /* one-shot, unmasked */
	for (uint32_t t = 0; t < limit_ms / 10 && !(go = serial_try_getc() >= 0); t++) {
		lapic_write(LAPIC_TIMER_INIT, SNAP_TICK);
		wait_for_interrupt();
	}
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | SNAP_TIMER_VECTOR);
	return go;
}

static void snap(const struct pmu_info *p, const char *cmdline)
{
	uint32_t pmi_ms = 1000;
	uint64_t armed0 = 0, armedf = 0, v0 = 0, vf = 0, v1 = 0;

	cmdline_get_u32(cmdline, "snap_pmi_ms", &pmi_ms);
	uint64_t distance = us_to_cycles(pmi_ms * 1000u);
	pmi_install(PMI_VECTOR_DEFAULT);
	lapic_write(LAPIC_LVT_PMC, PMI_VECTOR_DEFAULT);
	pmu_wr(MSR_PERF_GLOBAL_CTRL, 0);
	pmu_wr(MSR_PMC0, 0);
	pmu_wr(MSR_PERFEVTSEL0, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN);
	/* Full width (A_PMC1): a second of cycles is more than 31 bits. */
	pmu_wr(MSR_A_PMC0 + 1, (0 - distance) & width_mask(p->gp_width));
	pmu_wr(MSR_PERFEVTSEL0 + 1, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN | EVT_INT);
	pmu_wr(MSR_FIXED_CTR0 + 1, 0);
	pmu_wr(MSR_FIXED_CTR_CTRL, FIXED_EN(1));
	pmu_wr(MSR_PERF_GLOBAL_CTRL, 3 | 1ull << FIXED_BIT(1));
	pmu_rd(MSR_PMC0, &armed0);
	pmu_rd(MSR_FIXED_CTR0 + 1, &armedf);
	gprintf("pmu: snap armed pmc0=0x%llx fixed1=0x%llx pmi_in=0x%llx cycles\n",
		(unsigned long long)armed0, (unsigned long long)armedf, (unsigned long long)distance);

	bool go = snap_wait_for_go(120000);
	uint32_t pmis_before = pmi_log.count;
	pmu_rd(MSR_PMC0, &v0);
	pmu_rd(MSR_FIXED_CTR0 + 1, &vf);
	gprintf("pmu: snap go pmc0=0x%llx fixed1=0x%llx\n", (unsigned long long)v0, (unsigned long long)vf);
	check(PMU_EXIT_COUNTING, go, "the go came on the serial port");
	check(PMU_EXIT_PMI_FIXED, pmis_before == 0, "no PMI while waiting (%u): it is still to come", pmis_before);
	check(PMU_EXIT_COUNTING, v0 >= armed0 && vf >= armedf,
	      "the counters did not go back while waiting: PMC0 0x%llx -> 0x%llx, FIXED_CTR1 0x%llx -> 0x%llx",
	      (unsigned long long)armed0, (unsigned long long)v0, (unsigned long long)armedf,
	      (unsigned long long)vf);

	/* Spin until the PMI, reading the counters every millisecond. */
	bool mono = true;
	uint64_t prev0 = v0, prevf = vf, t0 = rdtsc(), end = t0 + 5 * distance + us_to_cycles(5000000);
	uint32_t reads = 0;
	__asm__ volatile("sti" ::: "memory");
	while (pmi_log.count == pmis_before && rdtsc() < end) {
		uint64_t until = rdtsc() + us_to_cycles(1000);
		while (rdtsc() < until)
			cpu_relax();
		pmu_rd(MSR_PMC0, &v0);
		pmu_rd(MSR_FIXED_CTR0 + 1, &vf);
		if (v0 < prev0 || vf < prevf)
			mono = false;
		prev0 = v0;
		prevf = vf;
		if (reads++ % 100 == 0)
			gprintf("pmu: snap pmc0=0x%llx fixed1=0x%llx\n", (unsigned long long)v0,
				(unsigned long long)vf);
	}
	uint32_t ms = (uint32_t)udiv64(rdtsc() - t0, pmu_tsc_khz ? pmu_tsc_khz : 1);
	/* Another 20 ms: a second PMI would show now. */
	uint64_t until = rdtsc() + us_to_cycles(20000);
	while (rdtsc() < until)
		cpu_relax();
	__asm__ volatile("cli" ::: "memory");
	pmu_rd(MSR_PMC0 + 1, &v1);
	gprintf("pmu: snap pmi count=%u vector=%u status=0x%llx after %u ms, pmc0=0x%llx pmc1=0x%llx\n",
		pmi_log.count, pmi_log.vector, (unsigned long long)pmi_log.status, ms,
		(unsigned long long)v0, (unsigned long long)v1);
	check(PMU_EXIT_COUNTING, mono && reads > 0, "PMC0 and FIXED_CTR1 only went up (%u reads)", reads);
	check(PMU_EXIT_COUNTING, v0 > armed0, "PMC0 went on counting: 0x%llx at the snapshot, 0x%llx now",
	      (unsigned long long)armed0, (unsigned long long)v0);
	check(PMU_EXIT_PMI_FIXED, pmi_log.count == pmis_before + 1 && pmi_log.vector == PMI_VECTOR_DEFAULT,
	      "the PMI programmed before the snapshot arrived once, at vector %u", PMI_VECTOR_DEFAULT);
	check(PMU_EXIT_STATUS, (pmi_log.status & 2) && v1 < distance,
	      "GLOBAL_STATUS says PMC1 overflowed (0x%llx; PMC1 wrapped to 0x%llx)",
	      (unsigned long long)pmi_log.status, (unsigned long long)v1);
	pmu_wr(MSR_PERF_GLOBAL_CTRL, 0);
	pmu_wr(MSR_PERF_GLOBAL_OVF, 3);
	lapic_write(LAPIC_LVT_PMC, LVT_MASKED | PMI_VECTOR_DEFAULT);
}

void guest_main(const char *cmdline)
{
	struct pmu_info p;
	char expect[16] = "";

	pmu_probe(&p);
	pmu_print(&p);
	time_init();
	pmu_tsc_khz = tsc_calibrate_khz();
	if (cmdline_has(cmdline, "dump"))
		pmu_dump(&p);
	cmdline_get(cmdline, "expect", expect, sizeof(expect));
	check_leaf(&p, cmdline);
	if (streq(expect, "off")) {
		check_off(&p);
	} else if (streq(expect, "on")) {
		check(PMU_EXIT_LEAF, p.version >= 1, "a PMU is visible (version %u)", p.version);
	} else if (streq(expect, "soft")) {
		gprintf("pmu: info tsc_khz=%u\n", pmu_tsc_khz);
		check_soft(&p, cmdline);
	}
	uint32_t ms;
	if (cmdline_get_u32(cmdline, "storm", &ms))
		hostile("storm", ms, 1, false);
	if (cmdline_get_u32(cmdline, "idle", &ms))
		hostile("idle", ms, (uint32_t)us_to_cycles(20), true);
	if (cmdline_has(cmdline, "snap"))
		snap(&p, cmdline);
	if (cmdline_has(cmdline, "bench")) {
		uint32_t rc = pmu_bench(&p, cmdline);
		if (rc && !first_fail)
			first_fail = rc;
	}
	pmu_print_accesses();
	if (nchecks)
		gprintf("pmu: %u checks, %u failed\n", nchecks, nfails);
	gprintf("pmu: %s\n", first_fail ? "fail" : "pass");
	if (cmdline_has(cmdline, "hold")) {
		char line[8];
		gprintf("pmu: holding\n");
		serial_read_line(line, sizeof(line));
	}
	guest_exit(first_fail);
}
