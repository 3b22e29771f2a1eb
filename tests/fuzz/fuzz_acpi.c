/* libFuzzer: the ACPI table builder (vmm/boot/acpi.c, aml.c) on every
 * configuration its caller could hand it: vCPU count and APIC ids, IOAPIC
 * and LAPIC addresses, up to 40 MMIO devices (range, GSI, _HID), COM1,
 * i8042 and the power-off port, all decoded from the input.
 *
 * Oracles: a refusal says why in valid UTF-8 and leaves guest memory as it
 * was (acpi.h's contract); an accepted configuration gives an RSDP inside
 * the BIOS area with both checksums right, pointing at an XSDT whose every
 * table lies inside the area, is at least a header long, and sums to 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "boot/acpi.h"
#include "fuzz_check.h"

#define RAM 0x100000u /* up to ACPI_AREA_END exactly: ASan sees a write past it */
#define MAX_DEVS 40

static uint8_t *ram;

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static bool in_area(uint64_t gpa, uint64_t len)
{
	return gpa >= ACPI_AREA_START && gpa <= ACPI_AREA_END && len <= ACPI_AREA_END - gpa;
}

static void check_tables(uint64_t rsdp)
{
	CHECK(in_area(rsdp, 36) && !(rsdp & 15));
	const uint8_t *r = ram + rsdp;
	CHECK(!memcmp(r, "RSD PTR ", 8) && sum(r, 20) == 0 && sum(r, 36) == 0);
	uint64_t xsdt = rd64(r + 24);
	CHECK(in_area(xsdt, 36));
	uint32_t xlen = rd32(ram + xsdt + 4);
	CHECK(xlen >= 36 && in_area(xsdt, xlen) && sum(ram + xsdt, xlen) == 0 && (xlen - 36) % 8 == 0);
	for (uint32_t off = 36; off < xlen; off += 8) {
		uint64_t t = rd64(ram + xsdt + off);
		CHECK(in_area(t, 36));
		uint32_t len = rd32(ram + t + 4);
		CHECK(len >= 36 && in_area(t, len) && sum(ram + t, len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hids[] = { ACPI_HID_VIRTIO_MMIO, "PNP0501", "PNP0303", "ACPI0007",
					    "", "LNRO000", "lnro0005", "PNP05011", "QEMU0002", "PNPXYZW" };
	if (!ram && !(ram = malloc(RAM)))
		abort();
	if (size < 8)
		return 0;
	struct acpi_config c = { 0 };
	c.ncpus = data[0] % (ACPI_MAX_CPUS + 2);
	c.com1 = data[1] & 1, c.i8042 = data[1] & 2;
	c.pm_port = data[1] & 4 ? (uint16_t)(data[2] << 8 | data[3]) : 0;
	c.ioapic_addr = data[1] & 8 ? (uint64_t)rd32(data + 4) << (data[1] >> 6) : 0;
	c.lapic_addr = data[1] & 16 ? (uint64_t)rd32(data + 4) << 4 : 0;
	data += 8, size -= 8;
	/* APIC ids: mostly 0, 1, 2, ... with fuzzed ones now and then. */
	for (uint32_t i = 0; i < c.ncpus && i < ACPI_MAX_CPUS; i++)
		c.apic_ids[i] = i < size && data[i] >= 0xf0 ? data[i] : i;
	size_t skip = c.ncpus < size ? c.ncpus : size;
	data += skip, size -= skip;
	static struct acpi_mmio_dev devs[MAX_DEVS];
	uint32_t n = 0;
	for (; n < MAX_DEVS && size >= 6; n++, data += 6, size -= 6) {
		devs[n].base = 0xd0000000ull + ((uint64_t)rd32(data) & 0xffff) * 0x1000 +
			       (data[5] & 0x80 ? (uint64_t)data[4] << 28 : 0);
		devs[n].size = data[5] & 0x40 ? (uint64_t)data[4] << 4 : 0x1000;
		devs[n].gsi = 5 + data[4] % 24;
		devs[n].hid = hids[data[5] % (sizeof(hids) / sizeof(hids[0]))];
	}
	c.mmio = n ? devs : NULL;
	c.nmmio = n;

	struct guest_mem m = { .regions = { { 0, RAM, ram } }, .nregions = 1, .ram_size = RAM };
	static uint8_t before[ACPI_AREA_END - ACPI_AREA_START];
	if (!before[0])
		memset(before, 0x5a, sizeof(before));
	memcpy(ram + ACPI_AREA_START, before, sizeof(before));
	uint64_t rsdp = 0;
	char err[256] = "";
	int r = acpi_build(&m, &c, &rsdp, err, sizeof(err));
	if (getenv("FUZZ_VERBOSE")) /* checking a seed: accepted? */
		fprintf(stderr, "acpi_build: %s\n", r ? err : "ok");
	if (r) {
		CHECK(err[0] && !utf8_check(err, strlen(err), NULL, 0));
		CHECK(!memcmp(ram + ACPI_AREA_START, before, sizeof(before))); /* untouched */
		return 0;
	}
	check_tables(rsdp);
	return 0;
}
