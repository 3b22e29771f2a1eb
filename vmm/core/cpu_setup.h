/* Initial CPU state for the boot protocols of boot.h.
 *
 * Contract: cpu_setup_boot_memory() writes the boot GDT (and, for 64-bit
 * entry, identity page tables for the first 4 GiB) into guest memory;
 * cpu_setup_vcpu() programs one vCPU: boot MSRs and LAPIC LINT0/LINT1 on
 * every vCPU, registers from vm->entry on the boot vCPU only (APs wait for
 * INIT/SIPI in the in-kernel LAPIC). Both run before the first KVM_RUN.
 */
#ifndef MPVM_CPU_SETUP_H
#define MPVM_CPU_SETUP_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

int cpu_setup_boot_memory(struct vm *vm, char *err, size_t errlen);
int cpu_setup_vcpu(struct vm *vm, struct vcpu *v, char *err, size_t errlen);

/* GDT entry from flags/base/limit (exposed for tests). */
uint64_t cpu_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);

#endif
