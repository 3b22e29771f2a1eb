#include "devices/virtio/queue.h"

#include <stdio.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "base/err.h"

/* The rings are shared with vCPUs running the driver concurrently: every
 * guest field is read exactly once through a volatile/atomic access, so the
 * compiler cannot re-read a value after it was checked. x86 and virtio 1.x
 * are both little endian, so fields are used as they are. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static const char *const err_names[VQ_E_COUNT] = {
	[VQ_OK] = "ok",
	[VQ_E_LOOP] = "descriptor chain longer than the queue (loop)",
	[VQ_E_NEXT] = "next descriptor index out of range",
	[VQ_E_INDIRECT] = "indirect descriptor not allowed here (not negotiated, nested, or with NEXT)",
	[VQ_E_INDIRECT_TABLE] = "bad indirect table length",
	[VQ_E_RANGE] = "buffer outside guest RAM",
	[VQ_E_ORDER] = "device-readable buffer after a device-writable one",
	[VQ_E_TOO_BIG] = "chain longer than 256 MiB",
};

const char *virtq_err_name(int err)
{
	return err >= 0 && err < VQ_E_COUNT ? err_names[err] : "unknown";
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen; /* no wrap: both ranges are in RAM */
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem, bool event_idx,
		 bool indirect, char *err, size_t errlen)
{
	uint64_t n = q->size;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1))) {
		return err_set(err, errlen, "queue size %llu is not a power of two in 1..%d",
			       (unsigned long long)n, VIRTQ_MAX_SIZE);
	}
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3)) {
		return err_set(err, errlen, "ring misaligned (desc 0x%llx, avail 0x%llx, used 0x%llx)",
			       (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
			       (unsigned long long)q->used_gpa);
	}
	/* Sizes from virtio 1.x 2.7: the trailing event fields always count. */
	void *d = gm_ptr(mem, q->desc_gpa, 16 * n);
	void *a = gm_ptr(mem, q->avail_gpa, 6 + 2 * n);
	void *u = gm_ptr(mem, q->used_gpa, 6 + 8 * n);
	if (!d || !a || !u) {
		return err_set(err, errlen, "%s ring at 0x%llx is not in guest RAM",
			       !d ? "descriptor" : !a ? "available" : "used",
			       (unsigned long long)(!d ? q->desc_gpa : !a ? q->avail_gpa : q->used_gpa));
	}
	/* The device writes the used ring (avail_event included) and reads the
	 * other two. Were they to overlap, the device's own stores would change
	 * what it reads next: a used->flags store landing on avail->idx made a
	 * device loop forever on one kick (found by fuzz_virtio_mmio). */
	uint64_t ulen = 6 + 8 * n;
	bool on_avail = overlap(q->used_gpa, ulen, q->avail_gpa, 6 + 2 * n);
	if (on_avail || overlap(q->used_gpa, ulen, q->desc_gpa, 16 * n)) {
		return err_set(err, errlen, "used ring at 0x%llx overlaps the %s at 0x%llx",
			       (unsigned long long)q->used_gpa,
			       on_avail ? "available ring" : "descriptor table",
			       (unsigned long long)(on_avail ? q->avail_gpa : q->desc_gpa));
	}
	q->mem = mem;
	q->desc = d;
	q->avail = a;
	q->used = u;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->last_avail = q->used_idx = q->signalled_used = 0;
	q->signalled_valid = false;
	q->enabled = true;
	return 0;
}

static inline uint16_t avail_idx_acquire(struct virtq *q)
{
	/* Acquire: ring entries and descriptors are read after the index. */
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
}

int virtq_pending(struct virtq *q)
{
	uint16_t n = (uint16_t)(avail_idx_acquire(q) - q->last_avail);
	return n > q->size ? -1 : n;
}

static int add_buffer(struct virtq *q, struct virtq_elem *e, uint64_t addr,
		      uint32_t len, bool writable)
{
	if (e->nout + e->nin >= VIRTQ_MAX_CHAIN)
		return VQ_E_LOOP;
	if (!writable && e->nin)
		return VQ_E_ORDER;
	void *p = gm_ptr(q->mem, addr, len);
	if (!p)
		return VQ_E_RANGE;
	if (!gm_add_ok(e->out_len + e->in_len, len, VIRTQ_MAX_CHAIN_BYTES))
		return VQ_E_TOO_BIG;
	struct iovec *v = &e->iov[e->nout + e->nin];
	v->iov_base = p;
	v->iov_len = len;
	if (writable) {
		e->nin++;
		e->in_len += len;
	} else {
		e->nout++;
		e->out_len += len;
	}
	return VQ_OK;
}

/* Walk the chain starting at e->head; returns an enum virtq_err. Bounded:
 * at most size + VIRTQ_MAX_CHAIN descriptors are looked at. */
static int walk_chain(struct virtq *q, struct virtq_elem *e)
{
	const volatile struct vring_desc *table = q->desc;
	uint32_t tsize = q->size, idx = e->head, seen = 0;
	bool in_indirect = false;

	for (;;) {
		if (++seen > tsize)
			return VQ_E_LOOP;
		const volatile struct vring_desc *vd = &table[idx];
		uint64_t addr = vd->addr;
		uint32_t len = vd->len;
		uint16_t flags = vd->flags, next = vd->next;

		if (flags & VRING_DESC_F_INDIRECT) {
			if (!q->indirect || in_indirect || (flags & VRING_DESC_F_NEXT))
				return VQ_E_INDIRECT;
			if (len == 0 || len % sizeof(struct vring_desc) ||
			    len / sizeof(struct vring_desc) > VIRTQ_MAX_CHAIN)
				return VQ_E_INDIRECT_TABLE;
			table = gm_ptr(q->mem, addr, len);
			if (!table)
				return VQ_E_RANGE;
			tsize = len / sizeof(struct vring_desc);
			in_indirect = true;
			idx = 0;
			seen = 0;
			continue;
		}
		int r = add_buffer(q, e, addr, len, flags & VRING_DESC_F_WRITE);
		if (r)
			return r;
		if (!(flags & VRING_DESC_F_NEXT))
			return VQ_OK;
		if (next >= tsize)
			return VQ_E_NEXT;
		idx = next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	uint16_t avail = avail_idx_acquire(q);
	uint16_t pending = (uint16_t)(avail - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return -1;
	uint16_t head = LOAD(q->avail->ring[q->last_avail & (q->size - 1)]);
	if (head >= q->size)
		return -1;
	q->last_avail++;
	e->head = head;
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;
	e->err = walk_chain(q, e);
	return 1;
}

int virtq_pop_armed(struct virtq *q, struct virtq_elem *e)
{
	int p = virtq_pop(q, e);
	if (p == 0 && virtq_enable_notify(q))
		p = virtq_pop(q, e);
	return p;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *u = &q->used->ring[q->used_idx & (q->size - 1)];
	STORE(u->id, head);
	STORE(u->len, len);
	q->used_idx++;
	/* Release: the buffers' contents and the entry are visible before the
	 * index that publishes them. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
	/* Written through the pointer kept since QueueReady: tell a Diff
	 * snapshot (guest_mem.h); the flags and avail_event share the ring. */
	gm_mark_dirty(q->mem, q->used_gpa, 6 + 8 * (uint64_t)q->size);
}

bool virtq_should_notify(struct virtq *q)
{
	/* Full barrier: the used index must be visible before we read what the
	 * driver asked for, or both sides can miss each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(LOAD(q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!valid)
		return true;
	uint16_t used_event = LOAD(q->avail->ring[q->size]);
	return vring_need_event(used_event, now, old);
}

static inline volatile uint16_t *avail_event(struct virtq *q)
{
	return (volatile uint16_t *)&q->used->ring[q->size];
}

void virtq_disable_notify(struct virtq *q)
{
	/* With event index the driver keeps kicking until avail_event moves;
	 * we simply do not move it while draining. */
	if (!q->event_idx)
		STORE(q->used->flags, VRING_USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (q->event_idx)
		*avail_event(q) = q->last_avail;
	else
		STORE(q->used->flags, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return LOAD(q->avail->idx) != q->last_avail;
}

/* Copy between a flat buffer and the iovec's bytes from `skip` on, in the
 * direction asked; both public functions are this walk. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, uint8_t *buf, size_t len,
		       bool to_buf)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t c = l - skip < len - done ? l - skip : len - done;
		uint8_t *seg = (uint8_t *)iov[i].iov_base + skip;
		if (to_buf)
			memcpy(buf + done, seg, c);
		else
			memcpy(seg, buf + done, c);
		done += c;
		skip = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
	return iov_copy(iov, n, skip, buf, len, true);
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
	/* Only read through: iov_copy writes the buffer in the other direction. */
	return iov_copy(iov, n, skip, (uint8_t *)buf, len, false);
}
