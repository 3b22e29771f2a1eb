/* ACPI tables: how the guest learns its CPUs (MADT) and devices (DSDT).
 *
 * Contract: acpi_build() writes a hardware-reduced ACPI table set (modelled
 * on Firecracker / Cloud Hypervisor) into the reserved BIOS area
 * ACPI_AREA_START..ACPI_AREA_END of guest RAM, through the checked accessor:
 * RSDP (revision 2, 16-byte aligned, so guests that scan for "RSD PTR " find
 * it), XSDT, FADT (revision 6, HW_REDUCED_ACPI), MADT and DSDT, all with
 * valid checksums. It owns the whole area: bytes it does not use are zeroed.
 * It validates `cfg` first and returns -1 with a message in `err` (naming
 * the bad field) if the configuration is invalid or the tables do not fit;
 * then nothing in guest memory has been touched. On success it returns 0
 * and the RSDP address, to hand to the guest via boot_params / start_info.
 * Pure function of (cfg, memory): no KVM, no global state, thread-safe.
 */
#ifndef MPVM_ACPI_H
#define MPVM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "core/layout.h"

#define ACPI_AREA_START BOOT_BIOS_START
#define ACPI_AREA_END   0x100000ULL /* exclusive */

#define ACPI_MAX_CPUS 32
/* Device names are VR00..VRFF. In practice each device needs its own IOAPIC
 * pin (interrupts are declared Exclusive), which allows about 20. */
#define ACPI_MAX_MMIO 256
/* KVM's in-kernel IOAPIC has 24 pins; the MADT declares it at GSI base 0. */
#define ACPI_IOAPIC_PINS 24
#define ACPI_IOAPIC_ID 0 /* KVM's IOAPIC resets its ID register to 0 */

/* Defaults of struct acpi_config: the machine as the core lays it out. */
#define ACPI_DEFAULT_IOAPIC_ADDR VM_IOAPIC_ADDR
#define ACPI_DEFAULT_LAPIC_ADDR  VM_LAPIC_ADDR
#define ACPI_DEFAULT_PM_PORT     ACPI_PM_PORT

/* The DSDT's \_S5 package says SLP_TYP ACPI_S5_SLP_TYP (core/layout.h): the
 * guest writes SLP_EN | (ACPI_S5_SLP_TYP << 2) to the sleep control register
 * to power off, and devices/acpi_pm.c decodes it. The legacy devices get
 * ISA_IRQ_COM1 and ISA_IRQ_I8042; IRQ 0 (PIT) is overridden to ISA_PIT_GSI
 * in the MADT, as on a PC. */

/* What Linux's virtio_mmio driver matches in the DSDT. */
#define ACPI_HID_VIRTIO_MMIO "LNRO0005"

struct acpi_mmio_dev {
	uint64_t base, size; /* must lie below 4 GiB (Memory32Fixed) */
	uint32_t gsi;        /* < ACPI_IOAPIC_PINS, edge-triggered, active high */
	const char *hid;     /* "LNRO0005" for virtio-mmio; 7-char PNP ids use EISAID */
};

struct acpi_config {
	uint32_t ncpus;                   /* 1..ACPI_MAX_CPUS */
	uint32_t apic_ids[ACPI_MAX_CPUS]; /* unique, < 255 (xAPIC) */
	uint64_t ioapic_addr;             /* 0: ACPI_DEFAULT_IOAPIC_ADDR */
	uint64_t lapic_addr;              /* 0: ACPI_DEFAULT_LAPIC_ADDR */
	const struct acpi_mmio_dev *mmio; /* DSDT devices \_SB.VR00, VR01, ... */
	uint32_t nmmio;                   /* 0..ACPI_MAX_MMIO */
	bool com1;                        /* PNP0501 at 0x3f8, IRQ 4 */
	bool i8042;                       /* PNP0303 keyboard at 0x60/0x64, IRQ 1 */
	uint16_t pm_port;                 /* sleep control (+0) / status (+1) ports for
					   * power-off; 0 = none (no ACPI power-off) */
};

int acpi_build(const struct guest_mem *m, const struct acpi_config *cfg,
	       uint64_t *rsdp_gpa, char *err, size_t errlen);

#endif
