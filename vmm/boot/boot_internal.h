/* Private to the boot module (boot*.c): the state of one load and the helpers
 * the format loaders share.
 *
 * Contract: every loader validates the whole image before writing to guest
 * memory where it can, reports failures through boot_err() (which names the
 * kernel/initrd and returns -1) and writes guest memory only through
 * guest_mem.h. Images are read with rd16/32/64 (unaligned, little-endian:
 * x86 hosts only, like the rest of mpvm).
 */
#ifndef MPVM_BOOT_INTERNAL_H
#define MPVM_BOOT_INTERNAL_H

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "boot/boot.h"

struct boot_ctx {
	const struct guest_mem *m;
	const uint8_t *k;
	size_t klen;
	const uint8_t *initrd;
	size_t ilen;             /* 0: no initrd */
	const char *cmdline;     /* never NULL */
	const char *initrd_name; /* never NULL: module string for PVH/multiboot */
	const char *kname;       /* for messages; NULL when loading from a buffer */
	const char *iname;
	uint64_t rsdp;
	uint64_t low_end;        /* end of RAM region 0 (RAM below the MMIO hole) */
	char *err;
	size_t errlen;
};

enum boot_who { BOOT_WHO_KERNEL, BOOT_WHO_INITRD, BOOT_WHO_CMDLINE };

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* "kernel <path>: <message>" (or initrd / command line) into c->err, with
 * base/err.h's helpers; returns -1. */
int boot_err(struct boot_ctx *c, enum boot_who who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Append NUL-terminated `s` to the command-line area at *cursor (starts at
 * BOOT_CMDLINE_ADDR); *addr receives its guest address. */
int boot_put_str(struct boot_ctx *c, uint64_t *cursor, const char *s, uint64_t *addr);

/* Copy the initrd page-aligned as high as possible below `limit`, above
 * `kernel_end`. *addr = 0 when there is no initrd. */
int boot_put_initrd(struct boot_ctx *c, uint64_t kernel_end, uint64_t limit, uint64_t *addr);

/* Where a protocol's preamble put things (guest addresses; 0: not there). */
struct boot_placed {
	uint64_t cmdline, initrd, initrd_name;
};
/* The preamble every protocol shares: the command line, the initrd as high
 * as it fits below `initrd_limit`, and (`with_name`, for protocols that
 * pass the initrd as a module) its name after the command line. */
int boot_place(struct boot_ctx *c, uint64_t kernel_end, uint64_t initrd_limit, bool with_name,
	       struct boot_placed *p);
/* The hand-over every protocol shares: write its boot structure `b` (`what`
 * names it in errors) at BOOT_ZERO_PAGE_ADDR and fill `out` (rip = entry,
 * the boot stack); the caller adds the protocol's registers. */
int boot_hand_over(struct boot_ctx *c, const char *what, const void *b, size_t len,
		   enum boot_protocol proto, enum boot_cpu_mode mode, uint64_t entry,
		   uint64_t kernel_end, struct boot_entry *out);

/* Write [addr, addr+size) to guest memory: file bytes, then zeros up to memsz.
 * The caller has validated the range; failure here is an internal error. */
int boot_copy(struct boot_ctx *c, uint64_t addr, const uint8_t *src, uint64_t filesz,
	      uint64_t memsz);

int boot_linux_bzimage(struct boot_ctx *c, struct boot_entry *out);
int boot_linux_vmlinux(struct boot_ctx *c, uint64_t entry, uint64_t kernel_end,
		       struct boot_entry *out);
int boot_elf(struct boot_ctx *c, struct boot_entry *out);
/* Load an ELF's PT_LOAD segments; entry is e_entry made physical. */
int boot_elf_load(struct boot_ctx *c, uint64_t *entry, uint64_t *kernel_end);
/* Multiboot v1 header in the first 8 KiB: 1 found at *off, 0 none,
 * -1 only headers with a bad checksum (first one at *off). */
int boot_mb_find(const struct boot_ctx *c, size_t *off);
int boot_multiboot(struct boot_ctx *c, size_t off, bool is_elf, struct boot_entry *out);

#endif
