/* Kernel loaders: crafted bzImage / ELF (PVH, vmlinux, multiboot) / a.out
 * kludge images loaded into 64 MiB of guest memory, then every class of
 * malformed image, every truncation and random corruption of the valid ones. */
#include <check.h>
#include <elf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "check_main.h"
#include "test_util.h"

#define MEM_SIZE (64ULL << 20)
#define RSDP     0xE0000ULL

static struct guest_mem mem;
static char err[512];

static void setup(void)
{
	char e[256];
	ck_assert_msg(gm_create(&mem, MEM_SIZE, false, e, sizeof(e)) == 0, "%s", e);
	err[0] = 0;
}

static void teardown(void)
{
	gm_destroy(&mem);
}

static uint32_t g32(uint64_t gpa)
{
	uint32_t v = 0;
	ck_assert_msg(gm_read(&mem, gpa, &v, 4) == 0, "read 0x%llx", (unsigned long long)gpa);
	return v;
}

static uint64_t g64(uint64_t gpa)
{
	uint64_t v = 0;
	ck_assert_msg(gm_read(&mem, gpa, &v, 8) == 0, "read 0x%llx", (unsigned long long)gpa);
	return v;
}

static uint8_t g8(uint64_t gpa) { return *(uint8_t *)gm_ptr(&mem, gpa, 1); }
static uint16_t g16(uint64_t gpa) { return (uint16_t)(g32(gpa) & 0xffff); }
static const char *gstr(uint64_t gpa) { return gm_ptr(&mem, gpa, 1); }

static void put16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); }
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }

static void fill(uint64_t gpa, uint64_t len, int byte) { memset(gm_ptr(&mem, gpa, len), byte, len); }

/* ---- crafted images ---------------------------------------------------- */

struct img {
	uint8_t b[0x2000];
	size_t len;
};

#define PH64(i, f) (sizeof(Elf64_Ehdr) + (i) * sizeof(Elf64_Phdr) + offsetof(Elf64_Phdr, f))
#define PH32(i, f) (sizeof(Elf32_Ehdr) + (i) * sizeof(Elf32_Phdr) + offsetof(Elf32_Phdr, f))
#define NOTE_OFF   0x100
#define LOAD_OFF   0x1000
#define PAYLOAD    0x200

static void payload(struct img *im, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		im->b[off + i] = (uint8_t)(i * 7 + 1);
}

/* Xen PHYS32_ENTRY note; returns its size. */
static size_t xen_note(uint8_t *p, uint64_t entry, uint32_t descsz)
{
	put32(p, 0, 4);
	put32(p, 4, descsz);
	put32(p, 8, 18);
	memcpy(p + 12, "Xen", 4);
	put64(p, 16, entry);
	return 16 + ((descsz + 3) & ~3u);
}

static void elf64(struct img *im, uint64_t entry, uint64_t vaddr, uint64_t paddr, uint64_t memsz,
		  bool pvh_note)
{
	memset(im, 0, sizeof(*im));
	Elf64_Ehdr h = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT, .e_entry = entry,
		.e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2,
	};
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_offset = LOAD_OFF, .p_vaddr = vaddr, .p_paddr = paddr,
		  .p_filesz = PAYLOAD, .p_memsz = memsz },
		{ .p_type = pvh_note ? PT_NOTE : PT_NULL, .p_offset = NOTE_OFF },
	};
	if (pvh_note)
		ph[1].p_filesz = xen_note(im->b + NOTE_OFF, paddr + 0x20, 8);
	memcpy(im->b, &h, sizeof(h));
	memcpy(im->b + h.e_phoff, ph, sizeof(ph));
	payload(im, LOAD_OFF, PAYLOAD);
	im->len = LOAD_OFF + PAYLOAD;
}

static void elf64_pvh(struct img *im) { elf64(im, 0x100000, 0x100000, 0x100000, 0x3000, true); }
/* The PVH note found through a SHT_NOTE section only (no PT_NOTE). */
#define SH_OFF 0x200
static void elf64_pvh_shdr(struct img *im)
{
	elf64_pvh(im);
	put32(im->b, PH64(1, p_type), PT_NULL);
	Elf64_Shdr sh[2] = { { 0 }, { .sh_type = SHT_NOTE, .sh_offset = NOTE_OFF, .sh_size = 24 } };
	memcpy(im->b + SH_OFF, sh, sizeof(sh));
	put64(im->b, offsetof(Elf64_Ehdr, e_shoff), SH_OFF);
	put16(im->b, offsetof(Elf64_Ehdr, e_shentsize), sizeof(Elf64_Shdr));
	put16(im->b, offsetof(Elf64_Ehdr, e_shnum), 2);
}

static void vmlinux(struct img *im)
{
	elf64(im, 0xffffffff81000040ULL, 0xffffffff81000000ULL, 0x1000000, 0x4000, false);
}

static void mb_header(uint8_t *p, uint32_t flags)
{
	put32(p, 0, 0x1BADB002);
	put32(p, 4, flags);
	put32(p, 8, -(0x1BADB002u + flags));
}

/* ELF32 at 2 MiB, multiboot header at the start of its text, PVH entry +0x10. */
static void elf32(struct img *im, bool pvh_note)
{
	memset(im, 0, sizeof(*im));
	Elf32_Ehdr h = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_386, .e_version = EV_CURRENT, .e_entry = 0x200040,
		.e_phoff = sizeof(Elf32_Ehdr), .e_ehsize = sizeof(Elf32_Ehdr),
		.e_phentsize = sizeof(Elf32_Phdr), .e_phnum = 2,
	};
	Elf32_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_offset = LOAD_OFF, .p_vaddr = 0x200000, .p_paddr = 0x200000,
		  .p_filesz = PAYLOAD, .p_memsz = 0x1000 },
		{ .p_type = pvh_note ? PT_NOTE : PT_NULL, .p_offset = NOTE_OFF },
	};
	if (pvh_note)
		ph[1].p_filesz = xen_note(im->b + NOTE_OFF, 0x200010, 4);
	memcpy(im->b, &h, sizeof(h));
	memcpy(im->b + h.e_phoff, ph, sizeof(ph));
	payload(im, LOAD_OFF, PAYLOAD);
	mb_header(im->b + LOAD_OFF, 0x3);
	im->len = LOAD_OFF + PAYLOAD;
}

static void elf32_pvh_mb(struct img *im) { elf32(im, true); }
static void elf32_mb(struct img *im) { elf32(im, false); }

/* Synthetic bzImage: 4 setup sectors + boot sector, then the 64-bit kernel. */
#define BZ_SETUP (5 * 512)
static void bzimage(struct img *im)
{
	memset(im, 0, sizeof(*im));
	uint8_t *b = im->b;
	b[0x1f1] = 4;
	put32(b, 0x1f4, 0x1000 / 16);     /* syssize */
	put16(b, 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b, 0x206, 0x20f);
	put16(b, 0x20e, 0x1234);          /* kernel_version: must be copied */
	b[0x211] = 0x01;                  /* LOADED_HIGH */
	put32(b, 0x214, 0x100000);
	put32(b, 0x22c, 0x37ffffff);      /* initrd_addr_max */
	put32(b, 0x230, 0x200000);        /* kernel_alignment */
	b[0x234] = 1;                     /* relocatable */
	put16(b, 0x236, 0x3);             /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	put32(b, 0x238, 2047);            /* cmdline_size */
	put64(b, 0x258, 0x1000000);       /* pref_address */
	put32(b, 0x260, 0x800000);        /* init_size */
	payload(im, BZ_SETUP, 0x1000);
	im->len = BZ_SETUP + 0x1000;
}

/* Raw multiboot image with address fields: header at file offset 0x40. */
#define MB_OFF 0x40
static void mb_kludge(struct img *im)
{
	memset(im, 0, sizeof(*im));
	payload(im, 0, 0x400);
	uint8_t *h = im->b + MB_OFF;
	mb_header(h, 0x10003);
	put32(h, 12, 0x100000 + MB_OFF);  /* header_addr */
	put32(h, 16, 0x100000);           /* load_addr */
	put32(h, 20, 0x100300);           /* load_end_addr: the last 0x100 bytes stay out */
	put32(h, 24, 0x102000);           /* bss_end_addr */
	put32(h, 28, 0x100080);           /* entry_addr */
	im->len = 0x400;
}

static void mb_fix_checksum(struct img *im)
{
	uint32_t f;
	memcpy(&f, im->b + MB_OFF + 4, 4);
	put32(im->b, MB_OFF + 8, -(0x1BADB002u + f));
}

static int load(const uint8_t *k, size_t klen, const uint8_t *rd, size_t ilen,
		const char *cmdline, struct boot_entry *out)
{
	err[0] = 0;
	return boot_load_buf(&mem, k, klen, rd, ilen, cmdline, "/boot/initrd.img", RSDP,
			     out, err, sizeof(err));
}

static uint8_t initrd[0x3000];
static void make_initrd(void)
{
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
}

/* Expected initrd address: page-aligned, as high as possible in 64 MiB. */
#define INITRD_ADDR ((MEM_SIZE - sizeof(initrd)) & ~0xfffULL)

/* Guest bytes [gpa+from, gpa+n) hold the payload pattern written at gpa. */
static void check_payload_from(uint64_t gpa, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++)
		ck_assert_msg(g8(gpa + i) == (uint8_t)(i * 7 + 1), "byte 0x%zx at 0x%llx", i,
			      (unsigned long long)gpa);
}

static void check_payload_at(uint64_t gpa, size_t n) { check_payload_from(gpa, 0, n); }

static void check_initrd_at(uint64_t gpa)
{
	ck_assert_int_eq(gpa & 0xfff, 0);
	ck_assert_int_eq(memcmp(gm_ptr(&mem, gpa, sizeof(initrd)), initrd, sizeof(initrd)), 0);
}

/* e820 / PVH memmap: RAM below the EBDA, reserved BIOS area, RAM from 1 MiB. */
static void check_map(uint64_t at, size_t stride, int n)
{
	static const uint64_t want[3][3] = {
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x60400, 2 }, { 0x100000, MEM_SIZE - 0x100000, 1 },
	};
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(g64(at + i * stride), want[i][0]);
		ck_assert_uint_eq(g64(at + i * stride + 8), want[i][1]);
		ck_assert_uint_eq(g32(at + i * stride + 16), want[i][2]);
	}
}

/* What the 64-bit Linux boot protocol hands over in the zero page besides
 * the header: the command line, the initrd at the top of RAM, the RSDP and
 * the e820 map. */
static void check_zero_page_handover(const char *cmdline)
{
	uint64_t zp = BOOT_ZERO_PAGE_ADDR;
	ck_assert_uint_eq(g32(zp + 0x228), BOOT_CMDLINE_ADDR);
	ck_assert_str_eq(gstr(BOOT_CMDLINE_ADDR), cmdline);
	ck_assert_uint_eq(g32(zp + 0x218), INITRD_ADDR);
	ck_assert_uint_eq(g32(zp + 0x21c), sizeof(initrd));
	check_initrd_at(INITRD_ADDR);
	ck_assert_uint_eq(g64(zp + 0x70), RSDP);
	check_map(zp + 0x2d0, 20, g8(zp + 0x1e8));
}

/* ---- valid images ------------------------------------------------------ */

START_TEST(elf64_pvh_boots_with_start_info)
{
	struct img im;
	struct boot_entry e;
	elf64_pvh(&im);
	make_initrd();
	fill(0x100000, 0x3000, 0xcc);
	ck_assert_msg(load(im.b, im.len, initrd, sizeof(initrd), "console=ttyS0", &e) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_PVH);
	ck_assert_int_eq(e.mode, BOOT_MODE_PROT32);
	ck_assert_uint_eq(e.rip, 0x100020);
	ck_assert_uint_eq(e.rbx, BOOT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(e.kernel_end, 0x103000);
	check_payload_at(0x100000, PAYLOAD);
	ck_assert_uint_eq(g8(0x100000 + PAYLOAD), 0);  /* bss zeroed */
	ck_assert_uint_eq(g8(0x102fff), 0);

	uint64_t si = BOOT_ZERO_PAGE_ADDR;
	ck_assert_uint_eq(g32(si), 0x336ec578);
	ck_assert_uint_eq(g32(si + 4), 1);
	ck_assert_uint_eq(g32(si + 12), 1);  /* nr_modules */
	ck_assert_str_eq(gstr(g64(si + 24)), "console=ttyS0");
	ck_assert_uint_eq(g64(si + 32), RSDP);
	uint64_t mod = g64(si + 16);
	ck_assert_uint_eq(g64(mod), INITRD_ADDR);
	ck_assert_uint_eq(g64(mod + 8), sizeof(initrd));
	ck_assert_str_eq(gstr(g64(mod + 16)), "/boot/initrd.img");
	check_initrd_at(g64(mod));
	check_map(g64(si + 40), 24, (int)g32(si + 48));
}
END_TEST

START_TEST(pvh_note_in_a_section_is_found)
{
	struct img im;
	struct boot_entry e;
	elf64_pvh_shdr(&im);
	ck_assert_msg(load(im.b, im.len, NULL, 0, NULL, &e) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_PVH);
	ck_assert_uint_eq(e.rip, 0x100020);
}
END_TEST

START_TEST(elf32_with_pvh_note_and_multiboot_header_boots_pvh)
{
	struct img im;
	struct boot_entry e;
	elf32_pvh_mb(&im);
	ck_assert_msg(load(im.b, im.len, NULL, 0, NULL, &e) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_PVH);
	ck_assert_uint_eq(e.rip, 0x200010);
	ck_assert_uint_eq(e.rbx, BOOT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(g32(BOOT_ZERO_PAGE_ADDR + 12), 0);  /* no modules */
	ck_assert_uint_eq(g64(BOOT_ZERO_PAGE_ADDR + 16), 0);
	ck_assert_str_eq(gstr(g64(BOOT_ZERO_PAGE_ADDR + 24)), "");
	check_payload_from(0x200000, 12, PAYLOAD);  /* after the multiboot header */
}
END_TEST

START_TEST(elf32_multiboot_without_note_boots_multiboot_from_phdrs)
{
	struct img im;
	struct boot_entry e;
	elf32_mb(&im);
	make_initrd();
	ck_assert_msg(load(im.b, im.len, initrd, sizeof(initrd), "root=/dev/vda", &e) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_MULTIBOOT);
	ck_assert_int_eq(e.mode, BOOT_MODE_PROT32);
	ck_assert_uint_eq(e.rip, 0x200040);  /* e_entry */
	ck_assert_uint_eq(e.rax, 0x2BADB002);
	ck_assert_uint_eq(e.rbx, BOOT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(g32(0x200000), 0x1BADB002);
	ck_assert_str_eq(gstr(g32(BOOT_ZERO_PAGE_ADDR + 16)), "root=/dev/vda");
}
END_TEST

START_TEST(vmlinux_boots_linux64_with_synthesised_zero_page)
{
	struct img im;
	struct boot_entry e;
	vmlinux(&im);
	make_initrd();
	ck_assert_msg(load(im.b, im.len, initrd, sizeof(initrd), "console=hvc0 quiet", &e) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_LINUX64);
	ck_assert_int_eq(e.mode, BOOT_MODE_LONG64);
	ck_assert_uint_eq(e.rip, 0x1000040);  /* virtual e_entry translated via p_paddr */
	ck_assert_uint_eq(e.rsi, BOOT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(e.rsp, BOOT_STACK_TOP);
	ck_assert_uint_eq(e.kernel_end, 0x1004000);
	check_payload_at(0x1000000, PAYLOAD);

	uint64_t zp = BOOT_ZERO_PAGE_ADDR;
	ck_assert_uint_eq(g16(zp + 0x1fe), 0xaa55);
	ck_assert_uint_eq(g32(zp + 0x202), 0x53726448);
	ck_assert_uint_eq(g16(zp + 0x206), 0x20c);
	ck_assert_uint_eq(g8(zp + 0x210), 0xff);
	ck_assert_uint_eq(g8(zp + 0x211) & 0x80, 0x80);
	check_zero_page_handover("console=hvc0 quiet");
}
END_TEST

START_TEST(vmlinux_with_physical_entry_keeps_it)
{
	struct img im;
	struct boot_entry e;
	elf64(&im, 0x1000000, 0xffffffff81000000ULL, 0x1000000, 0x1000, false);
	ck_assert_msg(load(im.b, im.len, NULL, 0, NULL, &e) == 0, "%s", err);
	ck_assert_uint_eq(e.rip, 0x1000000);
	ck_assert_uint_eq(g32(BOOT_ZERO_PAGE_ADDR + 0x21c), 0);  /* no ramdisk */
}
END_TEST

START_TEST(bzimage_boots_at_1mib_plus_0x200_with_copied_header)
{
	struct img im;
	struct boot_entry e;
	bzimage(&im);
	make_initrd();
	ck_assert_msg(load(im.b, im.len, initrd, sizeof(initrd), "console=ttyS0", &e) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_LINUX64);
	ck_assert_int_eq(e.mode, BOOT_MODE_LONG64);
	ck_assert_uint_eq(e.rip, 0x100200);
	ck_assert_uint_eq(e.rsi, BOOT_ZERO_PAGE_ADDR);
	/* The decompressor runs at pref_address and needs init_size bytes there. */
	ck_assert_uint_eq(e.kernel_end, 0x1800000);
	check_payload_at(0x100000, 0x1000);

	uint64_t zp = BOOT_ZERO_PAGE_ADDR;
	ck_assert_uint_eq(g8(zp + 0x1f1), 4);
	ck_assert_uint_eq(g16(zp + 0x206), 0x20f);
	ck_assert_uint_eq(g16(zp + 0x20e), 0x1234);
	ck_assert_uint_eq(g16(zp + 0x236), 0x3);
	ck_assert_uint_eq(g32(zp + 0x260), 0x800000);
	ck_assert_uint_eq(g8(zp + 0x210), 0xff);
	ck_assert_uint_eq(g8(zp + 0x211), 0x81);  /* LOADED_HIGH | CAN_USE_HEAP */
	check_zero_page_handover("console=ttyS0");
}
END_TEST

START_TEST(bzimage_initrd_respects_initrd_addr_max)
{
	struct img im;
	struct boot_entry e;
	bzimage(&im);
	put32(im.b, 0x22c, 0x01ffffff);  /* 32 MiB */
	make_initrd();
	ck_assert_msg(load(im.b, im.len, initrd, sizeof(initrd), NULL, &e) == 0, "%s", err);
	ck_assert_uint_eq(g32(BOOT_ZERO_PAGE_ADDR + 0x218), 0x2000000 - sizeof(initrd));
	check_initrd_at(0x2000000 - sizeof(initrd));
}
END_TEST

START_TEST(multiboot_kludge_boots_with_info_mmap_and_module)
{
	struct img im;
	struct boot_entry e;
	mb_kludge(&im);
	make_initrd();
	fill(0x100000, 0x3000, 0xcc);
	ck_assert_msg(load(im.b, im.len, initrd, sizeof(initrd), "mb args", &e) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_MULTIBOOT);
	ck_assert_int_eq(e.mode, BOOT_MODE_PROT32);
	ck_assert_uint_eq(e.rip, 0x100080);
	ck_assert_uint_eq(e.rax, 0x2BADB002);
	ck_assert_uint_eq(e.rbx, BOOT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(e.kernel_end, 0x102000);
	for (size_t i = 0; i < 0x300; i++)
		if (i < MB_OFF || i >= MB_OFF + 32)
			ck_assert_uint_eq(g8(0x100000 + i), (uint8_t)(i * 7 + 1));
	ck_assert_uint_eq(g8(0x100300), 0);  /* past load_end_addr: bss, zeroed */
	ck_assert_uint_eq(g8(0x101fff), 0);
	ck_assert_uint_eq(g8(0x102000), 0xcc);  /* past bss_end_addr: untouched */

	uint64_t mbi = BOOT_ZERO_PAGE_ADDR;
	uint32_t flags = g32(mbi);
	ck_assert_uint_eq(flags & 0x4d, 0x4d);  /* MEM | CMDLINE | MODS | MMAP */
	ck_assert_uint_eq(g32(mbi + 4), 639);
	ck_assert_uint_eq(g32(mbi + 8), (MEM_SIZE >> 10) - 1024);
	ck_assert_str_eq(gstr(g32(mbi + 16)), "mb args");
	ck_assert_uint_eq(g32(mbi + 20), 1);
	uint32_t mod = g32(mbi + 24);
	ck_assert_uint_eq(g32(mod), INITRD_ADDR);
	ck_assert_uint_eq(g32(mod + 4), INITRD_ADDR + sizeof(initrd));
	ck_assert_str_eq(gstr(g32(mod + 8)), "/boot/initrd.img");
	check_initrd_at(g32(mod));
	ck_assert_uint_eq(g32(mbi + 44), 3 * 24);
	uint32_t mm = g32(mbi + 48);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(g32(mm + 24 * i), 20);
	check_map(mm + 4, 24, 3);
	ck_assert_str_eq(gstr(g32(mbi + 64)), "mpvm");
}
END_TEST

START_TEST(multiboot_video_request_is_ignored)
{
	struct img im;
	struct boot_entry e;
	mb_kludge(&im);
	put32(im.b, MB_OFF + 4, 0x10007);
	mb_fix_checksum(&im);
	ck_assert_msg(load(im.b, im.len, NULL, 0, NULL, &e) == 0, "%s", err);
	ck_assert_uint_eq(g32(BOOT_ZERO_PAGE_ADDR) & (1u << 11), 0);  /* no video info */
	ck_assert_uint_eq(g32(BOOT_ZERO_PAGE_ADDR) & (1u << 3), 0);   /* no modules */
}
END_TEST

START_TEST(mem_map_covers_both_regions)
{
	struct guest_mem big;
	char e[256];
	struct boot_mem_range r[8];
	ck_assert_msg(gm_create(&big, 4ULL << 30, false, e, sizeof(e)) == 0, "%s", e);
	int n = boot_mem_map(&big, r, 8);
	ck_assert_int_eq(n, 4);
	ck_assert_uint_eq(r[2].addr, 0x100000);
	ck_assert_uint_eq(r[2].addr + r[2].size, 0xC0000000ULL);
	ck_assert_uint_eq(r[3].addr, 0x100000000ULL);
	ck_assert_uint_eq(r[3].size, 1ULL << 30);
	ck_assert_uint_eq(r[3].type, 1);
	ck_assert_int_eq(boot_mem_map(&big, r, 2), 2);
	ck_assert_int_eq(boot_mem_map(&big, r, 0), 0);
	gm_destroy(&big);
}
END_TEST

/* ---- malformed images -------------------------------------------------- */

typedef void (*build_fn)(struct img *);
static void set64(struct img *im, size_t off, uint64_t v) { put64(im->b, off, v); }

#define MUT(name, body) static void name(struct img *im) { body; }
MUT(m_trunc_ehdr, im->len = 40)
MUT(m_junk, memset(im->b, 0x5a, 0x1000); im->len = 0x1000)
MUT(m_class, im->b[EI_CLASS] = 7)
MUT(m_big_endian, im->b[EI_DATA] = ELFDATA2MSB)
MUT(m_machine, put16(im->b, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64))
MUT(m_phentsize, put16(im->b, offsetof(Elf64_Ehdr, e_phentsize), 20))
MUT(m_phoff_out, set64(im, offsetof(Elf64_Ehdr, e_phoff), 0x10000))
MUT(m_phoff_wrap, set64(im, offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8))
MUT(m_phnum, put16(im->b, offsetof(Elf64_Ehdr, e_phnum), 60000))
MUT(m_filesz_eof, set64(im, PH64(0, p_filesz), 0x10000); set64(im, PH64(0, p_memsz), 0x10000))
MUT(m_offset_wrap, set64(im, PH64(0, p_offset), UINT64_MAX - 0x10))
MUT(m_filesz_gt_memsz, set64(im, PH64(0, p_memsz), 0x100))
MUT(m_seg_outside, set64(im, PH64(0, p_memsz), 0x7fffffff))
MUT(m_seg_wrap, set64(im, PH64(0, p_paddr), 0xfffffffffffff000ULL))
MUT(m_seg_low, set64(im, PH64(0, p_paddr), 0x8000); put64(im->b, NOTE_OFF + 16, 0x8020))
MUT(m_entry_outside, set64(im, offsetof(Elf64_Ehdr, e_entry), 0x5000000))
MUT(m_no_load, put32(im->b, PH64(0, p_type), PT_NULL))
MUT(m_note_overrun, put32(im->b, NOTE_OFF, 0xfffffff0))
MUT(m_note_desc, put32(im->b, NOTE_OFF + 4, 2))
MUT(m_note_high, put64(im->b, NOTE_OFF + 16, 0x100000020ULL))
MUT(m_note_eof, set64(im, PH64(1, p_offset), 0x100000))
MUT(m_pvh_entry_out, put64(im->b, NOTE_OFF + 16, 0x900000))
MUT(m_elf32_nothing, memset(im->b + LOAD_OFF, 0, 12))
MUT(m_elf32_seg_low, put32(im->b, PH32(0, p_paddr), 0x1000))
MUT(m_mb_checksum, put32(im->b, MB_OFF + 8, 0))
MUT(m_mb_flag, put32(im->b, MB_OFF + 4, 0x10023); mb_fix_checksum(im))
MUT(m_mb_noaddr, put32(im->b, MB_OFF + 4, 0x3); mb_fix_checksum(im))
MUT(m_mb_load_eof, put32(im->b, MB_OFF + 20, 0x110000))
MUT(m_mb_load_end_low, put32(im->b, MB_OFF + 20, 0xff000))
MUT(m_mb_hdr_addr, put32(im->b, MB_OFF + 12, 0x110000))
MUT(m_mb_entry, put32(im->b, MB_OFF + 28, 0x200000))
MUT(m_mb_low, put32(im->b, MB_OFF + 12, 0x8040); put32(im->b, MB_OFF + 16, 0x8000);
    put32(im->b, MB_OFF + 20, 0x8300); put32(im->b, MB_OFF + 24, 0); put32(im->b, MB_OFF + 28, 0x8080))
MUT(m_mb_bss_low, put32(im->b, MB_OFF + 24, 0x100010))
MUT(m_mb_outside, put32(im->b, MB_OFF + 24, 0x10000000))
MUT(m_mb_fields_eof, im->len = MB_OFF + 20)
MUT(m_bz_old, put16(im->b, 0x206, 0x20a))
MUT(m_bz_32bit, put16(im->b, 0x236, 0))
MUT(m_bz_trunc, im->len = BZ_SETUP + 0x100)
MUT(m_bz_short, im->len = BZ_SETUP + 0x800)
MUT(m_bz_init_size, put32(im->b, 0x260, 0x7f000000))
MUT(m_bz_pref_wrap, put64(im->b, 0x258, UINT64_MAX - 0x1000))
MUT(m_bz_cmdline_size, put32(im->b, 0x238, 8))
MUT(m_shoff_out, set64(im, offsetof(Elf64_Ehdr, e_shoff), 0x100000))
MUT(m_none, (void)im)

static const struct bad_case {
	const char *what;
	build_fn build, mutate;
	size_t cmdline_len; /* 0: "console=ttyS0 panic=1" */
	size_t initrd_len;
	const char *expect;
} bad[] = {
	{ "truncated ELF header", elf64_pvh, m_trunc_ehdr, 0, 0, "truncated ELF: 40 bytes" },
	{ "unknown format", elf64_pvh, m_junk, 0, 0, "unrecognised format" },
	{ "bad ELF class", elf64_pvh, m_class, 0, 0, "ELF class 7" },
	{ "big-endian ELF", elf64_pvh, m_big_endian, 0, 0, "not little-endian" },
	{ "non-x86 ELF", elf64_pvh, m_machine, 0, 0, "ELF machine 183 is not x86" },
	{ "bad e_phentsize", elf64_pvh, m_phentsize, 0, 0, "e_phentsize 20" },
	{ "phdr table past EOF", elf64_pvh, m_phoff_out, 0, 0, "program header table (offset 0x10000, 2 entries) is outside" },
	{ "phdr offset wraps", elf64_pvh, m_phoff_wrap, 0, 0, "program header table" },
	{ "absurd e_phnum", elf64_pvh, m_phnum, 0, 0, "e_phnum 60000 is absurd" },
	{ "segment data past EOF", elf64_pvh, m_filesz_eof, 0, 0, "ELF program header 0: file range 0x1000+0x10000 is past the end" },
	{ "segment offset wraps", elf64_pvh, m_offset_wrap, 0, 0, "is past the end" },
	{ "p_filesz > p_memsz", elf64_pvh, m_filesz_gt_memsz, 0, 0, "p_filesz 0x200 is larger than p_memsz 0x100" },
	{ "segment outside RAM", elf64_pvh, m_seg_outside, 0, 0,
	  "ELF program header 0: segment 0x100000+0x7fffffff is outside guest memory (64 MiB)" },
	{ "segment address wraps", vmlinux, m_seg_wrap, 0, 0, "segment 0xfffffffffffff000+0x4000 is outside guest memory" },
	{ "segment below 1 MiB", elf64_pvh, m_seg_low, 0, 0, "segment at 0x8000 is below 1 MiB" },
	{ "ELF32 segment below 1 MiB", elf32_mb, m_elf32_seg_low, 0, 0, "below 1 MiB" },
	{ "vmlinux entry outside segments", vmlinux, m_entry_outside, 0, 0, "entry point 0x5000000 is not inside any loadable segment" },
	{ "vmlinux without PT_LOAD", vmlinux, m_no_load, 0, 0, "is not inside any loadable segment" },
	{ "PVH note overruns", elf64_pvh, m_note_overrun, 0, 0, "namesz 4294967280, descsz 8) overruns" },
	{ "PVH note odd descsz", elf64_pvh, m_note_desc, 0, 0, "descsz 2 (expected 4 or 8)" },
	{ "PVH entry above 4 GiB", elf64_pvh, m_note_high, 0, 0, "PVH entry 0x100000020 is above 4 GiB" },
	{ "PT_NOTE past EOF", elf64_pvh, m_note_eof, 0, 0, "program header 1: notes at 0x100000" },
	{ "section table past EOF", elf64_pvh_shdr, m_shoff_out, 0, 0, "section header table (offset 0x100000, 2 entries) is outside" },
	{ "PVH entry outside segments", elf64_pvh, m_pvh_entry_out, 0, 0, "PVH entry 0x900000 is not inside" },
	{ "ELF32 with no boot protocol", elf32_mb, m_elf32_nothing, 0, 0, "neither a PVH entry note" },
	{ "multiboot bad checksum", mb_kludge, m_mb_checksum, 0, 0, "multiboot header at offset 0x40 has a bad checksum" },
	{ "multiboot unknown required flag", mb_kludge, m_mb_flag, 0, 0, "unsupported required bits 0x20" },
	{ "multiboot raw without address fields", mb_kludge, m_mb_noaddr, 0, 0, "no address fields (flag 16)" },
	{ "multiboot load past EOF", mb_kludge, m_mb_load_eof, 0, 0, "past the end of the 1024-byte file" },
	{ "multiboot load_end below load", mb_kludge, m_mb_load_end_low, 0, 0, "load_end_addr 0xff000 is below load_addr" },
	{ "multiboot header_addr before file", mb_kludge, m_mb_hdr_addr, 0, 0, "before the beginning of the file" },
	{ "multiboot entry outside image", mb_kludge, m_mb_entry, 0, 0, "entry_addr 0x200000 is outside" },
	{ "multiboot below 1 MiB", mb_kludge, m_mb_low, 0, 0, "load_addr 0x8000 is below 1 MiB" },
	{ "multiboot bss_end below load end", mb_kludge, m_mb_bss_low, 0, 0, "bss_end_addr 0x100010 is below" },
	{ "multiboot outside RAM", mb_kludge, m_mb_outside, 0, 0, "is outside guest memory (64 MiB)" },
	{ "multiboot address fields truncated", mb_kludge, m_mb_fields_eof, 0, 0, "address fields run past" },
	{ "bzImage protocol too old", bzimage, m_bz_old, 0, 0, "boot protocol 2.10 is too old" },
	{ "bzImage without 64-bit entry", bzimage, m_bz_32bit, 0, 0, "XLF_KERNEL_64" },
	{ "bzImage truncated", bzimage, m_bz_trunc, 0, 0, "truncated bzImage" },
	{ "bzImage shorter than syssize", bzimage, m_bz_short, 0, 0, "2048 bytes of protected-mode kernel, but syssize says 4096" },
	{ "bzImage init_size too big", bzimage, m_bz_init_size, 0, 0, "(pref_address + init_size)" },
	{ "bzImage pref_address wraps", bzimage, m_bz_pref_wrap, 0, 0, "give the guest more memory" },
	{ "bzImage cmdline > cmdline_size", bzimage, m_bz_cmdline_size, 0, 0, "(cmdline_size 8)" },
	{ "command line too long", vmlinux, m_none, 70000, 0, "kernel command line: 70000 bytes is longer" },
	{ "cmdline + initrd name overflow", elf64_pvh, m_none, 65530, 0x1000, "do not fit in the 65536-byte command-line area" },
	{ "initrd bigger than RAM", elf64_pvh, m_none, 0, 63 << 20, "initrd /boot/initrd.img: 66060288 bytes do not fit" },
	{ "initrd over the kernel", vmlinux, m_none, 0, 48 << 20, "do not fit between the kernel end (0x1004000)" },
	{ "bzImage initrd under decompressor", bzimage, m_none, 0, 41 << 20, "kernel end (0x1800000)" },
};

START_TEST(malformed_image_fails_with_precise_message)
{
	const struct bad_case *t = &bad[_i];
	struct img *im = malloc(sizeof(*im));
	struct boot_entry e;
	t->build(im);
	t->mutate(im);
	char *cmd = NULL;
	if (t->cmdline_len) {
		cmd = malloc(t->cmdline_len + 1);
		memset(cmd, 'a', t->cmdline_len);
		cmd[t->cmdline_len] = 0;
	}
	uint8_t *rd = t->initrd_len ? calloc(1, t->initrd_len) : NULL;
	int rc = load(im->b, im->len, rd, t->initrd_len, cmd ? cmd : "console=ttyS0 panic=1", &e);
	ck_assert_msg(rc == -1, "%s: loaded", t->what);
	ck_assert_msg(strstr(err, t->expect), "%s: expected \"%s\" in \"%s\"", t->what, t->expect, err);
	ck_assert_msg(strncmp(err, "kernel", 6) == 0 || strncmp(err, "initrd", 6) == 0,
		      "%s: message does not name its subject: %s", t->what, err);
	free(cmd);
	free(rd);
	free(im);
}
END_TEST

START_TEST(guest_memory_below_1mib_is_refused)
{
	struct guest_mem tiny;
	struct img im;
	struct boot_entry e;
	char e2[256];
	ck_assert(gm_create(&tiny, 512 << 10, false, e2, sizeof(e2)) == 0);
	elf64_pvh(&im);
	ck_assert_int_eq(boot_load_buf(&tiny, im.b, im.len, NULL, 0, NULL, NULL, 0, &e, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "guest memory of 512 KiB is too small"), "%s", err);
	gm_destroy(&tiny);
}
END_TEST

static const build_fn valid[] = { elf64_pvh, elf64_pvh_shdr, elf32_pvh_mb, elf32_mb, vmlinux, bzimage, mb_kludge };

/* Each truncation gets an exact-size heap copy so ASan sees any over-read. */
static void load_exact(const uint8_t *b, size_t n, bool with_initrd)
{
	uint8_t *copy = n ? malloc(n) : NULL;
	struct boot_entry e;
	if (n)
		memcpy(copy, b, n);
	int rc = load(copy, n, with_initrd ? initrd : NULL, with_initrd ? sizeof(initrd) : 0, "a b c", &e);
	ck_assert_msg(rc == 0 || (rc == -1 && err[0]), "len %zu: rc %d, err '%s'", n, rc, err);
	free(copy);
}

START_TEST(every_truncation_fails_cleanly)
{
	struct img im;
	make_initrd();
	valid[_i](&im);
	int ok = 0;
	for (size_t n = 0; n < im.len; n++) {
		load_exact(im.b, n, n & 1);
		ok += err[0] == 0;
	}
	/* Truncating into the loaded bytes must be noticed (only the a.out kludge
	 * image has unloaded bytes past load_end_addr). */
	ck_assert_int_le(ok, valid[_i] == mb_kludge ? 0x100 : 0);
}
END_TEST

START_TEST(random_corruption_never_crashes)
{
	static const uint8_t interesting[] = { 0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x20 };
	struct img im, bad_im;
	unsigned seed = 12345 + _i;
	make_initrd();
	valid[_i](&im);
	for (int iter = 0; iter < 3000; iter++) {
		bad_im = im;
		int flips = 1 + rand_r(&seed) % 4;
		for (int f = 0; f < flips; f++) {
			/* Bias towards the headers, where the numbers live. */
			size_t pos = rand_r(&seed) % (rand_r(&seed) % 2 ? 0x300 : im.len);
			bad_im.b[pos] = rand_r(&seed) % 2 ? interesting[rand_r(&seed) % 8] : (uint8_t)rand_r(&seed);
		}
		load_exact(bad_im.b, bad_im.len, iter & 1);
	}
}
END_TEST

/* ---- boot_load(): files ---------------------------------------------- */

static char *write_tmp(const void *b, size_t n)
{
	return make_tmp_file(strdup("/tmp/test_boot_XXXXXX"), b, n);
}

START_TEST(boot_load_reads_files_and_names_them_in_errors)
{
	struct img im;
	struct boot_entry e;
	make_initrd();
	elf64_pvh(&im);
	char *kpath = write_tmp(im.b, im.len), *ipath = write_tmp(initrd, sizeof(initrd));
	char *empty = write_tmp("", 0);
	struct boot_params_in in = { .kernel_path = kpath, .initrd_path = ipath, .cmdline = "x=1" };
	ck_assert_msg(boot_load(&mem, &in, &e, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(e.proto, BOOT_PROTO_PVH);
	uint64_t mod = g64(BOOT_ZERO_PAGE_ADDR + 16);
	ck_assert_str_eq(gstr(g64(mod + 16)), ipath);
	check_initrd_at(g64(mod));

	struct boot_params_in missing = { .kernel_path = "/nonexistent/vmlinux" };
	ck_assert_int_eq(boot_load(&mem, &missing, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "kernel image /nonexistent/vmlinux: No such file or directory");

	struct boot_params_in no_initrd = { .kernel_path = kpath, .initrd_path = "/nonexistent/initrd" };
	ck_assert_int_eq(boot_load(&mem, &no_initrd, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "initrd /nonexistent/initrd: No such file or directory");

	struct boot_params_in dir = { .kernel_path = "/tmp" };
	ck_assert_int_eq(boot_load(&mem, &dir, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "kernel image /tmp: not a regular file");

	struct boot_params_in empty_initrd = { .kernel_path = kpath, .initrd_path = empty };
	ck_assert_int_eq(boot_load(&mem, &empty_initrd, &e, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "file is empty"), "%s", err);

	/* A file bigger than the guest (a disk image by mistake) is refused unread. */
	char *huge = write_tmp("", 0);
	ck_assert(truncate(huge, 128 << 20) == 0);
	struct boot_params_in too_big = { .kernel_path = huge };
	ck_assert_int_eq(boot_load(&mem, &too_big, &e, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ": 134217728 bytes is larger than guest memory (64 MiB)"), "%s", err);
	unlink(huge);
	free(huge);

	/* A malformed image is reported with its path. */
	struct boot_params_in junk = { .kernel_path = ipath };
	ck_assert_int_eq(boot_load(&mem, &junk, &e, err, sizeof(err)), -1);
	char want[256];
	snprintf(want, sizeof(want), "kernel %s: unrecognised format", ipath);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	unlink(kpath);
	unlink(ipath);
	unlink(empty);
	free(kpath);
	free(ipath);
	free(empty);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("boot");
	TCase *tc = tcase_create("valid");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, elf64_pvh_boots_with_start_info);
	tcase_add_test(tc, pvh_note_in_a_section_is_found);
	tcase_add_test(tc, elf32_with_pvh_note_and_multiboot_header_boots_pvh);
	tcase_add_test(tc, elf32_multiboot_without_note_boots_multiboot_from_phdrs);
	tcase_add_test(tc, vmlinux_boots_linux64_with_synthesised_zero_page);
	tcase_add_test(tc, vmlinux_with_physical_entry_keeps_it);
	tcase_add_test(tc, bzimage_boots_at_1mib_plus_0x200_with_copied_header);
	tcase_add_test(tc, bzimage_initrd_respects_initrd_addr_max);
	tcase_add_test(tc, multiboot_kludge_boots_with_info_mmap_and_module);
	tcase_add_test(tc, multiboot_video_request_is_ignored);
	tcase_add_test(tc, mem_map_covers_both_regions);
	tcase_add_test(tc, boot_load_reads_files_and_names_them_in_errors);
	suite_add_tcase(s, tc);

	TCase *bad_tc = tcase_create("malformed");
	tcase_add_checked_fixture(bad_tc, setup, teardown);
	tcase_set_timeout(bad_tc, 120);
	tcase_add_loop_test(bad_tc, malformed_image_fails_with_precise_message, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(bad_tc, guest_memory_below_1mib_is_refused);
	tcase_add_loop_test(bad_tc, every_truncation_fails_cleanly, 0, (int)(sizeof(valid) / sizeof(valid[0])));
	tcase_add_loop_test(bad_tc, random_corruption_never_crashes, 0, (int)(sizeof(valid) / sizeof(valid[0])));
	suite_add_tcase(s, bad_tc);

	return run_suite(s);
}
