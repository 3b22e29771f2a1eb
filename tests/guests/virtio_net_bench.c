/* virtio_net_bench: guest-side virtio-net throughput (bench/net).
 *
 * tx: sends n frames of `size` bytes (Ethernet header included) to a MAC no
 *     one has, keeping up to qd in flight, and times until the device has
 *     taken them all: "bench: tx frames=N bytes=B us=T".
 * rx: posts every receive buffer, prints "bench: rx ready", waits (up to
 *     10 s) for the host to start sending, then counts the frames received
 *     in `ms` milliseconds, reposting buffers as it goes:
 *     "bench: rx frames=N bytes=B us=T". The host stops sending then.
 * The guest polls the rings with one vCPU (no interrupts), under every VMM.
 * Options (defaults): n=20000 size=1514 qd=64 ms=1000. Exits 0.
 */
#include "lib/virtio_guest.h"

#define RXQ 0
#define TXQ 1
#define HDR_LEN 12
#define RXBUF 0x02000000u /* 2 KiB per receive buffer */
#define RXLEN 1526
#define TXBUF 0x02400000u /* one frame, sent over and over */

#define CHECK(cond, ...) do { if (!(cond)) { gprintf("bench: FAIL: " __VA_ARGS__); gprintf("\n"); guest_exit(GUEST_EXIT_FAIL); } } while (0)

static struct vg_dev dev;
static uint32_t nframes = 20000, size = 1514, qd = 64, window_ms = 1000;
static uint8_t rx_slot[VG_QSIZE];

static void tx_phase(void)
{
	uint8_t *f = (uint8_t *)TXBUF;
	memset(f, 0, HDR_LEN + size);
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	memcpy(f + HDR_LEN, dst, 6);
	for (int i = 0; i < 6; i++)
		f[HDR_LEN + 6 + i] = vg_cfg8(&dev, (uint32_t)i);
	f[HDR_LEN + 12] = 0x88, f[HDR_LEN + 13] = 0xb5;
	struct vg_buf b = { TXBUF, HDR_LEN + size, false };
	uint32_t sent = 0, done = 0, start = time_us();
	while (done < nframes) {
		bool added = false;
		while (sent < nframes && sent - done < qd) {
			CHECK(vg_add(&dev.q[TXQ], &b, 1) >= 0, "tx ring full");
			sent++;
			added = true;
		}
		if (added)
			vg_kick(&dev, &dev.q[TXQ]);
		CHECK(vg_wait(&dev.q[TXQ], 5000000, NULL, NULL), "transmit stalled after %u frames", done);
		done++;
		while (vg_poll(&dev.q[TXQ], NULL, NULL))
			done++;
	}
	uint32_t us = time_us() - start;
	gprintf("bench: tx frames=%u bytes=%u us=%u\n", nframes, nframes * size, us);
}

static void post(unsigned i)
{
	struct vg_buf b = { RXBUF + 2048 * i, RXLEN, true };
	int head = vg_add(&dev.q[RXQ], &b, 1);
	CHECK(head >= 0, "rx ring full");
	rx_slot[head] = (uint8_t)i;
}

static void rx_phase(void)
{
	unsigned nbuf = dev.q[RXQ].size;
	for (unsigned i = 0; i < nbuf; i++)
		post(i);
	vg_kick(&dev, &dev.q[RXQ]);
	gprintf("bench: rx ready\n");
	uint32_t id, len, frames = 0, bytes = 0;
	CHECK(vg_wait(&dev.q[RXQ], 10000000, &id, &len), "no frame from the host within 10 s");
	post(rx_slot[id]);
	uint32_t start = time_us(), now = start;
	while (now - start < window_ms * 1000) {
		unsigned got = 0;
		while (vg_poll(&dev.q[RXQ], &id, &len)) {
			frames++;
			bytes += len - HDR_LEN;
			post(rx_slot[id]);
			got++;
		}
		if (got)
			vg_kick(&dev, &dev.q[RXQ]);
		now = time_us();
	}
	gprintf("bench: rx frames=%u bytes=%u us=%u\n", frames, bytes, now - start);
}

void guest_main(const char *cmdline)
{
	time_init();
	cmdline_get_u32(cmdline, "n", &nframes);
	cmdline_get_u32(cmdline, "size", &size);
	cmdline_get_u32(cmdline, "qd", &qd);
	cmdline_get_u32(cmdline, "ms", &window_ms);
	CHECK(size >= 60 && size <= 1514, "size=%u (60..1514)", size);
	CHECK(qd >= 1 && qd <= VG_QSIZE, "qd=%u", qd);
	CHECK(window_ms >= 10 && window_ms <= 20000, "ms=%u", window_ms);
	CHECK(vg_find(cmdline, VG_ID_NET, 0, &dev), "no virtio-net device");
	CHECK(vg_init(&dev, 1ull << 5 /* MAC */, 2), "device init");
	gprintf("bench: device at 0x%x, n=%u size=%u qd=%u ms=%u\n", dev.base, nframes, size, qd, window_ms);
	tx_phase();
	rx_phase();
	gprintf("bench: done\n");
	guest_exit(GUEST_EXIT_PASS);
}
