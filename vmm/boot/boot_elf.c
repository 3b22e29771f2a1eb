/* ELF kernels: PT_LOAD segments at their physical addresses, the Xen PVH entry
 * note, and the PVH start_info (xen/include/public/arch-x86/hvm/start_info.h).
 * An ELF with a PVH note boots PVH even if it also carries a multiboot header
 * (mpvm's test guests do): PVH hands over the RSDP and needs no a.out kludge.
 * Otherwise ELF64 boots as a Linux vmlinux, ELF32 as multiboot. */
#include "boot/boot_internal.h"

#include <elf.h>

#define ELF_MAX_PHDRS     256    /* vmlinux has ~5; more is a corrupt file */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_MAGIC         0x336ec578u
/* Layout of what we write at BOOT_ZERO_PAGE_ADDR for PVH. */
#define PVH_MODLIST_OFF   0x40   /* after the 56-byte hvm_start_info */
#define PVH_MEMMAP_OFF    0x80   /* after one 32-byte hvm_modlist_entry */
#define PVH_MEMMAP_MAX    16     /* 24-byte hvm_memmap_table_entry each */

struct elf_img {
	bool is64;
	uint64_t entry, phoff, shoff;
	unsigned phnum, shnum;
};

struct elf_seg {
	uint32_t type;
	uint64_t off, vaddr, paddr, filesz, memsz;
};

static int elf_parse(struct boot_ctx *c, struct elf_img *e)
{
	const uint8_t *k = c->k;
	if (c->klen < EI_NIDENT)
		return boot_err(c, BOOT_WHO_KERNEL, "truncated ELF: %zu bytes", c->klen);
	if (k[EI_CLASS] != ELFCLASS32 && k[EI_CLASS] != ELFCLASS64)
		return boot_err(c, BOOT_WHO_KERNEL, "ELF class %u is neither ELFCLASS32 nor ELFCLASS64", k[EI_CLASS]);
	if (k[EI_DATA] != ELFDATA2LSB)
		return boot_err(c, BOOT_WHO_KERNEL, "ELF is not little-endian (EI_DATA %u)", k[EI_DATA]);
	e->is64 = k[EI_CLASS] == ELFCLASS64;
	size_t ehsz = e->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (c->klen < ehsz)
		return boot_err(c, BOOT_WHO_KERNEL, "truncated ELF: %zu bytes is shorter than the ELF header (%zu)",
				c->klen, ehsz);
	unsigned machine, phentsize, shentsize;
	if (e->is64) {
		Elf64_Ehdr h;
		memcpy(&h, k, sizeof(h));
		machine = h.e_machine, e->entry = h.e_entry, e->phoff = h.e_phoff, e->shoff = h.e_shoff;
		e->phnum = h.e_phnum, e->shnum = h.e_shnum, phentsize = h.e_phentsize, shentsize = h.e_shentsize;
	} else {
		Elf32_Ehdr h;
		memcpy(&h, k, sizeof(h));
		machine = h.e_machine, e->entry = h.e_entry, e->phoff = h.e_phoff, e->shoff = h.e_shoff;
		e->phnum = h.e_phnum, e->shnum = h.e_shnum, phentsize = h.e_phentsize, shentsize = h.e_shentsize;
	}
	if (machine != (e->is64 ? EM_X86_64 : EM_386))
		return boot_err(c, BOOT_WHO_KERNEL, "ELF machine %u is not x86 (EM_386 for ELF32, EM_X86_64 for ELF64)",
				machine);
	if (phentsize != (e->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return boot_err(c, BOOT_WHO_KERNEL, "ELF e_phentsize %u is not the size of a program header", phentsize);
	if (e->phnum == 0 || e->phnum > ELF_MAX_PHDRS)
		return boot_err(c, BOOT_WHO_KERNEL, "ELF e_phnum %u is absurd (expected 1..%d program headers)",
				e->phnum, ELF_MAX_PHDRS);
	if (!gm_add_ok(e->phoff, (uint64_t)e->phnum * phentsize, c->klen))
		return boot_err(c, BOOT_WHO_KERNEL,
				"ELF program header table (offset 0x%" PRIx64 ", %u entries) is outside the %zu-byte file",
				e->phoff, e->phnum, c->klen);
	/* Sections are only searched for notes; a table we cannot use is ignored
	 * unless we need it (see find_pvh). */
	if (e->shoff == 0 || shentsize != (e->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
		e->shnum = 0;
	return 0;
}

static void elf_phdr(const struct boot_ctx *c, const struct elf_img *e, unsigned i, struct elf_seg *s)
{
	if (e->is64) {
		Elf64_Phdr p;
		memcpy(&p, c->k + e->phoff + i * sizeof(p), sizeof(p));
		*s = (struct elf_seg){ p.p_type, p.p_offset, p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz };
	} else {
		Elf32_Phdr p;
		memcpy(&p, c->k + e->phoff + i * sizeof(p), sizeof(p));
		*s = (struct elf_seg){ p.p_type, p.p_offset, p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz };
	}
}

static bool in_range(uint64_t x, uint64_t base, uint64_t len)
{
	return x >= base && x - base < len;
}

/* Validate every PT_LOAD, then copy them all: a bad segment leaves RAM untouched. */
static int elf_load_segments(struct boot_ctx *c, const struct elf_img *e, uint64_t *kernel_end)
{
	struct elf_seg s;
	uint64_t end = 0;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_phdr(c, e, i, &s);
		if (s.type != PT_LOAD)
			continue;
		if (s.filesz > s.memsz)
			return boot_err(c, BOOT_WHO_KERNEL,
					"ELF program header %u: p_filesz 0x%" PRIx64 " is larger than p_memsz 0x%" PRIx64,
					i, s.filesz, s.memsz);
		if (!gm_add_ok(s.off, s.filesz, c->klen))
			return boot_err(c, BOOT_WHO_KERNEL,
					"ELF program header %u: file range 0x%" PRIx64 "+0x%" PRIx64 " is past the end of the %zu-byte file",
					i, s.off, s.filesz, c->klen);
		if (s.memsz == 0)
			continue;
		if (s.paddr < BOOT_HIMEM_START)
			return boot_err(c, BOOT_WHO_KERNEL,
					"ELF program header %u: segment at 0x%" PRIx64 " is below 1 MiB, where mpvm keeps its boot structures: link the kernel at 1 MiB or above",
					i, s.paddr);
		if (!gm_add_ok(s.paddr, s.memsz, c->low_end))
			return boot_err(c, BOOT_WHO_KERNEL,
					"ELF program header %u: segment 0x%" PRIx64 "+0x%" PRIx64 " is outside guest memory (%" PRIu64 " MiB)",
					i, s.paddr, s.memsz, c->low_end >> 20);
		if (s.paddr + s.memsz > end)
			end = s.paddr + s.memsz;
	}
	if (end == 0)
		return boot_err(c, BOOT_WHO_KERNEL, "ELF has no loadable (PT_LOAD) segment");
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_phdr(c, e, i, &s);
		if (s.type == PT_LOAD && s.memsz && boot_copy(c, s.paddr, c->k + s.off, s.filesz, s.memsz))
			return -1;
	}
	*kernel_end = end;
	return 0;
}

/* A physical entry inside a loaded segment; with virt_ok, a virtual one (e.g.
 * in the kernel's high mapping) is translated through its segment. */
static int elf_phys_entry(struct boot_ctx *c, const struct elf_img *e, uint64_t entry,
			  bool virt_ok, const char *what, uint64_t *phys)
{
	struct elf_seg s;
	for (int pass = 0; pass < (virt_ok ? 2 : 1); pass++) {
		for (unsigned i = 0; i < e->phnum; i++) {
			elf_phdr(c, e, i, &s);
			if (s.type != PT_LOAD)
				continue;
			if (in_range(entry, pass ? s.vaddr : s.paddr, s.memsz)) {
				*phys = pass ? entry - s.vaddr + s.paddr : entry;
				return 0;
			}
		}
	}
	return boot_err(c, BOOT_WHO_KERNEL, "ELF %s 0x%" PRIx64 " is not inside any loadable segment", what, entry);
}

/* Xen notes in [off, off+len): 1 and *entry if PHYS32_ENTRY is there, 0 if not. */
static int pvh_note(struct boot_ctx *c, const char *where, unsigned idx, uint64_t off,
		    uint64_t len, uint64_t *entry)
{
	if (!gm_add_ok(off, len, c->klen))
		return boot_err(c, BOOT_WHO_KERNEL,
				"ELF %s %u: notes at 0x%" PRIx64 "+0x%" PRIx64 " are past the end of the %zu-byte file",
				where, idx, off, len, c->klen);
	const uint8_t *p = c->k + off;
	for (uint64_t pos = 0; len - pos >= 12;) {
		uint32_t namesz = rd32(p + pos), descsz = rd32(p + pos + 4), type = rd32(p + pos + 8);
		uint64_t nal = ((uint64_t)namesz + 3) & ~3ULL, dal = ((uint64_t)descsz + 3) & ~3ULL;
		if (nal + dal > len - pos - 12)
			return boot_err(c, BOOT_WHO_KERNEL,
					"ELF %s %u: note at +0x%" PRIx64 " (namesz %u, descsz %u) overruns its %" PRIu64 " bytes",
					where, idx, pos, namesz, descsz, len);
		const uint8_t *name = p + pos + 12, *desc = name + nal;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(name, "Xen", 4)) {
			/* Linux emits it with _ASM_PTR: 8 bytes in a 64-bit vmlinux. */
			uint64_t v = descsz == 4 ? rd32(desc) : descsz == 8 ? rd64(desc) : UINT64_MAX;
			if (descsz != 4 && descsz != 8)
				return boot_err(c, BOOT_WHO_KERNEL, "ELF PVH entry note has descsz %u (expected 4 or 8)", descsz);
			if (v >> 32)
				return boot_err(c, BOOT_WHO_KERNEL, "ELF PVH entry 0x%" PRIx64 " is above 4 GiB", v);
			*entry = v;
			return 1;
		}
		pos += 12 + nal + dal;
	}
	return 0;
}

/* PT_NOTE segments first, then SHT_NOTE sections (some linkers emit no PT_NOTE). */
static int find_pvh(struct boot_ctx *c, const struct elf_img *e, uint64_t *entry)
{
	struct elf_seg s;
	int r;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_phdr(c, e, i, &s);
		if (s.type == PT_NOTE && (r = pvh_note(c, "program header", i, s.off, s.filesz, entry)))
			return r;
	}
	if (e->shnum == 0)
		return 0;
	size_t shsz = e->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (!gm_add_ok(e->shoff, (uint64_t)e->shnum * shsz, c->klen))
		return boot_err(c, BOOT_WHO_KERNEL,
				"ELF section header table (offset 0x%" PRIx64 ", %u entries) is outside the %zu-byte file",
				e->shoff, e->shnum, c->klen);
	for (unsigned i = 0; i < e->shnum; i++) {
		const uint8_t *h = c->k + e->shoff + i * shsz;
		uint64_t off, size;
		if (rd32(h + 4) != SHT_NOTE)
			continue;
		if (e->is64)
			off = rd64(h + offsetof(Elf64_Shdr, sh_offset)), size = rd64(h + offsetof(Elf64_Shdr, sh_size));
		else
			off = rd32(h + offsetof(Elf32_Shdr, sh_offset)), size = rd32(h + offsetof(Elf32_Shdr, sh_size));
		if ((r = pvh_note(c, "section", i, off, size, entry)))
			return r;
	}
	return 0;
}

static int pvh_boot(struct boot_ctx *c, uint64_t entry, uint64_t kernel_end, struct boot_entry *out)
{
	struct boot_placed pl;
	if (boot_place(c, kernel_end, c->low_end, true, &pl))
		return -1;
	uint8_t b[PVH_MEMMAP_OFF + PVH_MEMMAP_MAX * 24] = { 0 };
	struct boot_mem_range mm[PVH_MEMMAP_MAX];
	int n = boot_mem_map(c->m, mm, PVH_MEMMAP_MAX);
	wr32(b + 0, PVH_MAGIC);
	wr32(b + 4, 1); /* version 1: has the memory map */
	wr32(b + 12, c->ilen ? 1 : 0);
	wr64(b + 16, c->ilen ? BOOT_ZERO_PAGE_ADDR + PVH_MODLIST_OFF : 0);
	wr64(b + 24, pl.cmdline);
	wr64(b + 32, c->rsdp);
	wr64(b + 40, BOOT_ZERO_PAGE_ADDR + PVH_MEMMAP_OFF);
	wr32(b + 48, (uint32_t)n);
	wr64(b + PVH_MODLIST_OFF, pl.initrd);
	wr64(b + PVH_MODLIST_OFF + 8, c->ilen);
	wr64(b + PVH_MODLIST_OFF + 16, pl.initrd_name);
	for (int i = 0; i < n; i++) {
		uint8_t *m = b + PVH_MEMMAP_OFF + 24 * i;
		wr64(m, mm[i].addr);
		wr64(m + 8, mm[i].size);
		wr32(m + 16, mm[i].type);
	}
	if (boot_hand_over(c, "PVH start_info", b, sizeof(b), BOOT_PROTO_PVH, BOOT_MODE_PROT32, entry,
			   kernel_end, out))
		return -1;
	out->rbx = BOOT_ZERO_PAGE_ADDR;
	return 0;
}

int boot_elf_load(struct boot_ctx *c, uint64_t *entry, uint64_t *kernel_end)
{
	struct elf_img e;
	if (elf_parse(c, &e) || elf_phys_entry(c, &e, e.entry, true, "entry point", entry))
		return -1;
	return elf_load_segments(c, &e, kernel_end);
}

int boot_elf(struct boot_ctx *c, struct boot_entry *out)
{
	struct elf_img e;
	uint64_t pvh, entry, kend;
	if (elf_parse(c, &e))
		return -1;
	int r = find_pvh(c, &e, &pvh);
	if (r < 0)
		return -1;
	if (r > 0) {
		/* PVH entries are physical by definition: no translation. */
		if (elf_phys_entry(c, &e, pvh, false, "PVH entry", &entry) ||
		    elf_load_segments(c, &e, &kend))
			return -1;
		return pvh_boot(c, entry, kend, out);
	}
	if (e.is64)
		return boot_elf_load(c, &entry, &kend) ? -1 : boot_linux_vmlinux(c, entry, kend, out);
	size_t off;
	r = boot_mb_find(c, &off);
	if (r > 0)
		return boot_multiboot(c, off, true, out);
	if (r < 0)
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot header at offset 0x%zx has a bad checksum (magic + flags + checksum != 0)", off);
	return boot_err(c, BOOT_WHO_KERNEL,
			"ELF32 kernel has neither a PVH entry note (Xen note %d) nor a multiboot header in its first 8 KiB: mpvm cannot tell how to boot it",
			XEN_ELFNOTE_PHYS32_ENTRY);
}
