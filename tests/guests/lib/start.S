/* Entry code shared by every test guest.
 *
 * The image carries two boot headers so that one file boots both ways:
 * a PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY -> pvh_start, ebx = start_info)
 * and a multiboot v1 header (ELF entry _start, eax = 0x2BADB002, ebx = mbi).
 * mpvm takes PVH when both exist; QEMU's -kernel takes multiboot first.
 * Build with -DGUEST_NO_MULTIBOOT for an image that only PVH loaders accept,
 * or -DGUEST_NO_PVH for one that only multiboot loaders accept.
 *
 * Both entries arrive in 32-bit protected mode, paging off, with segments
 * of unknown selectors, so we load our own GDT before touching memory
 * through %ds/%ss, then zero .bss and call guest_boot(proto, info).
 */

#define MB_HEADER_MAGIC 0x1BADB002
#define MB_FLAGS        0x00000003 /* page-align modules, want mem info */
#define MB_BOOT_MAGIC   0x2BADB002
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10

#ifndef GUEST_NO_MULTIBOOT
	.section .multiboot, "a"
	.balign 4
multiboot_header:
	.long MB_HEADER_MAGIC
	.long MB_FLAGS
	.long -(MB_HEADER_MAGIC + MB_FLAGS)
#endif

#ifndef GUEST_NO_PVH
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                         /* namesz: "Xen\0" */
	.long 4                         /* descsz: 32-bit entry address */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start
#endif

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	xorl %edi, %edi                 /* BOOT_PROTO_UNKNOWN */
	cmpl $MB_BOOT_MAGIC, %eax
	jne common_entry
	movl $2, %edi                   /* BOOT_PROTO_MULTIBOOT */
	jmp common_entry

	.globl pvh_start
pvh_start:
	cli
	cld
	movl $1, %edi                   /* BOOT_PROTO_PVH */

common_entry:
	lgdt gdt_desc
	ljmp $KERNEL_CS, $1f
1:	movl $KERNEL_DS, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $bsp_stack_top, %esp
	movl %edi, %edx                 /* rep stosb clobbers edi */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	pushl %ebx                      /* info pointer */
	pushl %edx                      /* protocol */
	call guest_boot
2:	cli
	hlt
	jmp 2b

/* ---- exception/interrupt stubs ------------------------------------------
 * 256 stubs, each 16 bytes (trap.c computes isr_stubs + 16 * vector). Each
 * pushes a dummy error code unless the CPU pushes one, then the vector as a
 * sign-extended byte (trap.c masks it with 0xff). */
	.text
	.balign 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushl $0
	.endif
	.byte 0x6a, vec & 0xff          /* pushl $imm8 */
	jmp isr_common
	.set vec, vec + 1
	.endr

/* Traps only ever come from CPL0 on our one code segment, so the return
 * needs no privilege or CS change and is done with popf + ret instead of
 * iret: KVM's instruction emulator cannot execute a protected-mode iret,
 * and hosts that emulate CPL0 code would stop with an emulation failure.
 * The frame is rewritten in place: [eip][cs][eflags] -> [-][eflags][eip]. */
#define FRAME_EIP    40                 /* after pushal (32) + vector + error */
#define FRAME_CS     44
#define FRAME_EFLAGS 48
isr_common:
	pushal
	cld
	movl %esp, %eax
	pushl %eax
	call trap_dispatch              /* returns only if the trap was handled */
	addl $4, %esp
	movl FRAME_EIP(%esp), %eax
	movl FRAME_EFLAGS(%esp), %ecx
	movl %ecx, FRAME_CS(%esp)
	movl %eax, FRAME_EFLAGS(%esp)
	popal
	addl $12, %esp                  /* vector, error code, old eip slot */
	popfl
	ret

/* ---- GDT ---------------------------------------------------------------
 * Accessed bits preset so that loading a selector never writes the GDT. */
	.data
	.balign 8
	.globl gdt, gdt_desc
gdt:
	.quad 0
	.quad 0x00CF9B000000FFFF        /* 0x08: 32-bit code, base 0, 4 GiB */
	.quad 0x00CF93000000FFFF        /* 0x10: data, base 0, 4 GiB */
gdt_end:
	.balign 4
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.section .stack, "aw", @nobits
	.balign 16
	.space 16384
	.globl bsp_stack_top
bsp_stack_top:

	.section .note.GNU-stack, "", @progbits
