/* ACPI tables as a guest sees them: scan the BIOS area for the RSDP, follow
 * the XSDT, check every checksum, read the MADT's CPUs and IOAPIC, the
 * FADT's hardware-reduced flags and sleep registers, and walk the DSDT's AML
 * with an independent decoder (aml_decoder.h). Also: configurations that
 * must be refused, and ACPICA's disassembler when it is installed.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aml_decoder.h"
#include "boot/acpi.h"
#include "check_main.h"
#include "core/guest_mem.h"

#define MiB (1024ull * 1024)

static struct guest_mem mem;

static void mem_setup(void)
{
	char err[256];
	ck_assert_msg(gm_create(&mem, 64 * MiB, false, err, sizeof(err)) == 0, "%s", err);
}

static void mem_teardown(void)
{
	gm_destroy(&mem);
}

/* ---- the reference machine ---------------------------------------------- */

static const struct acpi_mmio_dev virtio_devs[3] = {
	{ .base = 0xD0000000, .size = 0x1000, .gsi = 5, .hid = "LNRO0005" },
	{ .base = 0xD0001000, .size = 0x1000, .gsi = 6, .hid = "LNRO0005" },
	{ .base = 0xD0002000, .size = 0x200, .gsi = 7, .hid = "LNRO0005" },
};

static struct acpi_config machine(void)
{
	struct acpi_config c = {
		.ncpus = 4,
		.apic_ids = { 0, 2, 4, 6 },
		.ioapic_addr = 0xFEC00000,
		.lapic_addr = 0xFEE00000,
		.mmio = virtio_devs,
		.nmmio = 3,
		.com1 = true,
		.i8042 = true,
		.pm_port = 0x600,
	};
	return c;
}

static uint64_t build(const struct acpi_config *c)
{
	char err[256] = "";
	uint64_t rsdp = 0;
	ck_assert_msg(acpi_build(&mem, c, &rsdp, err, sizeof(err)) == 0, "acpi_build: %s", err);
	return rsdp;
}


/* ---- what a guest does: find the RSDP, then the tables ------------------- */

static uint64_t scan_for_rsdp(void)
{
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16) {
		const uint8_t *p = gm_ptr(&mem, a, 36);
		if (p && memcmp(p, "RSD PTR ", 8) == 0 && sum(p, 20) == 0)
			return a;
	}
	return 0;
}

static const uint8_t *table(uint64_t gpa, const char *sig)
{
	ck_assert_uint_ge(gpa, ACPI_AREA_START);
	const uint8_t *h = gm_ptr(&mem, gpa, 36);
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(memcmp(h, sig, 4) == 0, "table at 0x%llx is \"%.4s\", expected %s",
		      (unsigned long long)gpa, (const char *)h, sig);
	uint32_t len = rd32(h + 4);
	ck_assert_uint_ge(len, 36);
	ck_assert_uint_le(gpa + len, ACPI_AREA_END);
	const uint8_t *t = gm_ptr(&mem, gpa, len);
	ck_assert_msg(sum(t, len) == 0, "%s checksum does not sum to 0", sig);
	ck_assert_msg(memcmp(t + 10, "MPVM  ", 6) == 0, "%s OEM id", sig);
	return t;
}

static const uint8_t *xsdt_find(const uint8_t *xsdt, const char *sig, uint64_t *gpa)
{
	uint32_t len = rd32(xsdt + 4);
	ck_assert_uint_eq((len - 36) % 8, 0);
	for (uint32_t off = 36; off < len; off += 8) {
		uint64_t a = rd64(xsdt + off);
		const uint8_t *h = gm_ptr(&mem, a, 4);
		if (h && memcmp(h, sig, 4) == 0) {
			if (gpa)
				*gpa = a;
			return table(a, sig);
		}
	}
	ck_abort_msg("XSDT has no %s entry", sig);
	return NULL;
}

static const uint8_t *guest_table(const char *sig)
{
	uint64_t rsdp = scan_for_rsdp();
	ck_assert_uint_ne(rsdp, 0);
	const uint8_t *r = gm_ptr(&mem, rsdp, 36);
	return xsdt_find(table(rd64(r + 24), "XSDT"), sig, NULL);
}

static const uint8_t *guest_dsdt(void)
{
	const uint8_t *fadt = guest_table("FACP");
	return table(rd64(fadt + 140), "DSDT");
}

/* ---- tests: the table set as found by a scanning guest ------------------- */

START_TEST(rsdp_is_found_by_scanning_the_bios_area)
{
	struct acpi_config c = machine();
	uint64_t rsdp = build(&c);

	ck_assert_uint_eq(scan_for_rsdp(), rsdp);
	ck_assert_uint_eq(rsdp % 16, 0);
	ck_assert_uint_ge(rsdp, 0xE0000);
	const uint8_t *r = gm_ptr(&mem, rsdp, 36);
	ck_assert_uint_eq(sum(r, 20), 0);        /* ACPI 1.0 checksum */
	ck_assert_uint_eq(r[15], 2);              /* revision 2: XSDT present */
	ck_assert_uint_eq(rd32(r + 20), 36);      /* length */
	ck_assert_uint_eq(sum(r, 36), 0);         /* extended checksum */
	ck_assert_mem_eq(r + 9, "MPVM  ", 6);
	const uint8_t *x = table(rd64(r + 24), "XSDT");
	ck_assert_uint_eq(rd32(x + 4), 36 + 2 * 8);
}
END_TEST

START_TEST(xsdt_leads_to_fadt_madt_and_dsdt_with_valid_checksums)
{
	struct acpi_config c = machine();
	build(&c);
	const uint8_t *fadt = guest_table("FACP");
	const uint8_t *madt = guest_table("APIC");
	const uint8_t *dsdt = guest_dsdt(); /* table() checks each checksum */
	ck_assert_ptr_nonnull(fadt);
	ck_assert_ptr_nonnull(madt);
	ck_assert_ptr_nonnull(dsdt);
}
END_TEST

START_TEST(madt_lists_each_vcpu_and_the_ioapic_with_identity_isa_irqs)
{
	struct acpi_config c = machine();
	build(&c);
	const uint8_t *madt = guest_table("APIC");
	ck_assert_uint_eq(rd32(madt + 36), 0xFEE00000);
	ck_assert_uint_eq(rd32(madt + 40) & 1, 1); /* PCAT_COMPAT */

	uint32_t len = rd32(madt + 4), n_lapic = 0, n_ioapic = 0, n_iso = 0, n_nmi = 0;
	uint32_t off = 44;
	while (off < len) {
		const uint8_t *e = madt + off;
		ck_assert_uint_ge(e[1], 2);
		ck_assert_uint_le(off + e[1], len);
		switch (e[0]) {
		case 0:
			ck_assert_uint_eq(e[1], 8);
			ck_assert_uint_lt(n_lapic, c.ncpus);
			ck_assert_uint_eq(e[2], n_lapic);                 /* processor UID */
			ck_assert_uint_eq(e[3], c.apic_ids[n_lapic]);     /* APIC id */
			ck_assert_uint_eq(rd32(e + 4) & 1, 1);            /* enabled */
			n_lapic++;
			break;
		case 1:
			ck_assert_uint_eq(e[1], 12);
			ck_assert_uint_eq(e[2], ACPI_IOAPIC_ID);
			ck_assert_uint_eq(rd32(e + 4), 0xFEC00000);
			ck_assert_uint_eq(rd32(e + 8), 0); /* GSI base */
			n_ioapic++;
			break;
		case 2:
			ck_assert_uint_eq(e[1], 10);
			ck_assert_uint_eq(e[2], 0); /* ISA */
			ck_assert_uint_eq(e[3], 0); /* IRQ 0 ... */
			ck_assert_uint_eq(rd32(e + 4), 2); /* ... is GSI 2 */
			n_iso++;
			break;
		case 4:
			ck_assert_uint_eq(e[1], 6);
			ck_assert_uint_eq(e[2], 0xFF); /* all processors */
			ck_assert_uint_eq(e[5], 1);    /* LINT1 */
			n_nmi++;
			break;
		default:
			ck_abort_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	ck_assert_uint_eq(off, len);
	ck_assert_uint_eq(n_lapic, 4);
	ck_assert_uint_eq(n_ioapic, 1);
	ck_assert_uint_eq(n_iso, 0); /* KVM routes ISA IRQ n to GSI n */
	ck_assert_uint_eq(n_nmi, 1);
}
END_TEST

START_TEST(madt_holds_32_vcpus)
{
	struct acpi_config c = machine();
	c.ncpus = 32;
	for (uint32_t i = 0; i < 32; i++)
		c.apic_ids[i] = 31 - i;
	build(&c);
	const uint8_t *madt = guest_table("APIC");
	uint32_t len = rd32(madt + 4), n = 0;
	for (uint32_t off = 44; off < len; off += madt[off + 1])
		if (madt[off] == 0) {
			ck_assert_uint_eq(madt[off + 3], 31 - n);
			n++;
		}
	ck_assert_uint_eq(n, 32);
}
END_TEST

START_TEST(fadt_is_hardware_reduced_with_sleep_registers_at_pm_port)
{
	struct acpi_config c = machine();
	build(&c);
	const uint8_t *f = guest_table("FACP");
	ck_assert_uint_eq(rd32(f + 4), 276);
	ck_assert_uint_eq(f[8], 6);                          /* revision */
	ck_assert_uint_ne(rd32(f + 112) & (1u << 20), 0);    /* HW_REDUCED_ACPI */
	uint16_t boot_arch = rd16(f + 109);
	ck_assert_uint_ne(boot_arch & (1u << 2), 0);         /* VGA not present */
	ck_assert_uint_ne(boot_arch & (1u << 3), 0);         /* MSI not supported */
	ck_assert_uint_ne(boot_arch & (1u << 1), 0);         /* 8042 present */
	ck_assert_uint_ne(boot_arch & (1u << 5), 0);         /* no CMOS RTC */
	ck_assert_uint_eq(rd64(f + 140), (uint64_t)rd32(f + 40)); /* X_DSDT == DSDT */
	ck_assert_mem_eq(table(rd64(f + 140), "DSDT"), "DSDT", 4);

	const uint8_t *ctl = f + 244, *sts = f + 256;
	ck_assert_uint_eq(ctl[0], 1); /* System I/O */
	ck_assert_uint_eq(ctl[1], 8); /* 8 bits */
	ck_assert_uint_eq(ctl[3], 1); /* byte access */
	ck_assert_uint_eq(rd64(ctl + 4), 0x600);
	ck_assert_uint_eq(sts[0], 1);
	ck_assert_uint_eq(sts[1], 8);
	ck_assert_uint_eq(rd64(sts + 4), 0x601);
	ck_assert_mem_eq(f + 268, "MPVM", 4); /* hypervisor vendor identity */
}
END_TEST

START_TEST(no_pm_port_means_no_sleep_registers_and_no_s5)
{
	struct acpi_config c = machine();
	c.pm_port = 0;
	c.i8042 = false;
	build(&c);
	const uint8_t *f = guest_table("FACP");
	static const uint8_t zero[24];
	ck_assert_mem_eq(f + 244, zero, 24);
	ck_assert_uint_eq(rd16(f + 109) & (1u << 1), 0); /* Linux: no i8042 */
	struct ns ns;
	parse_dsdt(guest_dsdt(), &ns);
	ck_assert(!ns.has_s5);
	ck_assert_ptr_null(ns_dev(&ns, "\\_SB_.KBD_"));
}
END_TEST

START_TEST(dsdt_bytes_describe_each_virtio_mmio_device)
{
	struct acpi_config c = machine();
	build(&c);
	const uint8_t *d = guest_dsdt();
	size_t len = rd32(d + 4);
	ck_assert(contains(d, len, "LNRO0005", 8));
	ck_assert(contains(d, len, "_S5_", 4));
	for (int i = 0; i < 3; i++) {
		/* Memory32Fixed (ReadWrite, base, size) */
		uint8_t mem32[12] = { 0x86, 0x09, 0x00, 0x01 };
		for (int b = 0; b < 4; b++) {
			mem32[4 + b] = (uint8_t)(virtio_devs[i].base >> (8 * b));
			mem32[8 + b] = (uint8_t)(virtio_devs[i].size >> (8 * b));
		}
		ck_assert_msg(contains(d, len, mem32, sizeof(mem32)), "Memory32Fixed of device %d", i);
		/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } */
		uint8_t irq[9] = { 0x89, 0x06, 0x00, 0x03, 0x01, (uint8_t)virtio_devs[i].gsi, 0, 0, 0 };
		ck_assert_msg(contains(d, len, irq, sizeof(irq)), "Interrupt of device %d", i);
	}
	/* EISAID("PNP0501") and EISAID("PNP0303") as DWord constants */
	ck_assert(contains(d, len, (const uint8_t[]){ 0x0C, 0x41, 0xD0, 0x05, 0x01 }, 5));
	ck_assert(contains(d, len, (const uint8_t[]){ 0x0C, 0x41, 0xD0, 0x03, 0x03 }, 5));
}
END_TEST

START_TEST(dsdt_decodes_to_the_configured_namespace)
{
	struct acpi_config c = machine();
	build(&c);
	struct ns ns;
	parse_dsdt(guest_dsdt(), &ns);
	ck_assert_int_eq(ns.ndev, 5);

	const struct dev *com1 = ns_dev(&ns, "\\_SB_.COM1");
	ck_assert_ptr_nonnull(com1);
	ck_assert_str_eq(com1->hid, "PNP0501");
	ck_assert(com1->has_crs);
	ck_assert_int_eq(com1->crs.nio, 1);
	ck_assert_uint_eq(com1->crs.io_min[0], 0x3F8);
	ck_assert_uint_eq(com1->crs.io_len[0], 8);
	ck_assert_uint_eq(com1->crs.irq_mask, 1u << 4);

	const struct dev *kbd = ns_dev(&ns, "\\_SB_.KBD_");
	ck_assert_ptr_nonnull(kbd);
	ck_assert_str_eq(kbd->hid, "PNP0303");
	ck_assert_int_eq(kbd->crs.nio, 2);
	ck_assert_uint_eq(kbd->crs.io_min[0], 0x60);
	ck_assert_uint_eq(kbd->crs.io_min[1], 0x64);
	ck_assert_uint_eq(kbd->crs.irq_mask, 1u << 1);

	for (int i = 0; i < 3; i++) {
		char path[32];
		snprintf(path, sizeof(path), "\\_SB_.VR%02X", i);
		const struct dev *v = ns_dev(&ns, path);
		ck_assert_msg(v != NULL, "%s missing", path);
		ck_assert_str_eq(v->hid, "LNRO0005");
		ck_assert(v->has_uid);
		ck_assert_uint_eq(v->uid, (uint64_t)i);
		ck_assert_int_eq(v->crs.nmem, 1);
		ck_assert(v->crs.mem_rw);
		ck_assert_uint_eq(v->crs.mem_base, virtio_devs[i].base);
		ck_assert_uint_eq(v->crs.mem_size, virtio_devs[i].size);
		ck_assert_int_eq(v->crs.nextirq, 1);
		ck_assert_uint_eq(v->crs.extirq_flags, 0x03); /* consumer, edge, high, exclusive */
		ck_assert_uint_eq(v->crs.extirq_gsi, virtio_devs[i].gsi);
	}

	ck_assert(ns.has_s5);
	ck_assert_int_ge(ns.s5_count, 1);
	ck_assert_uint_eq(ns.s5[0], ACPI_S5_SLP_TYP);
}
END_TEST

/* Every mmio device needs its own IOAPIC pin (interrupts are Exclusive):
 * with COM1 and the i8042 on, pins 3 and 5-23 are free. */
static struct acpi_mmio_dev full_devs[21];

static struct acpi_config full_machine(uint32_t ndev)
{
	static const uint32_t free_pins[] = { 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					      17, 18, 19, 20, 21, 22, 23 };
	for (uint32_t i = 0; i < 21; i++)
		full_devs[i] = (struct acpi_mmio_dev){
			.base = 0xD0000000ull + 0x1000ull * i, .size = 0x1000,
			.gsi = i < 20 ? free_pins[i] : 24, .hid = "LNRO0005" };
	struct acpi_config c = machine();
	c.ncpus = ACPI_MAX_CPUS;
	for (uint32_t i = 0; i < ACPI_MAX_CPUS; i++)
		c.apic_ids[i] = i;
	c.mmio = full_devs;
	c.nmmio = ndev;
	return c;
}

START_TEST(a_full_machine_fits_32_cpus_and_a_device_on_every_free_pin)
{
	struct acpi_config c = full_machine(20);
	build(&c);
	struct ns ns;
	parse_dsdt(guest_dsdt(), &ns);
	ck_assert_int_eq(ns.ndev, 22); /* COM1, KBD_, VR00-VR13 */
	const struct dev *last = ns_dev(&ns, "\\_SB_.VR13");
	ck_assert_ptr_nonnull(last);
	ck_assert_uint_eq(last->crs.extirq_gsi, 23);
	ck_assert_uint_eq(last->crs.mem_base, 0xD0013000);
}
END_TEST

/* ---- tests: refused configurations ---------------------------------------- */

static void expect_refused(struct acpi_config *c, const char *needle)
{
	/* Fill the area with a pattern: a refused build must not touch it. */
	uint8_t *area = gm_ptr(&mem, ACPI_AREA_START, ACPI_AREA_END - ACPI_AREA_START);
	ck_assert_ptr_nonnull(area);
	memset(area, 0xA5, ACPI_AREA_END - ACPI_AREA_START);
	char err[256] = "";
	uint64_t rsdp = 0x1234;
	ck_assert_int_eq(acpi_build(&mem, c, &rsdp, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" does not mention \"%s\"", err, needle);
	ck_assert_uint_eq(rsdp, 0x1234);
	ck_assert_uint_eq(area[0], 0xA5);
	ck_assert_uint_eq(area[0x1FFFF], 0xA5);
}

START_TEST(invalid_configurations_are_refused_with_the_field_named)
{
	struct acpi_config c;
	struct acpi_mmio_dev d[2];

	c = machine(); c.ncpus = 0;                expect_refused(&c, "ncpus");
	c = machine(); c.ncpus = 33;               expect_refused(&c, "ncpus");
	c = machine(); c.apic_ids[2] = 0;          expect_refused(&c, "unique");
	c = machine(); c.apic_ids[1] = 255;        expect_refused(&c, "apic_ids[1]");
	c = machine(); c.ioapic_addr = 1ull << 32; expect_refused(&c, "ioapic_addr");
	c = machine(); c.pm_port = 0xFFFF;         expect_refused(&c, "pm_port");
	c = machine(); c.nmmio = ACPI_MAX_MMIO + 1; expect_refused(&c, "mmio devices");
	c = machine(); c.mmio = NULL;              expect_refused(&c, "NULL");

	memcpy(d, virtio_devs, sizeof(d));
	c = machine(); c.mmio = d; c.nmmio = 2;
	d[1].base = 0xFFFFF000; d[1].size = 0x2000;  expect_refused(&c, "mmio[1]");
	d[1] = virtio_devs[1]; d[1].size = 0;         expect_refused(&c, "mmio[1]");
	d[1] = virtio_devs[1]; d[1].base = d[0].base + 0x800; expect_refused(&c, "overlaps");
	d[1] = virtio_devs[1]; d[1].gsi = 24;         expect_refused(&c, "gsi 24");
	d[1] = virtio_devs[1]; d[1].gsi = d[0].gsi;   expect_refused(&c, "already used");
	d[1] = virtio_devs[1]; d[1].gsi = ISA_IRQ_COM1; expect_refused(&c, "already used");
	d[1] = virtio_devs[1]; d[1].gsi = 2;          expect_refused(&c, "already used");
	d[1] = virtio_devs[1]; d[1].hid = "virtio";   expect_refused(&c, "_HID");
	d[1] = virtio_devs[1]; d[1].hid = "lnro0005"; expect_refused(&c, "_HID");
	d[1] = virtio_devs[1]; d[1].hid = NULL;       expect_refused(&c, "_HID");

	c = machine();
	char err[8];
	uint64_t rsdp;
	ck_assert_int_eq(acpi_build(NULL, &c, &rsdp, err, sizeof(err)), -1);
	ck_assert_int_eq(acpi_build(&mem, NULL, &rsdp, NULL, 0), -1);
	c.ncpus = 0;
	ck_assert_int_eq(acpi_build(&mem, &c, &rsdp, err, sizeof(err)), -1); /* truncated message */
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
}
END_TEST

START_TEST(too_many_cpus_or_devices_are_refused_without_a_crash)
{
	struct acpi_config c = full_machine(21); /* the 21st device has no pin left */
	expect_refused(&c, "mmio[20] gsi");
	c = full_machine(20);
	c.ncpus = ACPI_MAX_CPUS + 1;
	expect_refused(&c, "ncpus");
	c = full_machine(20);
	c.nmmio = 100000;
	expect_refused(&c, "at most");
}
END_TEST

START_TEST(tables_need_guest_ram_in_the_bios_area)
{
	struct guest_mem small;
	char err[256] = "";
	struct acpi_config c = full_machine(20);
	uint64_t rsdp = 0;

	/* 4 KiB of RAM in the area is enough for the largest table set. */
	ck_assert_int_eq(gm_create(&small, ACPI_AREA_START + 0x1000, false, err, sizeof(err)), 0);
	ck_assert_msg(acpi_build(&small, &c, &rsdp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(rsdp, ACPI_AREA_START);
	gm_destroy(&small);

	/* RAM ending where the BIOS area starts. */
	ck_assert_int_eq(gm_create(&small, ACPI_AREA_START, false, err, sizeof(err)), 0);
	ck_assert_int_eq(acpi_build(&small, &c, &rsdp, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "guest RAM") != NULL, "%s", err);
	gm_destroy(&small);
}
END_TEST

/* ---- optional: ACPICA's disassembler agrees the AML is well-formed ------- */

static bool have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

static void dump_table(const char *dir, const char *name, const uint8_t *t)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(t, 1, rd32(t + 4), f), rd32(t + 4));
	fclose(f);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

START_TEST(iasl_disassembles_the_tables_cleanly)
{
	SKIP_UNLESS(have_iasl(), "iasl not installed (acpica-tools)");
	struct acpi_config c = machine();
	build(&c);
	char dir[] = "/tmp/mpvm-acpi-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dump_table(dir, "dsdt", guest_dsdt());
	dump_table(dir, "facp", guest_table("FACP"));
	dump_table(dir, "apic", guest_table("APIC"));

	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d dsdt.dat facp.dat apic.dat >log.txt 2>&1 && "
		 "! grep -Eiq 'error|warning|invalid|AE_' log.txt dsdt.dsl facp.dsl apic.dsl", dir);
	int rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s/log.txt", dir);
	ck_assert_msg(rc == 0, "iasl -d reported problems (see %s):\n%s", dir, slurp(cmd));

	snprintf(cmd, sizeof(cmd), "%s/dsdt.dsl", dir);
	const char *dsl = slurp(cmd);
	ck_assert_ptr_nonnull(dsl);
	ck_assert_ptr_nonnull(strstr(dsl, "Name (_HID, \"LNRO0005\")"));
	ck_assert_ptr_nonnull(strstr(dsl, "Memory32Fixed (ReadWrite,"));
	ck_assert_ptr_nonnull(strstr(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )"));
	ck_assert_ptr_nonnull(strstr(dsl, "EisaId (\"PNP0501\")"));
	ck_assert_ptr_nonnull(strstr(dsl, "Name (\\_S5, Package (0x04)"));

	/* Round trip: the disassembled ASL compiles again without complaint. */
	snprintf(cmd, sizeof(cmd), "cd %s && iasl dsdt.dsl >compile.txt 2>&1 && "
		 "grep -q '0 Errors, 0 Warnings' compile.txt", dir);
	rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s/compile.txt", dir);
	ck_assert_msg(rc == 0, "iasl could not recompile the disassembled DSDT:\n%s", slurp(cmd));

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *acpi_tables_suite(void)
{
	Suite *s = suite_create("acpi_tables");
	TCase *tables = tcase_create("tables");
	tcase_add_checked_fixture(tables, mem_setup, mem_teardown);
	tcase_add_test(tables, rsdp_is_found_by_scanning_the_bios_area);
	tcase_add_test(tables, xsdt_leads_to_fadt_madt_and_dsdt_with_valid_checksums);
	tcase_add_test(tables, madt_lists_each_vcpu_and_the_ioapic_with_identity_isa_irqs);
	tcase_add_test(tables, madt_holds_32_vcpus);
	tcase_add_test(tables, fadt_is_hardware_reduced_with_sleep_registers_at_pm_port);
	tcase_add_test(tables, no_pm_port_means_no_sleep_registers_and_no_s5);
	tcase_add_test(tables, dsdt_bytes_describe_each_virtio_mmio_device);
	tcase_add_test(tables, dsdt_decodes_to_the_configured_namespace);
	tcase_add_test(tables, a_full_machine_fits_32_cpus_and_a_device_on_every_free_pin);
	tcase_add_test(tables, invalid_configurations_are_refused_with_the_field_named);
	tcase_add_test(tables, too_many_cpus_or_devices_are_refused_without_a_crash);
	tcase_add_test(tables, tables_need_guest_ram_in_the_bios_area);
	tcase_add_test(tables, iasl_disassembles_the_tables_cleanly);
	suite_add_tcase(s, tables);
	return s;
}

int main(void)
{
	return run_suite(acpi_tables_suite());
}
