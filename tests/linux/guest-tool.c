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
 */
#include <cpuid.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: guest-tool outb PORT VALUE | pattern SEED BYTES | cpuid LEAF [SUBLEAF]\n");
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

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "cpuid"))
		return cmd_cpuid(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "outb"))
		return cmd_outb(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "pattern"))
		return cmd_pattern(argv + 2);
	return usage();
}
