/* Small helpers shared by the benchmarks: spawn a VMM with its output on a
 * pipe, wait for a text, sample memory, summarise runs; and for the
 * mpvm-against-QEMU benchmarks, their common flags, and for those whose
 * guest times itself (blk, net), filing each run and writing the results. */
#ifndef MPVM_BENCH_UTIL_H
#define MPVM_BENCH_UTIL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct proc {
	pid_t pid;
	int out_fd;  /* child's stdout+stderr */
	int in_fd;   /* child's stdin */
	char buf[65536];
	size_t len;
};

uint64_t bench_now_ns(void);
/* Start argv[0] with argv; stdout and stderr on one pipe. */
int bench_spawn(struct proc *p, char *const argv[]);
/* Read output until `text` appears or timeout_ms passes. Returns the time
 * (ns, CLOCK_MONOTONIC) it appeared, or 0. */
uint64_t bench_wait_text(struct proc *p, const char *text, int timeout_ms);
/* Wait for exit (bounded); returns the time of exit or 0 on timeout (the
 * child is then killed). */
uint64_t bench_wait_exit(struct proc *p, int timeout_ms, int *status);
/* Resident KiB of the process outside its largest anonymous mapping of at
 * least `guest_bytes` (the guest RAM). */
long bench_rss_outside_guest_kib(pid_t pid, uint64_t guest_bytes);

struct stats { double median, min, max, p10, p90; };
/* Sorts v in place. */
struct stats bench_stats(double *v, int n);
/* Median of v[0..n) without reordering v (n <= 1024). */
double bench_median(const double *v, int n);
/* True when the CPU has no VMX/SVM flag: KVM is software-nested here and
 * guest CPL0 code is emulated, so guest-side numbers are not a real host's. */
bool bench_cpl0_emulated(void);

/* The flags every mpvm-against-QEMU benchmark (boot, blk, net) takes. */
struct bench_opts {
	int runs;
	const char *json;
	char *mpvm_bin, *qemu_bin, *guest_dir;
	bool with_qemu;
};
#define BENCH_OPTS_DEFAULT(runs_, json_)                                                            \
	{ .runs = (runs_), .json = (json_), .mpvm_bin = "build/mpvm", .qemu_bin = "qemu-system-x86_64", \
	  .guest_dir = "build/tests/guests", .with_qemu = true }
/* Their getopt_long() entries, to start each benchmark's table, and usage. */
#define BENCH_OPTIONS                                                                               \
	{ "runs", 1, 0, 'n' }, { "mpvm", 1, 0, 'm' }, { "qemu", 1, 0, 'q' }, { "guests", 1, 0, 'g' }, \
	{ "json", 1, 0, 'j' }, { "no-qemu", 0, 0, 'Q' }
#define BENCH_USAGE "[--runs N] [--mpvm BIN] [--qemu BIN] [--guests DIR] [--json FILE] [--no-qemu]"
/* Applies getopt_long()'s `ch` if it is one of BENCH_OPTIONS; false if not. */
bool bench_common_opt(struct bench_opts *o, int ch, char *arg);

#define BENCH_MAX_RUNS 50
#define BENCH_MAX_METRICS 8

/* One VMM configuration of a benchmark whose guest times itself (blk, net):
 * each metric's value per successful run, their medians so far, and what
 * the last failed run printed. */
struct bench_config {
	const char *name, *label; /* JSON key, table label */
	bool qemu;
	const char *mode;         /* blk: mpvm's io_engine or QEMU's aio */
	double v[BENCH_MAX_METRICS][BENCH_MAX_RUNS];
	double median[BENCH_MAX_METRICS];
	int n, failures;
	bool unavailable;         /* blk: given up on (a QEMU without io_uring) */
	char last_error[256];
};

/* Fills m[0..nmetric) from a run's output; false if any is missing. */
typedef bool bench_parse_fn(const char *out, double *m);

/* Waits (10 s at most) for the VMM of a run to exit and files the run: it
 * counts when the guest left through the debug-exit port with status 1 and
 * `parse` found its `nmetric` metrics in the output; otherwise it is a
 * failure, and c->last_error keeps the status and the start of the output. */
void bench_collect(struct bench_config *c, struct proc *p, bench_parse_fn *parse, int nmetric);
/* Writes `  "results": {...}` (no trailing comma): per configuration its
 * runs, failures and, if any run counted, each metric's median. */
void bench_json_results(FILE *f, const struct bench_config *cfg, int ncfg,
			const char *const *metric_name, int nmetric);

#endif
