/* Multiboot v1 (https://www.gnu.org/software/grub/manual/multiboot/): header
 * search, a.out-kludge loading (flag 16) or ELF32 loading, and the multiboot
 * information structure. The command line is passed as given (GRUB would
 * prefix the kernel path); the initrd is module 0, named by its path. */
#include "boot/boot_internal.h"

#define MB_MAGIC        0x1BADB002u
#define MB_BOOT_MAGIC   0x2BADB002u
#define MB_SEARCH       8192
#define MB_F_PAGE_ALIGN (1u << 0)  /* modules page-aligned: always true here */
#define MB_F_MEMINFO    (1u << 1)  /* mem_* and mmap: always provided */
#define MB_F_VIDEO      (1u << 2)  /* no framebuffer: ignored, the kernel sees no video info */
#define MB_F_ADDR       (1u << 16)

/* multiboot_info flags */
#define MBI_MEM         (1u << 0)
#define MBI_CMDLINE     (1u << 2)
#define MBI_MODS        (1u << 3)
#define MBI_MMAP        (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

/* Layout of what we write at BOOT_ZERO_PAGE_ADDR. */
#define MBI_MODS_OFF    0x80   /* after the 116-byte multiboot_info */
#define MBI_MMAP_OFF    0x100
#define MBI_MMAP_MAX    8      /* 24-byte entries (size field + 20) */
#define MBI_NAME_OFF    (MBI_MMAP_OFF + MBI_MMAP_MAX * 24)
#define MBI_SIZE        (MBI_NAME_OFF + 8)

int boot_mb_find(const struct boot_ctx *c, size_t *off)
{
	int r = 0;
	size_t lim = c->klen < MB_SEARCH ? c->klen : MB_SEARCH;
	for (size_t o = 0; o + 12 <= lim; o += 4) {
		if (rd32(c->k + o) != MB_MAGIC)
			continue;
		if ((uint32_t)(MB_MAGIC + rd32(c->k + o + 4) + rd32(c->k + o + 8)) == 0) {
			*off = o;
			return 1;
		}
		if (r == 0) {
			*off = o;
			r = -1;
		}
	}
	return r;
}

/* Address fields: file bytes from load_addr to load_end_addr, bss to bss_end_addr. */
static int load_kludge(struct boot_ctx *c, size_t off, uint64_t *entry, uint64_t *kernel_end)
{
	if (off + 32 > c->klen || off + 32 > MB_SEARCH)
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot header at 0x%zx: its address fields run past the end of the file or of the first 8 KiB",
				off);
	const uint8_t *h = c->k + off;
	uint32_t hdr = rd32(h + 12), load = rd32(h + 16), load_end = rd32(h + 20);
	uint32_t bss_end = rd32(h + 24), ent = rd32(h + 28);
	if (load > hdr || hdr - load > off)
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot header at 0x%zx: header_addr 0x%x and load_addr 0x%x put the load start before the beginning of the file",
				off, hdr, load);
	if (load_end && load_end < load)
		return boot_err(c, BOOT_WHO_KERNEL, "multiboot load_end_addr 0x%x is below load_addr 0x%x",
				load_end, load);
	uint64_t foff = off - (hdr - load);
	uint64_t size = load_end ? (uint64_t)load_end - load : c->klen - foff;
	if (!gm_add_ok(foff, size, c->klen))
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot load_addr..load_end_addr (0x%x-0x%x) needs 0x%" PRIx64 " bytes from file offset 0x%" PRIx64 ", past the end of the %zu-byte file",
				load, load_end, size, foff, c->klen);
	uint64_t end = load + size, memend = end;
	if (bss_end) {
		if (bss_end < end)
			return boot_err(c, BOOT_WHO_KERNEL, "multiboot bss_end_addr 0x%x is below the end of the loaded image 0x%" PRIx64,
					bss_end, end);
		memend = bss_end;
	}
	if (load < BOOT_HIMEM_START)
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot load_addr 0x%x is below 1 MiB, where mpvm keeps its boot structures: link the kernel at 1 MiB or above",
				load);
	if (memend > c->low_end)
		return boot_err(c, BOOT_WHO_KERNEL, "multiboot image 0x%x-0x%" PRIx64 " is outside guest memory (%" PRIu64 " MiB)",
				load, memend, c->low_end >> 20);
	if (ent < load || ent >= end)
		return boot_err(c, BOOT_WHO_KERNEL, "multiboot entry_addr 0x%x is outside the loaded image 0x%x-0x%" PRIx64,
				ent, load, end);
	if (boot_copy(c, load, c->k + foff, size, memend - load))
		return -1;
	*entry = ent;
	*kernel_end = memend;
	return 0;
}

static int write_info(struct boot_ctx *c, uint64_t entry, uint64_t kernel_end, struct boot_entry *out)
{
	struct boot_placed pl;
	if (boot_place(c, kernel_end, c->low_end, true, &pl))
		return -1;
	uint8_t b[MBI_SIZE] = { 0 };
	struct boot_mem_range mm[MBI_MMAP_MAX];
	int n = boot_mem_map(c->m, mm, MBI_MMAP_MAX);
	uint64_t lower = c->low_end < BOOT_EBDA_START ? c->low_end : BOOT_EBDA_START;
	wr32(b + 0, MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME | (c->ilen ? MBI_MODS : 0));
	wr32(b + 4, (uint32_t)(lower >> 10));
	wr32(b + 8, (uint32_t)((c->low_end - BOOT_HIMEM_START) >> 10));
	wr32(b + 16, (uint32_t)pl.cmdline);
	if (c->ilen) {
		wr32(b + 20, 1);
		wr32(b + 24, BOOT_ZERO_PAGE_ADDR + MBI_MODS_OFF);
		wr32(b + MBI_MODS_OFF, (uint32_t)pl.initrd);
		wr32(b + MBI_MODS_OFF + 4, (uint32_t)(pl.initrd + c->ilen));
		wr32(b + MBI_MODS_OFF + 8, (uint32_t)pl.initrd_name);
	}
	wr32(b + 44, (uint32_t)n * 24);
	wr32(b + 48, BOOT_ZERO_PAGE_ADDR + MBI_MMAP_OFF);
	for (int i = 0; i < n; i++) {
		uint8_t *e = b + MBI_MMAP_OFF + 24 * i;
		wr32(e, 20); /* size of the entry, not counting this field */
		wr64(e + 4, mm[i].addr);
		wr64(e + 12, mm[i].size);
		wr32(e + 20, mm[i].type);
	}
	wr32(b + 64, BOOT_ZERO_PAGE_ADDR + MBI_NAME_OFF);
	memcpy(b + MBI_NAME_OFF, "mpvm", 5);
	if (boot_hand_over(c, "multiboot info", b, sizeof(b), BOOT_PROTO_MULTIBOOT, BOOT_MODE_PROT32,
			   entry, kernel_end, out))
		return -1;
	out->rax = MB_BOOT_MAGIC;
	out->rbx = BOOT_ZERO_PAGE_ADDR;
	return 0;
}

int boot_multiboot(struct boot_ctx *c, size_t off, bool is_elf, struct boot_entry *out)
{
	uint32_t flags = rd32(c->k + off + 4);
	/* Bits 0-15 are requirements: refuse what we cannot honour rather than
	 * boot a kernel that will misbehave. Bit 2 (video) is only a wish here. */
	uint32_t unsupported = flags & 0xffffu & ~(MB_F_PAGE_ALIGN | MB_F_MEMINFO | MB_F_VIDEO);
	if (unsupported)
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot header at 0x%zx requires features mpvm does not provide (flags 0x%x, unsupported required bits 0x%x)",
				off, flags, unsupported);
	uint64_t entry, kend;
	if (flags & MB_F_ADDR) {
		if (load_kludge(c, off, &entry, &kend))
			return -1;
	} else if (!is_elf) {
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot header at 0x%zx has no address fields (flag 16) and the image is not ELF: mpvm cannot tell where to load it",
				off);
	} else if (boot_elf_load(c, &entry, &kend)) {
		return -1;
	}
	return write_info(c, entry, kend, out);
}
