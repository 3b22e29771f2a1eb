/* Split virtqueue (virtio 1.x, 2.7): the device side of one ring.
 *
 * Contract: a queue is configured by the transport (size, three ring
 * addresses) and enabled with virtq_enable(), which checks through the
 * guest-memory accessor that every ring lies in RAM and is aligned; the ring
 * host pointers it keeps are the only ones used afterwards (RAM layout is
 * fixed for the VM's life). virtq_pop() walks one descriptor chain, copying
 * each descriptor once (the guest may rewrite it concurrently) and turning
 * every buffer into a host iovec via gm_ptr(). Every guest number is checked:
 *  - a chain longer than the queue (a loop), a `next` outside the table, an
 *    indirect table that is misaligned in size, outside RAM, nested, or not
 *    negotiated, a readable buffer after a writable one, a buffer outside
 *    RAM, a chain totalling more than VIRTQ_MAX_CHAIN_BYTES: the element is
 *    returned with `err` set, so that the device fails that one request and
 *    gives the head back (used length 0);
 *  - an avail index more than `size` ahead or a head outside the table:
 *    nothing identifies a request, so virtq_pop() returns -1 and the device
 *    must set DEVICE_NEEDS_RESET (virtio 2.1.2).
 * Notification suppression follows VIRTIO_F_EVENT_IDX when negotiated,
 * the flags otherwise. All functions run on one thread (the device worker);
 * memory ordering against the guest's vCPUs is handled inside.
 */
#ifndef MPVM_VIRTIO_QUEUE_H
#define MPVM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/guest_mem.h"

#define VIRTQ_MAX_SIZE 256
/* Longest chain accepted, indirect entries included (Linux never builds
 * longer ones for blk/net/rng; a chain is bounded by the queue size anyway). */
#define VIRTQ_MAX_CHAIN 256
/* No sane request moves more than this in one chain. */
#define VIRTQ_MAX_CHAIN_BYTES (256u << 20)

enum virtq_err {
	VQ_OK = 0,
	VQ_E_LOOP,          /* chain longer than the queue / indirect table */
	VQ_E_NEXT,          /* next index outside the table */
	VQ_E_INDIRECT,      /* indirect not negotiated, nested, or with NEXT */
	VQ_E_INDIRECT_TABLE,/* table length 0, not a multiple of 16, or too long */
	VQ_E_RANGE,         /* buffer or indirect table not in guest RAM */
	VQ_E_ORDER,         /* device-readable buffer after a writable one */
	VQ_E_TOO_BIG,       /* chain totals more than VIRTQ_MAX_CHAIN_BYTES */
	VQ_E_COUNT
};
const char *virtq_err_name(int err);

struct virtq_elem {
	uint16_t head;
	uint16_t nout, nin;        /* iov[0..nout) readable, then nin writable */
	int err;                   /* enum virtq_err; iovs are unusable if set */
	uint64_t out_len, in_len;  /* byte totals of each direction */
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

struct vring_desc;
struct vring_avail;
struct vring_used;

struct virtq {
	/* Set by the transport while the queue is not ready. */
	uint16_t size;             /* 0 until the driver writes QueueNum */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Device state. */
	bool enabled;
	bool event_idx, indirect;  /* negotiated features */
	const struct guest_mem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;       /* next avail entry the device consumes */
	uint16_t used_idx;         /* device's copy of used->idx */
	uint16_t signalled_used;   /* used_idx when the driver was last notified */
	bool signalled_valid;
};

/* Reset to the power-on state (size 0, addresses 0, disabled). */
void virtq_reset(struct virtq *q);
/* Check size (power of two, 1..VIRTQ_MAX_SIZE) and rings (in RAM, aligned:
 * desc 16, avail 2, used 4; the used ring, which the device writes, apart
 * from the two it reads), then map them. Returns 0, or -1 with a reason
 * in `err`. Indices start at 0 (the driver has just built the rings). */
int virtq_enable(struct virtq *q, const struct guest_mem *mem, bool event_idx,
		 bool indirect, char *err, size_t errlen);

/* 1: *e holds the next chain (check e->err); 0: ring empty; -1: the ring
 * itself is corrupt (see above): the queue must not be used again. */
int virtq_pop(struct virtq *q, struct virtq_elem *e);
/* virtq_pop() for a device that drains a queue outside a disable/enable
 * notify loop: an empty ring also asks the driver for a kick at its next
 * buffer (with event index a driver kicks only when its avail index passes
 * what the device last asked for; a device that never asks hears of the
 * first buffer only) and looks once more for one that came meanwhile. */
int virtq_pop_armed(struct virtq *q, struct virtq_elem *e);
/* Give the last popped element back (it will be popped again), for a device
 * that cannot serve it yet (rate limiter, no room). */
void virtq_unpop(struct virtq *q);
/* Number of chains the driver has made available and not yet popped;
 * -1 if the avail index is corrupt. */
int virtq_pending(struct virtq *q);

/* Publish one used element (head, bytes written into its buffers). */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* After a batch of pushes: true when the driver wants an interrupt
 * (used_event / VRING_AVAIL_F_NO_INTERRUPT). */
bool virtq_should_notify(struct virtq *q);

/* Driver->device notification suppression around a processing loop:
 * disable before draining, then virtq_enable_notify() re-arms it and
 * returns true if more chains arrived meanwhile (drain again). */
void virtq_disable_notify(struct virtq *q);
bool virtq_enable_notify(struct virtq *q);

/* Copy helpers across an element's iovecs. `skip` bytes are skipped first.
 * Return the bytes copied (short if the iovecs end first). */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);

#endif
