/* Internal to virtio-blk: the request slots and the I/O engine interface
 * between blk.c (virtio side) and blk_io.c (Sync / Async engines). Worker
 * thread only. */
#ifndef MPVM_VIRTIO_BLK_INT_H
#define MPVM_VIRTIO_BLK_INT_H

#include <liburing.h>
#include <linux/virtio_blk.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/ratelimit.h"

#define BLK_SECTOR 512ull

struct blk_req {
	struct virtq_elem elem;
	uint32_t type;
	uint64_t sector;
	uint64_t data_len;
	unsigned ndata;
	struct iovec data[VIRTQ_MAX_CHAIN]; /* the data part of elem's buffers */
	volatile uint8_t *status;           /* last device-writable byte */
	struct blk_req *next_free;
};

struct virtio_blk {
	struct virtio_dev dev;
	char drive_id[65];
	char path[4096];
	int fd;
	bool read_only;
	enum cfg_io_engine engine;
	uint64_t capacity;                  /* sectors */
	struct virtio_blk_config config;
	struct rate_limiter rl;
	int timer_fd;
	bool throttled;
	struct blk_req *slots, *free;
	unsigned nslots, inflight;
	bool stalled;                       /* stopped popping: no free slot */
	bool pushed;                        /* used entries not yet signalled */
	/* Async engine */
	struct io_uring ring;
	bool ring_ok;
	int ring_efd;
	unsigned unsubmitted;
};

/* Engine interface. submit(): Sync performs the request and completes it;
 * Async queues an SQE (flushed by blk_io_kick()) and completes later. */
int blk_io_init(struct virtio_blk *b, char *err, size_t errlen);
void blk_io_submit(struct virtio_blk *b, struct blk_req *r);
void blk_io_kick(struct virtio_blk *b);
/* Complete every in-flight request normally and notify the driver (before
 * a backing-file swap, on pause). -1 if the ring failed with some left. */
int blk_io_quiesce(struct virtio_blk *b);
/* Wait for every in-flight request; results are discarded (driver reset). */
void blk_io_drain(struct virtio_blk *b);
void blk_io_exit(struct virtio_blk *b);

/* blk.c: finish a request. host_err is 0, or a negative errno from the
 * host (becomes VIRTIO_BLK_S_IOERR). Pushes to the used ring; the caller
 * interrupts the driver once per batch (virtio_notify). */
void blk_complete(struct virtio_blk *b, struct blk_req *r, int host_err);
/* blk.c: pull more requests (after completions freed slots). */
void blk_process(struct virtio_blk *b);

#endif
