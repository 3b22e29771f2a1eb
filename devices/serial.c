/* The 16550A register model. Host plumbing is in serial_host.c. */
#include "devices/serial_priv.h"

/* Register offsets (DLAB selects DLL/DLM at 0 and 1). */
enum { R_DATA, R_IER, R_IIR_FCR, R_LCR, R_MCR, R_LSR, R_MSR, R_SCR };

#define IER_RDI  0x01 /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI  0x08 /* modem status */

#define IIR_NONE    0x01
#define IIR_MSI     0x00
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_RLSI    0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO    0xc0 /* "FIFOs enabled": what makes Linux say 16550A */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_KEEP     0xc9 /* enable, DMA mode, trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80
/* No modem: carrier, data set ready and clear to send, as QEMU and
 * Firecracker report. */
#define MSR_IDLE (MSR_DCD | MSR_DSR | MSR_CTS)

static bool fifo_on(const struct serial *s)
{
	return s->fcr & FCR_ENABLE;
}

static unsigned rx_trigger(const struct serial *s)
{
	static const unsigned level[4] = { 1, 4, 8, 14 };
	return fifo_on(s) ? level[s->fcr >> 6] : 1;
}

/* Highest-priority pending interrupt, as the IIR identifies it. */
static uint8_t iir_id(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && (s->lsr_err & LSR_OE))
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		/* Bytes below the trigger level show up as the character
		 * timeout, which real hardware raises a few character times
		 * later; the driver handles both the same way. */
		return s->rx_count >= rx_trigger(s) ? IIR_RDI : IIR_TIMEOUT;
	if ((s->ier & IER_THRI) && s->thr_ipending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & 0x0f))
		return IIR_MSI;
	return IIR_NONE;
}

void serial_update_irq_locked(struct serial *s)
{
	int level = iir_id(s) != IIR_NONE;
	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->irq_line)
		s->irq_line(s->vm, s->irq, level);
}

static void rx_push(struct serial *s, uint8_t b)
{
	if (s->rx_count == SERIAL_RX_FIFO) {
		s->lsr_err |= LSR_OE; /* the new byte is lost, as on hardware */
		return;
	}
	s->rx[(s->rx_head + s->rx_count++) % SERIAL_RX_FIFO] = b;
}

static void move_host_bytes(struct serial *s)
{
	/* In loopback the receiver hears only the transmitter; host bytes
	 * wait in the buffer until loopback ends (or the pause does). */
	while (!s->paused && !(s->mcr & MCR_LOOP) && s->host_count && s->rx_count < SERIAL_RX_FIFO) {
		rx_push(s, s->host[s->host_head]);
		s->host_head = (s->host_head + 1) % SERIAL_HOST_BUF;
		s->host_count--;
	}
}

void serial_refill_locked(struct serial *s)
{
	move_host_bytes(s);
	/* The room just made may let the host side read more (or, for a
	 * file, read it now); those bytes follow at once. */
	serial_host_drained_locked(s);
	move_host_bytes(s);
	serial_update_irq_locked(s);
}

void serial_pause(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	s->paused = true;
	pthread_mutex_unlock(&s->lock);
}

void serial_resume(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->paused) {
		s->paused = false;
		serial_refill_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Modem status lines as the guest sees them; a change sets the delta bits
 * (a falling RI sets TERI), which a MSR read clears. */
static void update_msr(struct serial *s)
{
	uint8_t lines = MSR_IDLE;
	if (s->mcr & MCR_LOOP) {
		lines = 0;
		if (s->mcr & MCR_RTS)
			lines |= MSR_CTS;
		if (s->mcr & MCR_DTR)
			lines |= MSR_DSR;
		if (s->mcr & MCR_OUT1)
			lines |= MSR_RI;
		if (s->mcr & MCR_OUT2)
			lines |= MSR_DCD;
	}
	uint8_t old = s->msr & 0xf0, changed = old ^ lines;
	uint8_t delta = s->msr & 0x0f;
	if (changed & MSR_CTS)
		delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(lines & MSR_RI))
		delta |= MSR_TERI;
	if (changed & MSR_DCD)
		delta |= MSR_DDCD;
	s->msr = lines | delta;
}

static void write_ier(struct serial *s, uint8_t val)
{
	uint8_t changed = (s->ier ^ val) & 0x0f;
	s->ier = val & 0x0f; /* the upper bits are not implemented on a 16550A */
	/* Enabling ETBEI while THR is empty raises THRE again even if an IIR
	 * read cleared it before (Linux's startup THRE test relies on it). */
	if (changed & IER_THRI)
		s->thr_ipending = s->ier & IER_THRI;
}

static void write_fcr(struct serial *s, uint8_t val)
{
	uint8_t fcr = (val & FCR_ENABLE) ? val & FCR_KEEP : 0;
	/* Switching the FIFOs on or off empties them. */
	if ((fcr ^ s->fcr) & FCR_ENABLE || (val & FCR_CLEAR_RX)) {
		s->rx_head = s->rx_count = 0;
	}
	s->fcr = fcr;
	serial_refill_locked(s);
}

/* Returns true if `val` must go out to the host sink. */
static bool write_locked(struct serial *s, uint8_t off, uint8_t val)
{
	bool dlab = s->lcr & LCR_DLAB;
	bool transmit = false;
	switch (off) {
	case R_DATA:
		if (dlab) {
			s->dll = val;
			break;
		}
		if (s->mcr & MCR_LOOP)
			rx_push(s, val);
		else
			transmit = true;
		/* Transmission is instantaneous: THR is empty again at once,
		 * which is a new THRE event. */
		s->thr_ipending = s->ier & IER_THRI;
		break;
	case R_IER:
		if (dlab)
			s->dlm = val;
		else
			write_ier(s, val);
		break;
	case R_IIR_FCR:
		write_fcr(s, val);
		break;
	case R_LCR:
		s->lcr = val;
		break;
	case R_MCR: {
		bool was_loop = s->mcr & MCR_LOOP;
		s->mcr = val & MCR_MASK;
		update_msr(s);
		if (was_loop && !(s->mcr & MCR_LOOP))
			serial_refill_locked(s);
		break;
	}
	case R_SCR:
		s->scr = val;
		break;
	default: /* LSR and MSR are read-only (factory test writes ignored) */
		break;
	}
	serial_update_irq_locked(s);
	return transmit;
}

static uint8_t read_locked(struct serial *s, uint8_t off)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t v = 0;
	switch (off) {
	case R_DATA:
		if (dlab)
			return s->dll;
		if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
			s->rx_count--;
			serial_refill_locked(s);
		}
		break;
	case R_IER:
		return dlab ? s->dlm : s->ier;
	case R_IIR_FCR: {
		uint8_t id = iir_id(s);
		if (id == IIR_THRI)
			s->thr_ipending = false; /* reading IIR acknowledges THRE */
		v = id | (fifo_on(s) ? IIR_FIFO : 0);
		break;
	}
	case R_LCR:
		return s->lcr;
	case R_MCR:
		return s->mcr;
	case R_LSR:
		v = LSR_THRE | LSR_TEMT | s->lsr_err | (s->rx_count ? LSR_DR : 0);
		s->lsr_err = 0; /* error bits clear on read */
		break;
	case R_MSR:
		v = s->msr;
		s->msr &= 0xf0;
		break;
	case R_SCR:
		return s->scr;
	}
	serial_update_irq_locked(s);
	return v;
}

uint8_t serial_read(struct serial *s, uint8_t off)
{
	if (off >= SERIAL_NREGS)
		return 0xff;
	pthread_mutex_lock(&s->lock);
	uint8_t v = read_locked(s, off);
	pthread_mutex_unlock(&s->lock);
	return v;
}

void serial_write(struct serial *s, uint8_t off, uint8_t val)
{
	if (off >= SERIAL_NREGS)
		return;
	pthread_mutex_lock(&s->lock);
	bool transmit = write_locked(s, off, val);
	pthread_mutex_unlock(&s->lock);
	if (transmit)
		serial_host_output(s, val);
}

void serial_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
	       bool is_write)
{
	/* An ISA bus splits a wide access into byte cycles. */
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		if (is_write)
			serial_write(opaque, o < SERIAL_NREGS ? (uint8_t)o : SERIAL_NREGS, data[i]);
		else
			data[i] = serial_read(opaque, o < SERIAL_NREGS ? (uint8_t)o : SERIAL_NREGS);
	}
}

/* Power-on values: 8N1 at 9600 baud, OUT2 set as firmware leaves it. */
void serial_reset_locked(struct serial *s)
{
	s->ier = 0;
	s->lcr = 0x03;
	s->mcr = MCR_OUT2;
	s->fcr = 0;
	s->scr = 0;
	s->dll = 12;
	s->dlm = 0;
	s->lsr_err = 0;
	s->msr = MSR_IDLE;
	s->thr_ipending = false;
	s->rx_head = s->rx_count = 0;
}
