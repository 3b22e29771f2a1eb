/* smp: brings up every CPU the MADT lists with INIT-SIPI-SIPI.
 *
 * Each AP enters through the real-mode trampoline (smp_tramp.S), prints
 * "cpu <apicid> online" and then checks in on a counter, so all its output
 * is out before the BSP can print the summary and exit. The BSP waits,
 * bounded by the LAPIC-timer clock, for N-1 check-ins and prints
 * "smp: N/N cpus online" (exit 0) or what is missing (exit 2).
 * Options: timeout_ms=N (default 5000).
 */
#include "lib/libguest.h"
#include "smp.h"

#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_MS     60000
/* Intel SDM "MP initialization": 10 ms after INIT, 200 us after each SIPI. */
#define INIT_DELAY_US 10000
#define SIPI_DELAY_US 200

extern const char smp_trampoline[], smp_trampoline_end[];

static volatile uint32_t aps_online;
static volatile uint8_t ap_seen[256];

__attribute__((noreturn, used)) void ap_main(void);
void ap_main(void)
{
	idt_load();
	uint32_t id = lapic_id();
	gprintf("cpu %u online\n", id);
	ap_seen[id & 0xff] = 1;
	__atomic_fetch_add(&aps_online, 1, __ATOMIC_SEQ_CST);
	guest_halt_forever();
}

static void send_sipi_to_missing(const uint32_t *ids, int n, uint32_t bsp)
{
	for (int i = 0; i < n; i++) {
		if (ids[i] == bsp || ap_seen[ids[i] & 0xff])
			continue;
		if (!lapic_send_ipi(ids[i], ICR_STARTUP | (SMP_TRAMPOLINE_PADDR >> 12)))
			gprintf("smp: SIPI to apic id %u stuck in delivery\n", ids[i]);
	}
}

void guest_main(const char *cmdline)
{
	uint32_t ids[SMP_MAX_CPUS];
	uint32_t timeout_ms = DEFAULT_TIMEOUT_MS;
	int n = madt_enabled_apic_ids(ids, SMP_MAX_CPUS);

	if (n < 0) {
		gprintf("smp: no ACPI MADT found\n");
		guest_exit(GUEST_EXIT_NO_ACPI);
	}
	if (n == 0 || n > SMP_MAX_CPUS) {
		gprintf("smp: MADT lists %d enabled cpus; this guest handles 1..%d\n", n, SMP_MAX_CPUS);
		guest_exit(GUEST_EXIT_FAIL);
	}
	cmdline_get_u32(cmdline, "timeout_ms", &timeout_ms);
	if (timeout_ms > MAX_TIMEOUT_MS)
		timeout_ms = MAX_TIMEOUT_MS; /* the LAPIC clock lasts ~68 s */

	uint32_t bsp = lapic_id();
	bool bsp_listed = false;
	for (int i = 0; i < n; i++)
		bsp_listed |= ids[i] == bsp;
	gprintf("smp: MADT (via RSDP at 0x%x) lists %d cpus, bsp apic id %u%s\n",
		acpi_find_rsdp(), n, bsp,
		bsp_listed ? "" : " (not in the MADT!)");
	ap_seen[bsp & 0xff] = 1;

	if (n > 1) {
		time_init();
		memcpy(phys_ptr(SMP_TRAMPOLINE_PADDR), smp_trampoline,
		       (size_t)(smp_trampoline_end - smp_trampoline));
		for (int i = 0; i < n; i++)
			if (ids[i] != bsp && !lapic_send_ipi(ids[i], ICR_INIT))
				gprintf("smp: INIT to apic id %u stuck in delivery\n", ids[i]);
		udelay(INIT_DELAY_US);
		send_sipi_to_missing(ids, n, bsp);
		udelay(SIPI_DELAY_US);
		/* The second SIPI is ignored by APs already running. */
		send_sipi_to_missing(ids, n, bsp);

		uint32_t start = time_us();
		while (aps_online < (uint32_t)(n - 1) && time_us() - start < timeout_ms * 1000) {
			if (lapic_read(LAPIC_TIMER_CUR) == 0)
				break;
			cpu_relax();
		}
	}

	uint32_t online = aps_online + 1;
	if (n > 1)
		gprintf("smp: AP bring-up took %u us (LAPIC timer clock)\n", time_us());
	gprintf("smp: %u/%d cpus online\n", online, n);
	if (online == (uint32_t)n)
		guest_exit(GUEST_EXIT_PASS);
	gprintf("smp: missing apic ids:");
	for (int i = 0; i < n; i++)
		if (!ap_seen[ids[i] & 0xff])
			gprintf(" %u", ids[i]);
	gprintf(" (timeout %u ms)\n", timeout_ms);
	guest_exit(GUEST_EXIT_SMP_MISSING);
}
