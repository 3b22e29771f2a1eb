/* The virtio transport's rules against a hostile or broken driver, and the
 * device core's behaviour when its own worker fails:
 *  - status bits are sticky: clearing DRIVER_OK (or any bit) without a reset
 *    breaks the device instead of reopening the queue registers, so a live
 *    worker never sees a queue grow past the rings it validated (the attack
 *    runs with rings in the last bytes of RAM and a guard page after them:
 *    any access past them kills the test);
 *  - queue registers are frozen from DRIVER_OK until a reset;
 *  - a worker that dies wakes its waiters: resets, activation, pause and
 *    virtio_dev_call() return instead of hanging a vCPU or the API;
 *  - destroying a device closes every descriptor it opened. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/rng.h"
#include "test_virtio_driver.h"

#define PAGE 4096u
#define RAM (1u << 20)
/* Queue 0 of size 1 in the last 48 bytes of RAM (virtio 2.7 sizes and
 * alignments: desc 16, avail 6 + 2, used 6 + 8). */
#define DESC (RAM - 48)
#define AVAIL (RAM - 32)
#define USED (RAM - 16)
#define BUF 0x1000u

#define S_ACK VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV VIRTIO_STATUS_DRIVER
#define S_FOK VIRTIO_STATUS_FEATURES_OK
#define S_DOK VIRTIO_STATUS_DRIVER_OK
#define S_NEEDS_RESET VIRTIO_STATUS_NEEDS_RESET

static struct sim s;
static char err[512];
static uint8_t *ram; /* guarded mapping: RAM bytes, then one PROT_NONE page */
static uint16_t avail_idx;

/* Guest RAM followed by an inaccessible page, so that a device reading or
 * writing past the end of RAM faults at once rather than corrupting
 * whatever the host mapped next. */
static void guarded_mem(void)
{
	memset(&s, 0, sizeof(s));
	ram = mmap(NULL, RAM + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(ram != MAP_FAILED);
	ck_assert_int_eq(mprotect(ram + RAM, PAGE, PROT_NONE), 0);
	s.mem.regions[0] = (struct gm_region){ .gpa = 0, .size = RAM, .host = ram };
	s.mem.nregions = 1;
	s.mem.ram_size = RAM;
}

static void start_rng(const struct cfg_entropy *cfg, bool guarded)
{
	if (guarded)
		guarded_mem();
	else
		sim_mem_init(&s);
	s.dev = virtio_rng_create(cfg, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	ck_assert_int_eq(virtio_dev_start(s.dev, err, sizeof(err)), 0);
}

static void stop(bool guarded)
{
	virtio_dev_destroy(s.dev);
	if (guarded)
		munmap(ram, RAM + PAGE);
	else
		gm_destroy(&s.mem);
}

static uint32_t status(void)
{
	return sim_rd(&s, VIRTIO_MMIO_STATUS);
}

/* Reset and negotiate VERSION_1 only; stops before DRIVER_OK. */
static void negotiate(void)
{
	sim_wr(&s, VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(status(), 0);
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK);
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	sim_wr(&s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	sim_wr(&s, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(status(), S_ACK | S_DRV | S_FOK);
}

/* A one-entry queue whose rings end exactly where RAM ends, then DRIVER_OK. */
static void tiny_queue_at_the_end_of_ram(void)
{
	negotiate();
	memset(ram + DESC, 0, 48);
	avail_idx = 0;
	sim_wr(&s, VIRTIO_MMIO_QUEUE_SEL, 0);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_NUM, 1);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_QUEUE_READY), 1);
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_uint_eq(status(), S_ACK | S_DRV | S_FOK | S_DOK);
}

/* Ask for 64 random bytes in the tiny queue's only descriptor. */
static void tiny_request(void)
{
	struct vring_desc d = { .addr = BUF, .len = 64, .flags = VRING_DESC_F_WRITE };
	memcpy(ram + DESC, &d, sizeof(d));
	uint16_t head = 0;
	memcpy(ram + AVAIL + 4, &head, 2); /* ring[avail_idx % 1] */
	avail_idx++;
	__atomic_store_n((uint16_t *)(ram + AVAIL + 2), avail_idx, __ATOMIC_RELEASE);
	sim_kick(&s, 0);
}

static uint16_t tiny_used_idx(void)
{
	return __atomic_load_n((uint16_t *)(ram + USED + 2), __ATOMIC_ACQUIRE);
}

static bool wait_for(bool (*cond)(void), int timeout_ms)
{
	for (int i = 0; i < timeout_ms; i++) {
		if (cond())
			return true;
		usleep(1000);
	}
	return cond();
}

static bool one_used(void) { return tiny_used_idx() == 1; }
static bool throttled(void) { return atomic_load(&s.dev->stats.throttled) >= 1; }
static bool needs_reset(void) { return status() & S_NEEDS_RESET; }

START_TEST(clearing_driver_ok_cannot_resize_a_live_queue)
{
	/* 64 bytes per 200 ms: the second request waits on the limiter's timer,
	 * which then runs the queue from the worker on its own. */
	struct cfg_entropy c = { .enabled = true,
				 .rate_limiter = { .bandwidth = { .set = true, .size = 64, .refill_time_ms = 200 } } };
	start_rng(&c, true);
	tiny_queue_at_the_end_of_ram();
	tiny_request();
	ck_assert(wait_for(one_used, 2000));
	tiny_request();
	ck_assert(wait_for(throttled, 2000));

	/* The attack: drop DRIVER_OK without a reset, disable the queue and
	 * grow it to 256 entries over rings validated for one. Served that
	 * way, the timer's pass would read and write past the end of RAM. */
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_READY, 0);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_NUM, 256);
	usleep(400 * 1000); /* the limiter's timer fires meanwhile */
	/* Moving the rings and re-enabling is refused as well. */
	sim_wr(&s, VIRTIO_MMIO_QUEUE_DESC_LOW, BUF);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_READY, 1);

	/* The driver error broke the device; nothing about the queue changed. */
	ck_assert_uint_eq(status(), S_ACK | S_DRV | S_FOK | S_DOK | S_NEEDS_RESET);
	ck_assert(sim_rd(&s, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_QUEUE_READY), 1);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_QUEUE_DESC_LOW), DESC);
	ck_assert_uint_eq(s.dev->vq[0].size, 1);
	ck_assert_uint_eq(tiny_used_idx(), 1); /* the throttled request was not served */
	ck_assert_uint_eq(atomic_load(&s.dev->stats.device_errors), 1);
	ck_assert_uint_ge(atomic_load(&s.dev->stats.register_errors), 5);

	/* A reset recovers it. */
	tiny_queue_at_the_end_of_ram();
	tiny_request();
	ck_assert(wait_for(one_used, 2000));
	uint32_t len;
	memcpy(&len, ram + USED + 8, 4);
	ck_assert_uint_eq(len, 64);
	stop(true);
}
END_TEST

START_TEST(queue_registers_are_frozen_after_driver_ok)
{
	start_rng(NULL, false);
	sim_init(&s, ~0ull);
	struct virtq before = s.dev->vq[0];
	/* A live queue: neither disabled nor resized nor moved. */
	sim_wr(&s, VIRTIO_MMIO_QUEUE_SEL, 0);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_READY, 0);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_NUM, 8);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_USED_LOW, 0x40000);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_QUEUE_READY), 1);
	ck_assert_uint_eq(s.dev->vq[0].size, before.size);
	ck_assert_uint_eq(s.dev->vq[0].used_gpa, before.used_gpa);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.register_errors), 3);
	/* Refused, not fatal: the device keeps serving. */
	ck_assert_uint_eq(status() & S_NEEDS_RESET, 0);
	struct sim_buf b = { SIM_DATA, 32, true };
	sim_chain(&s, 0, &b, 1);
	sim_kick(&s, 0);
	uint32_t len;
	ck_assert(sim_wait_used(&s, 0, 5000, NULL, &len));
	ck_assert_uint_eq(len, 32);

	/* A queue left disabled at DRIVER_OK cannot be configured later either. */
	negotiate();
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_NUM, 16);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x20000);
	sim_wr(&s, VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert_uint_eq(s.dev->vq[0].size, 0);
	ck_assert_uint_eq(s.dev->vq[0].desc_gpa, 0);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.register_errors), 6);
	stop(false);
}
END_TEST

START_TEST(clearing_a_status_bit_needs_a_reset)
{
	start_rng(NULL, false);
	negotiate();
	/* FEATURES_OK dropped before DRIVER_OK: also a driver error. */
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	ck_assert_uint_eq(status(), S_ACK | S_DRV | S_FOK | S_NEEDS_RESET);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.device_errors), 1);
	/* The driver cannot clear NEEDS_RESET either; adding FAILED is fine. */
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | VIRTIO_STATUS_FAILED);
	ck_assert_uint_eq(status(), S_ACK | S_DRV | S_FOK | S_NEEDS_RESET | VIRTIO_STATUS_FAILED);
	/* Only a reset clears bits; then the device works. */
	sim_init(&s, ~0ull);
	struct sim_buf b = { SIM_DATA, 16, true };
	sim_chain(&s, 0, &b, 1);
	sim_kick(&s, 0);
	uint32_t len;
	ck_assert(sim_wait_used(&s, 0, 5000, NULL, &len));
	ck_assert_uint_eq(len, 16);
	stop(false);
}
END_TEST

/* ---- a worker that dies ---------------------------------------------------- */

struct vcpu_run {
	uint32_t status_after_reset, status_after_driver_ok;
	int pause_rc, call_rc;
	bool called, done;
};

static void mark_called(struct virtio_dev *d, void *arg)
{
	(void)d;
	((struct vcpu_run *)arg)->called = true;
}

/* What a vCPU and the API do next, on a thread of its own (no assertions
 * here: they belong to the test's own thread). */
static void *vcpu_thread(void *arg)
{
	struct vcpu_run *r = arg;
	sim_wr(&s, VIRTIO_MMIO_STATUS, 0);
	r->status_after_reset = status();
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK);
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	sim_wr(&s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	sim_wr(&s, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	sim_wr(&s, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	r->status_after_driver_ok = status();
	r->pause_rc = virtio_dev_pause(s.dev);
	virtio_dev_resume(s.dev);
	r->call_rc = virtio_dev_call(s.dev, mark_called, r);
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(dead_worker_breaks_the_device_without_hanging_its_callers)
{
	start_rng(NULL, false);
	sim_init(&s, ~0ull);
	/* Make the worker's epoll fail: its descriptor now names /dev/null
	 * (epoll_wait: EINVAL); the ctl kick gets it out of the wait it is in. */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(null, 0);
	ck_assert_int_eq(dup2(null, s.dev->epoll_fd), s.dev->epoll_fd);
	close(null);
	uint64_t one = 1;
	ck_assert_int_eq(write(s.dev->ctl_fd, &one, 8), 8);
	ck_assert_msg(wait_for(needs_reset, 2000), "the dead worker did not mark the device broken");

	static struct vcpu_run r;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, vcpu_thread, &r), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	ck_assert_msg(pthread_timedjoin_np(t, NULL, &until) == 0,
		      "a reset, DRIVER_OK, pause or call waited forever on the dead worker");
	ck_assert(r.done);
	ck_assert_uint_eq(r.status_after_reset, 0);
	ck_assert_uint_eq(r.status_after_driver_ok, S_ACK | S_DRV | S_FOK | S_DOK | S_NEEDS_RESET);
	ck_assert_int_eq(r.pause_rc, 0);
	ck_assert(!virtio_paused(s.dev));
	ck_assert_int_eq(r.call_rc, -1);
	ck_assert(!r.called);
	stop(false);
}
END_TEST

/* ---- descriptors ------------------------------------------------------------- */

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	ck_assert(d != NULL);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

START_TEST(destroy_closes_every_descriptor)
{
	char img[] = "/tmp/mpvm-transport-XXXXXX";
	int fd = mkstemp(img);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	int before = open_fds();
	for (int kind = 0; kind < 3; kind++) {
		sim_mem_init(&s);
		struct cfg_drive drv = { .drive_id = "fds", .path_on_host = img,
					 .io_engine = kind == 2 ? CFG_IO_ASYNC : CFG_IO_SYNC };
		s.dev = kind == 0 ? virtio_rng_create(NULL, &s.mem, err, sizeof(err)) :
				    virtio_blk_create(&drv, &s.mem, err, sizeof(err));
		ck_assert_msg(s.dev != NULL, "%s", err);
		ck_assert_int_eq(virtio_dev_start(s.dev, err, sizeof(err)), 0);
		sim_init(&s, ~0ull);
		ck_assert_int_gt(open_fds(), before);
		stop(false);
		ck_assert_int_eq(open_fds(), before);
	}
	unlink(img);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_transport");
	TCase *tc = tcase_create("transport");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, clearing_driver_ok_cannot_resize_a_live_queue);
	tcase_add_test(tc, queue_registers_are_frozen_after_driver_ok);
	tcase_add_test(tc, clearing_a_status_bit_needs_a_reset);
	tcase_add_test(tc, dead_worker_breaks_the_device_without_hanging_its_callers);
	tcase_add_test(tc, destroy_closes_every_descriptor);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
