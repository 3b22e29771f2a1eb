/* Local APIC helpers: enable, IPIs, and a coarse clock from the APIC timer. */
#include "libguest.h"

#define SVR_ENABLE        (1u << 8)
#define SPURIOUS_VECTOR   0xFF
#define ICR_DELIVERY_BUSY (1u << 12)
#define LVT_MASKED        (1u << 16)
#define TIMER_DIV_16      0x3
#define TIMER_VECTOR      0xEF /* never delivered: the LVT stays masked */
#define TIMER_START       0xFFFFFFFFu

void lapic_enable(void)
{
	lapic_write(LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
}

bool lapic_send_ipi(uint32_t apic_id, uint32_t icr_low)
{
	lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, icr_low);
	/* KVM's APIC completes delivery during the write; real xAPICs take a
	 * few hundred cycles. The bound is only against a wedged model. */
	for (int i = 0; i < 100000; i++) {
		if (!(lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_BUSY))
			return true;
		cpu_relax();
	}
	return false;
}

void time_init(void)
{
	lapic_enable();
	lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR); /* one-shot */
	lapic_write(LAPIC_TIMER_INIT, TIMER_START);
}

uint32_t time_us(void)
{
	/* 1 GHz bus / 16 = 62.5 ticks per microsecond. */
	uint32_t ticks = TIMER_START - lapic_read(LAPIC_TIMER_CUR);
	return ticks / 125 * 2;
}

void udelay(uint32_t us)
{
	uint32_t start = time_us();

	while (time_us() - start < us) {
		if (lapic_read(LAPIC_TIMER_CUR) == 0)
			return; /* the one-shot count ran out: no more time to wait on */
		cpu_relax();
	}
}
