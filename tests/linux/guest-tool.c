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
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: guest-tool outb PORT VALUE | pattern SEED BYTES | cpuid LEAF [SUBLEAF] | perfstat ITERATIONS | softperf ITERATIONS\n");
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
