/* virtio_blk_bench: guest-side virtio-blk throughput and IOPS (bench/blk).
 *
 * On the first virtio-blk device, with up to qd requests in flight:
 *   seqwrite  mib MiB in bs-byte requests, then a FLUSH ("flush")
 *   seqread   the same range
 *   randread  n 4 KiB reads at pseudo-random 4 KiB offsets in the range,
 *             once with one request in flight (latency) and once with qd
 * Each phase prints "bench: <phase> qd=Q ops=N bytes=B us=T", timed with
 * the LAPIC timer. The guest polls the used ring (no interrupts), the same
 * way under every VMM. Its own CPU work per request is a few hundred
 * instructions, which matters on hosts that emulate guest CPL0 code.
 * Options (defaults): mib=8 bs=65536 qd=8 n=1000. Exits 0 when done.
 */
#include "lib/virtio_guest.h"

#define HDRS 0x01F00000u /* 32 bytes per slot: header, status at +16 */
#define BUFS 0x02000000u /* bs bytes per slot */
#define MAXQD 32

#define CHECK(cond, ...) do { if (!(cond)) { gprintf("bench: FAIL: " __VA_ARGS__); gprintf("\n"); guest_exit(GUEST_EXIT_FAIL); } } while (0)

static struct vg_dev dev;
static uint32_t bs = 65536, qd = 8, mib = 8, nrand = 1000;
static int slot_of[VG_QSIZE];
static uint32_t rng_state = 0x12345678;

static uint32_t next_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void submit(unsigned slot, uint32_t type, uint32_t sector, uint32_t len)
{
	volatile uint32_t *h = (volatile uint32_t *)(HDRS + 32 * slot);
	h[0] = type;
	h[1] = 0;
	h[2] = sector;
	h[3] = 0;
	*(volatile uint8_t *)(HDRS + 32 * slot + 16) = 0xff;
	struct vg_buf b[3] = { { HDRS + 32 * slot, 16, false } };
	unsigned n = 1;
	if (len)
		b[n++] = (struct vg_buf){ BUFS + bs * slot, len, type == 0 };
	b[n++] = (struct vg_buf){ HDRS + 32 * slot + 16, 1, true };
	int head = vg_add(&dev.q[0], b, n);
	CHECK(head >= 0, "ring full");
	slot_of[head] = (int)slot;
}

/* Wait for one completion; returns its slot. */
static unsigned reap(void)
{
	uint32_t id;
	CHECK(vg_wait(&dev.q[0], 10000000, &id, NULL), "request timed out");
	CHECK(id < VG_QSIZE, "bad used id %u", id);
	unsigned slot = (unsigned)slot_of[id];
	uint8_t st = *(volatile uint8_t *)(HDRS + 32 * slot + 16);
	CHECK(st == 0, "request failed with status %u", st);
	return slot;
}

/* Run `ops` requests keeping `depth` in flight; sector_of(i) picks each. */
static void phase(const char *name, uint32_t type, uint32_t ops, uint32_t depth, uint32_t len, bool random)
{
	uint32_t span = mib * 2048, per = len ? len / 512 : 1, issued = 0, done = 0;
	unsigned free_slots[MAXQD], nfree = 0;
	for (unsigned i = depth; i-- > 0;)
		free_slots[nfree++] = i;
	uint32_t start = time_us();
	while (done < ops) {
		while (issued < ops && nfree) {
			uint32_t sector = random ? (next_rand() % (span / per)) * per : (issued * per) % span;
			submit(free_slots[--nfree], type, sector, len);
			issued++;
		}
		vg_kick(&dev, &dev.q[0]);
		free_slots[nfree++] = reap();
		done++;
	}
	uint32_t us = time_us() - start;
	gprintf("bench: %s qd=%u ops=%u bytes=%u us=%u\n", name, depth, ops, ops * len, us);
}

void guest_main(const char *cmdline)
{
	time_init();
	cmdline_get_u32(cmdline, "bs", &bs);
	cmdline_get_u32(cmdline, "qd", &qd);
	cmdline_get_u32(cmdline, "mib", &mib);
	cmdline_get_u32(cmdline, "n", &nrand);
	CHECK(bs >= 4096 && bs <= (1u << 20) && !(bs & 511), "bs=%u", bs);
	CHECK(qd >= 1 && qd <= MAXQD && qd * bs <= (48u << 20), "qd=%u", qd);
	CHECK(vg_find(cmdline, VG_ID_BLOCK, 0, &dev), "no virtio-blk device");
	CHECK(vg_init(&dev, 1ull << 9 /* FLUSH */, 1), "device init");
	uint64_t cap = vg_rd(&dev, VG_CONFIG) | (uint64_t)vg_rd(&dev, VG_CONFIG + 4) << 32;
	CHECK(cap >= (uint64_t)mib * 2048, "disk of %u sectors is smaller than mib=%u", (uint32_t)cap, mib);
	uint32_t ops = mib * (1u << 20) / bs;
	gprintf("bench: device at 0x%x, bs=%u qd=%u mib=%u n=%u\n", dev.base, bs, qd, mib, nrand);
	phase("seqwrite", 1, ops, qd, bs, false);
	phase("flush", 4, 1, 1, 0, false);
	phase("seqread", 0, ops, qd, bs, false);
	phase("randread4k", 0, nrand, 1, 4096, true);
	phase("randread4k", 0, nrand, qd, 4096, true);
	gprintf("bench: done\n");
	guest_exit(GUEST_EXIT_PASS);
}
