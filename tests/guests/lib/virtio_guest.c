/* virtio_guest: see virtio_guest.h. */
#include "virtio_guest.h"

#define MMIO_MAGIC 0x74726976
#define IOAPIC_BASE 0xFEC00000u

/* Ring memory: one page per queue (desc 2 KiB, avail at 0x800, used at 0xA00). */
#define MAX_QUEUES 8
static uint8_t ring_pool[MAX_QUEUES][4096] __attribute__((aligned(4096)));
static unsigned ring_used;

static inline void barrier(void)
{
	/* A full barrier without SSE2's mfence (the guests are built -mno-sse2). */
	__asm__ volatile("lock; addl $0, 0(%%esp)" ::: "memory");
}

/* ---- discovery ------------------------------------------------------------- */

static const char *parse_num(const char *p, uint32_t *out)
{
	uint32_t v = 0, base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	const char *start = p;
	for (;; p++) {
		uint32_t dig;
		if (*p >= '0' && *p <= '9')
			dig = (uint32_t)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			dig = (uint32_t)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			dig = (uint32_t)(*p - 'A' + 10);
		else
			break;
		v = v * base + dig;
	}
	*out = v;
	return p == start ? NULL : p;
}

static bool probe(uint32_t base, uint32_t irq, uint32_t device_id, unsigned *seen, unsigned n,
		  struct vg_dev *out)
{
	struct vg_dev d = { .base = base, .irq = irq };
	if (vg_rd(&d, VG_MAGIC) != MMIO_MAGIC || vg_rd(&d, VG_DEVICE_ID) != device_id)
		return false;
	if ((*seen)++ != n)
		return false;
	*out = d;
	out->device_id = device_id;
	return true;
}

bool vg_find(const char *cmdline, uint32_t device_id, unsigned n, struct vg_dev *out)
{
	static const char key[] = "virtio_mmio.device=";
	unsigned seen = 0;
	bool any = false;
	for (const char *p = cmdline; *p; p++) {
		if ((p != cmdline && p[-1] != ' ') || memcmp(p, key, sizeof(key) - 1))
			continue;
		uint32_t size, base, irq;
		const char *q = parse_num(p + sizeof(key) - 1, &size);
		if (!q)
			continue;
		if (*q == 'K' || *q == 'k' || *q == 'M' || *q == 'm')
			q++;
		if (*q != '@' || !(q = parse_num(q + 1, &base)) || *q != ':' || !parse_num(q + 1, &irq))
			continue;
		any = true;
		if (probe(base, irq, device_id, &seen, n, out))
			return true;
	}
	if (any)
		return false;
	/* No command line hints: probe the usual windows (IRQ unknown). */
	for (unsigned i = 0; i < 32; i++)
		if (probe(0xD0000000u + i * 0x1000u, 0, device_id, &seen, n, out))
			return true;
	for (unsigned i = 0; i < 24; i++)
		if (probe(0xFEB00000u + i * 0x200u, 0, device_id, &seen, n, out))
			return true;
	return false;
}

/* ---- setup ------------------------------------------------------------------ */

static bool setup_queue(struct vg_dev *d, unsigned qi)
{
	struct vg_queue *q = &d->q[qi];
	vg_wr(d, VG_QUEUE_SEL, qi);
	uint32_t max = vg_rd(d, VG_QUEUE_NUM_MAX);
	if (max == 0) {
		gprintf("virtio: queue %u does not exist\n", qi);
		return false;
	}
	uint16_t size = VG_QSIZE;
	while (size > max)
		size >>= 1;
	if (!q->desc) {
		if (ring_used == MAX_QUEUES) {
			gprintf("virtio: out of ring memory\n");
			return false;
		}
		uint8_t *mem = ring_pool[ring_used++];
		q->desc = (volatile struct vg_desc *)mem;
		q->avail = (volatile uint16_t *)(mem + 0x800);
		q->used = (volatile uint32_t *)(mem + 0xA00);
	}
	memset((void *)q->desc, 0, 4096);
	q->size = size;
	q->index = qi;
	q->avail_idx = q->used_seen = 0;
	for (uint16_t i = 0; i < size; i++) {
		q->desc[i].next = (uint16_t)(i + 1);
		q->chain_len[i] = 0;
	}
	q->free_head = 0;
	q->nfree = size;
	vg_wr(d, VG_QUEUE_NUM, size);
	vg_wr(d, VG_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)q->desc);
	vg_wr(d, VG_QUEUE_DESC_HIGH, 0);
	vg_wr(d, VG_QUEUE_AVAIL_LOW, (uint32_t)(uintptr_t)q->avail);
	vg_wr(d, VG_QUEUE_AVAIL_HIGH, 0);
	vg_wr(d, VG_QUEUE_USED_LOW, (uint32_t)(uintptr_t)q->used);
	vg_wr(d, VG_QUEUE_USED_HIGH, 0);
	vg_wr(d, VG_QUEUE_READY, 1);
	return true;
}

bool vg_init(struct vg_dev *d, uint64_t want, unsigned nqueues)
{
	if (vg_rd(d, VG_MAGIC) != MMIO_MAGIC || vg_rd(d, VG_VERSION) != 2) {
		gprintf("virtio: no version-2 virtio-mmio device at 0x%x\n", d->base);
		return false;
	}
	vg_wr(d, VG_STATUS, 0);
	for (int i = 0; i < 1000 && vg_rd(d, VG_STATUS); i++)
		cpu_relax();
	vg_wr(d, VG_STATUS, VG_S_ACK);
	vg_wr(d, VG_STATUS, VG_S_ACK | VG_S_DRIVER);
	vg_wr(d, VG_DEVICE_FEATURES_SEL, 0);
	uint64_t f = vg_rd(d, VG_DEVICE_FEATURES);
	vg_wr(d, VG_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)vg_rd(d, VG_DEVICE_FEATURES) << 32;
	if (!((f >> VG_F_VERSION_1) & 1)) {
		gprintf("virtio: device at 0x%x lacks VERSION_1\n", d->base);
		return false;
	}
	f &= want | (1ull << VG_F_VERSION_1);
	vg_wr(d, VG_DRIVER_FEATURES_SEL, 0);
	vg_wr(d, VG_DRIVER_FEATURES, (uint32_t)f);
	vg_wr(d, VG_DRIVER_FEATURES_SEL, 1);
	vg_wr(d, VG_DRIVER_FEATURES, (uint32_t)(f >> 32));
	vg_wr(d, VG_STATUS, VG_S_ACK | VG_S_DRIVER | VG_S_FEATURES_OK);
	if (!(vg_rd(d, VG_STATUS) & VG_S_FEATURES_OK)) {
		gprintf("virtio: device at 0x%x refused features 0x%x%08x\n", d->base,
			(uint32_t)(f >> 32), (uint32_t)f);
		return false;
	}
	d->features = f;
	for (unsigned i = 0; i < nqueues; i++)
		if (!setup_queue(d, i))
			return false;
	vg_wr(d, VG_STATUS, VG_S_ACK | VG_S_DRIVER | VG_S_FEATURES_OK | VG_S_DRIVER_OK);
	return true;
}

/* ---- rings --------------------------------------------------------------------- */

void vg_offer(struct vg_queue *q, uint16_t head)
{
	q->avail[2 + q->avail_idx % q->size] = head;
	barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	barrier();
}

int vg_add(struct vg_queue *q, const struct vg_buf *b, unsigned n)
{
	if (n == 0 || n > q->nfree)
		return -1;
	uint16_t head = q->free_head, idx = head, last = head;
	for (unsigned i = 0; i < n; i++) {
		volatile struct vg_desc *d = &q->desc[idx];
		d->addr = b[i].addr;
		d->len = b[i].len;
		d->flags = (uint16_t)((b[i].write ? VG_DESC_WRITE : 0) | (i + 1 < n ? VG_DESC_NEXT : 0));
		last = idx;
		idx = d->next;
	}
	q->free_head = q->desc[last].next;
	q->nfree = (uint16_t)(q->nfree - n);
	q->chain_len[head] = (uint8_t)n;
	vg_offer(q, head);
	return head;
}

void vg_kick(const struct vg_dev *d, const struct vg_queue *q)
{
	vg_wr(d, VG_QUEUE_NOTIFY, q->index);
}

static void free_chain(struct vg_queue *q, uint32_t head)
{
	if (head >= q->size || q->chain_len[head] == 0)
		return;
	unsigned n = q->chain_len[head];
	uint16_t last = (uint16_t)head;
	for (unsigned i = 1; i < n; i++)
		last = q->desc[last].next;
	q->desc[last].next = q->free_head;
	q->free_head = (uint16_t)head;
	q->nfree = (uint16_t)(q->nfree + n);
	q->chain_len[head] = 0;
}

bool vg_poll(struct vg_queue *q, uint32_t *id, uint32_t *len)
{
	uint16_t used_idx = (uint16_t)(q->used[0] >> 16);
	if (used_idx == q->used_seen)
		return false;
	barrier();
	unsigned slot = q->used_seen % q->size;
	uint32_t i = q->used[1 + 2 * slot], l = q->used[2 + 2 * slot];
	q->used_seen++;
	free_chain(q, i);
	if (id)
		*id = i;
	if (len)
		*len = l;
	return true;
}

bool vg_wait(struct vg_queue *q, uint32_t timeout_us, uint32_t *id, uint32_t *len)
{
	uint32_t start = time_us();
	for (;;) {
		if (vg_poll(q, id, len))
			return true;
		if (time_us() - start > timeout_us)
			return false;
		cpu_relax();
	}
}

/* ---- interrupts ------------------------------------------------------------------ */

static void ioapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)IOAPIC_BASE = reg;
	*(volatile uint32_t *)(IOAPIC_BASE + 0x10) = v;
}

void vg_route_irq(uint32_t gsi, uint8_t vector)
{
	ioapic_write(0x11 + 2 * gsi, 0);     /* destination: APIC ID 0 */
	ioapic_write(0x10 + 2 * gsi, vector); /* fixed, physical, edge, high, unmasked */
}
