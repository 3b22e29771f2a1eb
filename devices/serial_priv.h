/* Shared by serial.c (the 16550A register model), serial_host.c (input,
 * event loop, socket, config) and serial_out.c (the output sink). Not for
 * other modules: use serial.h.
 *
 * Locking: `lock` guards everything below it except the sink, which
 * `out_lock` guards: output never waits for the input side, and the event
 * loop flushes the sink without touching the register model.
 * Order: lock, then out_lock. Functions named *_locked expect `lock` held;
 * serial_out_*_olocked expect `out_lock` held.
 */
#ifndef MPVM_SERIAL_PRIV_H
#define MPVM_SERIAL_PRIV_H

#include <pthread.h>

#include "devices/serial.h"

#define SERIAL_RX_FIFO  64   /* model's receive FIFO */
#define SERIAL_HOST_BUF 4096 /* host bytes waiting for FIFO room */
#define SERIAL_OUT_BUF  65536 /* guest bytes waiting for the sink */

/* How bytes reach the sink (serial_out.c). */
enum serial_sink {
	SINK_NONE,
	SINK_FILE,   /* regular file or block device: plain write(), never waits long */
	SINK_STREAM, /* pipe, FIFO, terminal, char device: write() on a non-blocking fd */
	SINK_SOCKET, /* send(MSG_DONTWAIT): the fd's flags stay as they are */
};

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

	/* Host output (serial_out.c). Never blocks the vCPU: what the sink
	 * cannot take at once waits in `out` for the loop's EPOLLOUT; what
	 * does not fit there is dropped and counted. */
	pthread_mutex_t out_lock;
	int out_fd;
	enum serial_sink out_kind;
	int out_own;         /* fd serial_out.c opened for the sink (-1: none) */
	int out_restore_fd;  /* fd whose O_NONBLOCK we set (-1: none) */
	int out_restore_flags;
	bool out_failed;     /* logged once; further output dropped */
	bool out_armed;      /* out_fd is on the loop for EPOLLOUT */
	bool out_dropping;   /* dropping since the buffer last filled (logged once) */
	uint64_t out_dropped;
	uint8_t out[SERIAL_OUT_BUF];
	unsigned out_head, out_count;

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
/* serial_out.c: one transmitted byte to the sink (called without `lock`). */
void serial_host_output(struct serial *s, uint8_t b);
/* serial_out.c: make `fd` (-1: none) the sink; the fd stays the caller's
 * (a private non-blocking one may be opened for it). Nothing pending. */
void serial_out_attach_olocked(struct serial *s, int fd);
/* serial_out.c: stop using the sink; pending bytes are dropped. */
void serial_out_detach_olocked(struct serial *s);
/* serial_out.c: at serial_free(): a short, bounded flush, then detach. */
void serial_out_close(struct serial *s);

#endif
