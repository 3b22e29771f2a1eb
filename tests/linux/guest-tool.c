/* guest-tool: the few things the Linux test guests need that busybox lacks.
 * Built static with the host compiler (tests/linux/build.sh) and placed in
 * the initramfs as /bin/guest-tool.
 *
 *   guest-tool outb PORT VALUE   write a byte to an I/O port (the boot-time
 *                                marker: outb 0x3f0 123)
 *   guest-tool pattern SEED N    write N bytes of a reproducible pattern to
 *                                stdout (xorshift64 from SEED): data whose
 *                                checksum the host can compute too
 *   guest-tool cpuid LEAF [SUB]  print the leaf's eax ebx ecx edx in hex
 *   guest-tool vsock-echo-server PORT N
 *                                listen on vsock PORT, serve N connections at
 *                                once: read each to EOF (the host's
 *                                half-close), send it all back, close
 *   guest-tool vsock-echo-client PORT N BYTES
 *                                N connections at once to the host (CID 2)
 *                                PORT, each sending BYTES of pattern i,
 *                                half-closing and checking the echo
 *   guest-tool dirty MIB         write MIB MiB of memory once, then exit (so
 *                                the host has backed those pages)
 *   guest-tool softperf N        count unhalted core cycles (event 0x3c)
 *                                through the mpvm_soft PMU (the
 *                                mpvm_softpmu module) over the same
 *                                workload, next to the TSC ticks it took
 *   guest-tool perfstat N        count cycles, instructions and branches of
 *                                a fixed workload (N loop iterations) in user
 *                                mode with perf_event_open(), the syscall
 *                                `perf stat` uses: the guest has no perf, and
 *                                the host runs this same binary to compare
 */
#include <cpuid.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: guest-tool outb PORT VALUE | pattern SEED BYTES | cpuid LEAF [SUBLEAF] | perfstat ITERATIONS | softperf ITERATIONS | vsock-echo-server PORT N | vsock-echo-client PORT N BYTES\n");
	return 64;
}

static int cmd_outb(char **argv)
{
	unsigned long port = strtoul(argv[0], NULL, 0), val = strtoul(argv[1], NULL, 0);
	if (port > 0xffff || val > 0xff)
		return usage();
	if (ioperm(port, 1, 1)) {
		fprintf(stderr, "guest-tool: ioperm 0x%lx: %s\n", port, strerror(errno));
		return 1;
	}
	outb((unsigned char)val, (unsigned short)port);
	return 0;
}

static int cmd_pattern(char **argv)
{
	uint64_t x = strtoull(argv[0], NULL, 0) | 1, n = strtoull(argv[1], NULL, 0);
	static uint64_t buf[8192];
	while (n) {
		size_t words = sizeof(buf) / 8;
		for (size_t i = 0; i < words; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		size_t len = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		if (fwrite(buf, 1, len, stdout) != len)
			return 1;
		n -= len;
	}
	return fflush(stdout) ? 1 : 0;
}

static int cmd_cpuid(int argc, char **argv)
{
	unsigned a, b, c, d;
	__cpuid_count((unsigned)strtoul(argv[0], NULL, 0), argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 0,
		      a, b, c, d);
	printf("eax=0x%x ebx=0x%x ecx=0x%x edx=0x%x\n", a, b, c, d);
	return 0;
}

/* The workload: an LCG the compiler cannot fold, one taken branch per
 * iteration, so instructions and branches are known to within a few. */
static uint64_t spin(uint64_t n)
{
	uint64_t x = 1;
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

/* An errno as a word without spaces, for "name=n/a(WORD)". */
static const char *errno_word(int e)
{
	static char b[16];
	switch (e) {
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	default: snprintf(b, sizeof(b), "errno%d", e); return b;
	}
}

/* "name=COUNT", "name=COUNT(scaled)" when perf multiplexed it, or
 * "name=n/a(WHY)" when the event cannot be opened (no PMU: ENOENT). */
static int cmd_perfstat(char **argv)
{
	static const struct { const char *name; uint64_t config; } ev[] = {
		{ "cycles", PERF_COUNT_HW_CPU_CYCLES },
		{ "instructions", PERF_COUNT_HW_INSTRUCTIONS },
		{ "branches", PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
	};
	int fd[3];
	uint64_t n = strtoull(argv[0], NULL, 0);
	for (int i = 0; i < 3; i++) {
		struct perf_event_attr a = { .type = PERF_TYPE_HARDWARE, .size = sizeof(a),
					     .config = ev[i].config, .disabled = 1, .exclude_kernel = 1,
					     .exclude_hv = 1,
					     .read_format = PERF_FORMAT_TOTAL_TIME_ENABLED |
							    PERF_FORMAT_TOTAL_TIME_RUNNING };
		fd[i] = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
		if (fd[i] < 0)
			fd[i] = -errno;
	}
	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0)
			ioctl(fd[i], PERF_EVENT_IOC_ENABLE, 0);
	uint64_t x = spin(n);
	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0)
			ioctl(fd[i], PERF_EVENT_IOC_DISABLE, 0);
	printf("perfstat iterations=%llu", (unsigned long long)n);
	for (int i = 0; i < 3; i++) {
		uint64_t v[3];
		if (fd[i] < 0) {
			printf(" %s=n/a(%s)", ev[i].name, errno_word(-fd[i]));
			continue;
		}
		if (read(fd[i], v, sizeof(v)) != sizeof(v)) {
			printf(" %s=n/a(read-%s)", ev[i].name, errno_word(errno));
		} else if (!v[2] && v[1]) {
			printf(" %s=n/a(never-scheduled)", ev[i].name);
		} else if (v[2] < v[1]) {
			printf(" %s=%llu(scaled)", ev[i].name, (unsigned long long)((double)v[0] * v[1] / v[2]));
		} else {
			printf(" %s=%llu", ev[i].name, (unsigned long long)v[0]);
		}
		close(fd[i]);
	}
	printf(" check=%llx\n", (unsigned long long)(x & 0xff));
	return 0;
}

/* The bytes of pattern `seed` (the same generator as cmd_pattern). */
static void pattern_fill(uint8_t *out, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(out + i, &x, n - i < 8 ? n - i : 8);
	}
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read to EOF into a growing buffer (at most 64 MiB); -1 on error. */
static ssize_t read_to_eof(int fd, uint8_t **out)
{
	size_t cap = 1 << 16, len = 0;
	uint8_t *b = malloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap >= (64u << 20) || !(b = realloc(b, cap *= 2)))
				return -1;
		}
		ssize_t r = read(fd, b + len, cap - len);
		if (r < 0)
			return -1;
		if (!r)
			break;
		len += (size_t)r;
	}
	*out = b;
	return (ssize_t)len;
}

/* Wait for n children; the number that exited 0. */
static int reap(int n)
{
	int good = 0, st;
	for (int i = 0; i < n; i++)
		if (wait(&st) > 0 && WIFEXITED(st) && !WEXITSTATUS(st))
			good++;
	return good;
}

static int cmd_vsock_echo_server(char **argv)
{
	unsigned port = (unsigned)strtoul(argv[0], NULL, 0);
	int n = atoi(argv[1]);
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, n)) {
		printf("vsock-echo-server listen=%s\n", errno_word(errno));
		return 1;
	}
	printf("vsock-echo-server listening port=%u\n", port);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			break;
		if (fork() == 0) {
			uint8_t *buf;
			ssize_t len = read_to_eof(c, &buf);
			_exit(len < 0 || write_all(c, buf, (size_t)len) || close(c) ? 1 : 0);
		}
		close(c);
	}
	int good = reap(n);
	printf("vsock-echo-server served=%d of %d\n", good, n);
	return good == n ? 0 : 1;
}

static int cmd_vsock_echo_client(char **argv)
{
	unsigned port = (unsigned)strtoul(argv[0], NULL, 0);
	int n = atoi(argv[1]);
	size_t bytes = strtoull(argv[2], NULL, 0);
	for (int i = 0; i < n; i++) {
		if (fork())
			continue;
		uint8_t *want = malloc(bytes ? bytes : 1), *got;
		pattern_fill(want, bytes, 1000 + (uint64_t)i);
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
					  .svm_port = port };
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "vsock-echo-client %d: connect: %s\n", i, strerror(errno));
			_exit(2);
		}
		if (write_all(fd, want, bytes) || shutdown(fd, SHUT_WR))
			_exit(3);
		ssize_t len = read_to_eof(fd, &got);
		if (len != (ssize_t)bytes || memcmp(got, want, bytes)) {
			fprintf(stderr, "vsock-echo-client %d: echo of %zu bytes: got %zd, %s\n", i, bytes,
				len, len == (ssize_t)bytes ? "different bytes" : "wrong length");
			_exit(4);
		}
		_exit(0);
	}
	int good = reap(n);
	printf("vsock-echo-client echoed=%d of %d bytes=%zu\n", good, n, bytes);
	return good == n ? 0 : 1;
}

static uint64_t rdtsc_now(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Counting through mpvm_softpmu: the PMU type comes from sysfs, as perf's
 * own "mpvm_soft/event=0x3c/" syntax would find it. Two reads while the
 * event runs show that it counts on (the counter is read by RDMSR). */
static int cmd_softperf(char **argv)
{
	FILE *f = fopen("/sys/bus/event_source/devices/mpvm_soft/type", "r");
	unsigned type;
	if (!f || fscanf(f, "%u", &type) != 1) {
		printf("softperf pmu=none\n");
		return 1;
	}
	fclose(f);
	uint64_t n = strtoull(argv[0], NULL, 0);
	struct perf_event_attr a = { .type = type, .size = sizeof(a), .config = 0x3c,
				     .disabled = 1 };
	int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (fd < 0) {
		printf("softperf pmu=mpvm_soft open=%s\n", errno_word(errno));
		return 1;
	}
	uint64_t c1 = 0, c2 = 0;
	uint64_t t0 = rdtsc_now();
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	uint64_t x = spin(n / 2);
	int ok = read(fd, &c1, sizeof(c1)) == sizeof(c1);
	x ^= spin(n - n / 2);
	ok &= read(fd, &c2, sizeof(c2)) == sizeof(c2);
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	uint64_t t1 = rdtsc_now();
	close(fd);
	if (!ok) {
		printf("softperf pmu=mpvm_soft read=%s\n", errno_word(errno));
		return 1;
	}
	printf("softperf pmu=mpvm_soft iterations=%llu cycles_half=%llu cycles=%llu tsc=%llu check=%llx\n",
	       (unsigned long long)n, (unsigned long long)c1, (unsigned long long)c2,
	       (unsigned long long)(t1 - t0), (unsigned long long)(x & 0xff));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "vsock-echo-server"))
		return cmd_vsock_echo_server(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "vsock-echo-client"))
		return cmd_vsock_echo_client(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "dirty")) {
		size_t n = strtoull(argv[2], NULL, 0) << 20;
		uint8_t *p = malloc(n);
		if (!p)
			return 1;
		for (size_t i = 0; i < n; i += 4096)
			p[i] = (uint8_t)i | 1;
		printf("dirty mib=%zu\n", n >> 20);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "softperf"))
		return cmd_softperf(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "perfstat"))
		return cmd_perfstat(argv + 2);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "cpuid"))
		return cmd_cpuid(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "outb"))
		return cmd_outb(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "pattern"))
		return cmd_pattern(argv + 2);
	return usage();
}
