/* The kernel-loader harness shared by fuzz_boot_elf.c, fuzz_boot_bzimage.c
 * and fuzz_boot_multiboot.c: one image, with a command line and an initrd,
 * through boot_load_buf() (what boot_load() does after reading the files)
 * into a small guest memory.
 *
 * Input: byte 0 picks the memory layout and whether there is an initrd and
 * an RSDP, byte 1 the command line's length (its bytes follow), byte 2 the
 * initrd's size; the rest is the kernel image. Guest RAM is heap memory of
 * the exact size (not mmap as gm_create() does), so that ASan reports any
 * write the checked accessor lets past the end of RAM.
 *
 * Oracles: no crash, leak or UB; a refusal says why in valid UTF-8 (it
 * becomes the API's fault_message); an accepted image enters at or above
 * 1 MiB, inside the kernel it loaded, which ends inside RAM below the hole.
 */
#ifndef MPVM_FUZZ_BOOT_H
#define MPVM_FUZZ_BOOT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "boot/boot.h"

/* Which loader a target aims at. Raw multiboot is what is neither of the
 * others (an ELF32 multiboot kernel goes through the ELF target). */
enum fz_boot_format { FZ_BOOT_ELF, FZ_BOOT_BZIMAGE, FZ_BOOT_MULTIBOOT };

/* RAM sizes kept small: loaders zero a segment's memsz, so a 64 MiB guest
 * would spend each execution in memset. Layout 3 adds RAM above 4 GiB. */
#define FZ_BOOT_LAYOUTS 4
static const uint64_t fz_boot_low[FZ_BOOT_LAYOUTS] = { 2 << 20, (1 << 20) + 0x10000, 4 << 20,
						       2 << 20 };
#define FZ_BOOT_HIGH 0x10000

static void fz_boot_mem(struct guest_mem *m, unsigned layout)
{
	static uint8_t *low[FZ_BOOT_LAYOUTS], *high;
	if (!low[layout])
		low[layout] = calloc(1, fz_boot_low[layout]);
	if (!high)
		high = calloc(1, FZ_BOOT_HIGH);
	if (!low[layout] || !high)
		abort();
	memset(m, 0, sizeof(*m));
	m->regions[0] = (struct gm_region){ 0, fz_boot_low[layout], low[layout] };
	m->nregions = 1;
	m->ram_size = fz_boot_low[layout];
	if (layout == 3) {
		m->regions[1] = (struct gm_region){ GM_MMIO_HOLE_END, FZ_BOOT_HIGH, high };
		m->nregions = 2;
		m->ram_size += FZ_BOOT_HIGH;
	}
}

/* The format's magic is written over the input (or another's wiped), so
 * that the fuzzer spends its time inside that loader instead of in format
 * detection. */
static void fz_boot_force(uint8_t *k, size_t klen, enum fz_boot_format f)
{
	if (f == FZ_BOOT_ELF && klen >= 4)
		memcpy(k, "\177ELF", 4);
	if (f == FZ_BOOT_BZIMAGE && klen >= 0x206) {
		k[0x1fe] = 0x55;
		k[0x1ff] = 0xaa;
		memcpy(k + 0x202, "HdrS", 4);
	}
	if (f == FZ_BOOT_MULTIBOOT) {
		if (klen >= 1)
			k[0] &= 0x7f; /* not "\177ELF" */
		if (klen >= 0x203)
			k[0x202] &= 0x7f; /* not "HdrS" */
	}
}

static int fz_boot_one(const uint8_t *data, size_t size, enum fz_boot_format f)
{
	static uint8_t initrd[255 * 1021];
	if (size < 3)
		return 0;
	unsigned opt = data[0], cl = data[1];
	size_t ilen = (opt & 4) ? (size_t)data[2] * 1021 : 0; /* not page-sized on purpose */
	data += 3, size -= 3;
	if (cl > size)
		cl = (unsigned)size;
	char cmdline[256];
	memcpy(cmdline, data, cl);
	cmdline[cl] = 0;
	data += cl, size -= cl;
	uint8_t *k = malloc(size ? size : 1); /* exact size: ASan sees over-reads */
	if (!k)
		return 0;
	memcpy(k, data, size);
	fz_boot_force(k, size, f);

	struct guest_mem m;
	fz_boot_mem(&m, opt % FZ_BOOT_LAYOUTS);
	struct boot_entry e;
	char err[512] = "";
	int r = boot_load_buf(&m, k, size, ilen ? initrd : NULL, ilen, cmdline, "initrd",
			      (opt & 8) ? BOOT_BIOS_START : 0, &e, err, sizeof(err));
	uint64_t low_end = m.regions[0].size;
	if (getenv("FUZZ_VERBOSE")) /* checking a seed: does it load? */
		fprintf(stderr, "boot_load_buf: %s (proto %d, rip 0x%llx)\n", r ? err : "ok", (int)e.proto,
			(unsigned long long)e.rip);
	if (r && (!err[0] || utf8_check(err, strlen(err), NULL, 0))) {
		fprintf(stderr, "refused without a valid message: \"%s\"\n", err);
		abort();
	}
	if (!r && (e.rip < BOOT_HIMEM_START || e.rip >= e.kernel_end || e.kernel_end > low_end ||
		   e.rsp != BOOT_STACK_TOP)) {
		fprintf(stderr, "accepted with rip 0x%llx, kernel_end 0x%llx, RAM to 0x%llx\n",
			(unsigned long long)e.rip, (unsigned long long)e.kernel_end,
			(unsigned long long)low_end);
		abort();
	}
	/* Each target's images can only boot by its protocol. */
	if (!r && f == FZ_BOOT_BZIMAGE && e.proto != BOOT_PROTO_LINUX64)
		abort();
	if (!r && f == FZ_BOOT_MULTIBOOT && e.proto != BOOT_PROTO_MULTIBOOT)
		abort();
	free(k);
	return 0;
}

#endif
