/* libFuzzer: a corrupt or hostile snapshot's device sections, into the
 * restore functions of the UART (devices/serial_snap.c), the i8042 and a
 * virtio set of one device (devices/virtio/snapshot.c: the transport, and
 * the balloon's model state). Input: byte 0 picks the virtio device (even:
 * rng, odd: balloon with statistics, and free page reporting if bit 1 is
 * set), the rest is the state stream
 * (base/snap.h sections) as a snapshot file would carry it. Guest RAM is
 * 32 KiB of heap memory, so ASan sees a ring mapped past it. No worker
 * thread: pause and activation run inline, as when none was started.
 *
 * Oracles, besides ASan and UBSan: a refusal says why, in valid UTF-8; an
 * accepted virtio section leaves every enabled queue's rings inside RAM and
 * only the two defined ISR bits; and what was accepted saves to a stream
 * that restores into fresh devices and saves again to the same bytes (a
 * restore keeps all it accepted, nothing else). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/snap.h"
#include "base/utf8.h"
#include "core/log.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/setup.h"
#include "fuzz_check.h"

#define RAM 0x8000u

static uint8_t *ram;

static int no_irq(struct vm *vm, uint32_t gsi, int level)
{
	(void)vm, (void)gsi, (void)level;
	return 0;
}

/* FUZZ_VERBOSE=1: say what each restore made of the input. */
static void check_refusal(int rc, const char *err)
{
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_dev_snap: %s\n", rc ? err : "restored");
	if (rc)
		CHECK(err[0] && utf8_check(err, strlen(err), NULL, 0) == 0);
}

static struct virtio_dev *create(uint8_t sel, const struct guest_mem *m)
{
	char err[256];
	struct cfg_entropy c = { .enabled = true };
	struct cfg_balloon bc = { .enabled = true, .stats_polling_interval_s = 1,
				  .free_page_reporting = sel & 2 };
	struct virtio_dev *d = (sel & 1) ? virtio_balloon_create(&bc, m, err, sizeof(err))
					 : virtio_rng_create(&c, m, err, sizeof(err));
	if (!d)
		abort();
	return d;
}

static struct virtio_set set_of(uint8_t sel, struct virtio_dev *d)
{
	struct virtio_set s = { .n = 1 };
	s.slot[0] = (struct virtio_slot){ .kind = (sel & 1) ? VIRTIO_KIND_BALLOON : VIRTIO_KIND_RNG,
					  .id = (sel & 1) ? "balloon" : "entropy", .dev = d,
					  .base = VIRTIO_MMIO_BASE, .gsi = 10 };
	return s;
}

static void check_rings(struct virtio_dev *d)
{
	CHECK(!(atomic_load(&d->isr) & ~(VIRTIO_ISR_VRING | VIRTIO_ISR_CONFIG)));
	for (unsigned i = 0; i < d->nqueues; i++) {
		const struct virtq *q = &d->vq[i];
		if (!q->enabled)
			continue;
		CHECK(q->size && q->size <= VIRTQ_MAX_SIZE);
		CHECK((uint8_t *)q->desc >= ram && (uint8_t *)q->desc + 16u * q->size <= ram + RAM);
		CHECK((uint8_t *)q->used >= ram && (uint8_t *)q->used + 6 + 8u * q->size <= ram + RAM);
	}
}

/* Save what `d` holds, restore it into a fresh device, save again. */
static void check_round_trip(uint8_t sel, struct virtio_dev *d, const struct guest_mem *m)
{
	char err[256];
	struct virtio_set s = set_of(sel, d);
	struct snap_w a, b;
	snap_w_init(&a);
	snap_w_init(&b);
	CHECK(virtio_snap_save(&s, &a, err, sizeof(err)) == 0 && !a.oom);
	struct virtio_dev *fresh = create(sel, m);
	struct virtio_set t = set_of(sel, fresh);
	CHECK(virtio_snap_restore(&t, a.buf, a.len, err, sizeof(err)) == 0);
	CHECK(virtio_snap_save(&t, &b, err, sizeof(err)) == 0 && !b.oom);
	CHECK(a.len == b.len && !memcmp(a.buf, b.buf, a.len));
	virtio_dev_destroy(fresh);
	snap_w_free(&a);
	snap_w_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ram) {
		log_set_level(LOG_OFF);
		ram = aligned_alloc(4096, RAM);
		if (!ram)
			abort();
	}
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	const uint8_t *st = data + 1;
	size_t len = size - 1;
	memset(ram, 0, RAM);
	struct guest_mem m = { .regions = { { 0, RAM, ram } }, .nregions = 1, .ram_size = RAM };
	char err[256] = "";
	if (snap_stream_check(st, len, err, sizeof(err))) {
		check_refusal(-1, err);
		return 0;
	}

	struct serial *u = serial_new(NULL, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, -1, -1, NULL);
	struct i8042 *k = i8042_new(NULL);
	if (!u || !k)
		abort();
	serial_set_hooks(u, no_irq, NULL);
	i8042_set_hooks(k, no_irq, NULL);
	err[0] = 0;
	check_refusal(serial_snap_restore(u, st, len, err, sizeof(err)), err);
	err[0] = 0;
	check_refusal(i8042_snap_restore(k, st, len, err, sizeof(err)), err);
	/* The guest reads whatever was restored: every register answers. */
	for (uint8_t r = 0; r < SERIAL_NREGS; r++)
		serial_read(u, r);
	i8042_read(k, 0x64);
	i8042_read(k, 0x60);
	serial_free(u);
	i8042_free(k);

	struct virtio_dev *d = create(sel, &m);
	struct virtio_set s = set_of(sel, d);
	err[0] = 0;
	int rc = virtio_snap_restore(&s, st, len, err, sizeof(err));
	check_refusal(rc, err);
	if (rc == 0) {
		check_rings(d);
		check_round_trip(sel, d, &m);
	}
	virtio_dev_destroy(d);
	return 0;
}
