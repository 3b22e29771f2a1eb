/* Virtio devices across a snapshot: a device paused and saved, then
 * restored into a fresh device (a new process's) over the same guest
 * memory (the memory file), carries on where the driver left it: the rings
 * continue at the same indices, the driver's features and status hold, and
 * a vsock driver is told its connections are gone. A snapshot naming
 * another device, rings outside RAM, or cut short is refused without a
 * crash, leaving the device reset. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_vsock.h>

#include "check_main.h"
#include "base/snap.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/setup.h"
#include "devices/virtio/vsock.h"
#include "test_util.h"
#include "test_virtio_driver.h"

#define BUF (SIM_DATA + 0x1000)

static struct sim s;
static char err[256];

static struct virtio_dev *new_rng(void)
{
	struct virtio_dev *d = virtio_rng_create(NULL, &s.mem, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_msg(virtio_dev_start(d, err, sizeof(err)) == 0, "%s", err);
	return d;
}

static uint32_t ask(uint32_t len)
{
	struct sim_buf b = { BUF, len, true };
	uint16_t head = sim_chain(&s, 0, &b, 1);
	sim_kick(&s, 0);
	uint32_t id, used;
	ck_assert(sim_wait_used(&s, 0, 5000, &id, &used));
	ck_assert_uint_eq(id, head);
	return used;
}

/* The set as the builder holds it: one rng device in slot 0. */
static struct virtio_set one_rng(struct virtio_dev *d)
{
	struct virtio_set set = { .n = 1 };
	set.slot[0] = (struct virtio_slot){ .kind = VIRTIO_KIND_RNG, .id = "entropy", .dev = d,
					    .base = VIRTIO_MMIO_BASE, .gsi = 10 };
	return set;
}

/* Pause, save the set, destroy the device: what a snapshot then the end of
 * the process leave behind (the memory stays: it is the memory file). */
static void snapshot_and_kill(struct snap_w *w)
{
	struct virtio_set set = one_rng(s.dev);
	ck_assert_int_eq(virtio_pause_all(&set), 0);
	snap_w_init(w);
	ck_assert_msg(virtio_snap_save(&set, w, err, sizeof(err)) == 0, "%s", err);
	ck_assert(!w->oom);
	virtio_dev_destroy(s.dev);
	s.dev = NULL;
}

START_TEST(an_entropy_device_carries_on_at_the_same_ring_indices)
{
	sim_mem_init(&s);
	s.dev = new_rng();
	sim_init(&s, ~0ull);
	ck_assert_uint_eq(ask(16), 16);
	ck_assert_uint_eq(ask(16), 16);
	uint64_t features = s.dev->driver_features;
	struct snap_w w;
	snapshot_and_kill(&w);

	s.dev = new_rng();
	struct virtio_set set = one_rng(s.dev);
	ck_assert_msg(virtio_snap_restore(&set, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	ck_assert(virtio_paused(s.dev));
	ck_assert_uint_eq(s.dev->driver_features, features);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(s.dev->vq[0].last_avail, 2);
	virtio_resume_all(&set);
	/* The third request is the third used entry: the driver notices nothing. */
	ck_assert_uint_eq(ask(16), 16);
	ck_assert_uint_eq(sim_used_idx(&s, 0), 3);
	snap_w_free(&w);
	sim_stop(&s);
}
END_TEST

START_TEST(requests_made_while_paused_are_served_after_restore)
{
	sim_mem_init(&s);
	s.dev = new_rng();
	sim_init(&s, ~0ull);
	ck_assert_uint_eq(ask(8), 8);
	struct snap_w w;
	snapshot_and_kill(&w);
	/* The driver queued a request the old process never saw. */
	struct sim_buf b = { BUF, 8, true };
	sim_chain(&s, 0, &b, 1);

	s.dev = new_rng();
	struct virtio_set set = one_rng(s.dev);
	ck_assert_msg(virtio_snap_restore(&set, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	virtio_resume_all(&set);
	uint32_t used;
	ck_assert(sim_wait_used(&s, 0, 5000, NULL, &used));
	ck_assert_uint_eq(used, 8);
	snap_w_free(&w);
	sim_stop(&s);
}
END_TEST

START_TEST(a_snapshot_of_other_devices_is_refused)
{
	sim_mem_init(&s);
	s.dev = new_rng();
	sim_init(&s, ~0ull);
	struct snap_w w;
	snapshot_and_kill(&w);
	s.dev = new_rng();
	struct virtio_set set = one_rng(s.dev);
	set.slot[0].id = "other";
	ck_assert_int_eq(virtio_snap_restore(&set, w.buf, w.len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "other than this VM's"));
	struct virtio_set none = { .n = 0 };
	ck_assert_int_eq(virtio_snap_restore(&none, w.buf, w.len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "1 virtio devices in the snapshot, 0"));
	snap_w_free(&w);
	sim_stop(&s);
}
END_TEST

START_TEST(rings_outside_guest_ram_are_refused_and_the_device_stays_reset)
{
	sim_mem_init(&s);
	s.dev = new_rng();
	sim_init(&s, ~0ull);
	struct virtio_set set = one_rng(s.dev);
	ck_assert_int_eq(virtio_pause_all(&set), 0);
	/* A corrupt (or hostile) snapshot: the ring moved past the end of RAM. */
	s.dev->vq[0].used_gpa = SIM_MEM + 0x1000;
	struct snap_w w;
	snap_w_init(&w);
	ck_assert_int_eq(virtio_snap_save(&set, &w, err, sizeof(err)), 0);
	virtio_dev_destroy(s.dev);

	s.dev = new_rng();
	set = one_rng(s.dev);
	ck_assert_int_eq(virtio_snap_restore(&set, w.buf, w.len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not in guest RAM"));
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_STATUS), 0);
	ck_assert(!s.dev->vq[0].enabled);
	snap_w_free(&w);
	sim_stop(&s);
}
END_TEST

START_TEST(a_snapshot_cut_at_any_length_is_refused)
{
	sim_mem_init(&s);
	s.dev = new_rng();
	sim_init(&s, ~0ull);
	struct snap_w w;
	snapshot_and_kill(&w);
	for (size_t n = 0; n < w.len; n++) {
		uint8_t *cut = malloc(n + 1); /* exactly n bytes used: ASan sees overreads */
		memcpy(cut, w.buf, n);
		/* The section's own length must still say where it ends. */
		if (n >= 16) {
			uint64_t body = n - 16;
			memcpy(cut + 8, &body, 8);
		}
		s.dev = new_rng();
		struct virtio_set set = one_rng(s.dev);
		ck_assert_msg(virtio_snap_restore(&set, cut, n, err, sizeof(err)) == -1,
			      "cut at %zu accepted", n);
		virtio_dev_destroy(s.dev);
		free(cut);
	}
	s.dev = new_rng();
	snap_w_free(&w);
	sim_stop(&s);
}
END_TEST

#define EV_Q 2
#define EVBUF (SIM_DATA + 0x3000)

START_TEST(a_restored_vsock_driver_is_told_of_the_transport_reset)
{
	char dir[] = "/tmp/mpvm-vsock-snap-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	sim_mem_init(&s);
	s.dev = virtio_vsock_create(3, path, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	sim_start(&s, ~0ull);
	/* The driver keeps an event buffer posted, as Linux does. */
	gm_write(&s.mem, EVBUF, "\xff\xff\xff\xff", 4);
	struct sim_buf b = { EVBUF, 8, true };
	sim_chain(&s, EV_Q, &b, 1);
	sim_kick(&s, EV_Q);
	struct virtio_set set = { .n = 1 };
	set.slot[0] = (struct virtio_slot){ .kind = VIRTIO_KIND_VSOCK, .id = "vsock", .dev = s.dev,
					    .base = VIRTIO_MMIO_BASE, .gsi = 10 };
	ck_assert_int_eq(virtio_pause_all(&set), 0);
	/* Nothing happened to it before the snapshot. */
	ck_assert_uint_eq(sim_used_idx(&s, EV_Q), 0);
	struct snap_w w;
	snap_w_init(&w);
	ck_assert_int_eq(virtio_snap_save(&set, &w, err, sizeof(err)), 0);
	virtio_dev_destroy(s.dev);

	s.dev = virtio_vsock_create(3, path, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	ck_assert_int_eq(virtio_dev_start(s.dev, err, sizeof(err)), 0);
	set.slot[0].dev = s.dev;
	ck_assert_msg(virtio_snap_restore(&set, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(sim_used_idx(&s, EV_Q), 0); /* not while paused */
	virtio_resume_all(&set);
	uint32_t len;
	ck_assert(sim_wait_used(&s, EV_Q, 5000, NULL, &len));
	ck_assert_uint_eq(len, 4);
	uint32_t id;
	gm_read(&s.mem, EVBUF, &id, 4);
	ck_assert_uint_eq(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	snap_w_free(&w);
	sim_stop(&s);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_snapshot");
	TCase *tc = tcase_create("virtio_snapshot");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, an_entropy_device_carries_on_at_the_same_ring_indices);
	tcase_add_test(tc, requests_made_while_paused_are_served_after_restore);
	tcase_add_test(tc, a_snapshot_of_other_devices_is_refused);
	tcase_add_test(tc, rings_outside_guest_ram_are_refused_and_the_device_stays_reset);
	tcase_add_test(tc, a_snapshot_cut_at_any_length_is_refused);
	tcase_add_test(tc, a_restored_vsock_driver_is_told_of_the_transport_reset);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
