/* exit_storm: a guest that spends its whole life making the VMM work.
 *
 * Command line "storm=KIND ms=N" (N default 5000, 1..60000), KIND one of:
 *   pio   OUT to a port no device claims, in a tight loop (a userspace exit
 *         each, answered by nobody);
 *   mmio  writes and reads to guest-physical addresses no device claims
 *         (a KVM_EXIT_MMIO each);
 *   irq   an interrupt storm: eight one-byte virtio-rng requests in flight,
 *         each completion raising an interrupt the guest takes (interrupts
 *         stay open; the handler only acknowledges) and counts,
 *         each request re-posted at once; with "badq", a notify for a queue
 *         that does not exist after every round too (a device fault the VMM
 *         logs: its log must stay bounded).
 * Every second it prints "storm: KIND N" (the accesses or interrupts so
 * far) so the host sees it is still at it, then "storm: done N" and exits 0
 * through the exit port. The VMM must stay responsive while it runs.
 * With "until=key" the storm also ends as soon as a byte arrives on COM1
 * (one LSR read per 256 storm steps): the host decides how long it lasts,
 * which the guest's own clock cannot do where time is emulated (the lab).
 */
#include "lib/virtio_guest.h"

#define STORM_PORT 0x2f00u         /* claimed by no mpvm device */
#define STORM_MMIO 0xc0000000u     /* above RAM, below the LAPIC/IOAPIC: no device */
#define IRQ_VECTOR 0x41
#define BUF 0x02000000u

#define CHECK(cond, ...) do { if (!(cond)) { gprintf("storm: FAIL: " __VA_ARGS__); gprintf("\n"); guest_exit(GUEST_EXIT_FAIL); } } while (0)

static struct vg_dev rng;
static volatile uint32_t irqs;
static const char *cmdline_g;

static bool on_irq(struct trap_frame *f)
{
	(void)f;
	vg_wr(&rng, VG_INTERRUPT_ACK, vg_rd(&rng, VG_INTERRUPT_STATUS));
	irqs++;
	lapic_eoi();
	return true;
}

/* Post a one-byte request and kick; the completion raises the interrupt. */
static void post(void)
{
	struct vg_buf b = { BUF, 1, true };
	CHECK(vg_add(&rng.q[0], &b, 1) >= 0, "no descriptors");
	vg_kick(&rng, &rng.q[0]);
}

static uint32_t completions;

static uint32_t irq_storm_step(void)
{
	uint32_t id, len;
	while (vg_poll(&rng.q[0], &id, &len)) {
		completions++;
		post();
	}
	if (cmdline_has(cmdline_g, "badq"))
		vg_wr(&rng, VG_QUEUE_NOTIFY, 7); /* a queue that does not exist */
	return irqs;
}

void guest_main(const char *cmdline)
{
	char kind[8] = "";
	cmdline_g = cmdline;
	uint32_t ms = 5000;
	char until[8] = "";
	time_init();
	CHECK(cmdline_get(cmdline, "storm", kind, sizeof(kind)), "storm=pio|mmio|irq is required");
	CHECK(!cmdline_get_u32(cmdline, "ms", &ms) || (ms >= 1 && ms <= 60000), "ms must be 1..60000 (the guest clock runs 68 s)");
	bool pio = !memcmp(kind, "pio", 4), mmio = !memcmp(kind, "mmio", 5), irq = !memcmp(kind, "irq", 4);
	CHECK(pio || mmio || irq, "unknown storm %s", kind);
	bool until_key = cmdline_get(cmdline, "until", until, sizeof(until)) && !memcmp(until, "key", 4);
	if (irq) {
		CHECK(vg_find(cmdline, VG_ID_RNG, 0, &rng), "storm=irq needs a virtio-rng device");
		CHECK(vg_init(&rng, 0, 1), "virtio-rng init");
		CHECK(rng.irq, "virtio-rng IRQ unknown");
		idt_set_handler(IRQ_VECTOR, on_irq);
		outb(0x21, 0xff); /* 8259s masked: only the IOAPIC delivers */
		outb(0xa1, 0xff);
		vg_wr(&rng, VG_INTERRUPT_ACK, vg_rd(&rng, VG_INTERRUPT_STATUS));
		vg_route_irq(rng.irq, IRQ_VECTOR);
		for (int i = 0; i < 8; i++)
			post();
		__asm__ volatile("sti");
	}
	gprintf("storm: %s for %u ms\n", kind, ms);
	uint32_t n = 0, start = time_us(), last = start;
	volatile uint32_t *wild = (volatile uint32_t *)STORM_MMIO;
	for (;;) {
		for (int i = 0; i < 256; i++) {
			if (pio) {
				outb(STORM_PORT, (uint8_t)i);
				n++;
			} else if (mmio) {
				wild[i & 63] = (uint32_t)i;
				(void)wild[(i + 1) & 63];
				n += 2;
			} else {
				n = irq_storm_step();
			}
		}
		uint32_t now = time_us();
		if (now - last >= 1000000) {
			gprintf("storm: %s %u (completions %u)\n", kind, n, completions);
			last = now;
		}
		if (now - start >= ms * 1000u)
			break;
		if (until_key && (inb(0x3f8 + 5) & 1)) /* LSR.DR: the host said stop */
			break;
	}
	__asm__ volatile("cli");
	if (irq)
		CHECK(n > 0 && completions > 0, "no interrupt (%u) or no completion (%u)", n, completions);
	gprintf("storm: done %u\n", n);
	guest_exit(GUEST_EXIT_PASS);
}
