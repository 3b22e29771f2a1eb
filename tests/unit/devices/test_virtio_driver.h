/* A tiny virtio-mmio driver for unit tests: it talks to a device through
 * the transport's register handler (as a vCPU would) and builds rings in a
 * guest_mem, so the device models run for real on their worker threads
 * without KVM. Header-only; included by the test_virtio_*.c programs. */
#ifndef TEST_VIRTIO_DRIVER_H
#define TEST_VIRTIO_DRIVER_H

#include <check.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "core/guest_mem.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/virtio.h"

#define SIM_MEM (8u << 20)
#define SIM_QSIZE 64
#define SIM_RING(q) (0x10000ull + (q) * 0x4000ull)
#define SIM_DATA 0x100000ull

struct sim {
	struct guest_mem mem;
	struct virtio_dev *dev;
	uint16_t avail_idx[VIRTIO_MAX_QUEUES], used_seen[VIRTIO_MAX_QUEUES], next_desc[VIRTIO_MAX_QUEUES];
	uint64_t features;
};

struct sim_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

static inline uint32_t sim_rd(struct sim *s, uint32_t off)
{
	uint32_t v;
	virtio_mmio_access(s->dev, NULL, off, (uint8_t *)&v, 4, false);
	return v;
}

static inline void sim_wr(struct sim *s, uint32_t off, uint32_t v)
{
	virtio_mmio_access(s->dev, NULL, off, (uint8_t *)&v, 4, true);
}

static inline void sim_setup_queue(struct sim *s, unsigned q)
{
	sim_wr(s, VIRTIO_MMIO_QUEUE_SEL, q);
	ck_assert_uint_ge(sim_rd(s, VIRTIO_MMIO_QUEUE_NUM_MAX), SIM_QSIZE);
	sim_wr(s, VIRTIO_MMIO_QUEUE_NUM, SIM_QSIZE);
	sim_wr(s, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)SIM_RING(q));
	sim_wr(s, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	sim_wr(s, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)SIM_RING(q) + 0x1000);
	sim_wr(s, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	sim_wr(s, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)SIM_RING(q) + 0x2000);
	sim_wr(s, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	sim_wr(s, VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(sim_rd(s, VIRTIO_MMIO_QUEUE_READY), 1);
	s->avail_idx[q] = s->used_seen[q] = s->next_desc[q] = 0;
}

/* The driver initialisation sequence of virtio 1.x 3.1.1. `want`: feature
 * bits to accept among those offered. Returns the negotiated set. */
static inline uint64_t sim_init(struct sim *s, uint64_t want)
{
	ck_assert_uint_eq(sim_rd(s, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	ck_assert_uint_eq(sim_rd(s, VIRTIO_MMIO_VERSION), 2);
	sim_wr(s, VIRTIO_MMIO_STATUS, 0);
	memset((uint8_t *)gm_ptr(&s->mem, SIM_RING(0), VIRTIO_MAX_QUEUES * 0x4000ull), 0,
	       VIRTIO_MAX_QUEUES * 0x4000ull); /* every queue a device may have */
	sim_wr(s, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	sim_wr(s, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	sim_wr(s, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t f = sim_rd(s, VIRTIO_MMIO_DEVICE_FEATURES);
	sim_wr(s, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)sim_rd(s, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	f &= want;
	sim_wr(s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	sim_wr(s, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	sim_wr(s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	sim_wr(s, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	sim_wr(s, VIRTIO_MMIO_STATUS, st);
	ck_assert_uint_eq(sim_rd(s, VIRTIO_MMIO_STATUS), st);
	for (unsigned q = 0; q < s->dev->nqueues; q++)
		sim_setup_queue(s, q);
	sim_wr(s, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
	s->features = f;
	return f;
}

static inline void sim_put_desc(struct sim *s, unsigned q, uint16_t i, uint64_t addr,
				uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	ck_assert_int_eq(gm_write(&s->mem, SIM_RING(q) + 16ull * i, &d, sizeof(d)), 0);
}

/* The ring indexes are where driver and device hand buffers over: like a
 * real driver's barriers (virtio 1.x 2.7.13), the driver publishes avail.idx
 * with release semantics, after the ring entry and the buffers it covers,
 * and reads used.idx with acquire semantics, before the used entry and the
 * buffers the device filled. The device does the same (queue.c). */
static inline void sim_publish_idx(struct sim *s, uint64_t gpa, uint16_t v)
{
	uint16_t *p = gm_ptr(&s->mem, gpa, 2);
	ck_assert_ptr_nonnull(p);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint16_t sim_observe_idx(struct sim *s, uint64_t gpa)
{
	uint16_t *p = gm_ptr(&s->mem, gpa, 2);
	ck_assert_ptr_nonnull(p);
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Make head available (without a kick). */
static inline void sim_offer(struct sim *s, unsigned q, uint16_t head)
{
	uint16_t slot = s->avail_idx[q] % SIM_QSIZE;
	gm_write(&s->mem, SIM_RING(q) + 0x1000 + 4 + 2ull * slot, &head, 2);
	s->avail_idx[q]++;
	sim_publish_idx(s, SIM_RING(q) + 0x1000 + 2, s->avail_idx[q]);
}

static inline void sim_kick(struct sim *s, unsigned q)
{
	sim_wr(s, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* Build a direct chain from the next free descriptors; returns its head. */
static inline uint16_t sim_chain(struct sim *s, unsigned q, const struct sim_buf *b, unsigned n)
{
	uint16_t head = s->next_desc[q];
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % SIM_QSIZE);
		uint16_t flags = (b[i].write ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		sim_put_desc(s, q, idx, b[i].gpa, b[i].len, flags, (uint16_t)((idx + 1) % SIM_QSIZE));
	}
	s->next_desc[q] = (uint16_t)((head + n) % SIM_QSIZE);
	sim_offer(s, q, head);
	return head;
}

static inline uint16_t sim_used_idx(struct sim *s, unsigned q)
{
	return sim_observe_idx(s, SIM_RING(q) + 0x2000 + 2);
}

/* Wait (bounded) for the next used entry. Returns false on timeout. */
static inline bool sim_wait_used(struct sim *s, unsigned q, int timeout_ms, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < timeout_ms * 10; i++) {
		if (sim_used_idx(s, q) != s->used_seen[q]) {
			uint64_t e = SIM_RING(q) + 0x2000 + 4 + 8ull * (s->used_seen[q] % SIM_QSIZE);
			uint32_t v[2];
			gm_read(&s->mem, e, v, 8);
			if (id)
				*id = v[0];
			if (len)
				*len = v[1];
			s->used_seen[q]++;
			return true;
		}
		usleep(100);
	}
	return false;
}

/* True if the device's interrupt eventfd fired (and consume it). */
static inline bool sim_irq_fired(struct sim *s, int timeout_ms)
{
	struct pollfd p = { .fd = s->dev->irq_fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	uint64_t v;
	return read(s->dev->irq_fd, &v, 8) == 8;
}

static inline void sim_mem_init(struct sim *s)
{
	char err[256];
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(gm_create(&s->mem, SIM_MEM, false, err, sizeof(err)), 0);
}

/* After sim_mem_init() and creating s->dev on s->mem: start the device's
 * worker, then initialise it as a driver would (sim_init). */
static inline void sim_start(struct sim *s, uint64_t want)
{
	char err[256];
	ck_assert_msg(virtio_dev_start(s->dev, err, sizeof(err)) == 0, "%s", err);
	sim_init(s, want);
}

static inline void sim_stop(struct sim *s)
{
	virtio_dev_destroy(s->dev);
	gm_destroy(&s->mem);
}

#endif
