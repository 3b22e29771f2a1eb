/* pmu bench mode: raw numbers for bench/pmu (the host side turns them into a
 * table). Everything is timed with the TSC inside the guest; bench/pmu also
 * times whole runs from outside.
 *
 * Command line: `bench` plus
 *   bench_n=N       iterations of each exit loop (default 2000, at most 10^6)
 *   bench_only=K    one of loop, msr, wrmsr, io, cpuid, pmi (default: all)
 *   bench_pmi=K     PMI samples per preset (default 10, at most 100)
 * Output, one line each:
 *   bench: tsc_khz=N
 *   bench: loop n=N cycles=C     the same loop with no exiting instruction
 *   bench: msr n=N cycles=C      rdmsr PERF_GLOBAL_CTRL: an MSR-filter exit mpvm answers
 *   bench: wrmsr n=N cycles=C    wrmsr PERF_GLOBAL_CTRL <- 0: the same, as a write
 *   bench: io n=N cycles=C       inb from an unclaimed port: an I/O exit mpvm answers
 *   bench: cpuid n=N cycles=C    cpuid: an exit KVM handles without userspace
 *   bench: pmi preset=P wrmsr=W to_pmi=T   per sample, TSC cycles: W = the
 *       enabling wrmsr round trip, T = enable (before the wrmsr) -> handler
 *   bench: done
 */
#include "pmu_guest.h"

#define BENCH_PORT 0x2f0 /* nothing claims it: reads float high (0xff) */
#define BENCH_VECTOR 0xF1
#define DEFAULT_N 2000
#define MAX_N 1000000
#define DEFAULT_SAMPLES 10
#define MAX_SAMPLES 100

static const uint32_t presets[] = { 20000, 1000000 };

static bool want(const char *only, const char *what)
{
	size_t n = strlen(what);
	return !only[0] || (strlen(only) == n && !memcmp(only, what, n));
}

static uint64_t loop_plain(uint32_t n)
{
	uint64_t t0 = rdtsc();
	for (uint32_t i = n; i; i--)
		__asm__ volatile("" ::: "memory");
	return rdtsc() - t0;
}

static uint64_t loop_msr(uint32_t n)
{
	uint64_t t0 = rdtsc();
	for (uint32_t i = n; i; i--) {
		uint32_t lo, hi;
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_PERF_GLOBAL_CTRL) : "memory");
	}
	uint64_t c = rdtsc() - t0;
	pmu_count_bulk(MSR_PERF_GLOBAL_CTRL, n, 0);
	return c;
}

/* Writes 0 (counting already stopped): the write path, including the
 * overflow-timer update every write to the model triggers. */
static uint64_t loop_wrmsr(uint32_t n)
{
	uint64_t t0 = rdtsc();
	for (uint32_t i = n; i; i--)
		__asm__ volatile("wrmsr" : : "c"(MSR_PERF_GLOBAL_CTRL), "a"(0), "d"(0) : "memory");
	uint64_t c = rdtsc() - t0;
	pmu_count_bulk(MSR_PERF_GLOBAL_CTRL, 0, n);
	return c;
}

static uint64_t loop_io(uint32_t n)
{
	uint64_t t0 = rdtsc();
	for (uint32_t i = n; i; i--)
		(void)inb(BENCH_PORT);
	return rdtsc() - t0;
}

static uint64_t loop_cpuid(uint32_t n)
{
	uint64_t t0 = rdtsc();
	for (uint32_t i = n; i; i--)
		(void)cpuid(0, 0);
	return rdtsc() - t0;
}

/* One PMI: PMC0 counts core cycles from `preset` short of overflow. */
static bool pmi_sample(const struct pmu_info *p, uint32_t preset)
{
	uint64_t mask = width_mask(p->gp_width);

	pmu_wr(MSR_PERF_GLOBAL_CTRL, 0);
	pmu_wr(MSR_PERF_GLOBAL_OVF, 1);
	pmu_wr(MSR_A_PMC0, mask + 1 - preset);
	pmu_wr(MSR_PERFEVTSEL0, EV_CORE_CYCLES | EVT_USR | EVT_OS | EVT_EN | EVT_INT);
	lapic_write(LAPIC_LVT_PMC, BENCH_VECTOR);
	uint32_t seen = pmi_log.count;
	/* A bare wrmsr between the two TSC reads: the guest's own
	 * bookkeeping (slow where CPL0 code is emulated) stays outside. */
	uint64_t tb = rdtsc();
	wrmsr(MSR_PERF_GLOBAL_CTRL, 1);
	uint64_t ta = rdtsc();
	pmu_count_bulk(MSR_PERF_GLOBAL_CTRL, 0, 1);
	/* 200 ms is far beyond any sane latency: a miss means no PMI. */
	bool got = pmi_wait(seen, 200ull * pmu_tsc_khz, true);
	pmu_wr(MSR_PERF_GLOBAL_CTRL, 0);
	lapic_write(LAPIC_LVT_PMC, LVT_MASKED | BENCH_VECTOR);
	if (!got) {
		gprintf("bench: pmi preset=%u missing\n", preset);
		return false;
	}
	gprintf("bench: pmi preset=%u wrmsr=%llu to_pmi=%llu\n", preset,
		(unsigned long long)(ta - tb), (unsigned long long)(pmi_log.tsc - tb));
	return true;
}

uint32_t pmu_bench(const struct pmu_info *p, const char *cmdline)
{
	uint32_t n = DEFAULT_N, samples = DEFAULT_SAMPLES;
	char only[16] = "";
	bool ok = true;

	cmdline_get_u32(cmdline, "bench_n", &n);
	cmdline_get_u32(cmdline, "bench_pmi", &samples);
	cmdline_get(cmdline, "bench_only", only, sizeof(only));
	if (n > MAX_N)
		n = MAX_N;
	if (samples > MAX_SAMPLES)
		samples = MAX_SAMPLES;
	gprintf("bench: tsc_khz=%u\n", pmu_tsc_khz);
	if (want(only, "loop"))
		gprintf("bench: loop n=%u cycles=%llu\n", n, (unsigned long long)loop_plain(n));
	if (want(only, "msr") || want(only, "wrmsr")) {
		uint64_t v;
		if (p->version < 2 || pmu_rd(MSR_PERF_GLOBAL_CTRL, &v) || pmu_wr(MSR_PERF_GLOBAL_CTRL, 0)) {
			gprintf("bench: msr unavailable (no PERF_GLOBAL_CTRL: run with --pmu soft)\n");
			ok = false;
		} else {
			if (want(only, "msr"))
				gprintf("bench: msr n=%u cycles=%llu\n", n, (unsigned long long)loop_msr(n));
			if (want(only, "wrmsr"))
				gprintf("bench: wrmsr n=%u cycles=%llu\n", n, (unsigned long long)loop_wrmsr(n));
		}
	}
	if (want(only, "io"))
		gprintf("bench: io n=%u cycles=%llu\n", n, (unsigned long long)loop_io(n));
	if (want(only, "cpuid"))
		gprintf("bench: cpuid n=%u cycles=%llu\n", n, (unsigned long long)loop_cpuid(n));
	if (want(only, "pmi") && p->version >= 2) {
		pmi_install(BENCH_VECTOR);
		lapic_enable();
		for (unsigned k = 0; k < sizeof(presets) / sizeof(presets[0]); k++)
			for (uint32_t i = 0; i < samples; i++)
				ok = pmi_sample(p, presets[k]) && ok;
		pmu_wr(MSR_PERFEVTSEL0, 0);
		pmu_wr(MSR_PERF_GLOBAL_OVF, 1);
	}
	gprintf("bench: done\n");
	return ok ? 0 : PMU_EXIT_BENCH;
}
