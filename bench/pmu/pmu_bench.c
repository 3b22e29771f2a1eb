/* bench/pmu: what the soft PMU costs a guest, on this host.
 *
 *  - One PMU MSR exit handled by mpvm (RDMSR of PERF_GLOBAL_CTRL, which the
 *    soft model answers over a KVM MSR-filter exit), next to a plain port-I/O
 *    exit answered by mpvm (IN from an unclaimed port) and, for scale, an
 *    exit KVM handles without userspace (CPUID). Timed twice: by the guest
 *    with RDTSC around N back-to-back exits (the cost of the same loop with
 *    no exiting instruction subtracted), and from outside, as the difference
 *    in mpvm's wall-clock run time between N exits and none, divided by N
 *    (that one includes the guest's loop).
 *  - PMI delivery latency: PMC0 preset P cycles short of overflow, INT set,
 *    LVTPC at a fixed vector; the guest reads the TSC before the enabling
 *    WRMSR (t0) and in its handler (t1). Latency = t1 - t0 - P - W/2, where
 *    W is that WRMSR's round trip (counting starts inside it; half of it is
 *    the best single guess, +-W/2 the uncertainty). It is measured in TSC
 *    cycles, so it assumes the vCPU thread ran all the time (counters follow
 *    its CPU time).
 * The guest is tests/guests/pmu.elf in `bench` mode. Prints a Markdown table
 * and writes JSON. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_RUNS 50
#define MAX_SAMPLES 2000
#define RUN_TIMEOUT_MS 60000

static char *mpvm_bin = "build/mpvm", *guest_dir = "build/tests/guests";
static char elf[512];

enum kind { K_LOOP, K_MSR, K_WRMSR, K_IO, K_CPUID, NKINDS };
static const char *const kind_key[NKINDS] = { "loop", "msr", "wrmsr", "io", "cpuid" };

struct guest_run {
	bool ok;
	double wall_ms;
	unsigned tsc_khz;
	unsigned long long cycles[NKINDS];
	unsigned n[NKINDS];
};

/* PMI samples per preset. */
struct pmi_set {
	unsigned preset;
	double lat_us[MAX_SAMPLES], unc_us[MAX_SAMPLES];
	int n, missing;
};
static struct pmi_set pmis[4];
static int npmis;

static struct pmi_set *pmi_set_for(unsigned preset)
{
	for (int i = 0; i < npmis; i++)
		if (pmis[i].preset == preset)
			return &pmis[i];
	if (npmis == 4)
		return NULL;
	pmis[npmis].preset = preset;
	return &pmis[npmis++];
}

/* Runs the guest once with `args` on its command line; parses its lines. */
static bool run_guest(const char *args, struct guest_run *r, bool collect_pmi)
{
	char cmdline[256];
	snprintf(cmdline, sizeof(cmdline), "bench %s", args);
	char *argv[] = { mpvm_bin, "run", "--kernel", elf, "--exit-port", "--pmu", "soft", "--memory", "64",
			 "--cmdline", cmdline, NULL };
	struct proc *p = calloc(1, sizeof(*p));
	int status = -1;

	memset(r, 0, sizeof(*r));
	if (!p)
		return false;
	uint64_t t0 = bench_now_ns();
	if (bench_spawn(p, argv)) {
		free(p);
		return false;
	}
	uint64_t done = bench_wait_text(p, "bench: done", RUN_TIMEOUT_MS);
	uint64_t t1 = bench_wait_exit(p, RUN_TIMEOUT_MS, &status);
	if (!done || !t1 || status != 1) {
		fprintf(stderr, "mpvm-bench-pmu: run \"%s\" failed (status %d):\n%s\n", cmdline, status, p->buf);
		free(p);
		return false;
	}
	r->wall_ms = (double)(t1 - t0) / 1e6;
	for (char *line = strtok(p->buf, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned n, preset;
		unsigned long long c, w, t;
		char what[16];
		if (sscanf(line, "bench: tsc_khz=%u", &r->tsc_khz) == 1)
			continue;
		if (sscanf(line, "bench: %15s n=%u cycles=%llu", what, &n, &c) == 3) {
			for (int k = 0; k < NKINDS; k++)
				if (!strcmp(what, kind_key[k])) {
					r->n[k] = n;
					r->cycles[k] = c;
				}
			continue;
		}
		if (collect_pmi && r->tsc_khz &&
		    sscanf(line, "bench: pmi preset=%u wrmsr=%llu to_pmi=%llu", &preset, &w, &t) == 3) {
			struct pmi_set *s = pmi_set_for(preset);
			if (s && s->n < MAX_SAMPLES) {
				double cyc_per_us = r->tsc_khz / 1000.0;
				s->lat_us[s->n] = ((double)t - preset - w / 2.0) / cyc_per_us;
				s->unc_us[s->n] = w / 2.0 / cyc_per_us;
				s->n++;
			}
		} else if (collect_pmi && sscanf(line, "bench: pmi preset=%u missing", &preset) == 1) {
			struct pmi_set *s = pmi_set_for(preset);
			if (s)
				s->missing++;
		}
	}
	free(p);
	r->ok = r->tsc_khz != 0;
	return r->ok;
}

struct row {
	const char *key, *what, *how;
	struct stats us; /* per operation */
	int n;
};

static void print_row(const struct row *r)
{
	if (!r->n) {
		printf("| %s | n/a | n/a | %s |\n", r->what, r->how);
		return;
	}
	printf("| %s | %.2f (%.2f-%.2f) | %.0f | %s |\n", r->what, r->us.median, r->us.p10, r->us.p90,
	       r->us.median > 0 ? 1e6 / r->us.median : 0.0, r->how);
}

static void json_stats(FILE *f, const char *key, const struct stats *s, int n, const char *extra, bool last)
{
	fprintf(f, "    \"%s\": {\"samples\": %d, \"median_us\": %.3f, \"p10_us\": %.3f, \"p90_us\": %.3f, "
		"\"min_us\": %.3f, \"max_us\": %.3f%s}%s\n",
		key, n, s->median, s->p10, s->p90, s->min, s->max, extra ? extra : "", last ? "" : ",");
}

int main(int argc, char **argv)
{
	int runs = 5, samples = 20;
	unsigned n = 20000;
	const char *json = "bench/results/pmu.json";
	static const struct option opts[] = {
		{ "runs", 1, 0, 'r' }, { "n", 1, 0, 'n' }, { "samples", 1, 0, 's' }, { "mpvm", 1, 0, 'm' },
		{ "guests", 1, 0, 'g' }, { "json", 1, 0, 'j' }, { 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': runs = atoi(optarg); break;
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': samples = atoi(optarg); break;
		case 'm': mpvm_bin = optarg; break;
		case 'g': guest_dir = optarg; break;
		case 'j': json = optarg; break;
		default:
			fprintf(stderr, "usage: mpvm-bench-pmu [--runs N] [--n EXITS] [--samples K] [--mpvm BIN] "
					"[--guests DIR] [--json FILE]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS)
		runs = 5;
	if (n < 100 || n > 1000000)
		n = 20000;
	if (samples < 1 || samples > 100)
		samples = 20;
	snprintf(elf, sizeof(elf), "%s/pmu.elf", guest_dir);

	/* In-guest timing, and PMI samples. */
	static double per[NKINDS][MAX_RUNS];
	int nper = 0;
	unsigned tsc_khz = 0;
	char args[128];
	snprintf(args, sizeof(args), "bench_n=%u bench_pmi=%d", n, (samples + runs - 1) / runs);
	for (int i = 0; i < runs; i++) {
		struct guest_run r;
		if (!run_guest(args, &r, true))
			continue;
		tsc_khz = r.tsc_khz;
		double loop = (double)r.cycles[K_LOOP] / (r.n[K_LOOP] ? r.n[K_LOOP] : 1);
		for (int k = 0; k < NKINDS; k++) {
			double cyc = (double)r.cycles[k] / (r.n[k] ? r.n[k] : 1);
			if (k != K_LOOP)
				cyc -= loop;
			per[k][nper] = cyc / (r.tsc_khz / 1000.0);
		}
		nper++;
	}

	/* From outside: wall time of N exits minus wall time of none. */
	static double outside[NKINDS][MAX_RUNS];
	int nout[NKINDS] = { 0 };
	for (int k = K_MSR; k <= K_IO; k++)
		for (int i = 0; k != K_WRMSR && i < runs; i++) {
			struct guest_run with, without;
			char a1[96], a0[96];
			snprintf(a1, sizeof(a1), "bench_only=%s bench_n=%u", kind_key[k], n);
			snprintf(a0, sizeof(a0), "bench_only=%s bench_n=0", kind_key[k]);
			if (run_guest(a1, &with, false) && run_guest(a0, &without, false))
				outside[k][nout[k]++] = (with.wall_ms - without.wall_ms) * 1000.0 / n;
		}

	struct row rows[] = {
		{ "msr_exit", "PMU MSR exit handled by mpvm (RDMSR PERF_GLOBAL_CTRL, soft PMU)", "guest TSC, loop subtracted", bench_stats(per[K_MSR], nper), nper },
		{ "msr_exit_outside", "  same, timed from outside", "wall(N exits) - wall(0), per exit", bench_stats(outside[K_MSR], nout[K_MSR]), nout[K_MSR] },
		{ "wrmsr_exit", "PMU MSR write exit handled by mpvm (WRMSR PERF_GLOBAL_CTRL <- 0)", "guest TSC, loop subtracted", bench_stats(per[K_WRMSR], nper), nper },
		{ "io_exit", "port-I/O exit handled by mpvm (IN from an unclaimed port)", "guest TSC, loop subtracted", bench_stats(per[K_IO], nper), nper },
		{ "io_exit_outside", "  same, timed from outside", "wall(N exits) - wall(0), per exit", bench_stats(outside[K_IO], nout[K_IO]), nout[K_IO] },
		{ "kvm_exit", "exit handled inside KVM (CPUID), for scale", "guest TSC, loop subtracted", bench_stats(per[K_CPUID], nper), nper },
		{ "guest_loop", "one iteration of the guest's loop, no exit", "guest TSC", bench_stats(per[K_LOOP], nper), nper },
	};
	const int nrows = (int)(sizeof(rows) / sizeof(rows[0]));

	printf("\nbench/pmu: %d runs x %u exits per kind, TSC %u kHz (guest-calibrated)\n\n", runs, n, tsc_khz);
	printf("| operation | us per op, median (p10-p90) | ops/s | how |\n|---|---|---|---|\n");
	for (int i = 0; i < nrows; i++)
		print_row(&rows[i]);
	struct stats pst[4];
	for (int i = 0; i < npmis; i++) {
		struct pmi_set *s = &pmis[i];
		struct stats u = bench_stats(s->unc_us, s->n);
		pst[i] = bench_stats(s->lat_us, s->n);
		printf("| PMI latency, counter preset %u cycles (%.0f us) short of overflow | %.1f (%.1f-%.1f), +-%.1f | - | overflow due -> guest handler, %d samples%s |\n",
		       s->preset, tsc_khz ? s->preset / (tsc_khz / 1000.0) : 0.0, pst[i].median, pst[i].p10,
		       pst[i].p90, u.median, s->n, s->missing ? ", some PMIs MISSING" : "");
	}

	FILE *f = fopen(json, "w");
	if (!f) {
		perror(json);
		return 1;
	}
	fprintf(f, "{\n  \"runs\": %d,\n  \"exits_per_run\": %u,\n  \"tsc_khz\": %u,\n  \"exits\": {\n", runs, n, tsc_khz);
	for (int i = 0; i < nrows; i++) {
		char extra[64];
		snprintf(extra, sizeof(extra), ", \"per_second\": %.0f", rows[i].us.median > 0 ? 1e6 / rows[i].us.median : 0.0);
		json_stats(f, rows[i].key, &rows[i].us, rows[i].n, extra, i == nrows - 1);
	}
	fprintf(f, "  },\n  \"pmi_latency\": {\n");
	for (int i = 0; i < npmis; i++) {
		char key[32], extra[64];
		snprintf(key, sizeof(key), "preset_%u", pmis[i].preset);
		snprintf(extra, sizeof(extra), ", \"missing\": %d", pmis[i].missing);
		json_stats(f, key, &pst[i], pmis[i].n, extra, i == npmis - 1);
	}
	fprintf(f, "  }\n}\n");
	fclose(f);
	printf("\nJSON: %s\n", json);
	return nper ? 0 : 1;
}
