/* hello: the smallest end-to-end check of a VMM's boot path and exit device.
 *
 * Writes the boot marker first (so boot-time measurements exclude serial
 * output), prints a greeting, the boot protocol and the command line, then
 * exits through isa-debug-exit with 0, or with N given "exit=N".
 * "poweroff" powers the VM off through the ACPI sleep-control register.
 * "fault=gp" / "fault=de" raise an exception instead, to check that a VMM
 * delivers it (the guest then exits with 0x20 + vector: 0x2d / 0x20).
 */
#include "lib/libguest.h"

static const char *proto_name(enum boot_proto p)
{
	switch (p) {
	case BOOT_PROTO_PVH: return "pvh";
	case BOOT_PROTO_MULTIBOOT: return "multiboot";
	default: return "unknown";
	}
}

static void raise_fault(const char *kind)
{
	if (!memcmp(kind, "gp", 3)) {
		/* Selector 0xfff8 is far beyond our 3-entry GDT: #GP. */
		__asm__ volatile("movw %w0, %%fs" : : "r"(0xfff8) : "memory");
	} else if (!memcmp(kind, "de", 3)) {
		uint32_t q, r;
		/* In asm: a C division by zero is undefined and may be dropped. */
		__asm__ volatile("divl %2" : "=a"(q), "=d"(r) : "r"(0u), "a"(1u), "d"(0u));
	}
	gprintf("hello: fault=%s did not fault\n", kind);
	guest_exit(GUEST_EXIT_FAIL);
}

void guest_main(const char *cmdline)
{
	char arg[16];
	uint32_t code = GUEST_EXIT_PASS;

	guest_boot_marker();
	gprintf("hello from mpvm test guest\n");
	gprintf("boot: %s\n", proto_name(guest_boot_info.proto));
	gprintf("cmdline: %s\n", cmdline);
	if (cmdline_get(cmdline, "fault", arg, sizeof(arg)))
		raise_fault(arg);
	if (cmdline_has(cmdline, "poweroff")) {
		/* ACPI hardware-reduced power-off, as Linux does it: SLP_TYP = 5
		 * (the DSDT's \_S5) | SLP_EN to mpvm's sleep control register. */
		gprintf("hello: powering off\n");
		outb(0x600, (5 << 2) | (1 << 5));
		gprintf("hello: power-off did not happen\n");
		code = GUEST_EXIT_FAIL;
	}
	if (cmdline_get(cmdline, "exit", arg, sizeof(arg)) &&
	    !cmdline_get_u32(cmdline, "exit", &code)) {
		gprintf("hello: bad exit= value\n");
		code = GUEST_EXIT_FAIL;
	}
	guest_exit(code);
}
