/* bench/boot: process start -> guest boot marker -> exit, for mpvm and QEMU
 * (-M microvm) on the same freestanding test guest, many runs; plus resident
 * memory outside guest RAM. Prints a table and writes JSON.
 *
 * Timing is taken from outside for both VMMs (spawn -> first guest line on
 * the serial console -> process exit), so neither side's self-report is
 * trusted; mpvm's own boot-marker time is reported as well. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_RUNS 200
#define GUEST_TEXT "hello from mpvm test guest"
#define MEM_MIB 128

struct result {
	const char *name;
	double first[MAX_RUNS], exit[MAX_RUNS], marker[MAX_RUNS];
	int n, nmarker, failures;
	long rss_kib;
};

static struct bench_opts opt = BENCH_OPTS_DEFAULT(20, "bench/results/boot.json");

static void mpvm_argv(char **a, const char *guest, bool info)
{
	int i = 0;
	a[i++] = opt.mpvm_bin;
	a[i++] = "run";
	a[i++] = "--kernel";
	a[i++] = (char *)guest;
	a[i++] = "--exit-port";
	a[i++] = "--memory";
	a[i++] = "128";
	a[i++] = "--serial";
	a[i++] = "stdio";
	if (info) {
		a[i++] = "--log-level";
		a[i++] = "Info";
	}
	a[i] = NULL;
}

static void qemu_argv(char **a, const char *guest)
{
	/* What scripts/qemu-guest.sh runs, minus the shell. */
	/* No -cpu host: QEMU aborts with it where KVM refuses some MSRs (the
	 * software-nested development hosts). */
	char *v[] = { opt.qemu_bin, "-accel", "kvm", "-M", "microvm", "-m", "128M", "-display", "none",
		      "-serial", "stdio", "-monitor", "none", "-no-reboot",
		      "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-device", "i8042",
		      "-kernel", (char *)guest, NULL };
	memcpy(a, v, sizeof(v));
}

static void one_run(struct result *r, char **argv)
{
	struct proc p;
	uint64_t t0 = bench_now_ns();
	if (bench_spawn(&p, argv)) {
		r->failures++;
		return;
	}
	uint64_t t1 = bench_wait_text(&p, GUEST_TEXT, 20000);
	int status = -1;
	uint64_t t2 = bench_wait_exit(&p, 20000, &status);
	if (!t1 || !t2 || status != 1) {
		r->failures++;
		return;
	}
	r->first[r->n] = (t1 - t0) / 1e6;
	r->exit[r->n] = (t2 - t0) / 1e6;
	r->n++;
	/* mpvm logs "Guest-boot-time = N us ..." (Firecracker's wording). */
	char *m = strstr(p.buf, "Guest-boot-time");
	long us;
	if (m && (m = strpbrk(m, "0123456789")) && sscanf(m, "%ld", &us) == 1)
		r->marker[r->nmarker++] = us / 1e3;
}

static void measure_rss(struct result *r, char **argv)
{
	struct proc p;
	if (bench_spawn(&p, argv))
		return;
	if (bench_wait_text(&p, "type a line", 20000)) {
		usleep(100000);
		r->rss_kib = bench_rss_outside_guest_kib(p.pid, (uint64_t)MEM_MIB << 20);
		ssize_t w = write(p.in_fd, "x\n", 2);
		(void)w;
	}
	int st;
	bench_wait_exit(&p, 20000, &st);
}

static void print_json(FILE *f, struct result *r, int last)
{
	struct stats a = bench_stats(r->first, r->n), b = bench_stats(r->exit, r->n);
	struct stats c = bench_stats(r->marker, r->nmarker);
	char marker[32] = "null";
	if (r->nmarker)
		snprintf(marker, sizeof(marker), "%.2f", c.median);
	fprintf(f, "  \"%s\": {\"runs\": %d, \"failures\": %d, "
		"\"first_output_ms\": {\"median\": %.2f, \"p10\": %.2f, \"p90\": %.2f, \"min\": %.2f, \"max\": %.2f}, "
		"\"exit_ms\": {\"median\": %.2f, \"p10\": %.2f, \"p90\": %.2f, \"min\": %.2f, \"max\": %.2f}, "
		"\"boot_marker_ms\": %s, \"rss_outside_guest_kib\": %ld}%s\n",
		r->name, r->n, r->failures, a.median, a.p10, a.p90, a.min, a.max,
		b.median, b.p10, b.p90, b.min, b.max, marker, r->rss_kib, last ? "" : ",");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { BENCH_OPTIONS, { 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (!bench_common_opt(&opt, c, optarg)) {
			fprintf(stderr, "usage: mpvm-bench-boot " BENCH_USAGE "\n");
			return 2;
		}
	if (opt.runs < 1 || opt.runs > MAX_RUNS)
		opt.runs = 20;
	char hello[512], reset[512];
	snprintf(hello, sizeof(hello), "%s/hello.elf", opt.guest_dir);
	snprintf(reset, sizeof(reset), "%s/reset.elf", opt.guest_dir);

	static struct result mp = { .name = "mpvm" }, qm = { .name = "qemu_microvm" };
	char *a[32];
	for (int i = 0; i < opt.runs; i++) {
		mpvm_argv(a, hello, true);
		one_run(&mp, a);
		if (opt.with_qemu) {
			qemu_argv(a, hello);
			one_run(&qm, a);
		}
	}
	mpvm_argv(a, reset, false);
	measure_rss(&mp, a);
	if (opt.with_qemu) {
		qemu_argv(a, reset);
		measure_rss(&qm, a);
	}

	struct stats mf = bench_stats(mp.first, mp.n), me = bench_stats(mp.exit, mp.n);
	struct stats qf = bench_stats(qm.first, qm.n), qe = bench_stats(qm.exit, qm.n);
	struct stats mm = bench_stats(mp.marker, mp.nmarker);
	printf("| %-12s | runs | first guest output ms (median [p10-p90]) | exit ms (median [p10-p90]) | RSS outside guest RAM |\n", "VMM");
	printf("|---|---|---|---|---|\n");
	printf("| %-12s | %d | %.1f [%.1f-%.1f] | %.1f [%.1f-%.1f] | %ld KiB |\n", "mpvm", mp.n,
	       mf.median, mf.p10, mf.p90, me.median, me.p10, me.p90, mp.rss_kib);
	if (opt.with_qemu) {
		printf("| %-12s | %d | %.1f [%.1f-%.1f] | %.1f [%.1f-%.1f] | %ld KiB |\n", "qemu microvm",
		       qm.n, qf.median, qf.p10, qf.p90, qe.median, qe.p10, qe.p90, qm.rss_kib);
		if (mf.median > 0 && me.median > 0 && mp.rss_kib > 0)
			printf("| %-12s | | %.2fx | %.2fx | %.2fx |\n", "qemu / mpvm", qf.median / mf.median,
			       qe.median / me.median, (double)qm.rss_kib / mp.rss_kib);
	}
	printf("\nmpvm boot marker (self-reported, process start -> guest write): median %.2f ms over %d runs\n",
	       mm.median, mp.nmarker);
	if (mp.failures || qm.failures)
		printf("failures: mpvm %d, qemu %d\n", mp.failures, qm.failures);

	FILE *f = fopen(opt.json, "w");
	if (!f) {
		perror(opt.json);
		return 1;
	}
	fprintf(f, "{\n  \"benchmark\": \"boot\", \"guest\": \"hello.elf\", \"memory_mib\": %d,\n", MEM_MIB);
	print_json(f, &mp, !opt.with_qemu);
	if (opt.with_qemu)
		print_json(f, &qm, 1);
	fprintf(f, "}\n");
	fclose(f);
	return mp.n ? 0 : 1;
}
