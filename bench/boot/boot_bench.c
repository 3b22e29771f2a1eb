/* bench/boot: process start -> guest boot marker -> exit, for mpvm and QEMU
 * (-M microvm) on the same freestanding test guest, many runs; plus resident
 * memory outside guest RAM. Prints a table and writes JSON.
 *
 * With --linux DIR (tests/linux/build.sh's output) the same for Debian's
 * kernel and the test initramfs: process start -> "mpvm-init: up" (the first
 * thing /init prints) -> power-off, RSS outside guest RAM while the guest
 * waits, and mpvm's vCPU exits by reason over a boot (its metrics), so the
 * report says what the boot time goes to.
 *
 * Timing is taken from outside for both VMMs (spawn -> first guest line on
 * the serial console -> process exit), so neither side's self-report is
 * trusted; mpvm's own boot-marker time is reported as well. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
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
static const char *linux_dir;
static int linux_runs = 5;

#define LINUX_MEM "256"
#define LINUX_MEM_MIB 256
#define LINUX_CMDLINE "console=ttyS0 reboot=k panic=1 pci=off quiet mpvm.test="
#define LINUX_INIT_TEXT "mpvm-init: up"
#define LINUX_WAIT_MS 300000 /* an emulated lab can take minutes */

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

/* ---- Linux ----------------------------------------------------------------- */

struct lresult {
	const char *name;
	double init[MAX_RUNS], exit[MAX_RUNS];
	int n, failures;
	long rss_kib;
};
static char linux_kernel[512], linux_initrd[512], metrics_path[64];
static char mpvm_exits[512] = "";

static void linux_mpvm_argv(char **a, const char *cmdline, bool metrics)
{
	int i = 0;
	a[i++] = opt.mpvm_bin;
	a[i++] = "run";
	a[i++] = "--kernel";
	a[i++] = linux_kernel;
	a[i++] = "--initrd";
	a[i++] = linux_initrd;
	a[i++] = "--memory";
	a[i++] = LINUX_MEM;
	a[i++] = "--cmdline";
	a[i++] = (char *)cmdline;
	if (metrics) {
		a[i++] = "--metrics-path";
		a[i++] = metrics_path;
	}
	a[i] = NULL;
}

static void linux_qemu_argv(char **a, const char *cmdline)
{
	/* microvm with its defaults (ACPI on: Linux powers it off through the
	 * GED device), the same kernel, initramfs and command line. */
	char *v[] = { opt.qemu_bin, "-accel", "kvm", "-M", "microvm", "-m", LINUX_MEM "M", "-display", "none",
		      "-nodefaults", "-no-user-config", "-serial", "stdio", "-monitor", "none", "-no-reboot",
		      "-kernel", linux_kernel, "-initrd", linux_initrd, "-append", (char *)cmdline, NULL };
	memcpy(a, v, sizeof(v));
}

static void linux_run(struct lresult *r, char **argv)
{
	struct proc p;
	uint64_t t0 = bench_now_ns();
	if (bench_spawn(&p, argv)) {
		r->failures++;
		return;
	}
	uint64_t t1 = bench_wait_text(&p, LINUX_INIT_TEXT, LINUX_WAIT_MS);
	int status = -1;
	uint64_t t2 = bench_wait_exit(&p, LINUX_WAIT_MS, &status);
	if (!t1 || !t2 || status != 0) {
		fprintf(stderr, "bench/boot: %s Linux run failed (status %d); output:\n%.2000s\n", r->name, status,
			p.buf);
		r->failures++;
		return;
	}
	r->init[r->n] = (t1 - t0) / 1e6;
	r->exit[r->n] = (t2 - t0) / 1e6;
	r->n++;
}

static void linux_rss(struct lresult *r, char **argv)
{
	struct proc p;
	if (bench_spawn(&p, argv))
		return;
	if (bench_wait_text(&p, "LTEST: ready", LINUX_WAIT_MS)) {
		usleep(200000);
		r->rss_kib = bench_rss_outside_guest_kib(p.pid, (uint64_t)LINUX_MEM_MIB << 20);
	}
	kill(p.pid, SIGTERM);
	int st;
	bench_wait_exit(&p, 60000, &st);
}

/* The vCPU exits of mpvm's last Linux boot, from the metrics line it wrote
 * at exit: "io": N, "mmio": N, ... */
static void read_mpvm_exits(void)
{
	char line[8192] = "", last[8192] = "";
	FILE *f = fopen(metrics_path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		memcpy(last, line, sizeof(last));
	fclose(f);
	char *e = strstr(last, "\"exits\":{");
	char *end = e ? strchr(e, '}') : NULL;
	if (e && end && end - e < (long)sizeof(mpvm_exits))
		snprintf(mpvm_exits, sizeof(mpvm_exits), "%.*s", (int)(end - e - 9), e + 9);
}

static void print_linux_json(FILE *f, struct lresult *r, const char *extra)
{
	struct stats a = bench_stats(r->init, r->n), b = bench_stats(r->exit, r->n);
	fprintf(f, "    \"%s\": {\"runs\": %d, \"failures\": %d, \"init_ms\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f}, "
		"\"exit_ms\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f}, \"rss_outside_guest_kib\": %ld%s}",
		r->name, r->n, r->failures, a.median, a.min, a.max, b.median, b.min, b.max, r->rss_kib, extra);
}

/* Runs the Linux comparison, prints its table, writes its JSON member. */
static void bench_linux(FILE *json)
{
	snprintf(linux_kernel, sizeof(linux_kernel), "%s/vmlinuz", linux_dir);
	snprintf(linux_initrd, sizeof(linux_initrd), "%s/initrd.cpio.gz", linux_dir);
	snprintf(metrics_path, sizeof(metrics_path), "/tmp/mpvm-bench-boot.%d.metrics", (int)getpid());
	static struct lresult mp = { .name = "mpvm" }, qm = { .name = "qemu_microvm" };
	char *a[40];
	for (int i = 0; i < linux_runs; i++) {
		unlink(metrics_path);
		linux_mpvm_argv(a, LINUX_CMDLINE "bench", true);
		linux_run(&mp, a);
		if (opt.with_qemu) {
			linux_qemu_argv(a, LINUX_CMDLINE "bench");
			linux_run(&qm, a);
		}
	}
	read_mpvm_exits();
	unlink(metrics_path);
	linux_mpvm_argv(a, LINUX_CMDLINE "lifecycle mpvm.end=wait", false);
	linux_rss(&mp, a);
	if (opt.with_qemu) {
		linux_qemu_argv(a, LINUX_CMDLINE "lifecycle mpvm.end=wait");
		linux_rss(&qm, a);
	}
	struct stats mi = bench_stats(mp.init, mp.n), me = bench_stats(mp.exit, mp.n);
	struct stats qi = bench_stats(qm.init, qm.n), qe = bench_stats(qm.exit, qm.n);
	printf("\nLinux (%s, %s MiB, 1 vCPU, %d runs): process start -> /init -> power-off\n\n", linux_kernel,
	       LINUX_MEM, linux_runs);
	printf("| VMM | runs | /init ms (median [min-max]) | exit ms (median [min-max]) | RSS outside guest RAM |\n");
	printf("|---|---|---|---|---|\n");
	printf("| mpvm | %d | %.0f [%.0f-%.0f] | %.0f [%.0f-%.0f] | %ld KiB |\n", mp.n, mi.median, mi.min, mi.max,
	       me.median, me.min, me.max, mp.rss_kib);
	if (opt.with_qemu && qm.n && mp.n) {
		printf("| qemu microvm | %d | %.0f [%.0f-%.0f] | %.0f [%.0f-%.0f] | %ld KiB |\n", qm.n, qi.median, qi.min,
		       qi.max, qe.median, qe.min, qe.max, qm.rss_kib);
		printf("| mpvm / qemu | | %.2fx | %.2fx | %.2fx |\n", mi.median / qi.median, me.median / qe.median,
		       qm.rss_kib > 0 ? (double)mp.rss_kib / qm.rss_kib : 0);
	}
	printf("\nmpvm vCPU exits over one Linux boot to power-off: %s\n", mpvm_exits[0] ? mpvm_exits : "(none read)");
	if (mp.failures || qm.failures)
		printf("Linux failures: mpvm %d, qemu %d\n", mp.failures, qm.failures);

	char extra[600];
	snprintf(extra, sizeof(extra), ", \"exits_by_reason\": {%s}", mpvm_exits);
	fprintf(json, ",\n  \"linux\": {\"kernel\": \"%s\", \"memory_mib\": %d, \"runs\": %d,\n", linux_kernel,
		LINUX_MEM_MIB, linux_runs);
	print_linux_json(json, &mp, extra);
	if (opt.with_qemu) {
		fprintf(json, ",\n");
		print_linux_json(json, &qm, "");
		if (qm.n && mp.n)
			fprintf(json, ",\n    \"mpvm_over_qemu\": {\"init\": %.3f, \"exit\": %.3f}",
				mi.median / qi.median, me.median / qe.median);
	}
	fprintf(json, "\n  }");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { BENCH_OPTIONS, { "linux", 1, 0, 'L' }, { "linux-runs", 1, 0, 'R' }, { 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'L')
			linux_dir = optarg;
		else if (c == 'R')
			linux_runs = atoi(optarg);
		else if (!bench_common_opt(&opt, c, optarg)) {
			fprintf(stderr, "usage: mpvm-bench-boot " BENCH_USAGE " [--linux DIR [--linux-runs N]]\n");
			return 2;
		}
	}
	if (linux_runs < 1 || linux_runs > MAX_RUNS)
		linux_runs = 5;
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
	if (linux_dir)
		bench_linux(f);
	fprintf(f, "\n}\n");
	fclose(f);
	return mp.n ? 0 : 1;
}
