/* reset: boot marker, an interactive line over the serial port, then a reset
 * request through the i8042 (outb 0xfe, 0x64), which mpvm turns into exit
 * status 2 and QEMU -no-reboot into exit 0. Still running afterwards means
 * the VMM ignored the request: "reset failed", exit 4.
 */
#include "lib/libguest.h"

#define I8042_CMD 0x64
#define I8042_PULSE_RESET 0xfe
#define LINE_MAX 128
/* A reset is not instantaneous in every VMM (the vCPU thread has to see the
 * request); spin a little before calling it a failure. */
#define RESET_GRACE_US 100000

void guest_main(const char *cmdline)
{
	char line[LINE_MAX];

	(void)cmdline;
	guest_boot_marker();
	gprintf("marker written\n");
	gprintf("type a line:\n");
	serial_read_line(line, sizeof(line));
	gprintf("got: %s\n", line);
	gprintf("resetting\n");
	time_init();
	outb(I8042_CMD, I8042_PULSE_RESET);
	udelay(RESET_GRACE_US);
	gprintf("reset failed\n");
	guest_exit(GUEST_EXIT_RESET_FAILED);
}
