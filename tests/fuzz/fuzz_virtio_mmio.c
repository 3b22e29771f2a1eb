/* libFuzzer: a hostile driver on the virtio-mmio register file
 * (devices/virtio/mmio.c, device.c) of a virtio-rng, virtio-blk (Sync
 * engine, on an 8 KiB memfd), virtio-net (its tap a SOCK_DGRAM socketpair),
 * virtio-vsock (its uds_path a socket in /tmp that nobody serves: the
 * guest's packets, REQUESTs included, meet a host side that refuses) or
 * virtio-balloon device (inflated PFNs given back to a RAM that is heap
 * memory), with the device's request processing (rng.c, blk.c, blk_io.c,
 * net.c, vsock.c, balloon.c) behind it. Input: byte 0 picks the device and its
 * options, byte 1 counts the operation bytes that follow; the rest is guest
 * RAM (32 KiB, the rest zero): rings and requests. An operation is a
 * register write or read (aligned or not, any width), a config-space access,
 * a driver write to RAM between two register accesses, or (net) a frame
 * arriving on the tap.
 *
 * No worker thread: what it would do is done inline, in the same order, so
 * that a run depends only on its input. DRIVER_OK activates the device and
 * services its queues, and a QueueNotify services that queue, when
 * virtio_queue_live() says the worker would.
 *
 * Oracles, besides ASan and UBSan: enabled queues have their rings in RAM;
 * a device with synchronous I/O has answered every chain it took (used
 * index == consumed avail entries) once a notification has been handled;
 * the interrupt status holds only the two defined bits; a read of any
 * register or config byte fills exactly what was asked; every frame net
 * hands the tap has a sanitised header (no GSO, only NEEDS_CSUM, and that
 * only when negotiated) and at most VIRTIO_NET_MAX_FRAME bytes after it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>

#include "core/log.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"
#include "fuzz_check.h"

#define RAM 0x8000u
#define DISK 0x2000

static uint8_t *ram;
static char disk_path[64];

static void init_once(void)
{
	if (ram)
		return;
	log_set_level(LOG_OFF); /* every guest fault is logged: millions of lines */
	/* Exact size, so ASan sees any stray access; page-aligned, so the
	 * balloon can give pages back (madvise) as on real guest RAM. */
	ram = aligned_alloc(4096, RAM);
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (!ram || fd < 0 || ftruncate(fd, DISK))
		abort();
	snprintf(disk_path, sizeof(disk_path), "/proc/self/fd/%d", fd);
}

/* sel & 0x18: 0x08 vsock, 0x10 balloon (stats if sel & 1, free page
 * reporting if sel & 4, deflate-on-OOM
 * if sel & 2); otherwise sel & 3: 0 rng, 2 net (MAC if sel & 4), odd blk
 * (read-only if sel & 2, writeback if sel & 4). *host: the tap's other end
 * for net, else -1. */
static struct virtio_dev *create(uint8_t sel, const struct guest_mem *m, int *host)
{
	char err[256];
	struct virtio_dev *d;
	*host = -1;
	if ((sel & 0x18) == 0x08) {
		static char uds[64];
		snprintf(uds, sizeof(uds), "/tmp/mpvm-fuzz-vsock-%d.sock", (int)getpid());
		d = virtio_vsock_create(3, uds, m, err, sizeof(err));
	} else if ((sel & 0x18) == 0x10) {
		struct cfg_balloon bc = { .enabled = true, .deflate_on_oom = sel & 2,
					  .stats_polling_interval_s = sel & 1,
					  .free_page_reporting = sel & 4 };
		d = virtio_balloon_create(&bc, m, err, sizeof(err));
	} else if ((sel & 3) == 2) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
			abort();
		struct cfg_net c = { .iface_id = "eth0", .host_dev_name = "fuzz0", .has_mac = sel & 4,
				     .guest_mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };
		d = virtio_net_create_on_fd(&c, sv[0], m, err, sizeof(err));
		*host = sv[1];
	} else if (sel & 1) {
		struct cfg_drive c = {
			.drive_id = "fuzz", .path_on_host = disk_path, .is_read_only = sel & 2,
			.cache_type = sel & 4 ? CFG_CACHE_WRITEBACK : CFG_CACHE_UNSAFE,
		};
		d = virtio_blk_create(&c, m, err, sizeof(err));
	} else {
		struct cfg_entropy c = { .enabled = true };
		d = virtio_rng_create(&c, m, err, sizeof(err));
	}
	if (!d) {
		fprintf(stderr, "fuzz_virtio_mmio: %s\n", err);
		abort();
	}
	return d;
}

/* The worker's part, inline (device.c's on_kick, service_queues): queue
 * `q`, or every queue (q < 0) as after an activation. */
static void serve(struct virtio_dev *d, int q)
{
	for (unsigned i = 0; i < d->nqueues; i++) {
		if ((q < 0 || (unsigned)q == i) && virtio_queue_live(d, i)) {
			d->ops->queue_notify(d, i);
			/* Sync I/O, no rate limit: nothing stays in flight, except the
			 * one statistics buffer the balloon holds until its timer. */
			bool holds = d->device_id == 5 && i == 2;
			CHECK(d->vq[i].used_idx == d->vq[i].last_avail ||
			      (holds && (uint16_t)(d->vq[i].last_avail - d->vq[i].used_idx) == 1));
		}
	}
}

/* device.c's do_activate(): the transport asked for it (DRIVER_OK newly
 * set with FEATURES_OK accepted), the worker takes the device live. */
static void activate(struct virtio_dev *d)
{
	uint32_t s = atomic_load(&d->status);
	if (!(s & VIRTIO_STATUS_DRIVER_OK) || (s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
		return;
	d->active = true;
	if (d->ops->activate)
		d->ops->activate(d);
	serve(d, -1);
}

static void check_state(struct virtio_dev *d, const struct guest_mem *m)
{
	CHECK(!(atomic_load(&d->isr) & ~(VIRTIO_ISR_VRING | VIRTIO_ISR_CONFIG)));
	for (unsigned i = 0; i < d->nqueues; i++) {
		const struct virtq *q = &d->vq[i];
		if (!q->enabled)
			continue;
		CHECK(q->size && q->size <= d->queue_max);
		CHECK(gm_valid(m, q->desc_gpa, 16ull * q->size) && (uint8_t *)q->desc == ram + q->desc_gpa);
		CHECK(gm_valid(m, q->avail_gpa, 6 + 2ull * q->size));
		CHECK(gm_valid(m, q->used_gpa, 6 + 8ull * q->size));
	}
}

/* What net sent to the tap: drain it, checking each frame's header. */
static void check_tx(struct virtio_dev *d, int host)
{
	static uint8_t frame[VIRTIO_NET_MAX_FRAME + 64];
	ssize_t r;
	while (host >= 0 && (r = recv(host, frame, sizeof(frame), MSG_TRUNC)) >= 0) {
		struct virtio_net_hdr_v1 h;
		CHECK((size_t)r >= sizeof(h) && (size_t)r - sizeof(h) <= VIRTIO_NET_MAX_FRAME);
		memcpy(&h, frame, sizeof(h));
		CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_NONE && h.gso_size == 0 && h.num_buffers == 0);
		CHECK(!(h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM));
		CHECK(!h.flags || virtio_has(d, VIRTIO_NET_F_CSUM));
	}
}

static uint32_t rd32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	init_once();
	uint8_t sel = data[0];
	size_t nops = data[1];
	data += 2, size -= 2;
	if (nops > size)
		nops = size;
	memset(ram, 0, RAM);
	memcpy(ram, data + nops, size - nops < RAM ? size - nops : RAM);
	struct guest_mem m = { .regions = { { 0, RAM, ram } }, .nregions = 1, .ram_size = RAM };
	int host;
	struct virtio_dev *d = create(sel, &m, &host);

	const uint8_t *op = data, *end = data + nops;
	while (op < end) {
		uint8_t kind = *op++;
		size_t left = (size_t)(end - op);
		uint8_t buf[8];
		if ((kind & 3) == 0 && left >= 5) { /* 32-bit register write */
			uint32_t off = (uint32_t)op[0] << 2, v = rd32le(op + 1);
			uint32_t before = atomic_load(&d->status);
			uint8_t val[4];
			memcpy(val, op + 1, 4);
			virtio_mmio_access(d, NULL, off, val, 4, true);
			op += 5;
			uint32_t after = atomic_load(&d->status), ok = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
			if (off == VIRTIO_MMIO_QUEUE_NOTIFY && v < 0x10000)
				serve(d, (int)v);
			else if (off == VIRTIO_MMIO_STATUS && (after & ok) == ok &&
				 !(before & VIRTIO_STATUS_DRIVER_OK))
				activate(d);
		} else if ((kind & 3) == 1 && left >= 1) { /* register read */
			memset(buf, 0xa5, sizeof(buf));
			virtio_mmio_access(d, NULL, (uint32_t)op[0] << 2, buf, 4, false);
			CHECK(buf[4] == 0xa5); /* a 4-byte read writes 4 bytes */
			op += 1;
		} else if ((kind & 0xc3) == 0xc2 && host >= 0 && left >= 1) {
			/* A frame for the guest: the next op[0] bytes of the stream. */
			size_t n = op[0] < left - 1 ? op[0] : left - 1;
			ssize_t sent = send(host, op + 1, n, 0); /* full: the frame is lost, as on a tap */
			(void)sent;
			op += 1 + n;
			serve(d, VIRTIO_NET_RXQ); /* the worker sees the tap readable */
		} else if ((kind & 3) == 2 && left >= 2) { /* any width, any offset */
			uint32_t len = 1 + (kind >> 2 & 7), off = (uint32_t)op[0] << 4 | op[1] >> 4;
			bool wr = kind & 0x20;
			memset(buf, 0xa5, sizeof(buf));
			if (wr)
				memcpy(buf, op, len < left ? len : left);
			virtio_mmio_access(d, NULL, off, buf, len, wr);
			for (uint32_t i = len; i < sizeof(buf); i++)
				CHECK(buf[i] == 0xa5); /* nothing written past len */
			op += 2;
		} else if ((kind & 3) == 3 && left >= 3) { /* the driver writes RAM */
			uint32_t off = ((uint32_t)op[0] << 8 | op[1]) % RAM;
			ram[off] = op[2];
			op += 3;
		} else {
			break;
		}
		check_state(d, &m);
		check_tx(d, host);
	}
	if (getenv("FUZZ_VERBOSE")) /* checking a seed: did its requests go through? */
		fprintf(stderr, "status 0x%x, %llu requests, %llu bad, %llu device errors\n",
			atomic_load(&d->status), (unsigned long long)atomic_load(&d->stats.requests),
			(unsigned long long)atomic_load(&d->stats.bad_requests),
			(unsigned long long)atomic_load(&d->stats.device_errors));
	virtio_dev_destroy(d);
	if (host >= 0)
		close(host);
	return 0;
}
