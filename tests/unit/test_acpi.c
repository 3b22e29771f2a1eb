/* ACPI tables as a guest sees them: scan the BIOS area for the RSDP, follow
 * the XSDT, check every checksum, read the MADT's CPUs and IOAPIC, the
 * FADT's hardware-reduced flags and sleep registers, and walk the DSDT's AML
 * with an independent decoder. Also: the AML emitter's encodings, the
 * power-off device, and configurations that must be refused.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/aml.h"
#include "check_main.h"
#include "core/guest_mem.h"
#include "devices/acpi_pm.h"

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

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
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

/* ---- an independent AML decoder for the subset the DSDT uses ------------- */

struct res {
	int nmem, nio, nirq, nextirq;
	uint32_t mem_base, mem_size;
	bool mem_rw;
	uint16_t io_min[4];
	uint8_t io_len[4];
	uint16_t irq_mask;
	uint8_t extirq_flags;
	uint32_t extirq_gsi;
};

struct dev {
	char path[128];
	char hid[16];
	bool has_uid;
	uint64_t uid;
	bool has_crs;
	struct res crs;
};

struct ns {
	struct dev devs[300];
	int ndev;
	bool has_s5;
	uint64_t s5[8];
	int s5_count;
};

struct cur {
	const uint8_t *p, *end;
};

/* Check has no pointer ordering asserts. */
#define assert_ptr_lt(a, b) ck_assert_msg((a) < (b), "AML decoder ran past the end: %s", #a)
#define assert_ptr_le(a, b) ck_assert_msg((a) <= (b), "AML object overruns its container: %s", #a)

static const uint8_t *pkg_end(struct cur *c)
{
	assert_ptr_lt(c->p, c->end);
	const uint8_t *start = c->p;
	uint8_t lead = *c->p++;
	int extra = lead >> 6;
	size_t len = extra ? (lead & 0xF) : (lead & 0x3F);
	if (extra)
		ck_assert_msg((lead & 0x30) == 0, "PkgLength lead byte 0x%02x has bits 5:4 set", lead);
	for (int i = 0; i < extra; i++) {
		assert_ptr_lt(c->p, c->end);
		len |= (size_t)*c->p++ << (4 + 8 * i);
	}
	ck_assert_msg(start + len <= c->end, "PkgLength %zu runs past the enclosing object", len);
	return start + len;
}

static void name_string(struct cur *c, char *out, size_t outlen)
{
	char buf[64] = "";
	size_t n = 0;
	while (c->p < c->end && (*c->p == '\\' || *c->p == '^'))
		buf[n++] = (char)*c->p++;
	assert_ptr_lt(c->p, c->end);
	int segs = 1;
	if (*c->p == 0x00) {
		segs = 0;
		c->p++;
	} else if (*c->p == 0x2E) {
		segs = 2;
		c->p++;
	} else if (*c->p == 0x2F) {
		c->p++;
		segs = *c->p++;
	}
	for (int i = 0; i < segs; i++) {
		assert_ptr_le(c->p + 4, c->end);
		if (i)
			buf[n++] = '.';
		ck_assert_uint_lt(n + 4, sizeof(buf));
		memcpy(buf + n, c->p, 4);
		n += 4;
		c->p += 4;
	}
	buf[n] = 0;
	snprintf(out, outlen, "%s", buf);
}

static void decode_eisaid(uint32_t v, char out[8])
{
	uint16_t vendor = (uint16_t)((v & 0xFF) << 8 | (v >> 8 & 0xFF));
	out[0] = (char)('@' + (vendor >> 10 & 0x1F));
	out[1] = (char)('@' + (vendor >> 5 & 0x1F));
	out[2] = (char)('@' + (vendor & 0x1F));
	snprintf(out + 3, 5, "%02X%02X", v >> 16 & 0xFF, v >> 24 & 0xFF);
}

static void parse_resources(const uint8_t *p, const uint8_t *end, struct res *r)
{
	memset(r, 0, sizeof(*r));
	for (;;) {
		ck_assert_msg(p < end, "resource template without an End Tag");
		uint8_t tag = *p;
		if (tag == 0x79) {
			ck_assert_ptr_eq(p + 2, end); /* End Tag is the last thing */
			return;
		}
		if (tag & 0x80) {
			uint16_t len = rd16(p + 1);
			const uint8_t *body = p + 3;
			assert_ptr_le(body + len, end);
			if (tag == 0x86) {
				ck_assert_uint_eq(len, 9);
				r->nmem++;
				r->mem_rw = body[0] & 1;
				r->mem_base = rd32(body + 1);
				r->mem_size = rd32(body + 5);
			} else if (tag == 0x89) {
				ck_assert_uint_ge(len, 6);
				ck_assert_uint_eq(body[1], 1); /* one interrupt */
				r->nextirq++;
				r->extirq_flags = body[0];
				r->extirq_gsi = rd32(body + 2);
			} else {
				ck_abort_msg("unexpected large resource 0x%02x", tag);
			}
			p = body + len;
		} else {
			int type = tag >> 3 & 0xF, len = tag & 7;
			const uint8_t *body = p + 1;
			assert_ptr_le(body + len, end);
			if (type == 8) { /* IO */
				ck_assert_int_eq(len, 7);
				ck_assert_int_lt(r->nio, 4);
				ck_assert_uint_eq(rd16(body + 1), rd16(body + 3)); /* fixed: min == max */
				r->io_min[r->nio] = rd16(body + 1);
				r->io_len[r->nio] = body[6];
				r->nio++;
			} else if (type == 4) { /* IRQ */
				ck_assert_int_ge(len, 2);
				r->nirq++;
				r->irq_mask = rd16(body);
			} else {
				ck_abort_msg("unexpected small resource type %d", type);
			}
			p = body + len;
		}
	}
}

/* Returns the integer, or records strings/EISA ids into `hid`. */
static uint64_t data_object(struct cur *c, char *hid, size_t hidlen, struct res *crs,
			    bool *is_buffer, uint64_t *elems, int *nelems)
{
	assert_ptr_lt(c->p, c->end);
	uint8_t op = *c->p++;
	uint64_t v = 0;
	switch (op) {
	case 0x00: return 0;
	case 0x01: return 1;
	case 0xFF: return ~0ull;
	case 0x0A: v = c->p[0]; c->p += 1; return v;
	case 0x0B: v = rd16(c->p); c->p += 2; return v;
	case 0x0C:
		v = rd32(c->p);
		c->p += 4;
		if (hid)
			decode_eisaid((uint32_t)v, hid);
		return v;
	case 0x0E: v = rd64(c->p); c->p += 8; return v;
	case 0x0D: {
		const uint8_t *z = memchr(c->p, 0, (size_t)(c->end - c->p));
		ck_assert_ptr_nonnull(z);
		if (hid)
			snprintf(hid, hidlen, "%.*s", (int)(z - c->p), (const char *)c->p);
		c->p = z + 1;
		return 0;
	}
	case 0x11: { /* Buffer */
		const uint8_t *end = pkg_end(c);
		struct cur in = { c->p, end };
		uint64_t size = data_object(&in, NULL, 0, NULL, NULL, NULL, NULL);
		ck_assert_uint_eq(size, (uint64_t)(end - in.p));
		if (crs)
			parse_resources(in.p, end, crs);
		if (is_buffer)
			*is_buffer = true;
		c->p = end;
		return 0;
	}
	case 0x12: { /* Package */
		const uint8_t *end = pkg_end(c);
		struct cur in = { c->p, end };
		int count = *in.p++;
		int n = 0;
		while (in.p < end) {
			uint64_t e = data_object(&in, NULL, 0, NULL, NULL, NULL, NULL);
			if (elems && n < 8)
				elems[n] = e;
			n++;
		}
		ck_assert_int_eq(n, count);
		if (nelems)
			*nelems = n;
		c->p = end;
		return 0;
	}
	}
	ck_abort_msg("unexpected AML data opcode 0x%02x", op);
	return 0;
}

static void term_list(struct cur *c, const char *scope, struct ns *ns, struct dev *dev)
{
	while (c->p < c->end) {
		uint8_t op = *c->p++;
		char name[64], path[128];
		if (op == 0x10 || (op == 0x5B && *c->p == 0x82)) {
			bool is_dev = op == 0x5B;
			if (is_dev)
				c->p++;
			const uint8_t *end = pkg_end(c);
			struct cur in = { c->p, end };
			name_string(&in, name, sizeof(name));
			snprintf(path, sizeof(path), "%s%s%s", name[0] == '\\' ? "" : scope,
				 name[0] == '\\' || !scope[0] ? "" : ".", name);
			struct dev *d = dev;
			if (is_dev) {
				ck_assert_int_lt(ns->ndev, 300);
				d = &ns->devs[ns->ndev++];
				memset(d, 0, sizeof(*d));
				snprintf(d->path, sizeof(d->path), "%s", path);
			}
			term_list(&in, path, ns, d);
			c->p = end;
		} else if (op == 0x08) {
			name_string(c, name, sizeof(name));
			if (dev && strcmp(name, "_HID") == 0) {
				data_object(c, dev->hid, sizeof(dev->hid), NULL, NULL, NULL, NULL);
			} else if (dev && strcmp(name, "_UID") == 0) {
				dev->has_uid = true;
				dev->uid = data_object(c, NULL, 0, NULL, NULL, NULL, NULL);
			} else if (dev && strcmp(name, "_CRS") == 0) {
				data_object(c, NULL, 0, &dev->crs, &dev->has_crs, NULL, NULL);
			} else if (strcmp(name, "\\_S5_") == 0) {
				ns->has_s5 = true;
				data_object(c, NULL, 0, NULL, NULL, ns->s5, &ns->s5_count);
			} else {
				data_object(c, NULL, 0, NULL, NULL, NULL, NULL);
			}
		} else {
			ck_abort_msg("unexpected AML opcode 0x%02x in %s", op, scope);
		}
	}
}

static void parse_dsdt(const uint8_t *dsdt, struct ns *ns)
{
	memset(ns, 0, sizeof(*ns));
	struct cur c = { dsdt + 36, dsdt + rd32(dsdt + 4) };
	term_list(&c, "", ns, NULL);
}

static const struct dev *ns_dev(const struct ns *ns, const char *path)
{
	for (int i = 0; i < ns->ndev; i++)
		if (strcmp(ns->devs[i].path, path) == 0)
			return &ns->devs[i];
	return NULL;
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return memmem(hay, n, needle, m) != NULL;
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

/* ---- tests: the AML emitter ------------------------------------------------ */

START_TEST(pkglength_uses_the_shortest_encoding)
{
	uint8_t b[4];
	ck_assert_int_eq(aml_pkglen_encode(0, b), 1);
	ck_assert_uint_eq(b[0], 1);
	ck_assert_int_eq(aml_pkglen_encode(62, b), 1);
	ck_assert_uint_eq(b[0], 63);
	ck_assert_int_eq(aml_pkglen_encode(63, b), 2);   /* 65 total */
	ck_assert_uint_eq(b[0], 0x41);
	ck_assert_uint_eq(b[1], 0x04);
	ck_assert_int_eq(aml_pkglen_encode(4093, b), 2); /* 4095 total */
	ck_assert_int_eq(aml_pkglen_encode(4094, b), 3);
	ck_assert_int_eq(aml_pkglen_encode((1u << 20) - 4, b), 3);
	ck_assert_int_eq(aml_pkglen_encode((1u << 20) - 3, b), 4);
	ck_assert_int_eq(aml_pkglen_encode((1u << 28) - 5, b), 4);
	ck_assert_int_eq(aml_pkglen_encode((1u << 28) - 4, b), 0); /* too large for AML */
}
END_TEST

START_TEST(eisaid_is_compressed_as_acpi_specifies)
{
	uint32_t v;
	ck_assert_int_eq(aml_eisaid_encode("PNP0501", &v), 0);
	ck_assert_uint_eq(v, 0x0105D041);
	ck_assert_int_eq(aml_eisaid_encode("PNP0A03", &v), 0);
	ck_assert_uint_eq(v, 0x030AD041);
	ck_assert_int_eq(aml_eisaid_encode("pnp0501", &v), -1);
	ck_assert_int_eq(aml_eisaid_encode("PNP050", &v), -1);
	ck_assert_int_eq(aml_eisaid_encode("PNP05G1", &v), -1);
	ck_assert_int_eq(aml_eisaid_encode(NULL, &v), -1);
}
END_TEST

START_TEST(aml_names_integers_and_strings_encode_exactly)
{
	struct aml a;
	aml_init(&a);
	aml_name_integer(&a, "\\_SB_.PCI0.FOO", 0x12345);
	aml_name_integer(&a, "_S5", 1);
	aml_name_string(&a, "AB.C", "x");
	aml_name_integer(&a, "^Q", 0x100000000ull);
	ck_assert_int_eq(aml_finish(&a), 0);
	static const uint8_t want[] = {
		0x08, '\\', 0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'F', 'O', 'O', '_',
		0x0C, 0x45, 0x23, 0x01, 0x00,
		0x08, '_', 'S', '5', '_', 0x01,
		0x08, 0x2E, 'A', 'B', '_', '_', 'C', '_', '_', '_', 0x0D, 'x', 0x00,
		0x08, '^', 'Q', '_', '_', '_', 0x0E, 0, 0, 0, 0, 1, 0, 0, 0,
	};
	ck_assert_uint_eq(a.len, sizeof(want));
	ck_assert_mem_eq(a.data, want, sizeof(want));
	aml_free(&a);
}
END_TEST

START_TEST(aml_blocks_compute_lengths_counts_and_buffer_sizes)
{
	struct aml a;
	aml_init(&a);
	aml_scope_begin(&a, "\\_SB_");
	aml_device_begin(&a, "DEV0");
	aml_name(&a, "PKG_");
	aml_package_begin(&a);
	for (int i = 0; i < 200; i++) /* a package longer than 63 and 255 bytes */
		aml_integer(&a, 0x1000u + (unsigned)i);
	aml_package_end(&a);
	aml_name(&a, "_CRS");
	aml_restemplate_begin(&a);
	for (int i = 0; i < 40; i++) /* a buffer larger than 255 bytes */
		aml_res_mem32_fixed(&a, i & 1, 0x1000u * (unsigned)i, 0x1000);
	aml_restemplate_end(&a);
	aml_device_end(&a);
	aml_scope_end(&a);
	ck_assert_int_eq(aml_finish(&a), 0);

	/* Wrap it in a fake DSDT and decode it with the test's own parser. */
	uint8_t *t = calloc(1, 36 + a.len);
	memcpy(t, "DSDT", 4);
	uint32_t l = (uint32_t)(36 + a.len);
	memcpy(t + 4, &l, 4);
	memcpy(t + 36, a.data, a.len);
	struct ns ns;
	parse_dsdt(t, &ns);
	ck_assert_int_eq(ns.ndev, 1);
	ck_assert_str_eq(ns.devs[0].path, "\\_SB_.DEV0");
	ck_assert_int_eq(ns.devs[0].crs.nmem, 40);
	ck_assert_uint_eq(ns.devs[0].crs.mem_base, 0x1000u * 39);
	ck_assert(ns.devs[0].crs.mem_rw);
	/* Outer PkgLengths needed 2 bytes: the Scope's lead byte says so. */
	ck_assert_uint_eq(a.data[0], 0x10);
	ck_assert_uint_eq(a.data[1] >> 6, 1);
	free(t);
	aml_free(&a);
}
END_TEST

static void expect_aml_error(struct aml *a, const char *needle)
{
	ck_assert_int_eq(aml_finish(a), -1);
	ck_assert_msg(strstr(a->err, needle) != NULL, "AML error \"%s\" does not mention \"%s\"",
		      a->err, needle);
	aml_free(a);
}

START_TEST(aml_misuse_is_reported_not_emitted)
{
	struct aml a;

	aml_init(&a); aml_name_integer(&a, "TOOLONG", 1);      expect_aml_error(&a, "segment");
	aml_init(&a); aml_name_integer(&a, "1ABC", 1);         expect_aml_error(&a, "invalid character");
	aml_init(&a); aml_name_integer(&a, "ab", 1);           expect_aml_error(&a, "invalid character");
	aml_init(&a); aml_name_integer(&a, "A..B", 1);         expect_aml_error(&a, "segment");
	aml_init(&a); aml_name_integer(&a, "AB.", 1);          expect_aml_error(&a, "ends with");
	aml_init(&a); aml_name_eisaid(&a, "_HID", "LNRO0005"); expect_aml_error(&a, "EISAID");
	aml_init(&a); aml_res_irq_noflags(&a, 3);              expect_aml_error(&a, "outside a ResourceTemplate");
	aml_init(&a); aml_device_begin(&a, "DEV0");            expect_aml_error(&a, "left open");
	aml_init(&a); aml_scope_end(&a);                       expect_aml_error(&a, "without a matching begin");

	aml_init(&a);
	aml_device_begin(&a, "DEV0");
	aml_scope_end(&a);
	expect_aml_error(&a, "Scope end");

	aml_init(&a);
	aml_restemplate_begin(&a);
	aml_res_irq_noflags(&a, 16);
	expect_aml_error(&a, "ISA IRQs");

	aml_init(&a);
	aml_restemplate_begin(&a);
	aml_integer(&a, 1);
	expect_aml_error(&a, "inside a ResourceTemplate");

	aml_init(&a);
	aml_package_begin(&a);
	for (int i = 0; i < 256; i++)
		aml_integer(&a, 0);
	aml_package_end(&a);
	expect_aml_error(&a, "at most 255");

	aml_init(&a);
	for (int i = 0; i < AML_MAX_DEPTH + 1; i++)
		aml_package_begin(&a);
	expect_aml_error(&a, "nested deeper");

	/* The first error sticks; later calls do nothing. */
	aml_init(&a);
	aml_name_integer(&a, "TOOLONG", 1);
	size_t len = a.len;
	aml_name_integer(&a, "GOOD", 1);
	ck_assert_uint_eq(a.len, len);
	expect_aml_error(&a, "TOOLONG");
}
END_TEST

/* ---- tests: the power-off device ------------------------------------------- */

static void count_poweroff(void *opaque)
{
	(*(int *)opaque)++;
}

static void pm_write(struct acpi_pm *pm, uint64_t off, uint8_t v)
{
	acpi_pm_io(pm, NULL, off, &v, 1, true);
}

START_TEST(slp_en_with_the_s5_type_powers_off)
{
	int calls = 0;
	struct acpi_pm pm;
	acpi_pm_init(&pm, count_poweroff, &calls);

	/* What Linux's acpi_hw_extended_sleep() does for S5: clear WAK_STS in
	 * the status register, then SLP_TYP | SLP_EN in one control write. */
	pm_write(&pm, 1, 0x80);
	ck_assert_int_eq(calls, 0);
	pm_write(&pm, 0, (uint8_t)(ACPI_PM_SLP_EN | ACPI_S5_SLP_TYP << ACPI_PM_SLP_TYP_SHIFT));
	ck_assert_int_eq(calls, 1);

	/* A 16-bit write covering both registers carries control in byte 0. */
	uint8_t two[2] = { 0x20 | 5 << 2, 0x00 };
	acpi_pm_io(&pm, NULL, 0, two, 2, true);
	ck_assert_int_eq(calls, 2);
}
END_TEST

START_TEST(other_sleep_requests_are_ignored)
{
	int calls = 0;
	struct acpi_pm pm;
	acpi_pm_init(&pm, count_poweroff, &calls);

	pm_write(&pm, 0, ACPI_S5_SLP_TYP << ACPI_PM_SLP_TYP_SHIFT);   /* no SLP_EN */
	for (unsigned typ = 0; typ < 8; typ++)
		if (typ != ACPI_S5_SLP_TYP)
			pm_write(&pm, 0, (uint8_t)(ACPI_PM_SLP_EN | typ << 2)); /* S0..S4 */
	pm_write(&pm, 1, 0x20 | 5 << 2);                                /* status register */
	ck_assert_int_eq(calls, 0);
	ck_assert_uint_eq(atomic_load(&pm.ignored), 7);

	uint8_t r[4] = { 0xff, 0xff, 0xff, 0xff };
	acpi_pm_io(&pm, NULL, 0, r, 4, false);
	ck_assert_uint_eq(rd32(r), 0);
}
END_TEST

static struct io_bus *kept_bus; /* the device lives as long as its bus */

START_TEST(setup_registers_the_device_on_the_io_bus)
{
	int calls = 0;
	kept_bus = io_bus_new();
	ck_assert_ptr_nonnull(kept_bus);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, ACPI_DEFAULT_PM_PORT, count_poweroff, &calls), 0);

	uint8_t v = 0x20 | ACPI_S5_SLP_TYP << 2;
	ck_assert(io_dispatch(kept_bus, IO_SPACE_PIO, NULL, 0x600, &v, 1, true));
	ck_assert_int_eq(calls, 1);
	v = 0xff;
	ck_assert(io_dispatch(kept_bus, IO_SPACE_PIO, NULL, 0x601, &v, 1, false));
	ck_assert_uint_eq(v, 0);

	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0x601, count_poweroff, &calls), -EEXIST);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0, count_poweroff, &calls), -EINVAL);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0xFFFF, count_poweroff, &calls), -EINVAL);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0x700, NULL, NULL), -EINVAL);
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

static Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
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

	TCase *aml = tcase_create("aml");
	tcase_add_test(aml, pkglength_uses_the_shortest_encoding);
	tcase_add_test(aml, eisaid_is_compressed_as_acpi_specifies);
	tcase_add_test(aml, aml_names_integers_and_strings_encode_exactly);
	tcase_add_test(aml, aml_blocks_compute_lengths_counts_and_buffer_sizes);
	tcase_add_test(aml, aml_misuse_is_reported_not_emitted);
	suite_add_tcase(s, aml);

	TCase *pm = tcase_create("poweroff");
	tcase_add_test(pm, slp_en_with_the_s5_type_powers_off);
	tcase_add_test(pm, other_sleep_requests_are_ignored);
	tcase_add_test(pm, setup_registers_the_device_on_the_io_bus);
	suite_add_tcase(s, pm);
	return s;
}

int main(void)
{
	return run_suite(acpi_suite());
}
