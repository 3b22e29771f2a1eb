/* Small helpers shared by the benchmarks: spawn a VMM with its output on a
 * pipe, wait for a text, sample memory, summarise runs. */
#ifndef MPVM_BENCH_UTIL_H
#define MPVM_BENCH_UTIL_H

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

#endif
