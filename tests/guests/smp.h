/* Shared between smp.c and smp_tramp.S. */
#ifndef MPVM_GUEST_SMP_H
#define MPVM_GUEST_SMP_H

/* Below 1 MiB, outside what mpvm reserves for boot structures (GDT 0x500,
 * start_info 0x7000, page tables 0x9000-0xEFFF, cmdline 0x20000-0x2FFFF)
 * and below SeaBIOS's EBDA. The SIPI vector is the page number. */
#define SMP_TRAMPOLINE_PADDR 0x30000
#define SMP_MAX_CPUS         64
#define SMP_AP_STACK_SHIFT   12 /* 4 KiB per AP */

#endif
