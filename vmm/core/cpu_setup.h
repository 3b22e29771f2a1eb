/* Initial CPU state for the boot protocols of boot/boot.h.
 *
 * Contract: a loader (boot/) describes how its kernel wants to be entered in
 * a struct boot_entry, which it hands to the VM (vm->entry); this module
 * turns that into memory and registers. cpu_setup_boot_memory() writes the boot GDT (and, for 64-bit
 * entry, identity page tables for the first 4 GiB) into guest memory;
 * cpu_setup_vcpu() programs one vCPU: boot MSRs and LAPIC LINT0/LINT1 on
 * every vCPU, registers from vm->entry on the boot vCPU only (APs wait for
 * INIT/SIPI in the in-kernel LAPIC). Both run before the first KVM_RUN.
 */
#ifndef MPVM_CPU_SETUP_H
#define MPVM_CPU_SETUP_H

#include <stddef.h>
#include <stdint.h>

enum boot_cpu_mode {
	BOOT_MODE_PROT32, /* 32-bit protected mode, paging off (PVH, multiboot) */
	BOOT_MODE_LONG64, /* 64-bit long mode with identity page tables (Linux 64-bit boot) */
};

enum boot_protocol {
	BOOT_PROTO_LINUX64,   /* bzImage or vmlinux via the 64-bit boot protocol */
	BOOT_PROTO_PVH,       /* ELF with XEN_ELFNOTE_PHYS32_ENTRY */
	BOOT_PROTO_MULTIBOOT, /* multiboot v1 */
};

struct boot_entry {
	enum boot_protocol proto;
	enum boot_cpu_mode mode;
	uint64_t rip;
	uint64_t rsp;
	uint64_t rax, rbx, rsi; /* protocol registers: multiboot eax/ebx, PVH ebx, Linux rsi */
	uint64_t kernel_end;    /* first byte after the loaded kernel (for initrd placement) */
};

struct vm;
struct vcpu;

int cpu_setup_boot_memory(struct vm *vm, char *err, size_t errlen);
int cpu_setup_vcpu(struct vm *vm, struct vcpu *v, char *err, size_t errlen);

/* GDT entry from flags/base/limit (exposed for tests). */
uint64_t cpu_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);

#endif
