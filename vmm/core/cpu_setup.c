#include "core/cpu_setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "core/kvm_ops.h"
#include "core/layout.h"
#include "core/vm.h"

/* GDT slots; selectors are index * 8. */
enum { GDT_NULL, GDT_CODE, GDT_DATA, GDT_TSS, GDT_ENTRIES };

#define X86_CR0_PE 0x1ULL
#define X86_CR0_ET 0x10ULL
#define X86_CR0_PG 0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_TSC 0x10

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

uint64_t cpu_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (uint64_t)(limit & 0x0000ffff);
}

static bool long_mode(const struct vm *vm)
{
	return vm->entry.mode == BOOT_MODE_LONG64;
}

/* Flags: 0xc09b 32-bit code, 0xa09b 64-bit code, 0xc093 data, 0x808b TSS. */
static uint16_t code_flags(const struct vm *vm)
{
	return long_mode(vm) ? 0xa09b : 0xc09b;
}

int cpu_setup_boot_memory(struct vm *vm, char *err, size_t errlen)
{
	uint64_t gdt[GDT_ENTRIES] = {
		[GDT_NULL] = 0,
		[GDT_CODE] = cpu_gdt_entry(code_flags(vm), 0, 0xfffff),
		[GDT_DATA] = cpu_gdt_entry(0xc093, 0, 0xfffff),
		[GDT_TSS] = cpu_gdt_entry(0x808b, 0, 0xfffff),
	};
	if (gm_write(&vm->mem, BOOT_GDT_ADDR, gdt, sizeof(gdt)))
		FAIL("guest memory too small for the boot GDT");
	if (!long_mode(vm))
		return 0;
	/* Identity map of the first 4 GiB with 2 MiB pages: the Linux 64-bit
	 * boot protocol wants paging on and the kernel, zero page, command line
	 * and initrd mapped. */
	uint64_t pml4e = BOOT_PDPT_ADDR | 0x3;
	uint64_t pdpt[4];
	for (int i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * 0x1000ULL) | 0x3;
	uint64_t *pd = gm_ptr(&vm->mem, BOOT_PD_ADDR, 4 * 0x1000);
	if (!pd || gm_write(&vm->mem, BOOT_PML4_ADDR, &pml4e, 8) ||
	    gm_write(&vm->mem, BOOT_PDPT_ADDR, pdpt, sizeof(pdpt)))
		FAIL("guest memory too small for the boot page tables");
	/* The rest of the PML4 and PDPT pages are zero: guest RAM starts zeroed. */
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	return 0;
}

static struct kvm_segment segment(const struct vm *vm, int slot)
{
	uint64_t e;
	uint16_t flags = slot == GDT_CODE ? code_flags(vm) : slot == GDT_DATA ? 0xc093 : 0x808b;
	e = cpu_gdt_entry(flags, 0, 0xfffff);
	struct kvm_segment s = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = slot * 8,
		.type = (e >> 40) & 0xf,
		.present = (e >> 47) & 1,
		.dpl = (e >> 45) & 3,
		.db = (e >> 54) & 1,
		.s = (e >> 44) & 1,
		.l = (e >> 53) & 1,
		.g = (e >> 55) & 1,
	};
	return s;
}

static int set_boot_regs(struct vm *vm, struct vcpu *v, char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	if (vcpu_ioctl(v, KVM_GET_SREGS, &sregs, err, errlen) < 0)
		return -1;
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = segment(vm, GDT_CODE);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment(vm, GDT_DATA);
	sregs.tr = segment(vm, GDT_TSS);
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (long_mode(vm)) {
		sregs.cr3 = BOOT_PML4_ADDR;
		sregs.cr4 |= X86_CR4_PAE;
		sregs.cr0 |= X86_CR0_PG;
		sregs.efer |= EFER_LME | EFER_LMA;
	}
	if (vcpu_ioctl(v, KVM_SET_SREGS, &sregs, err, errlen) < 0)
		return -1;

	struct kvm_regs regs = {
		.rflags = 0x2,
		.rip = vm->entry.rip,
		.rsp = vm->entry.rsp ? vm->entry.rsp : BOOT_STACK_TOP,
		.rbp = vm->entry.rsp ? vm->entry.rsp : BOOT_STACK_TOP,
		.rax = vm->entry.rax,
		.rbx = vm->entry.rbx,
		.rsi = vm->entry.rsi,
	};
	if (vcpu_ioctl(v, KVM_SET_REGS, &regs, err, errlen) < 0)
		return -1;
	return 0;
}

static int set_boot_msrs(struct vcpu *v, char *err, size_t errlen)
{
	/* Fast strings on, as firmware leaves it; MTRRs enabled with write-back
	 * default so the guest does not run uncached. */
	static const struct kvm_msr_entry boot[] = {
		{ .index = MSR_IA32_MISC_ENABLE, .data = 1 },
		{ .index = MSR_MTRR_DEF_TYPE, .data = (1 << 11) | 6 },
		{ .index = MSR_IA32_SYSENTER_CS, .data = 0 },
	};
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(boot)];
	} m = { .hdr.nmsrs = 3 };
	memcpy(m.hdr.entries, boot, sizeof(boot));
	/* KVM_SET_MSRS returns how many it set: it stops at the first refusal. */
	int n = kvm_vcpu_ioctl_named(v, KVM_SET_MSRS, "KVM_SET_MSRS (boot MSRs)", &m, err, errlen);
	if (n < 0)
		return -1;
	if (n < 3)
		FAIL("vCPU %d: KVM_SET_MSRS: KVM refused MSR 0x%x", v->id, boot[n].index);
	return 0;
}

static int set_lint(struct vcpu *v, char *err, size_t errlen)
{
	struct kvm_lapic_state lapic;
	if (vcpu_ioctl(v, KVM_GET_LAPIC, &lapic, err, errlen) < 0)
		return -1;
	/* LINT0 = ExtINT (the PIC), LINT1 = NMI: what a PC's firmware sets up
	 * and what guests expect before they program the LAPIC themselves. */
	uint32_t *lvt0 = (uint32_t *)&lapic.regs[APIC_LVT0];
	uint32_t *lvt1 = (uint32_t *)&lapic.regs[APIC_LVT1];
	*lvt0 = (*lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	if (vcpu_ioctl(v, KVM_SET_LAPIC, &lapic, err, errlen) < 0)
		return -1;
	return 0;
}

int cpu_setup_vcpu(struct vm *vm, struct vcpu *v, char *err, size_t errlen)
{
	if (set_boot_msrs(v, err, errlen) || set_lint(v, err, errlen))
		return -1;
	if (v->id == 0)
		return set_boot_regs(vm, v, err, errlen);
	return 0;
}
