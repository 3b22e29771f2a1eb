/* Linux 64-bit boot protocol (Documentation/arch/x86/boot.rst): the zero page
 * (struct boot_params) for a bzImage, whose setup header we copy, and for an
 * ELF vmlinux, for which we synthesise the header as Firecracker does. */
#include "boot/boot_internal.h"

/* struct boot_params / setup_header offsets (zero-page.rst, boot.rst). */
enum {
	ZP_SIZE = 0x1000,
	ZP_ACPI_RSDP = 0x070,
	ZP_E820_ENTRIES = 0x1e8,
	ZP_E820_TABLE = 0x2d0, /* 128 packed entries of 20 bytes */
	ZP_E820_MAX = 128,
	H_START = 0x1f1,       /* setup_header */
	H_MAX_END = 0x290,     /* edd_mbr_sig_buffer follows */
	H_SETUP_SECTS = 0x1f1,
	H_SYSSIZE = 0x1f4,
	H_BOOT_FLAG = 0x1fe,
	H_JUMP = 0x200,
	H_HEADER = 0x202,
	H_VERSION = 0x206,
	H_TYPE_OF_LOADER = 0x210,
	H_LOADFLAGS = 0x211,
	H_RAMDISK_IMAGE = 0x218,
	H_RAMDISK_SIZE = 0x21c,
	H_HEAP_END_PTR = 0x224,
	H_CMD_LINE_PTR = 0x228,
	H_INITRD_ADDR_MAX = 0x22c,
	H_KERNEL_ALIGNMENT = 0x230,
	H_RELOCATABLE = 0x234,
	H_XLOADFLAGS = 0x236,
	H_CMDLINE_SIZE = 0x238,
	H_PREF_ADDRESS = 0x258,
	H_INIT_SIZE = 0x260,
};

#define HDRS_MAGIC     0x53726448u /* "HdrS" */
#define LOADED_HIGH    0x01
#define CAN_USE_HEAP   0x80
#define XLF_KERNEL_64  0x01
#define LOADER_OTHER   0xff
#define ENTRY64_OFFSET 0x200 /* startup_64 is 0x200 past startup_32 */

/* Common tail: command line, initrd, e820, RSDP, write the page, registers. */
static int linux_finish(struct boot_ctx *c, uint8_t *zp, uint64_t kernel_end,
			uint64_t initrd_limit, uint64_t entry, struct boot_entry *out)
{
	struct boot_placed pl;
	if (boot_place(c, kernel_end, initrd_limit, false, &pl))
		return -1;
	zp[H_TYPE_OF_LOADER] = LOADER_OTHER;
	zp[H_LOADFLAGS] |= CAN_USE_HEAP;
	wr16(zp + H_HEAP_END_PTR, 0xfe00); /* only the real-mode setup code uses it */
	wr32(zp + H_CMD_LINE_PTR, (uint32_t)pl.cmdline);
	wr32(zp + H_RAMDISK_IMAGE, (uint32_t)pl.initrd); /* below the MMIO hole, so < 4 GiB */
	wr32(zp + H_RAMDISK_SIZE, (uint32_t)c->ilen);
	if (c->rsdp)
		wr64(zp + ZP_ACPI_RSDP, c->rsdp);
	struct boot_mem_range mm[ZP_E820_MAX];
	int n = boot_mem_map(c->m, mm, ZP_E820_MAX);
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + 20 * i;
		wr64(e, mm[i].addr);
		wr64(e + 8, mm[i].size);
		wr32(e + 16, mm[i].type);
	}
	if (boot_hand_over(c, "zero page", zp, ZP_SIZE, BOOT_PROTO_LINUX64, BOOT_MODE_LONG64, entry,
			   kernel_end, out))
		return -1;
	out->rsi = BOOT_ZERO_PAGE_ADDR;
	return 0;
}

int boot_linux_bzimage(struct boot_ctx *c, struct boot_entry *out)
{
	const uint8_t *k = c->k;
	/* setup >= 1024 bytes: once it is in the file, so is the whole header. */
	size_t setup = ((size_t)(k[H_SETUP_SECTS] ? k[H_SETUP_SECTS] : 4) + 1) * 512;
	if (c->klen <= setup + ENTRY64_OFFSET)
		return boot_err(c, BOOT_WHO_KERNEL,
				"truncated bzImage: %zu bytes, but its %zu-byte setup plus the 64-bit entry at +0x%x need more",
				c->klen, setup, ENTRY64_OFFSET);
	uint16_t ver = rd16(k + H_VERSION);
	if (ver < 0x20c)
		return boot_err(c, BOOT_WHO_KERNEL,
				"bzImage boot protocol %u.%02u is too old: mpvm needs 2.12+ (Linux 3.8+) for the 64-bit entry point",
				ver >> 8, ver & 0xff);
	if (!(rd16(k + H_XLOADFLAGS) & XLF_KERNEL_64))
		return boot_err(c, BOOT_WHO_KERNEL,
				"bzImage has no 64-bit entry point (XLF_KERNEL_64 not set in xloadflags): use a 64-bit kernel");
	size_t cl = strlen(c->cmdline);
	uint32_t cl_max = rd32(k + H_CMDLINE_SIZE);
	if (cl > cl_max)
		return boot_err(c, BOOT_WHO_CMDLINE, "%zu bytes is longer than this kernel accepts (cmdline_size %u)",
				cl, cl_max);

	uint64_t load = BOOT_HIMEM_START, pm = c->klen - setup;
	/* build.c pads the kernel to syssize paragraphs (newer kernels round
	 * syssize down), so less than that means the file was cut short. */
	if (pm < (uint64_t)rd32(k + H_SYSSIZE) * 16)
		return boot_err(c, BOOT_WHO_KERNEL,
				"truncated bzImage: %" PRIu64 " bytes of protected-mode kernel, but syssize says %" PRIu64,
				pm, (uint64_t)rd32(k + H_SYSSIZE) * 16);
	if (!gm_add_ok(load, pm, c->low_end))
		return boot_err(c, BOOT_WHO_KERNEL,
				"protected-mode kernel of %" PRIu64 " bytes does not fit in guest memory (%" PRIu64 " MiB)",
				pm, c->low_end >> 20);
	/* Where the decompressor runs (arch/x86/boot/compressed/head_64.S): a
	 * relocatable kernel at load rounded up to kernel_alignment but not below
	 * LOAD_PHYSICAL_ADDR (= pref_address), otherwise at pref_address. It needs
	 * init_size bytes there, and the initrd must stay out of them. */
	uint64_t align = rd32(k + H_KERNEL_ALIGNMENT), pref = rd64(k + H_PREF_ADDRESS);
	uint64_t init = rd32(k + H_INIT_SIZE), run = pref;
	if (k[H_RELOCATABLE] && align && !(align & (align - 1))) {
		uint64_t a = (load + align - 1) & ~(align - 1);
		run = a > pref ? a : pref;
	}
	if (!gm_add_ok(run, init, c->low_end))
		return boot_err(c, BOOT_WHO_KERNEL,
				"kernel needs 0x%" PRIx64 "+0x%" PRIx64 " (pref_address + init_size) but guest memory below 4 GiB ends at 0x%" PRIx64 ": give the guest more memory",
				run, init, c->low_end);

	uint8_t zp[ZP_SIZE] = { 0 };
	size_t hdr_end = H_HEADER + (size_t)k[H_JUMP + 1];
	if (hdr_end > H_MAX_END)
		hdr_end = H_MAX_END;
	memcpy(zp + H_START, k + H_START, hdr_end - H_START); /* setup >= 1024 > H_MAX_END */
	if (boot_copy(c, load, k + setup, pm, pm))
		return -1;
	uint64_t kend = run + init > load + pm ? run + init : load + pm;
	uint64_t initrd_limit = (uint64_t)rd32(k + H_INITRD_ADDR_MAX) + 1;
	return linux_finish(c, zp, kend, initrd_limit, load + ENTRY64_OFFSET, out);
}

int boot_linux_vmlinux(struct boot_ctx *c, uint64_t entry, uint64_t kernel_end,
		       struct boot_entry *out)
{
	/* No setup header in a vmlinux: fill in what the kernel reads. */
	uint8_t zp[ZP_SIZE] = { 0 };
	wr16(zp + H_BOOT_FLAG, 0xaa55);
	wr32(zp + H_HEADER, HDRS_MAGIC);
	wr16(zp + H_VERSION, 0x20c);
	zp[H_LOADFLAGS] = LOADED_HIGH;
	wr32(zp + H_KERNEL_ALIGNMENT, 0x1000000);
	wr32(zp + H_CMDLINE_SIZE, BOOT_CMDLINE_MAX - 1);
	wr16(zp + H_XLOADFLAGS, XLF_KERNEL_64);
	return linux_finish(c, zp, kernel_end, c->low_end, entry, out);
}
