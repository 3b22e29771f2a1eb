/* Kernel loading: turns a kernel image (+ initrd, command line) into guest
 * memory contents and the initial CPU state of the boot vCPU.
 *
 * Contract: boot_load() detects the format (bzImage, ELF64 vmlinux with or
 * without the PVH note, ELF32 with PVH note, ELF32 multiboot v1), copies it
 * into guest memory through the checked accessor, writes the boot structures
 * (zero page + e820, PVH start_info + memmap, multiboot info + mmap +
 * modules) and fills `struct boot_entry`. Any malformed image (truncated,
 * bad magic, segment outside RAM, overflowing sizes) returns -1 with a
 * message in `err`; it never crashes. It does not touch KVM: the caller
 * applies `struct boot_entry` to the vCPU (cpu_setup.c writes the GDT and
 * page tables).
 *
 * Detection: bzImage ("HdrS" at 0x202, 0xAA55 at 0x1FE), then ELF (a PVH note
 * wins, even over a multiboot header in an ELF32; else ELF64 boots as a Linux
 * vmlinux and ELF32 as multiboot), then a raw multiboot image (flag 16).
 * Kernels must load at or above 1 MiB: below is mpvm's (boot structures at
 * BOOT_ZERO_PAGE_ADDR, command line then module name at BOOT_CMDLINE_ADDR,
 * ACPI in the BIOS area). The initrd goes page-aligned at the top of RAM
 * below the MMIO hole (and below the kernel's initrd_addr_max).
 */
#ifndef MPVM_BOOT_H
#define MPVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu_setup.h"
#include "core/guest_mem.h"
#include "core/layout.h"

/* "Linux 64-bit boot protocol", "PVH", "multiboot": for the log. */
const char *boot_protocol_name(enum boot_protocol p);

/* One e820-style RAM/reserved range handed to the guest. */
struct boot_mem_range {
	uint64_t addr, size;
	uint32_t type; /* 1 = RAM, 2 = reserved, 3 = ACPI */
};

struct boot_params_in {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none. Multiboot: passed as module 0 */
	const char *cmdline;     /* may be NULL */
	uint64_t rsdp_addr;      /* 0: no ACPI. Passed via boot_params / start_info */
};

/* Load from files. */
int boot_load(const struct guest_mem *m, const struct boot_params_in *in,
	      struct boot_entry *out, char *err, size_t errlen);

/* Load from in-memory buffers (what boot_load() does after reading the files;
 * unit tests call this on crafted images). */
int boot_load_buf(const struct guest_mem *m, const uint8_t *kernel, size_t klen,
		  const uint8_t *initrd, size_t ilen, const char *cmdline,
		  const char *initrd_name, uint64_t rsdp_addr,
		  struct boot_entry *out, char *err, size_t errlen);

/* The guest's memory map: RAM below EBDA, reserved BIOS area, RAM from
 * 1 MiB, RAM above 4 GiB. Returns the number of entries written (<= max). */
int boot_mem_map(const struct guest_mem *m, struct boot_mem_range *out, int max);

#endif
