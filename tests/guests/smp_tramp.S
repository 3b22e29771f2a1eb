/* AP start-up path: the real-mode trampoline the BSP copies to
 * SMP_TRAMPOLINE_PADDR, and the 32-bit code it jumps to.
 *
 * The trampoline runs at CS = paddr >> 4, IP = 0, so it addresses its own
 * data CS-relative. It borrows the BSP's GDT (start.S), enters protected mode
 * and far-jumps to ap_entry32 at its link address above 1 MiB.
 */
#include "smp.h"

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10

	.section .rodata, "a"
	.code16
	.globl smp_trampoline, smp_trampoline_end
smp_trampoline:
	cli
	cld
	lgdtl %cs:(tramp_gdt_desc - smp_trampoline)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $KERNEL_CS, $ap_entry32
	.balign 4
tramp_gdt_desc:
	.word 3 * 8 - 1
	.long gdt
smp_trampoline_end:

	.text
	.code32
ap_entry32:
	movl $KERNEL_DS, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	/* Take a stack slot: index = ticket + 1, since stack tops are at the
	 * end of each slot. More APs than slots park without a stack; the BSP
	 * refuses such configurations up front. */
	movl $1, %eax
	lock xaddl %eax, ap_next_slot
	cmpl $SMP_MAX_CPUS - 1, %eax
	jae ap_park
	incl %eax
	shll $SMP_AP_STACK_SHIFT, %eax
	leal ap_stacks(%eax), %esp
	call ap_main
ap_park:
	cli
	hlt
	jmp ap_park

	.bss
	.balign 4
ap_next_slot:
	.long 0

	.section .stack, "aw", @nobits
	.balign 16
ap_stacks:
	.space (SMP_MAX_CPUS - 1) << SMP_AP_STACK_SHIFT

	.section .note.GNU-stack, "", @progbits
