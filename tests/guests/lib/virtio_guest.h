/* virtio_guest: a minimal virtio-mmio (version 2) driver for test guests.
 *
 * Contract: devices are found from the kernel command line's
 * `virtio_mmio.device=<size>@<base>:<irq>` entries (mpvm and QEMU microvm
 * both add them), or by probing the windows mpvm (0xD0000000 + n * 4 KiB)
 * and QEMU microvm (0xFEB00000 + n * 512) use. Split rings live in static,
 * page-aligned guest memory (paging is off: addresses are physical). The
 * driver polls the used ring with a time bound (time_init() must have run)
 * and never trusts the device: a request that does not complete in time is
 * reported, not waited on forever. Raw ring access is exposed so that the
 * hostile guest can build malformed chains on purpose.
 */
#ifndef MPVM_VIRTIO_GUEST_H
#define MPVM_VIRTIO_GUEST_H

#include "libguest.h"

#define VG_QSIZE 128

/* virtio-mmio registers and bits (virtio 1.x 4.2.2, 2.1). */
#define VG_MAGIC 0x000
#define VG_VERSION 0x004
#define VG_DEVICE_ID 0x008
#define VG_DEVICE_FEATURES 0x010
#define VG_DEVICE_FEATURES_SEL 0x014
#define VG_DRIVER_FEATURES 0x020
#define VG_DRIVER_FEATURES_SEL 0x024
#define VG_QUEUE_SEL 0x030
#define VG_QUEUE_NUM_MAX 0x034
#define VG_QUEUE_NUM 0x038
#define VG_QUEUE_READY 0x044
#define VG_QUEUE_NOTIFY 0x050
#define VG_INTERRUPT_STATUS 0x060
#define VG_INTERRUPT_ACK 0x064
#define VG_STATUS 0x070
#define VG_QUEUE_DESC_LOW 0x080
#define VG_QUEUE_DESC_HIGH 0x084
#define VG_QUEUE_AVAIL_LOW 0x090
#define VG_QUEUE_AVAIL_HIGH 0x094
#define VG_QUEUE_USED_LOW 0x0a0
#define VG_QUEUE_USED_HIGH 0x0a4
#define VG_CONFIG 0x100

#define VG_S_ACK 1u
#define VG_S_DRIVER 2u
#define VG_S_DRIVER_OK 4u
#define VG_S_FEATURES_OK 8u
#define VG_S_NEEDS_RESET 64u

#define VG_F_INDIRECT 28
#define VG_F_EVENT_IDX 29
#define VG_F_VERSION_1 32

#define VG_DESC_NEXT 1u
#define VG_DESC_WRITE 2u
#define VG_DESC_INDIRECT 4u

#define VG_ID_NET 1
#define VG_ID_BLOCK 2
#define VG_ID_RNG 4

struct vg_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
} __attribute__((packed));

struct vg_queue {
	uint16_t size;
	unsigned index;
	volatile struct vg_desc *desc;
	volatile uint16_t *avail;   /* flags, idx, ring[size], used_event */
	volatile uint32_t *used;    /* flags|idx, then {id, len} pairs */
	uint16_t avail_idx, used_seen;
	uint16_t free_head, nfree;
	uint8_t chain_len[VG_QSIZE];
};

struct vg_dev {
	uint32_t base;
	uint32_t irq;
	uint32_t device_id;
	uint64_t features;           /* negotiated */
	struct vg_queue q[2];
};

struct vg_buf {
	uint32_t addr;
	uint32_t len;
	bool write; /* device-writable */
};

static inline uint32_t vg_rd(const struct vg_dev *d, uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(d->base + off);
}
static inline void vg_wr(const struct vg_dev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(d->base + off) = v;
}
static inline uint8_t vg_cfg8(const struct vg_dev *d, uint32_t off)
{
	return *(volatile uint8_t *)(uintptr_t)(d->base + VG_CONFIG + off);
}
static inline bool vg_has(const struct vg_dev *d, unsigned bit)
{
	return (d->features >> bit) & 1;
}

/* The n-th (0-based) device with `device_id`. Returns false if none. */
bool vg_find(const char *cmdline, uint32_t device_id, unsigned n, struct vg_dev *out);
/* Reset and negotiate: accepts `want` & offered, always VERSION_1. Sets up
 * `nqueues` queues of VG_QSIZE (or the device's maximum, if smaller) and
 * sets DRIVER_OK. Returns false (and says why) on any refusal. */
bool vg_init(struct vg_dev *d, uint64_t want, unsigned nqueues);
/* Build a chain from free descriptors and make it available (no kick).
 * Returns the head, or -1 when not enough descriptors are free. */
int vg_add(struct vg_queue *q, const struct vg_buf *b, unsigned n);
/* Make an arbitrary head available: for hand-made (malformed) chains. */
void vg_offer(struct vg_queue *q, uint16_t head);
void vg_kick(const struct vg_dev *d, const struct vg_queue *q);
/* Next used entry within `timeout_us`; frees its descriptors if the chain
 * was built with vg_add(). Returns false on timeout. */
bool vg_wait(struct vg_queue *q, uint32_t timeout_us, uint32_t *id, uint32_t *len);
/* Non-blocking variant. */
bool vg_poll(struct vg_queue *q, uint32_t *id, uint32_t *len);

/* Route the device's IOAPIC pin to `vector` on CPU 0 (edge, active high). */
void vg_route_irq(uint32_t gsi, uint8_t vector);

#endif
