/* Shared by serial.c (the 16550A register model) and serial_host.c (fds,
 * event loop, socket, config). Not for other modules: use serial.h.
 *
 * Locking: `lock` guards everything below it except the sink, which
 * `out_lock` guards so that a blocking write does not hold up input.
 * Order: lock, then out_lock. Functions named *_locked expect `lock` held.
 */
#ifndef MPVM_SERIAL_PRIV_H
#define MPVM_SERIAL_PRIV_H

#include <pthread.h>

#include "serial.h"

#define SERIAL_RX_FIFO  64   /* model's receive FIFO */
#define SERIAL_HOST_BUF 4096 /* host bytes waiting for FIFO room */

struct serial {
	struct vm *vm;
	uint16_t base;
	uint32_t irq;
	int (*irq_line)(struct vm *vm, uint32_t gsi, int level);
	void (*request_exit)(struct vm *vm, int status, const char *fmt, ...);

	pthread_mutex_t lock;
	/* Registers. LSR.DR and THRE/TEMT are derived; lsr_err holds OE. */
	uint8_t ier, lcr, mcr, fcr, scr, dll, dlm, lsr_err, msr;
	bool thr_ipending;
	int irq_level;
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_count;

	/* Host input. */
	struct ev_loop *loop;
	int in_fd;
	bool in_armed;  /* in_fd is on the event loop */
	bool in_pull;   /* epoll refused in_fd: read on demand */
	bool in_eof;
	bool escape, esc_pending;
	uint8_t host[SERIAL_HOST_BUF];
	unsigned host_head, host_count;
	bool paused;    /* serial_pause(): host bytes stay in `host` */

	/* Host output. */
	pthread_mutex_t out_lock;
	int out_fd;
	bool out_failed; /* logged once; further output dropped */

	/* What serial_setup_from_config() opened. */
	int own_fd;      /* output file */
	int listen_fd;   /* socket mode */
	int client_fd;
	char *sock_path;
};

/* serial.c: power-on register state. */
void serial_reset_locked(struct serial *s);
/* serial.c: move host bytes into the receive FIFO (unless in loopback),
 * then recompute the IRQ line. */
void serial_refill_locked(struct serial *s);
void serial_update_irq_locked(struct serial *s);

/* serial_host.c: the guest made room in the host buffer. */
void serial_host_drained_locked(struct serial *s);
/* serial_host.c: one transmitted byte to the sink (called without `lock`). */
void serial_host_output(struct serial *s, uint8_t b);

#endif
