/* Pausing virtio devices (PATCH /vm Paused) through the simulated driver:
 * a request kicked while paused is left alone (used ring, interrupt and
 * backing file unchanged) and completes at resume; an Async request in
 * flight when the pause is asked for completes before the pause returns; a
 * rate-limiter timer that fires during the pause does not let a throttled
 * request through; an interrupt raised while paused (a drive PATCHed) is
 * held back until resume; a resume during the drain cancels the pause.
 * Each blk test runs with the Sync and the Async engine unless it is about
 * io_uring. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "check_main.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/blk_int.h" /* white box: a backing fd that holds a read */
#include "devices/virtio/rng.h"
#include "test_util.h"
#include "test_virtio_driver.h"

#define HDR SIM_DATA
#define STATUS (SIM_DATA + 0x100)
#define DATA (SIM_DATA + 0x1000)
#define DISK_SIZE (1u << 20)
#define QUIET_MS 200 /* how long "nothing happens" is watched for */

static struct sim s;
static char img[64];
static char err[512];

static void start_disk(int engine)
{
	snprintf(img, sizeof(img), "/tmp/mpvm-pause-XXXXXX");
	make_tmp_image(img, DISK_SIZE);
	struct cfg_drive drv = {
		.drive_id = "rootfs",
		.path_on_host = img,
		.io_engine = engine ? CFG_IO_ASYNC : CFG_IO_SYNC,
		.cache_type = CFG_CACHE_WRITEBACK,
	};
	sim_mem_init(&s);
	s.dev = virtio_blk_create(&drv, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	sim_start(&s, ~0ull);
}

static void stop_dev(void)
{
	sim_stop(&s);
	if (img[0])
		unlink(img);
	img[0] = 0;
}

/* Make a request available and kick, without waiting. Returns its head. */
static uint16_t send_request(uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	gm_write(&s.mem, HDR, &h, sizeof(h));
	uint8_t st = 0xee;
	gm_write(&s.mem, STATUS, &st, 1);
	struct sim_buf b[3] = { { HDR, sizeof(h), false },
				{ DATA, len, type != VIRTIO_BLK_T_OUT },
				{ STATUS, 1, true } };
	uint16_t head = sim_chain(&s, 0, b, 3);
	sim_kick(&s, 0);
	return head;
}

static uint8_t status_byte(void)
{
	uint8_t st;
	gm_read(&s.mem, STATUS, &st, 1);
	return st;
}

static void expect_completion(uint16_t head)
{
	uint32_t id;
	ck_assert_msg(sim_wait_used(&s, 0, 5000, &id, NULL), "request did not complete");
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(status_byte(), VIRTIO_BLK_S_OK);
}

static void fill(void *p, uint32_t len, uint8_t seed)
{
	uint8_t *b = p;
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 13);
}

static bool file_is_zero(uint64_t off, size_t len)
{
	uint8_t buf[4096] = { 0 };
	int fd = open(img, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
	return all_zero(buf, len);
}

START_TEST(request_kicked_while_paused_waits_for_resume)
{
	start_disk(_i);
	ck_assert_int_eq(virtio_dev_pause(s.dev), 0);
	ck_assert_int_eq(virtio_dev_pause(s.dev), 0); /* idempotent */
	sim_irq_fired(&s, 0);
	uint64_t done = atomic_load(&s.dev->stats.requests);

	fill(gm_ptr(&s.mem, DATA, 4096), 4096, 7);
	uint16_t head = send_request(VIRTIO_BLK_T_OUT, 16, 4096);
	usleep(QUIET_MS * 1000);
	ck_assert_uint_eq(sim_used_idx(&s, 0), 0);
	ck_assert_uint_eq(status_byte(), 0xee);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.requests), done);
	ck_assert(!sim_irq_fired(&s, 0));
	ck_assert(file_is_zero(16 * 512, 4096));

	virtio_dev_resume(s.dev);
	expect_completion(head);
	ck_assert(sim_irq_fired(&s, 1000));
	ck_assert(!file_is_zero(16 * 512, 4096));
	virtio_dev_resume(s.dev); /* resuming a running device changes nothing */
	fill(gm_ptr(&s.mem, DATA, 4096), 4096, 0);
	expect_completion(send_request(VIRTIO_BLK_T_IN, 16, 4096));
	uint8_t want[4096];
	fill(want, sizeof(want), 7);
	ck_assert_mem_eq(gm_ptr(&s.mem, DATA, 4096), want, sizeof(want));
	stop_dev();
}
END_TEST

/* Replaces the drive's backing fd on its worker; *arg gets the old one. */
static void swap_fd(struct virtio_dev *d, void *arg)
{
	struct virtio_blk *b = (struct virtio_blk *)d;
	int *fd = arg, old = b->fd;
	b->fd = *fd;
	*fd = old;
}

static atomic_bool pause_returned;

static void *pause_thread(void *arg)
{
	(void)arg;
	ck_assert_int_eq(virtio_dev_pause(s.dev), 0);
	atomic_store(&pause_returned, true);
	return NULL;
}

static void read_inflight(struct virtio_dev *d, void *arg)
{
	*(unsigned *)arg = ((struct virtio_blk *)d)->inflight;
}

/* The worker's own count of submitted requests: read on the worker, since
 * only the worker touches it (also while paused: virtio_dev_call works
 * there too). */
static unsigned inflight(void)
{
	unsigned n = 0;
	ck_assert_int_eq(virtio_dev_call(s.dev, read_inflight, &n), 0);
	return n;
}

/* An Async drive with a pipe as the backing file and a read of sector 0
 * kicked: io_uring cannot finish the read until the test writes to the
 * returned fd, so the request is surely in flight. *head (if asked): the
 * request's head. */
static int start_disk_with_a_read_in_flight(uint16_t *head)
{
	start_disk(1);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	int fd = p[0];
	virtio_dev_call(s.dev, swap_fd, &fd);
	close(fd);

	uint16_t h = send_request(VIRTIO_BLK_T_IN, 0, 512);
	for (int i = 0; i < 5000 && inflight() == 0; i++)
		usleep(1000);
	ck_assert_uint_eq(inflight(), 1);
	if (head)
		*head = h;
	return p[1];
}

START_TEST(pause_waits_for_in_flight_async_io_and_publishes_it)
{
	uint16_t head;
	int backing = start_disk_with_a_read_in_flight(&head);

	pthread_t t;
	atomic_store(&pause_returned, false);
	ck_assert_int_eq(pthread_create(&t, NULL, pause_thread, NULL), 0);
	usleep(QUIET_MS * 1000);
	ck_assert_msg(!atomic_load(&pause_returned), "pause returned with a read in flight");
	ck_assert_uint_eq(sim_used_idx(&s, 0), 0);

	uint8_t sector[512];
	fill(sector, sizeof(sector), 42);
	ck_assert_int_eq(write(backing, sector, sizeof(sector)), (ssize_t)sizeof(sector));
	pthread_join(t, NULL);
	/* Already in the used ring when pause returned: nothing left to land. */
	ck_assert_uint_eq(sim_used_idx(&s, 0), 1);
	ck_assert_uint_eq(inflight(), 0);
	expect_completion(head);
	ck_assert_mem_eq(gm_ptr(&s.mem, DATA, 512), sector, 512);

	/* Paused: the next read is not even submitted, data or not. */
	ck_assert_int_eq(write(backing, sector, sizeof(sector)), (ssize_t)sizeof(sector));
	memset(gm_ptr(&s.mem, DATA, 512), 0, 512);
	head = send_request(VIRTIO_BLK_T_IN, 0, 512);
	usleep(QUIET_MS * 1000);
	ck_assert_uint_eq(inflight(), 0);
	ck_assert_uint_eq(sim_used_idx(&s, 0), 1);
	virtio_dev_resume(s.dev);
	expect_completion(head);
	ck_assert_mem_eq(gm_ptr(&s.mem, DATA, 512), sector, 512);
	close(backing);
	stop_dev();
}
END_TEST

/* virtio_pause_all() asks every device first and waits after; a resume
 * that comes before a device finished draining leaves it running. */
START_TEST(resume_during_the_drain_leaves_the_device_running)
{
	int backing = start_disk_with_a_read_in_flight(NULL);
	virtio_dev_pause_begin(s.dev);
	usleep(50000); /* the worker is now waiting for the read */
	virtio_dev_resume(s.dev);
	uint8_t sector[512];
	fill(sector, sizeof(sector), 9);
	for (int i = 0; i < 2; i++) /* this read and the next */
		ck_assert_int_eq(write(backing, sector, sizeof(sector)), (ssize_t)sizeof(sector));
	ck_assert(sim_wait_used(&s, 0, 5000, NULL, NULL));
	ck_assert_int_eq(virtio_dev_pause_end(s.dev), 0);
	ck_assert(!virtio_paused(s.dev));
	expect_completion(send_request(VIRTIO_BLK_T_IN, 0, 512));
	close(backing);
	stop_dev();
}
END_TEST

START_TEST(drive_patched_while_paused_interrupts_at_resume)
{
	start_disk(_i);
	char other[] = "/tmp/mpvm-pause-new-XXXXXX";
	make_tmp_image(other, 2 * DISK_SIZE);
	ck_assert_int_eq(virtio_dev_pause(s.dev), 0);
	sim_irq_fired(&s, 0);
	ck_assert_int_eq(virtio_blk_update(s.dev, other, NULL, err, sizeof(err)), 0);
	/* The new capacity is in config space, but the config-change
	 * interrupt waits: a paused VM sees no interrupt. */
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_CONFIG), 2 * DISK_SIZE / 512);
	ck_assert(!sim_irq_fired(&s, QUIET_MS));
	virtio_dev_resume(s.dev);
	ck_assert(sim_irq_fired(&s, 1000));
	ck_assert(sim_rd(&s, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	expect_completion(send_request(VIRTIO_BLK_T_IN, DISK_SIZE / 512 + 1, 512));
	stop_dev();
	unlink(other);
}
END_TEST

START_TEST(throttle_timer_firing_during_pause_lets_nothing_through)
{
	/* One request per 50 ms. */
	struct cfg_entropy c = { .enabled = true,
				 .rate_limiter = { .ops = { .set = true, .size = 1, .refill_time_ms = 50 } } };
	sim_mem_init(&s);
	s.dev = virtio_rng_create(&c, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	sim_start(&s, ~0ull);

	struct sim_buf b = { DATA, 16, true };
	sim_chain(&s, 0, &b, 1);
	sim_kick(&s, 0);
	ck_assert(sim_wait_used(&s, 0, 5000, NULL, NULL));
	b.gpa = DATA + 64;
	uint16_t head = sim_chain(&s, 0, &b, 1);
	sim_kick(&s, 0);
	for (int i = 0; i < 5000 && atomic_load(&s.dev->stats.throttled) == 0; i++)
		usleep(1000);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.throttled), 1);

	ck_assert_int_eq(virtio_dev_pause(s.dev), 0);
	usleep(QUIET_MS * 1000); /* the retry timer expires meanwhile */
	ck_assert_uint_eq(sim_used_idx(&s, 0), 1);
	virtio_dev_resume(s.dev);
	uint32_t id, len;
	ck_assert(sim_wait_used(&s, 0, 5000, &id, &len));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(len, 16);
	stop_dev();
}
END_TEST

/* A device whose worker is gone (setup failed half-way, teardown) can
 * still be paused and resumed: it just changes state. */
START_TEST(pause_and_resume_without_a_worker_are_inline)
{
	start_disk(_i);
	virtio_dev_stop(s.dev);
	ck_assert_int_eq(virtio_dev_pause(s.dev), 0);
	ck_assert(virtio_paused(s.dev));
	virtio_dev_resume(s.dev);
	ck_assert(!virtio_paused(s.dev));
	stop_dev();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_pause");
	TCase *tc = tcase_create("pause");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, request_kicked_while_paused_waits_for_resume, 0, 2);
	tcase_add_test(tc, pause_waits_for_in_flight_async_io_and_publishes_it);
	tcase_add_test(tc, resume_during_the_drain_leaves_the_device_running);
	tcase_add_loop_test(tc, drive_patched_while_paused_interrupts_at_resume, 0, 2);
	tcase_add_test(tc, throttle_timer_firing_during_pause_lets_nothing_through);
	tcase_add_loop_test(tc, pause_and_resume_without_a_worker_are_inline, 0, 2);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
