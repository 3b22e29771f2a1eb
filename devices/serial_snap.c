/* The UART's part of a snapshot (serial.h): the register model, the receive
 * FIFO and the host bytes that were read but not yet delivered (they left
 * the host fd, so dropping them would lose input). The sink and its
 * pending output are host plumbing, set up anew from the config; the IRQ
 * line's level is restored as the model's belief only, because the
 * interrupt controller's own state (pin levels included) is restored from
 * the VM's section. */
#include <string.h>

#include "base/err.h"
#include "base/snap.h"
#include "devices/serial_priv.h"

#define SERIAL_SNAP_VERSION 1

void serial_snap_save(struct serial *s, struct snap_w *w)
{
	pthread_mutex_lock(&s->lock);
	size_t m = snap_section_begin(w, "UART", SERIAL_SNAP_VERSION);
	snap_put_u16(w, s->base);
	const uint8_t regs[] = { s->ier, s->lcr, s->mcr, s->fcr, s->scr, s->dll, s->dlm,
				 s->lsr_err, s->msr };
	snap_put_bytes(w, regs, sizeof(regs));
	snap_put_bool(w, s->thr_ipending);
	snap_put_bool(w, s->irq_level);
	snap_put_u32(w, s->rx_count);
	for (unsigned i = 0; i < s->rx_count; i++)
		snap_put_u8(w, s->rx[(s->rx_head + i) % SERIAL_RX_FIFO]);
	snap_put_u32(w, s->host_count);
	for (unsigned i = 0; i < s->host_count; i++)
		snap_put_u8(w, s->host[(s->host_head + i) % SERIAL_HOST_BUF]);
	snap_section_end(w, m);
	pthread_mutex_unlock(&s->lock);
}

int serial_snap_restore(struct serial *s, const void *state, size_t len, char *err,
			size_t errlen)
{
	struct snap_r r;
	if (snap_section_open(state, len, "UART", 0, SERIAL_SNAP_VERSION, &r, err, errlen))
		return -1;
	uint16_t base = snap_get_u16(&r);
	uint8_t regs[9];
	snap_get_bytes(&r, regs, sizeof(regs));
	bool thr = snap_get_bool(&r), irq = snap_get_bool(&r);
	uint8_t rx[SERIAL_RX_FIFO];
	uint32_t rx_count = snap_get_u32(&r);
	if (rx_count > SERIAL_RX_FIFO)
		snap_r_fail(&r, "more bytes in the receive FIFO than it holds");
	else
		snap_get_bytes(&r, rx, rx_count);
	uint8_t host[SERIAL_HOST_BUF];
	uint32_t host_count = snap_get_u32(&r);
	if (host_count > SERIAL_HOST_BUF)
		snap_r_fail(&r, "more pending host bytes than the buffer holds");
	else
		snap_get_bytes(&r, host, host_count);
	if (!r.bad && base != s->base)
		snap_r_fail(&r, "the UART sits at another I/O port than this VM's");
	if (snap_r_done(&r, err, errlen))
		return -1;

	pthread_mutex_lock(&s->lock);
	s->ier = regs[0] & 0x0f;
	s->lcr = regs[1];
	s->mcr = regs[2] & 0x1f;
	s->fcr = regs[3] & 0xc9;
	s->scr = regs[4];
	s->dll = regs[5];
	s->dlm = regs[6];
	s->lsr_err = regs[7] & 0x02; /* only OE is kept there */
	s->msr = regs[8];
	s->thr_ipending = thr;
	s->irq_level = irq;
	s->rx_head = 0;
	s->rx_count = rx_count;
	memcpy(s->rx, rx, rx_count);
	s->host_head = 0;
	s->host_count = host_count;
	memcpy(s->host, host, host_count);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
