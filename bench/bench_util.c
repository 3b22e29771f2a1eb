#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int bench_spawn(struct proc *p, char *const argv[])
{
	int out[2], in[2];
	if (pipe2(out, O_CLOEXEC) || pipe2(in, O_CLOEXEC))
		return -1;
	memset(p, 0, sizeof(*p));
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(in[0]);
	p->out_fd = out[0];
	p->in_fd = in[1];
	return 0;
}

static int remaining(uint64_t deadline)
{
	uint64_t now = bench_now_ns();
	return now >= deadline ? 0 : (int)((deadline - now) / 1000000) + 1;
}

uint64_t bench_wait_text(struct proc *p, const char *text, int timeout_ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000;
	for (;;) {
		p->buf[p->len] = 0;
		if (strstr(p->buf, text))
			return bench_now_ns();
		int ms = remaining(deadline);
		if (!ms || p->len + 1 >= sizeof(p->buf))
			return 0;
		struct pollfd pfd = { .fd = p->out_fd, .events = POLLIN };
		if (poll(&pfd, 1, ms) <= 0)
			return 0;
		ssize_t n = read(p->out_fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		if (n <= 0)
			return strstr(p->buf, text) ? bench_now_ns() : 0;
		p->len += n;
	}
}

uint64_t bench_wait_exit(struct proc *p, int timeout_ms, int *status)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000;
	for (;;) {
		int st;
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
			uint64_t t = bench_now_ns();
			*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			close(p->out_fd);
			close(p->in_fd);
			return t;
		}
		if (!remaining(deadline)) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			close(p->out_fd);
			close(p->in_fd);
			return 0;
		}
		/* Drain output so the child never blocks on a full pipe. */
		struct pollfd pfd = { .fd = p->out_fd, .events = POLLIN };
		if (poll(&pfd, 1, 1) > 0) {
			char tmp[4096];
			if (read(p->out_fd, tmp, sizeof(tmp)) <= 0)
				usleep(200);
		}
	}
}

long bench_rss_outside_guest_kib(pid_t pid, uint64_t guest_bytes)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long total = 0, cur_rss = 0, guest_rss = 0;
	uint64_t cur_size = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		long kb;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			cur_size = b - a;
			cur_rss = 0;
		} else if (sscanf(line, "Rss: %ld kB", &kb) == 1) {
			cur_rss = kb;
			total += kb;
			/* The guest RAM is the mapping at least as large as the VM's
			 * memory; count the largest such one as guest. */
			if (cur_size >= guest_bytes && cur_rss > guest_rss)
				guest_rss = cur_rss;
		}
	}
	fclose(f);
	return total - guest_rss;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stats bench_stats(double *v, int n)
{
	struct stats s = { 0 };
	if (n == 0)
		return s;
	qsort(v, n, sizeof(double), cmp);
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.p10 = v[(n - 1) / 10];
	s.p90 = v[(n - 1) * 9 / 10];
	return s;
}

double bench_median(const double *v, int n)
{
	double tmp[1024];
	if (n <= 0)
		return 0;
	if (n > 1024)
		n = 1024;
	memcpy(tmp, v, sizeof(double) * (size_t)n);
	return bench_stats(tmp, n).median;
}

bool bench_cpl0_emulated(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	bool hw = false;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && (strstr(line, " vmx") || strstr(line, " svm")))
			hw = true;
	if (f)
		fclose(f);
	return !hw;
}

bool bench_common_opt(struct bench_opts *o, int ch, char *arg)
{
	switch (ch) {
	case 'n': o->runs = atoi(arg); return true;
	case 'm': o->mpvm_bin = arg; return true;
	case 'q': o->qemu_bin = arg; return true;
	case 'g': o->guest_dir = arg; return true;
	case 'j': o->json = arg; return true;
	case 'Q': o->with_qemu = false; return true;
	default: return false;
	}
}

void bench_collect(struct bench_config *c, struct proc *p, bench_parse_fn *parse, int nmetric)
{
	int status = -1;
	bench_wait_exit(p, 10000, &status);
	double m[BENCH_MAX_METRICS];
	if (status != 1 || !parse(p->buf, m)) {
		c->failures++;
		snprintf(c->last_error, sizeof(c->last_error), "status %d: %.200s", status, p->buf);
		return;
	}
	for (int k = 0; k < nmetric; k++)
		c->v[k][c->n] = m[k];
	c->n++;
	for (int k = 0; k < nmetric; k++)
		c->median[k] = bench_median(c->v[k], c->n);
}

void bench_json_results(FILE *f, const struct bench_config *cfg, int ncfg,
			const char *const *metric_name, int nmetric)
{
	fprintf(f, "  \"results\": {\n");
	for (int i = 0; i < ncfg; i++) {
		const struct bench_config *c = &cfg[i];
		fprintf(f, "    \"%s\": {\"runs\": %d, \"failures\": %d", c->name, c->n, c->failures);
		for (int k = 0; k < nmetric && c->n; k++)
			fprintf(f, ", \"%s\": %.2f", metric_name[k], c->median[k]);
		fprintf(f, "}%s\n", i + 1 < ncfg ? "," : "");
	}
	fprintf(f, "  }\n");
}
