/* counter: a guest whose progress can be watched from outside, for pause
 * and resume tests.
 *
 * Prints "counter: N" (N = 0, 1, 2, ...) on COM1 every period, forever, so
 * the serial output stops growing exactly while the vCPU does not run.
 * Command line: "period_ms=N" (default 20, 1..60000); "count=N" stops after
 * N lines and exits through isa-debug-exit with 0 (for runs under QEMU);
 * "burst=N" prints N lines per period (default 1, up to 4096): a flood that
 * fills a serial sink in seconds even where timers are slow (the lab).
 * The delay re-arms the LAPIC timer (one-shot, masked) for every period, so
 * it keeps working after libguest's 68-second clock runs out.
 */
#include "lib/libguest.h"

#define TICKS_PER_MS 62500u /* 1 GHz APIC bus, divide-by-16 (see lib/lapic.c) */

static void wait_ms(uint32_t ms)
{
	lapic_write(LAPIC_TIMER_INIT, ms * TICKS_PER_MS);
	while (lapic_read(LAPIC_TIMER_CUR))
		cpu_relax();
}

void guest_main(const char *cmdline)
{
	uint32_t period = 20, count = 0, burst = 1;

	time_init(); /* enables the LAPIC, timer masked, divide-by-16 */
	if (cmdline_get_u32(cmdline, "period_ms", &period) && (period < 1 || period > 60000)) {
		gprintf("counter: period_ms must be 1..60000\n");
		guest_exit(GUEST_EXIT_FAIL);
	}
	if (cmdline_get_u32(cmdline, "burst", &burst) && (burst < 1 || burst > 4096)) {
		gprintf("counter: burst must be 1..4096\n");
		guest_exit(GUEST_EXIT_FAIL);
	}
	bool bounded = cmdline_get_u32(cmdline, "count", &count);
	gprintf("counter: start period_ms=%u\n", period);
	for (uint32_t n = 0; !bounded || n < count; n++) {
		gprintf("counter: %u\n", n);
		if (n % burst == burst - 1)
			wait_ms(period);
	}
	guest_exit(GUEST_EXIT_PASS);
}
