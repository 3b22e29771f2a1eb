/* virtio_hostile: a guest that attacks the VMM's virtio devices.
 *
 * On the first virtio-blk device (and the entropy device when present) it
 * posts descriptor chains a correct driver never builds: loops, buffers
 * outside RAM, absurd and wrapping lengths, `next` out of range, nested and
 * mis-sized indirect tables. Each must come back as a used entry of length
 * 0 (the request failed) and leave the device working. Then it corrupts the
 * available ring and enables a queue whose rings lie outside RAM: each time
 * the device must set DEVICE_NEEDS_RESET (with a config interrupt status)
 * and work again after a reset. Finally it pokes the register window with
 * odd sizes, unknown registers and notifies for queues that do not exist.
 * With `ram_mib=N` (the VM's RAM size) on the command line and an entropy
 * device, it also clears DRIVER_OK without a reset and grows a one-entry
 * queue whose rings end where RAM ends to 256 entries: a device that kept
 * serving it (a kick, its rate limiter's timer) would read and write past
 * the end of guest RAM, i.e. of the VMM's mapping. The device must set
 * DEVICE_NEEDS_RESET, keep the queue as it was, and work after a reset.
 * Prints "hostile: PASS" and exits 0 if the VMM survived all of it.
 */
#include "lib/virtio_guest.h"

#define HDR 0x01F00000u
#define DATA 0x02000000u
#define TABLE 0x02100000u
#define NOT_RAM 0x7FFF0000u /* above RAM for guests of < 2 GiB */
#define H 100               /* first descriptor index for hand-made chains */

#define CHECK(cond, ...) do { if (!(cond)) { gprintf("hostile: FAIL: " __VA_ARGS__); gprintf("\n"); guest_exit(GUEST_EXIT_FAIL); } } while (0)

static void put(struct vg_queue *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	q->desc[i].addr = addr;
	q->desc[i].len = len;
	q->desc[i].flags = flags;
	q->desc[i].next = next;
}

static void put_table(uint32_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	volatile struct vg_desc *t = (volatile struct vg_desc *)(uintptr_t)table;
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

/* Offer the hand-made chain at H and expect it back, failed. */
static void expect_failed(struct vg_dev *d, const char *what)
{
	struct vg_queue *q = &d->q[0];
	vg_offer(q, H);
	vg_kick(d, q);
	uint32_t id, len;
	CHECK(vg_wait(q, 2000000, &id, &len), "%s: no answer within 2 s", what);
	CHECK(id == H && len == 0, "%s: used id %u len %u, expected %u/0", what, id, len, H);
	CHECK(!(vg_rd(d, VG_STATUS) & VG_S_NEEDS_RESET), "%s: device broke", what);
	gprintf("hostile: %s -> request failed, device fine\n", what);
}

static void blk_header(uint32_t type, uint32_t sector)
{
	volatile uint32_t *h = (volatile uint32_t *)HDR;
	h[0] = type;
	h[1] = 0;
	h[2] = sector;
	h[3] = 0;
}

/* A correct read of sector 0 still works. */
static void blk_good(struct vg_dev *d)
{
	blk_header(0, 0);
	volatile uint8_t *st = (volatile uint8_t *)(HDR + 16);
	*st = 0xff;
	struct vg_buf b[3] = { { HDR, 16, false }, { DATA, 512, true }, { HDR + 16, 1, true } };
	CHECK(vg_add(&d->q[0], b, 3) >= 0, "no descriptors");
	vg_kick(d, &d->q[0]);
	CHECK(vg_wait(&d->q[0], 2000000, NULL, NULL) && *st == 0, "good read failed (status %u)", *st);
}

static void attack_chains(struct vg_dev *d)
{
	struct vg_queue *q = &d->q[0];
	const uint16_t N = VG_DESC_NEXT, W = VG_DESC_WRITE, I = VG_DESC_INDIRECT;
	blk_header(0, 0);

	put(q, H, HDR, 16, N, H + 1);
	put(q, H + 1, DATA, 512, N, H);
	expect_failed(d, "two-descriptor loop");
	put(q, H, HDR, 16, N, H);
	expect_failed(d, "descriptor pointing to itself");

	put(q, H, HDR, 16, N, H + 1);
	put(q, H + 1, NOT_RAM, 4096, N | W, H + 2);
	put(q, H + 2, HDR + 16, 1, W, 0);
	expect_failed(d, "buffer outside RAM");
	put(q, H + 1, 0xFFFFFFFF00000000ull, 4096, N | W, H + 2);
	expect_failed(d, "buffer above 4 GiB outside RAM");
	put(q, H + 1, DATA, 0xFFFFF000u, N | W, H + 2);
	expect_failed(d, "absurd length (4 GiB - 4 KiB)");
	put(q, H + 1, 0xFFFFFFFFFFFFF000ull, 0x2000, N | W, H + 2);
	expect_failed(d, "address + length wrapping around 2^64");
	put(q, H + 1, DATA, 512, N | W, 0xFFFF);
	expect_failed(d, "next index out of range");

	/* Indirect tables (negotiated). */
	put_table(TABLE + 0x100, 0, HDR, 16, 0, 0);
	put_table(TABLE, 0, TABLE + 0x100, 16, I, 0);
	put(q, H, TABLE, 16, I, 0);
	expect_failed(d, "indirect table inside an indirect table");
	put(q, H, TABLE, 17, I, 0);
	expect_failed(d, "indirect table of 17 bytes");
	put(q, H, NOT_RAM, 64, I, 0);
	expect_failed(d, "indirect table outside RAM");
	put_table(TABLE, 0, HDR, 16, N, 1);
	put_table(TABLE, 1, DATA, 512, N, 0);
	put(q, H, TABLE, 32, I, 0);
	expect_failed(d, "loop inside an indirect table");
	blk_good(d);
	gprintf("hostile: good request still served\n");
}

static void wait_needs_reset(struct vg_dev *d, const char *what)
{
	uint32_t start = time_us();
	while (!(vg_rd(d, VG_STATUS) & VG_S_NEEDS_RESET) && time_us() - start < 2000000)
		cpu_relax();
	CHECK(vg_rd(d, VG_STATUS) & VG_S_NEEDS_RESET, "%s: device did not ask for a reset", what);
	CHECK(vg_rd(d, VG_INTERRUPT_STATUS) & 2, "%s: no configuration-change interrupt status", what);
	gprintf("hostile: %s -> DEVICE_NEEDS_RESET\n", what);
}

static void attack_rings(struct vg_dev *d, uint64_t features)
{
	struct vg_queue *q = &d->q[0];
	/* The available index jumps 200 entries ahead in a 128-entry ring. */
	q->avail[1] = (uint16_t)(q->avail_idx + 200);
	vg_kick(d, q);
	wait_needs_reset(d, "available index 200 ahead");
	CHECK(vg_init(d, features, 1), "re-init after reset");
	blk_good(d);
	gprintf("hostile: device works again after reset\n");

	/* A queue whose descriptor table is not in RAM. */
	vg_wr(d, VG_STATUS, 0);
	vg_wr(d, VG_STATUS, VG_S_ACK | VG_S_DRIVER);
	vg_wr(d, VG_DRIVER_FEATURES_SEL, 1);
	vg_wr(d, VG_DRIVER_FEATURES, 1); /* VERSION_1 */
	vg_wr(d, VG_STATUS, VG_S_ACK | VG_S_DRIVER | VG_S_FEATURES_OK);
	vg_wr(d, VG_QUEUE_SEL, 0);
	vg_wr(d, VG_QUEUE_NUM, 128);
	vg_wr(d, VG_QUEUE_DESC_LOW, NOT_RAM);
	vg_wr(d, VG_QUEUE_DESC_HIGH, 0);
	vg_wr(d, VG_QUEUE_READY, 1);
	wait_needs_reset(d, "queue rings outside RAM");
	CHECK(vg_init(d, features, 1), "re-init after reset");
	blk_good(d);
}

static void attack_registers(struct vg_dev *d)
{
	volatile uint8_t *b = (volatile uint8_t *)(uintptr_t)d->base;
	volatile uint16_t *w = (volatile uint16_t *)(uintptr_t)(d->base + 0x70);
	uint8_t v = b[0x71];           /* byte read inside a register */
	*w = 0xffff;                   /* 16-bit write to Status */
	vg_wr(d, 0x0c8, 0xdeadbeef);   /* no such register */
	vg_wr(d, VG_DEVICE_ID, 7);     /* read-only register */
	vg_wr(d, VG_QUEUE_NOTIFY, 7);  /* no queue 7 */
	vg_wr(d, VG_QUEUE_NOTIFY, 0xffffffffu);
	(void)v;
	CHECK(vg_rd(d, VG_DEVICE_ID) == VG_ID_BLOCK, "device id changed");
	blk_good(d);
	gprintf("hostile: odd register accesses ignored\n");
}

static void attack_rng(const char *cmdline)
{
	struct vg_dev r;
	if (!vg_find(cmdline, VG_ID_RNG, 0, &r))
		return;
	CHECK(vg_init(&r, 1ull << VG_F_INDIRECT, 1), "rng init");
	struct vg_queue *q = &r.q[0];
	put(q, H, DATA, 16, VG_DESC_NEXT | VG_DESC_WRITE, H);
	vg_offer(q, H);
	vg_kick(&r, q);
	uint32_t id, len;
	CHECK(vg_wait(q, 2000000, &id, &len) && id == H && len == 0, "rng loop: id %u len %u", id, len);
	struct vg_buf b = { DATA, 32, true };
	vg_add(q, &b, 1);
	vg_kick(&r, q);
	CHECK(vg_wait(q, 2000000, NULL, &len) && len == 32, "rng after attack: len %u", len);
	gprintf("hostile: entropy device survived a loop\n");
}

static void wait_us(uint32_t us)
{
	uint32_t start = time_us();
	while (time_us() - start < us)
		cpu_relax();
}

static void attack_resize(const char *cmdline)
{
	struct vg_dev r;
	uint32_t mib;
	if (!vg_find(cmdline, VG_ID_RNG, 0, &r) || !cmdline_get_u32(cmdline, "ram_mib", &mib))
		return;
	CHECK(mib >= 64 && mib < 3072, "ram_mib=%u: expected 64..3071", mib);
	uint32_t end = mib << 20;
	CHECK(vg_init(&r, 0, 1), "rng init");
	struct vg_queue *q = &r.q[0], saved = *q;
	const uint32_t S = VG_S_ACK | VG_S_DRIVER | VG_S_FEATURES_OK;

	/* One entry; desc 16, avail 6 + 2 and used 6 + 8 bytes in RAM's last 48. */
	vg_wr(&r, VG_STATUS, 0);
	vg_wr(&r, VG_STATUS, VG_S_ACK);
	vg_wr(&r, VG_STATUS, VG_S_ACK | VG_S_DRIVER);
	vg_wr(&r, VG_DRIVER_FEATURES_SEL, 1);
	vg_wr(&r, VG_DRIVER_FEATURES, 1); /* VERSION_1 */
	vg_wr(&r, VG_STATUS, S);
	q->desc = phys_ptr(end - 48);
	q->avail = phys_ptr(end - 32);
	q->used = phys_ptr(end - 16);
	memset((void *)q->desc, 0, 48);
	q->size = 1;
	q->avail_idx = q->used_seen = q->free_head = 0;
	q->nfree = 1;
	q->chain_len[0] = 0;
	q->desc[0].next = 1;
	vg_wr(&r, VG_QUEUE_SEL, 0);
	vg_wr(&r, VG_QUEUE_NUM, 1);
	vg_wr(&r, VG_QUEUE_DESC_LOW, end - 48);
	vg_wr(&r, VG_QUEUE_DESC_HIGH, 0);
	vg_wr(&r, VG_QUEUE_AVAIL_LOW, end - 32);
	vg_wr(&r, VG_QUEUE_AVAIL_HIGH, 0);
	vg_wr(&r, VG_QUEUE_USED_LOW, end - 16);
	vg_wr(&r, VG_QUEUE_USED_HIGH, 0);
	vg_wr(&r, VG_QUEUE_READY, 1);
	vg_wr(&r, VG_STATUS, S | VG_S_DRIVER_OK);
	CHECK(vg_rd(&r, VG_STATUS) == (S | VG_S_DRIVER_OK), "resize: setup refused (status 0x%x)",
	      vg_rd(&r, VG_STATUS));
	struct vg_buf b = { DATA, 64, true };
	uint32_t len = 0;
	CHECK(vg_add(q, &b, 1) == 0, "resize: no descriptor");
	vg_kick(&r, q);
	CHECK(vg_wait(q, 2000000, NULL, &len) && len == 64, "resize: first request: len %u", len);
	/* A second request: a rate limiter holds it back on its timer. */
	CHECK(vg_add(q, &b, 1) == 0, "resize: no descriptor");
	vg_kick(&r, q);
	wait_us(20000);
	uint16_t used_before = (uint16_t)(q->used[0] >> 16);

	vg_wr(&r, VG_STATUS, S); /* DRIVER_OK cleared, no reset */
	vg_wr(&r, VG_QUEUE_READY, 0);
	vg_wr(&r, VG_QUEUE_NUM, 256);
	vg_kick(&r, q);
	wait_us(1000000); /* the limiter's timer fires meanwhile */
	uint32_t st = vg_rd(&r, VG_STATUS);
	CHECK(st == (S | VG_S_DRIVER_OK | VG_S_NEEDS_RESET), "resize: status 0x%x, expected 0x%x", st,
	      S | VG_S_DRIVER_OK | VG_S_NEEDS_RESET);
	CHECK(vg_rd(&r, VG_QUEUE_READY) == 1, "resize: the queue was disabled after DRIVER_OK");
	uint16_t used_after = (uint16_t)(q->used[0] >> 16);
	CHECK(used_after == used_before, "resize: the device served the grown queue (used %u -> %u)",
	      used_before, used_after);
	gprintf("hostile: DRIVER_OK cleared, queue grown 1 -> 256 over rings at the end of RAM "
		"-> DEVICE_NEEDS_RESET, queue untouched (%u of 2 served)\n", used_after);

	*q = saved;
	CHECK(vg_init(&r, 0, 1), "resize: re-init after reset");
	b.len = 32;
	CHECK(vg_add(q, &b, 1) >= 0, "resize: no descriptor");
	vg_kick(&r, q);
	CHECK(vg_wait(q, 2000000, NULL, &len) && len == 32, "resize: after reset: len %u", len);
	gprintf("hostile: entropy device works again after reset\n");
}

void guest_main(const char *cmdline)
{
	struct vg_dev d;
	time_init();
	CHECK(vg_find(cmdline, VG_ID_BLOCK, 0, &d), "no virtio-blk device");
	uint64_t features = 1ull << VG_F_INDIRECT;
	CHECK(vg_init(&d, features, 1), "device init");
	CHECK(vg_has(&d, VG_F_INDIRECT), "indirect descriptors not offered");
	attack_chains(&d);
	attack_rings(&d, features);
	attack_registers(&d);
	attack_rng(cmdline);
	attack_resize(cmdline);
	gprintf("hostile: PASS\n");
	guest_exit(GUEST_EXIT_PASS);
}
