/* crash: triple-faults on purpose, to test a VMM's shutdown exit
 * (KVM_EXIT_SHUTDOWN). With an IDT of limit 0 every exception is a #GP on
 * delivery, which escalates to #DF and then to the triple fault.
 * The fault is a segment load of a selector past the GDT: #GP raised by
 * plain, emulator-friendly code (int3/ud2/int n are not emulated at CPL0 on
 * some hosts and would end in an emulation error instead of the fault).
 */
#include "lib/libguest.h"

void guest_main(const char *cmdline)
{
	static const struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) no_idt = { 0, 0 };

	(void)cmdline;
	gprintf("about to triple fault\n");
	__asm__ volatile("lidt %0\n\t"
			 "movw %w1, %%fs"
			 : : "m"(no_idt), "r"(0xfff8) : "memory");
	gprintf("crash: still alive after the fault\n");
	guest_exit(GUEST_EXIT_NO_CRASH);
}
