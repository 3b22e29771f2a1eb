/* Just enough ACPI to find the MADT: RSDP -> RSDT/XSDT -> table. */
#include "libguest.h"

struct rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length; /* revision >= 2 from here on */
	uint64_t xsdt;
	uint8_t ext_checksum, reserved[3];
} __attribute__((packed));

struct madt {
	struct acpi_sdt_header h;
	uint32_t lapic_addr, flags;
	uint8_t entries[];
} __attribute__((packed));

#define MADT_LAPIC   0
#define MADT_X2APIC  9
#define MADT_ENABLED 1u
#define MAX_TABLE_LEN (1u << 20) /* sanity bound for a table we checksum */

static uint8_t checksum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	while (len--)
		sum += *b++;
	return sum;
}

static bool rsdp_valid(uint32_t addr)
{
	const struct rsdp *r = phys_ptr(addr);

	if (memcmp(r->signature, "RSD PTR ", 8) || checksum(r, 20))
		return false;
	if (r->revision >= 2 && r->length >= sizeof(*r) && r->length < 4096 &&
	    checksum(r, r->length))
		return false;
	return true;
}

/* The signature is compared as two words: a full memcmp per 16 bytes of a
 * 128 KiB area costs noticeable time when CPL0 code is emulated. */
static uint32_t scan(uint32_t start, uint32_t end)
{
	for (uint32_t a = start; a + 16 <= end; a += 16) {
		const volatile uint32_t *w = phys_ptr(a);
		if (w[0] == 0x20445352 /* "RSD " */ && w[1] == 0x20525450 /* "PTR " */ &&
		    rsdp_valid(a))
			return a;
	}
	return 0;
}

static uint32_t find_rsdp(void)
{
	uint32_t a = guest_boot_info.rsdp_paddr;

	if (a && rsdp_valid(a))
		return a;
	/* ACPI spec: the first KiB of the EBDA, then the BIOS ROM area. */
	uint32_t ebda = (uint32_t)(*(const volatile uint16_t *)phys_ptr(0x40E)) << 4;
	if (ebda >= 0x80000 && ebda < 0xA0000 && (a = scan(ebda, ebda + 1024)))
		return a;
	return scan(0xE0000, 0x100000);
}

uint32_t acpi_find_rsdp(void)
{
	static uint32_t cached; /* the scan is the slow part; do it once */

	if (!cached)
		cached = find_rsdp();
	return cached;
}

static const struct acpi_sdt_header *table_at(uint64_t addr, const char sig[4])
{
	if (addr == 0 || addr >= 0xFFFFFFFFull)
		return NULL;
	const struct acpi_sdt_header *h = phys_ptr((uint32_t)addr);
	if (memcmp(h->signature, sig, 4))
		return NULL;
	if (h->length < sizeof(*h) || h->length > MAX_TABLE_LEN || checksum(h, h->length)) {
		gprintf("acpi: table %c%c%c%c at 0x%x has a bad length or checksum\n",
			sig[0], sig[1], sig[2], sig[3], (uint32_t)addr);
		return NULL;
	}
	return h;
}

const struct acpi_sdt_header *acpi_find_table(const char sig[4])
{
	uint32_t ra = acpi_find_rsdp();
	if (!ra)
		return NULL;
	const struct rsdp *r = phys_ptr(ra);
	const struct acpi_sdt_header *root = NULL;
	uint32_t entry_size = 4;

	if (r->revision >= 2 && (root = table_at(r->xsdt, "XSDT")))
		entry_size = 8;
	else if (!(root = table_at(r->rsdt, "RSDT")))
		return NULL;

	uint32_t n = (root->length - sizeof(*root)) / entry_size;
	const uint8_t *p = (const uint8_t *)(root + 1);
	for (uint32_t i = 0; i < n; i++, p += entry_size) {
		uint64_t addr;
		if (entry_size == 8)
			memcpy(&addr, p, 8);
		else {
			uint32_t a32;
			memcpy(&a32, p, 4);
			addr = a32;
		}
		const struct acpi_sdt_header *h = table_at(addr, sig);
		if (h)
			return h;
	}
	return NULL;
}

int madt_enabled_apic_ids(uint32_t *ids, int max)
{
	const struct madt *m = (const void *)acpi_find_table("APIC");
	if (!m || m->h.length < sizeof(*m))
		return -1;

	int count = 0;
	const uint8_t *p = m->entries, *end = (const uint8_t *)m + m->h.length;
	while (p + 2 <= end) {
		uint8_t type = p[0], len = p[1];
		if (len < 2 || p + len > end)
			break; /* malformed: stop rather than walk off the table */
		uint32_t id = 0, flags = 0;
		bool cpu = false;
		if (type == MADT_LAPIC && len >= 8) {
			id = p[3];
			memcpy(&flags, p + 4, 4);
			cpu = true;
		} else if (type == MADT_X2APIC && len >= 16) {
			memcpy(&id, p + 4, 4);
			memcpy(&flags, p + 8, 4);
			cpu = true;
		}
		if (cpu && (flags & MADT_ENABLED)) {
			if (count < max)
				ids[count] = id;
			count++;
		}
		p += len;
	}
	return count;
}
