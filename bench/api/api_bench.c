/* bench/api: how soon a VMM's control socket answers, and how fast, for
 * mpvm's API next to QEMU's QMP (the comparable control channel).
 *
 *  - start -> socket ready: spawn to the first successful connect(), and to
 *    the first answer (mpvm: GET /; QMP: greeting + qmp_capabilities), for
 *    an idle VMM (mpvm waiting for configuration; QEMU -S with the kernel
 *    loaded, its nearest equivalent) and for a VMM that boots a guest at once.
 *  - request latency on a running guest (the counter guest, printing): a
 *    status query (GET / | query-status) and a pause+resume pair
 *    (PATCH /vm Paused+Resumed | stop+cont), one keep-alive connection.
 * Timing is taken from outside; each number is the median of the runs, with
 * p90/p99 where it matters. Prints a table, writes JSON (--json).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 4000

static char *mpvm_bin = "build/mpvm", *qemu_bin = "qemu-system-x86_64";
static char *guest = "build/tests/guests/counter.elf";
static int runs = 20, requests = 500;
static char sock_path[108];

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of n values (sorted in place); NaN-free: -1 if n==0. */
static double pct(double *v, int n, double p)
{
	if (n <= 0)
		return -1;
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	int i = (int)(p / 100.0 * (n - 1) + 0.5);
	return v[i];
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* connect() until it works or 10 s pass; -1 on timeout or early exit. */
static int connect_retry(pid_t pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock_path);
	uint64_t end = now_ns() + 10000000000ull;
	while (now_ns() < end) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(50);
	}
	return -1;
}

/* Reads until `want` has appeared `count` times past *used; 5 s bound. */
struct conn { int fd; char buf[65536]; size_t len; };

static bool read_until(struct conn *c, const char *want)
{
	uint64_t end = now_ns() + 5000000000ull;
	for (;;) {
		c->buf[c->len] = 0;
		char *hit = strstr(c->buf, want);
		if (hit) {
			size_t used = (size_t)(hit - c->buf) + strlen(want);
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			return true;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int ms = (int)((end - now_ns()) / 1000000);
		if (ms <= 0 || poll(&p, 1, ms) <= 0 || c->len + 1 >= sizeof(c->buf))
			return false;
		ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
		if (r <= 0)
			return false;
		c->len += (size_t)r;
	}
}

/* mpvm: one request; the answer ends with its JSON body or the 204 head. */
static bool http(struct conn *c, const char *method, const char *path, const char *body)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, body ? strlen(body) : 0, body ? body : "");
	if (write(c->fd, req, (size_t)n) != n)
		return false;
	return read_until(c, body ? "\r\n\r\n" : "}");
}

static bool qmp(struct conn *c, const char *cmd)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "{\"execute\": \"%s\"}\n", cmd);
	return write(c->fd, req, (size_t)n) == n && read_until(c, "\"return\"");
}

static bool qmp_handshake(struct conn *c)
{
	return read_until(c, "\"QMP\"") && qmp(c, "qmp_capabilities");
}

enum vmm { MPVM, QEMU };

static void argv_for(enum vmm w, bool boot, char **a)
{
	static char qmp_arg[160];
	int i = 0;
	if (w == MPVM) {
		a[i++] = mpvm_bin;
		a[i++] = "run";
		a[i++] = "--api-sock";
		a[i++] = sock_path;
		if (boot) {
			a[i++] = "--kernel";
			a[i++] = guest;
			a[i++] = "--serial";
			a[i++] = "none";
			a[i++] = "--memory";
			a[i++] = "128";
		}
	} else {
		snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s,server=on,wait=off", sock_path);
		char *v[] = { qemu_bin, "-accel", "kvm", "-M", "microvm", "-m", "128M", "-display",
			      "none", "-serial", "none", "-monitor", "none", "-nodefaults",
			      "-qmp", qmp_arg, "-kernel", guest, NULL };
		for (char **p = v; *p; p++)
			a[i++] = *p;
		if (!boot)
			a[i++] = "-S";
	}
	a[i] = NULL;
}

struct startup { double ready[MAX_SAMPLES], answer[MAX_SAMPLES]; int n, fails; };

static void measure_startup(enum vmm w, bool boot, struct startup *s)
{
	char *argv[32];
	argv_for(w, boot, argv);
	for (int r = 0; r < runs; r++) {
		unlink(sock_path);
		static struct conn c;
		c.len = 0;
		uint64_t t0 = now_ns();
		pid_t pid = spawn(argv);
		c.fd = connect_retry(pid);
		uint64_t t1 = now_ns();
		bool ok = c.fd >= 0 && (w == MPVM ? http(&c, "GET", "/", NULL) : qmp_handshake(&c));
		uint64_t t2 = now_ns();
		if (ok) {
			s->ready[s->n] = (double)(t1 - t0) / 1e6;
			s->answer[s->n++] = (double)(t2 - t0) / 1e6;
		} else {
			s->fails++;
		}
		if (c.fd >= 0)
			close(c.fd);
		reap(pid);
	}
	unlink(sock_path);
}

struct latency { double status[MAX_SAMPLES], pause[MAX_SAMPLES]; int ns, np, fails; };

static void measure_latency(enum vmm w, struct latency *l)
{
	char *argv[32];
	argv_for(w, true, argv);
	unlink(sock_path);
	static struct conn c;
	c.len = 0;
	pid_t pid = spawn(argv);
	c.fd = connect_retry(pid);
	if (c.fd < 0 || (w == QEMU && !qmp_handshake(&c))) {
		l->fails++;
		goto out;
	}
	usleep(200000); /* let the guest get going */
	for (int i = 0; i < requests && i < MAX_SAMPLES; i++) {
		uint64_t t0 = now_ns();
		bool ok = w == MPVM ? http(&c, "GET", "/", NULL) : qmp(&c, "query-status");
		if (!ok) {
			l->fails++;
			break;
		}
		l->status[l->ns++] = (double)(now_ns() - t0) / 1e3;
	}
	for (int i = 0; i < requests / 5 && i < MAX_SAMPLES; i++) {
		uint64_t t0 = now_ns();
		bool ok = w == MPVM ? http(&c, "PATCH", "/vm", "{\"state\":\"Paused\"}") &&
					      http(&c, "PATCH", "/vm", "{\"state\":\"Resumed\"}")
				    : qmp(&c, "stop") && qmp(&c, "cont");
		if (!ok) {
			l->fails++;
			break;
		}
		l->pause[l->np++] = (double)(now_ns() - t0) / 1e3;
	}
out:
	if (c.fd >= 0)
		close(c.fd);
	reap(pid);
	unlink(sock_path);
}

static struct startup st[2][2];
static struct latency lat[2];

static void row(const char *what, const char *unit, double a, double b)
{
	char x[32] = "n/a", y[32] = "n/a";
	if (a >= 0)
		snprintf(x, sizeof(x), "%.3f", a);
	if (b >= 0)
		snprintf(y, sizeof(y), "%.3f", b);
	printf("| %-44s | %-4s | %12s | %12s |\n", what, unit, x, y);
}

static void json_startup(FILE *f, const char *key, struct startup *s, bool last)
{
	fprintf(f, "    \"%s\": {\"runs\": %d, \"failures\": %d, \"ready_ms_median\": %.4f, "
		"\"ready_ms_p90\": %.4f, \"first_answer_ms_median\": %.4f, "
		"\"first_answer_ms_p90\": %.4f}%s\n", key, s->n, s->fails, pct(s->ready, s->n, 50),
		pct(s->ready, s->n, 90), pct(s->answer, s->n, 50), pct(s->answer, s->n, 90),
		last ? "" : ",");
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	bool no_qemu = false;
	static const struct option opts[] = {
		{ "mpvm", 1, 0, 'm' }, { "qemu", 1, 0, 'q' }, { "guest", 1, 0, 'g' },
		{ "runs", 1, 0, 'r' }, { "requests", 1, 0, 'n' }, { "json", 1, 0, 'j' },
		{ "no-qemu", 0, 0, 'Q' }, { "guests", 1, 0, 'G' }, { 0 } };
	static char guest_buf[512];
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm': mpvm_bin = optarg; break;
		case 'q': qemu_bin = optarg; break;
		case 'g': guest = optarg; break;
		case 'G': /* scripts/bench.sh passes the guests' directory */
			snprintf(guest_buf, sizeof(guest_buf), "%s/counter.elf", optarg);
			guest = guest_buf;
			break;
		case 'r': runs = atoi(optarg); break;
		case 'n': requests = atoi(optarg); break;
		case 'j': json = optarg; break;
		case 'Q': no_qemu = true; break;
		default:
			fprintf(stderr, "usage: %s [--mpvm BIN] [--qemu BIN] [--guest ELF | --guests DIR] [--runs N] "
				"[--requests N] [--json FILE] [--no-qemu]\n", argv[0]);
			return 64;
		}
	}
	if (runs < 1 || runs > MAX_SAMPLES || requests < 5) {
		fprintf(stderr, "api_bench: --runs 1..%d, --requests >= 5\n", MAX_SAMPLES);
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock_path, sizeof(sock_path), "/tmp/mpvm-api-bench-%d.sock", (int)getpid());
	int nv = no_qemu ? 1 : 2;
	for (int w = 0; w < nv; w++) {
		for (int boot = 0; boot < 2; boot++)
			measure_startup((enum vmm)w, boot, &st[w][boot]);
		measure_latency((enum vmm)w, &lat[w]);
	}
	printf("| %-44s | %-4s | %12s | %12s |\n", "control socket (median unless noted)", "unit",
	       "mpvm API", "QEMU QMP");
	printf("|%s|%s|%s|%s|\n", "----------------------------------------------", "------",
	       "--------------", "--------------");
	const char *kind[2] = { "idle", "booting a guest" };
	for (int boot = 0; boot < 2; boot++) {
		char what[96];
		snprintf(what, sizeof(what), "start -> connect, %s", kind[boot]);
		row(what, "ms", pct(st[0][boot].ready, st[0][boot].n, 50),
		    pct(st[1][boot].ready, st[1][boot].n, 50));
		snprintf(what, sizeof(what), "start -> first answer, %s", kind[boot]);
		row(what, "ms", pct(st[0][boot].answer, st[0][boot].n, 50),
		    pct(st[1][boot].answer, st[1][boot].n, 50));
	}
	row("status query p50 (GET / vs query-status)", "us", pct(lat[0].status, lat[0].ns, 50),
	    pct(lat[1].status, lat[1].ns, 50));
	row("status query p99", "us", pct(lat[0].status, lat[0].ns, 99),
	    pct(lat[1].status, lat[1].ns, 99));
	row("pause+resume p50 (PATCH /vm x2 vs stop+cont)", "us", pct(lat[0].pause, lat[0].np, 50),
	    pct(lat[1].pause, lat[1].np, 50));
	row("pause+resume p99", "us", pct(lat[0].pause, lat[0].np, 99),
	    pct(lat[1].pause, lat[1].np, 99));
	printf("idle: mpvm with only --api-sock (no VM yet), QEMU -S (machine built, CPUs stopped)\n"
	       "runs: %d per start-up case; requests: %d status, %d pause+resume\n", runs, requests,
	       requests / 5);
	if (json) {
		FILE *f = fopen(json, "w");
		if (!f) {
			perror(json);
			return 1;
		}
		fprintf(f, "{\n  \"benchmark\": \"api\",\n  \"guest\": \"%s\",\n  \"runs\": %d,\n"
			"  \"requests\": %d,\n", guest, runs, requests);
		const char *names[2] = { "mpvm", "qemu_qmp" };
		for (int w = 0; w < nv; w++) {
			fprintf(f, "  \"%s\": {\n", names[w]);
			json_startup(f, "startup_idle", &st[w][0], false);
			json_startup(f, "startup_booting", &st[w][1], false);
			struct latency *l = &lat[w];
			fprintf(f, "    \"status_query_us\": {\"n\": %d, \"p50\": %.2f, \"p99\": %.2f},\n",
				l->ns, pct(l->status, l->ns, 50), pct(l->status, l->ns, 99));
			fprintf(f, "    \"pause_resume_us\": {\"n\": %d, \"p50\": %.2f, \"p99\": %.2f},\n",
				l->np, pct(l->pause, l->np, 50), pct(l->pause, l->np, 99));
			fprintf(f, "    \"failures\": %d\n  }%s\n", l->fails, w + 1 < nv ? "," : "");
		}
		fprintf(f, "}\n");
		fclose(f);
		printf("wrote %s\n", json);
	}
	return 0;
}
