/* The machine mpvm builds, as numbers: where things sit in guest-physical
 * memory and on the ISA bus. The loaders (boot/), the CPU setup, the devices
 * and the ACPI tables each use some of these and must agree on all of them,
 * so they are defined once, here, at the bottom of the layers.
 *
 * Below 1 MiB is mpvm's (as Firecracker and QEMU lay it out): boot GDT, the
 * boot structures, page tables, the command line, the EBDA and the BIOS area
 * that holds the ACPI tables. Kernels load at BOOT_HIMEM_START or above.
 */
#ifndef MPVM_LAYOUT_H
#define MPVM_LAYOUT_H

#define BOOT_GDT_ADDR        0x500ULL
#define BOOT_ZERO_PAGE_ADDR  0x7000ULL   /* boot_params / start_info / mbi */
#define BOOT_CMDLINE_ADDR    0x20000ULL
#define BOOT_CMDLINE_MAX     0x10000ULL  /* 64 KiB incl. NUL */
#define BOOT_PML4_ADDR       0x9000ULL   /* identity page tables for 64-bit entry */
#define BOOT_PDPT_ADDR       0xA000ULL
#define BOOT_PD_ADDR         0xB000ULL   /* 4 pages: first 4 GiB with 2 MiB pages */
#define BOOT_STACK_TOP       0x8ff0ULL
#define BOOT_EBDA_START      0x9fc00ULL
#define BOOT_BIOS_START      0xE0000ULL  /* ACPI tables / RSDP live in 0xE0000-0xFFFFF */
#define BOOT_HIMEM_START     0x100000ULL

/* Below 4 GiB, in the MMIO hole (guest_mem.h): KVM's private pages and the
 * interrupt controllers at their PC addresses. */
#define VM_TSS_ADDR       0xfffbd000ULL
#define VM_IDENTITY_ADDR  0xfffbc000ULL
#define VM_IOAPIC_ADDR    0xfec00000ULL
#define VM_LAPIC_ADDR     0xfee00000ULL

/* ISA interrupts of the legacy devices, as the DSDT announces them. KVM
 * routes ISA IRQ n to GSI n, except the PIT's IRQ 0 which arrives on GSI 2. */
#define ISA_IRQ_I8042 1
#define ISA_IRQ_COM1  4
#define ISA_PIT_GSI   2

/* ACPI power-off: the sleep control/status ports the FADT names, and the
 * SLP_TYP of the DSDT's \_S5 package that the device decodes. */
#define ACPI_PM_PORT    0x600
#define ACPI_S5_SLP_TYP 5

#endif
