/* virtio_rng: reads entropy from the virtio-rng device.
 *
 * Asks for 64 bytes twice (a 32-byte chain of two buffers the second time)
 * and checks that the device filled what it said it filled, that the bytes
 * are not all zero and that the two answers differ. Prints the first bytes,
 * then "rng: PASS" and exits 0; 1 on failure.
 */
#include "lib/virtio_guest.h"

#define BUF 0x02000000u

#define CHECK(cond, ...) do { if (!(cond)) { gprintf("rng: FAIL: " __VA_ARGS__); gprintf("\n"); guest_exit(GUEST_EXIT_FAIL); } } while (0)

static uint32_t ask(struct vg_dev *d, const struct vg_buf *b, unsigned n)
{
	uint32_t len;
	CHECK(vg_add(&d->q[0], b, n) >= 0, "no descriptors");
	vg_kick(d, &d->q[0]);
	CHECK(vg_wait(&d->q[0], 2000000, NULL, &len), "no entropy within 2 s");
	return len;
}

static bool all_zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void guest_main(const char *cmdline)
{
	struct vg_dev d;
	uint8_t *a = (uint8_t *)BUF, *b = (uint8_t *)(BUF + 64);
	time_init();
	CHECK(vg_find(cmdline, VG_ID_RNG, 0, &d), "no virtio-rng device");
	CHECK(vg_init(&d, 0, 1), "device init");
	memset(a, 0, 128);
	struct vg_buf one = { BUF, 64, true };
	CHECK(ask(&d, &one, 1) == 64, "first request not filled");
	struct vg_buf two[2] = { { BUF + 64, 32, true }, { BUF + 96, 32, true } };
	CHECK(ask(&d, two, 2) == 64, "second request not filled");
	CHECK(!all_zero(a, 64) && !all_zero(b + 32, 32), "zeros from the device");
	CHECK(memcmp(a, b, 64), "the device gave the same bytes twice");
	gprintf("rng: ");
	for (int i = 0; i < 16; i++)
		gprintf("%02x", a[i]);
	gprintf("...\nrng: PASS\n");
	guest_exit(GUEST_EXIT_PASS);
}
