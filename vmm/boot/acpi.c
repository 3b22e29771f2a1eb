#include "boot/acpi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "boot/aml.h"

/* Table layouts (ACPI 6.0, sections 5.2.x). Little-endian host assumed (x86). */

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* over the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;  /* 2: has the XSDT fields below */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");

struct acpi_sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_sdt_header) == 36, "SDT header layout");

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS layout");

struct acpi_fadt {
	struct acpi_sdt_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor_id[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 layout");
_Static_assert(__builtin_offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT layout");
_Static_assert(__builtin_offsetof(struct acpi_fadt, flags) == 112, "FADT layout");
_Static_assert(__builtin_offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT layout");
_Static_assert(__builtin_offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT layout");

struct acpi_madt {
	struct acpi_sdt_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length; /* 0, 8 */
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length; /* 1, 12 */
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length; /* 4, 6 */
	uint8_t processor_uid; /* 0xFF = all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44 && sizeof(struct madt_lapic) == 8 &&
	       sizeof(struct madt_ioapic) == 12 &&
	       sizeof(struct madt_lapic_nmi) == 6, "MADT layout");

#define OEM_ID "MPVM  "
#define OEM_REVISION 1
#define CREATOR_ID "MPVM"
#define CREATOR_REVISION 1

#define FADT_F_PWR_BUTTON (1u << 4)  /* power button is a control-method device (none here) */
#define FADT_F_SLP_BUTTON (1u << 5)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_MSI_NOT_SUPPORTED (1u << 3)
#define IAPC_PCIE_ASPM_CONTROLS (1u << 4)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC_ENABLED 1u

#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

#define TABLE_ALIGN 16

static size_t align_up(size_t v)
{
	return (v + TABLE_ALIGN - 1) & ~(size_t)(TABLE_ALIGN - 1);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* _HID is either a PNP id ("PNP0501", emitted as EISAID) or an ACPI id: four
 * characters A-Z/0-9 and four hex digits ("LNRO0005", emitted as a string). */
static bool valid_hid(const char *hid)
{
	if (!hid)
		return false;
	size_t n = strnlen(hid, 9);
	if (n == 7) {
		uint32_t v;
		return aml_eisaid_encode(hid, &v) == 0;
	}
	if (n != 8)
		return false;
	for (int i = 0; i < 4; i++)
		if (!((hid[i] >= 'A' && hid[i] <= 'Z') || (hid[i] >= '0' && hid[i] <= '9')))
			return false;
	for (int i = 4; i < 8; i++)
		if (!is_hex(hid[i]))
			return false;
	return true;
}

static bool gsi_taken(const struct acpi_config *cfg, uint32_t upto, uint32_t gsi)
{
	for (uint32_t j = 0; j < upto; j++)
		if (cfg->mmio[j].gsi == gsi)
			return true;
	return false;
}

static int validate(const struct acpi_config *cfg, char *err, size_t errlen)
{
	if (cfg->ncpus == 0 || cfg->ncpus > ACPI_MAX_CPUS)
		return err_set(err, errlen, "ACPI: ncpus = %u, the MADT supports 1 to %d vCPUs",
			    cfg->ncpus, ACPI_MAX_CPUS);
	for (uint32_t i = 0; i < cfg->ncpus; i++) {
		if (cfg->apic_ids[i] >= 0xFF)
			return err_set(err, errlen, "ACPI: apic_ids[%u] = %u, xAPIC ids are 0-254 (255 is broadcast)",
				    i, cfg->apic_ids[i]);
		for (uint32_t j = 0; j < i; j++)
			if (cfg->apic_ids[j] == cfg->apic_ids[i])
				return err_set(err, errlen, "ACPI: apic_ids[%u] and apic_ids[%u] are both %u; APIC ids must be unique",
					    j, i, cfg->apic_ids[i]);
	}
	if (cfg->ioapic_addr > 0xFFFFFFFFull - 0xFFF)
		return err_set(err, errlen, "ACPI: ioapic_addr 0x%llx is not below 4 GiB (MADT field is 32-bit)",
			    (unsigned long long)cfg->ioapic_addr);
	if (cfg->lapic_addr > 0xFFFFFFFFull - 0xFFF)
		return err_set(err, errlen, "ACPI: lapic_addr 0x%llx is not below 4 GiB (MADT field is 32-bit)",
			    (unsigned long long)cfg->lapic_addr);
	if (cfg->pm_port == 0xFFFF)
		return err_set(err, errlen, "ACPI: pm_port 0xffff leaves no room for the sleep status register at pm_port+1");

	if (cfg->nmmio > ACPI_MAX_MMIO)
		return err_set(err, errlen, "ACPI: %u mmio devices, at most %d fit the DSDT names VR00-VRFF",
			    cfg->nmmio, ACPI_MAX_MMIO);
	if (cfg->nmmio && !cfg->mmio)
		return err_set(err, errlen, "ACPI: nmmio = %u but the mmio array is NULL", cfg->nmmio);
	for (uint32_t i = 0; i < cfg->nmmio; i++) {
		const struct acpi_mmio_dev *d = &cfg->mmio[i];
		if (d->size == 0 || !gm_add_ok(d->base, d->size, 0x100000000ull))
			return err_set(err, errlen, "ACPI: mmio[%u] range 0x%llx+0x%llx is empty or not below 4 GiB (Memory32Fixed)",
				    i, (unsigned long long)d->base, (unsigned long long)d->size);
		if (!valid_hid(d->hid))
			return err_set(err, errlen, "ACPI: mmio[%u] _HID \"%s\" is neither a PNP id (PNP0501) nor an ACPI id (LNRO0005)",
				    i, d->hid ? d->hid : "(null)");
		if (d->gsi >= ACPI_IOAPIC_PINS)
			return err_set(err, errlen, "ACPI: mmio[%u] gsi %u is not an IOAPIC pin (0-%d)",
				    i, d->gsi, ACPI_IOAPIC_PINS - 1);
		/* Interrupts are declared Exclusive, and ISA IRQ 0 is routed to GSI 2. */
		if (d->gsi == 0 || d->gsi == ISA_PIT_GSI ||
		    (cfg->com1 && d->gsi == ISA_IRQ_COM1) ||
		    (cfg->i8042 && d->gsi == ISA_IRQ_I8042) || gsi_taken(cfg, i, d->gsi))
			return err_set(err, errlen, "ACPI: mmio[%u] gsi %u is already used (timer, COM1, i8042 or another device)",
				    i, d->gsi);
		for (uint32_t j = 0; j < i; j++) {
			const struct acpi_mmio_dev *o = &cfg->mmio[j];
			if (d->base < o->base + o->size && o->base < d->base + d->size)
				return err_set(err, errlen, "ACPI: mmio[%u] 0x%llx+0x%llx overlaps mmio[%u] 0x%llx+0x%llx",
					    i, (unsigned long long)d->base, (unsigned long long)d->size, j,
					    (unsigned long long)o->base, (unsigned long long)o->size);
		}
	}
	return 0;
}

static int build_dsdt_aml(const struct acpi_config *cfg, struct aml *a)
{
	aml_scope_begin(a, "\\_SB_");
	if (cfg->com1) {
		aml_device_begin(a, "COM1");
		aml_name_eisaid(a, "_HID", "PNP0501");
		aml_name_integer(a, "_UID", 0);
		aml_name(a, "_CRS");
		aml_restemplate_begin(a);
		aml_res_io(a, 0x3F8, 0x3F8, 1, 8);
		aml_res_irq_noflags(a, ISA_IRQ_COM1);
		aml_restemplate_end(a);
		aml_device_end(a);
	}
	if (cfg->i8042) {
		aml_device_begin(a, "KBD_");
		aml_name_eisaid(a, "_HID", "PNP0303");
		aml_name(a, "_CRS");
		aml_restemplate_begin(a);
		aml_res_io(a, 0x60, 0x60, 1, 1);
		aml_res_io(a, 0x64, 0x64, 1, 1);
		aml_res_irq_noflags(a, ISA_IRQ_I8042);
		aml_restemplate_end(a);
		aml_device_end(a);
	}
	for (uint32_t i = 0; i < cfg->nmmio; i++) {
		const struct acpi_mmio_dev *d = &cfg->mmio[i];
		char name[5];
		snprintf(name, sizeof(name), "VR%02X", (unsigned)(i & 0xFF)); /* i < ACPI_MAX_MMIO */
		aml_device_begin(a, name);
		if (strlen(d->hid) == 7)
			aml_name_eisaid(a, "_HID", d->hid);
		else
			aml_name_string(a, "_HID", d->hid);
		aml_name_integer(a, "_UID", i);
		/* DMA is cache-coherent (what QEMU's microvm declares). */
		aml_name_integer(a, "_CCA", 1);
		aml_name(a, "_CRS");
		aml_restemplate_begin(a);
		aml_res_mem32_fixed(a, true, (uint32_t)d->base, (uint32_t)d->size);
		/* Edge, active high, as Firecracker declares virtio-mmio: KVM
		 * irqfds pulse the line. */
		aml_res_interrupt(a, true, true, false, false, d->gsi);
		aml_restemplate_end(a);
		aml_device_end(a);
	}
	aml_scope_end(a);

	if (cfg->pm_port) {
		/* Package {SLP_TYPa, SLP_TYPb, reserved, reserved}; hardware-reduced
		 * OSPM writes SLP_TYPa into the sleep control register. */
		aml_name(a, "\\_S5_");
		aml_package_begin(a);
		aml_integer(a, ACPI_S5_SLP_TYP);
		aml_integer(a, 0);
		aml_integer(a, 0);
		aml_integer(a, 0);
		aml_package_end(a);
	}
	return aml_finish(a);
}

static void sdt_header(uint8_t *at, const char sig[4], uint32_t len, uint8_t rev,
		       const char table_id[8])
{
	struct acpi_sdt_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.signature, sig, 4);
	h.length = len;
	h.revision = rev;
	memcpy(h.oem_id, OEM_ID, 6);
	memcpy(h.oem_table_id, table_id, 8);
	h.oem_revision = OEM_REVISION;
	memcpy(h.creator_id, CREATOR_ID, 4);
	h.creator_revision = CREATOR_REVISION;
	memcpy(at, &h, sizeof(h));
}

static void seal(uint8_t *table, uint32_t len)
{
	table[__builtin_offsetof(struct acpi_sdt_header, checksum)] = 0;
	table[__builtin_offsetof(struct acpi_sdt_header, checksum)] = checksum(table, len);
}

static struct acpi_gas io_byte_reg(uint16_t port)
{
	struct acpi_gas g = {
		.space_id = GAS_SYSTEM_IO,
		.bit_width = 8,
		.bit_offset = 0,
		.access_size = GAS_ACCESS_BYTE,
		.address = port,
	};
	return g;
}

static void build_fadt(uint8_t *at, const struct acpi_config *cfg, uint64_t dsdt_gpa)
{
	struct acpi_fadt f;
	memset(&f, 0, sizeof(f));
	sdt_header((uint8_t *)&f.h, "FACP", sizeof(f), 6, "MPVMFACP");
	/* No FACS: optional in hardware-reduced mode (no global lock, no
	 * firmware waking vector). Both DSDT fields agree, so OSes reading
	 * either find it. */
	f.dsdt = (uint32_t)dsdt_gpa;
	f.x_dsdt = dsdt_gpa;
	f.flags = FADT_F_HW_REDUCED_ACPI | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON;
	/* mpvm has no CMOS RTC: saying so keeps Linux from probing ports
	 * 0x70/0x71 (it uses kvm-clock for time). */
	f.iapc_boot_arch = IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_SUPPORTED | IAPC_PCIE_ASPM_CONTROLS |
			   IAPC_CMOS_RTC_NOT_PRESENT;
	/* Linux marks the i8042 absent when this bit is clear (FADT rev >= 2). */
	if (cfg->i8042)
		f.iapc_boot_arch |= IAPC_8042;
	f.minor_version = 0; /* ACPI 6.0: the first to define the hypervisor id */
	if (cfg->pm_port) {
		f.sleep_control_reg = io_byte_reg(cfg->pm_port);
		f.sleep_status_reg = io_byte_reg((uint16_t)(cfg->pm_port + 1));
	}
	memcpy(f.hypervisor_vendor_id, "MPVM    ", 8);
	memcpy(at, &f, sizeof(f));
}

static size_t madt_size(const struct acpi_config *cfg)
{
	return sizeof(struct acpi_madt) + cfg->ncpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
}

static void build_madt(uint8_t *at, const struct acpi_config *cfg, uint64_t lapic_addr,
		       uint64_t ioapic_addr)
{
	size_t len = madt_size(cfg);
	struct acpi_madt madt;
	memset(&madt, 0, sizeof(madt));
	sdt_header((uint8_t *)&madt.h, "APIC", (uint32_t)len, 4, "MPVMAPIC");
	madt.lapic_address = (uint32_t)lapic_addr;
	/* KVM's in-kernel irqchip has the dual 8259s, so the PC-AT wiring holds. */
	madt.flags = MADT_PCAT_COMPAT;
	uint8_t *p = at;
	memcpy(p, &madt, sizeof(madt));
	p += sizeof(madt);

	for (uint32_t i = 0; i < cfg->ncpus; i++) {
		struct madt_lapic e = {
			.type = 0, .length = sizeof(e),
			.processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)cfg->apic_ids[i],
			.flags = MADT_LAPIC_ENABLED,
		};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}

	struct madt_ioapic io = {
		.type = 1, .length = sizeof(io),
		.id = ACPI_IOAPIC_ID,
		.address = (uint32_t)ioapic_addr,
		.gsi_base = 0,
	};
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);

	/* No interrupt source overrides: mpvm keeps KVM's default routing,
	 * where ISA IRQ n is GSI n on IOAPIC pin n (the in-kernel PIT raises
	 * GSI 0, so an IRQ0 -> GSI2 override as on a PC would be false here).
	 * No SCI either: hardware-reduced ACPI has none. */

	/* LINT1 of every local APIC is the NMI input (PC convention). */
	struct madt_lapic_nmi nmi = {
		.type = 4, .length = sizeof(nmi),
		.processor_uid = 0xFF, .flags = 0, .lint = 1,
	};
	memcpy(p, &nmi, sizeof(nmi));
	p += sizeof(nmi);
}

static void build_xsdt(uint8_t *at, const uint64_t *entries, size_t n)
{
	uint32_t len = (uint32_t)(sizeof(struct acpi_sdt_header) + 8 * n);
	sdt_header(at, "XSDT", len, 1, "MPVMXSDT");
	memcpy(at + sizeof(struct acpi_sdt_header), entries, 8 * n);
}

static void build_rsdp(uint8_t *at, uint64_t xsdt_gpa)
{
	struct acpi_rsdp r;
	memset(&r, 0, sizeof(r));
	memcpy(r.signature, "RSD PTR ", 8);
	memcpy(r.oem_id, OEM_ID, 6);
	r.revision = 2;
	/* No RSDT: ACPI 2.0+ guests use the XSDT. */
	r.length = sizeof(r);
	r.xsdt_address = xsdt_gpa;
	r.checksum = checksum((const uint8_t *)&r, 20);
	r.extended_checksum = checksum((const uint8_t *)&r, sizeof(r));
	memcpy(at, &r, sizeof(r));
}

/* Bytes of RAM at ACPI_AREA_START (0 if the guest has none there). */
static size_t area_available(const struct guest_mem *m)
{
	size_t lo = 0, hi = ACPI_AREA_END - ACPI_AREA_START;
	if (gm_valid(m, ACPI_AREA_START, hi))
		return hi;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (gm_valid(m, ACPI_AREA_START, mid))
			lo = mid;
		else
			hi = mid;
	}
	return gm_valid(m, ACPI_AREA_START, lo) ? lo : 0;
}

int acpi_build(const struct guest_mem *m, const struct acpi_config *cfg,
	       uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	if (!m || !cfg || !rsdp_gpa)
		return err_set(err, errlen, "ACPI: acpi_build called with a NULL argument");
	if (validate(cfg, err, errlen))
		return -1;
	uint64_t ioapic_addr = cfg->ioapic_addr ? cfg->ioapic_addr : ACPI_DEFAULT_IOAPIC_ADDR;
	uint64_t lapic_addr = cfg->lapic_addr ? cfg->lapic_addr : ACPI_DEFAULT_LAPIC_ADDR;

	struct aml aml;
	aml_init(&aml);
	if (build_dsdt_aml(cfg, &aml)) {
		err_set(err, errlen, "ACPI: building the DSDT: %s", aml.err);
		aml_free(&aml);
		return -1;
	}

	/* Layout: RSDP first (16-byte aligned, found by scanning), then the
	 * tables in dependency order. */
	const size_t dsdt_len = sizeof(struct acpi_sdt_header) + aml.len;
	const size_t fadt_len = sizeof(struct acpi_fadt);
	const size_t madt_len = madt_size(cfg);
	const size_t xsdt_len = sizeof(struct acpi_sdt_header) + 2 * 8;
	const size_t rsdp_off = 0;
	const size_t dsdt_off = align_up(rsdp_off + sizeof(struct acpi_rsdp));
	const size_t fadt_off = align_up(dsdt_off + dsdt_len);
	const size_t madt_off = align_up(fadt_off + fadt_len);
	const size_t xsdt_off = align_up(madt_off + madt_len);
	const size_t total = xsdt_off + xsdt_len;

	/* With ACPI_MAX_CPUS and one device per IOAPIC pin the tables take
	 * under 3 KiB, so only a guest without RAM here can run out. */
	size_t avail = area_available(m);
	if (total > avail) {
		err_set(err, errlen, "ACPI: tables need %zu bytes at 0x%llx but guest RAM holds only %zu bytes there "
		     "(the BIOS area 0x%llx-0x%llx must be RAM: give the guest at least 1 MiB)",
		     total, ACPI_AREA_START, avail, ACPI_AREA_START, ACPI_AREA_END - 1);
		aml_free(&aml);
		return -1;
	}

	uint8_t *buf = calloc(1, avail);
	if (!buf) {
		aml_free(&aml);
		return err_set(err, errlen, "ACPI: out of memory for a %zu-byte table buffer", avail);
	}
	const uint64_t base = ACPI_AREA_START;

	sdt_header(buf + dsdt_off, "DSDT", (uint32_t)dsdt_len, 2, "MPVMDSDT");
	memcpy(buf + dsdt_off + sizeof(struct acpi_sdt_header), aml.data, aml.len);
	aml_free(&aml);
	seal(buf + dsdt_off, (uint32_t)dsdt_len);

	build_fadt(buf + fadt_off, cfg, base + dsdt_off);
	seal(buf + fadt_off, (uint32_t)fadt_len);

	build_madt(buf + madt_off, cfg, lapic_addr, ioapic_addr);
	seal(buf + madt_off, (uint32_t)madt_len);

	const uint64_t entries[2] = { base + fadt_off, base + madt_off };
	build_xsdt(buf + xsdt_off, entries, 2);
	seal(buf + xsdt_off, (uint32_t)xsdt_len);

	build_rsdp(buf + rsdp_off, base + xsdt_off);

	int rc = gm_write(m, base, buf, avail);
	free(buf);
	if (rc)
		return err_set(err, errlen, "ACPI: writing %zu bytes at 0x%llx to guest memory failed",
			    avail, (unsigned long long)base);
	*rsdp_gpa = base + rsdp_off;
	return 0;
}
