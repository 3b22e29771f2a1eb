/* virtio-blk end to end without KVM: a simulated driver (test_virtio_driver.h)
 * sends requests through the MMIO registers and rings; the device runs on its
 * worker thread against a real image file, with the Sync and the Async engine
 * (each I/O test runs once per engine). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "check_main.h"
#include "devices/virtio/blk.h"
#include "test_util.h"
#include "test_virtio_driver.h"

#define HDR SIM_DATA
#define STATUS (SIM_DATA + 0x100)
#define DATA (SIM_DATA + 0x1000)
#define DISK_SIZE (4u << 20)

static struct sim s;
static char img[64];
static struct cfg_drive drv;
static char err[512];

static const char *engine_name(int i) { return i ? "Async" : "Sync"; }

static void start_disk(const char *dir, uint64_t size, bool ro, int engine,
		       const struct cfg_rate_limiter *rl)
{
	snprintf(img, sizeof(img), "%s/mpvm-blk-XXXXXX", dir);
	make_tmp_image(img, (off_t)size);
	memset(&drv, 0, sizeof(drv));
	drv.drive_id = "rootfs-serial-0123456789";
	drv.path_on_host = img;
	drv.is_read_only = ro;
	drv.io_engine = engine ? CFG_IO_ASYNC : CFG_IO_SYNC;
	drv.cache_type = CFG_CACHE_WRITEBACK;
	if (rl)
		drv.rate_limiter = *rl;
	sim_mem_init(&s);
	s.dev = virtio_blk_create(&drv, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	sim_start(&s, ~0ull);
}

static void stop_disk(void)
{
	sim_stop(&s);
	unlink(img);
}

/* One request in the usual Linux framing: header, data, status. Returns the
 * status byte; *used gets the used length. */
static int request(uint32_t type, uint64_t sector, uint32_t len, uint32_t *used)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	gm_write(&s.mem, HDR, &h, sizeof(h));
	uint8_t st = 0xee;
	gm_write(&s.mem, STATUS, &st, 1);
	struct sim_buf b[3] = { { HDR, sizeof(h), false } };
	unsigned n = 1;
	if (len)
		b[n++] = (struct sim_buf){ DATA, len, type != VIRTIO_BLK_T_OUT };
	b[n++] = (struct sim_buf){ STATUS, 1, true };
	uint16_t head = sim_chain(&s, 0, b, n);
	sim_kick(&s, 0);
	uint32_t id, l;
	ck_assert_msg(sim_wait_used(&s, 0, 5000, &id, &l), "request type %u timed out", type);
	ck_assert_uint_eq(id, head);
	if (used)
		*used = l;
	gm_read(&s.mem, STATUS, &st, 1);
	return st;
}

static void fill(uint64_t gpa, uint32_t len, uint32_t seed)
{
	uint32_t *p = gm_ptr(&s.mem, gpa, len);
	for (uint32_t i = 0; i < len / 4; i++)
		p[i] = seed * 2654435761u + i;
}

static bool check_pattern(const void *buf, uint32_t len, uint32_t seed)
{
	const uint32_t *p = buf;
	for (uint32_t i = 0; i < len / 4; i++)
		if (p[i] != seed * 2654435761u + i)
			return false;
	return true;
}

static uint64_t cfg64(uint32_t off)
{
	return sim_rd(&s, VIRTIO_MMIO_CONFIG + off) |
	       (uint64_t)sim_rd(&s, VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

START_TEST(capacity_and_features_describe_the_image)
{
	start_disk("/tmp", DISK_SIZE + 100, false, 0, NULL);
	ck_assert_uint_eq(cfg64(0), DISK_SIZE / 512); /* trailing 100 bytes hidden */
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_DEVICE_ID), 2);
	ck_assert(s.features & (1ull << VIRTIO_BLK_F_FLUSH));
	ck_assert(s.features & (1ull << VIRTIO_BLK_F_SEG_MAX));
	ck_assert(!(s.features & (1ull << VIRTIO_BLK_F_RO)));
	ck_assert(s.features & (1ull << 32)); /* VERSION_1 */
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_CONFIG + 12), 254); /* seg_max */
	stop_disk();
}
END_TEST

START_TEST(written_patterns_read_back_and_reach_the_file)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	const uint64_t sectors[] = { 0, 100, 4095, 2048, DISK_SIZE / 512 - 16 };
	for (unsigned i = 0; i < 5; i++) {
		fill(DATA, 8192, i + 1);
		ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, sectors[i], 8192, NULL), VIRTIO_BLK_S_OK);
	}
	for (unsigned i = 0; i < 5; i++) {
		memset(gm_ptr(&s.mem, DATA, 8192), 0, 8192);
		uint32_t used;
		ck_assert_int_eq(request(VIRTIO_BLK_T_IN, sectors[i], 8192, &used), VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(used, 8193);
		ck_assert_msg(check_pattern(gm_ptr(&s.mem, DATA, 8192), 8192, i + 1),
			      "%s: sector %llu", engine_name(_i), (unsigned long long)sectors[i]);
	}
	/* The last pattern is in the image file itself. */
	uint8_t buf[8192];
	int fd = open(img, O_RDONLY);
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), (off_t)sectors[4] * 512), 8192);
	close(fd);
	ck_assert(check_pattern(buf, 8192, 5));
	ck_assert_uint_eq(atomic_load(&s.dev->stats.write_bytes), 5 * 8192);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.read_bytes), 5 * 8192);
	stop_disk();
}
END_TEST

START_TEST(flush_and_get_id)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	uint32_t used;
	ck_assert_int_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.flushes), 1);
	ck_assert_int_eq(request(VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 21);
	ck_assert_int_eq(memcmp(gm_ptr(&s.mem, DATA, 20), "rootfs-serial-012345", 20), 0);
	stop_disk();
}
END_TEST

START_TEST(read_only_drive_refuses_writes)
{
	start_disk("/tmp", DISK_SIZE, true, _i, NULL);
	ck_assert(s.features & (1ull << VIRTIO_BLK_F_RO));
	fill(DATA, 4096, 9);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, 8, 4096, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 8, 4096, NULL), VIRTIO_BLK_S_OK);
	ck_assert(!check_pattern(gm_ptr(&s.mem, DATA, 4096), 4096, 9)); /* zeros from the file */
	stop_disk();
}
END_TEST

START_TEST(bad_requests_get_error_statuses)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	const uint64_t cap = DISK_SIZE / 512;
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, cap, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, cap - 1, 1024, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, UINT64_MAX, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 100, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(0x1234, 0, 512, NULL), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, cap - 1, 512, NULL), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.bad_requests), 4);
	stop_disk();
}
END_TEST

START_TEST(malformed_chains_fail_and_the_device_carries_on)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	uint32_t id, len;
	/* A two-descriptor loop. */
	sim_put_desc(&s, 0, 40, HDR, 16, VRING_DESC_F_NEXT, 41);
	sim_put_desc(&s, 0, 41, DATA, 512, VRING_DESC_F_NEXT, 40);
	sim_offer(&s, 0, 40);
	/* A data buffer far outside RAM, and one with an absurd length. */
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };
	gm_write(&s.mem, HDR, &h, sizeof(h));
	sim_put_desc(&s, 0, 42, HDR, 16, VRING_DESC_F_NEXT, 43);
	sim_put_desc(&s, 0, 43, 0x7fff00000000ull, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 44);
	sim_put_desc(&s, 0, 44, STATUS, 1, VRING_DESC_F_WRITE, 0);
	sim_offer(&s, 0, 42);
	sim_put_desc(&s, 0, 45, HDR, 16, VRING_DESC_F_NEXT, 46);
	sim_put_desc(&s, 0, 46, DATA, 0xfffffe00u, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 47);
	sim_put_desc(&s, 0, 47, STATUS, 1, VRING_DESC_F_WRITE, 0);
	sim_offer(&s, 0, 45);
	sim_kick(&s, 0);
	for (uint16_t want = 40; want <= 45; want += want == 40 ? 2 : 3) {
		ck_assert(sim_wait_used(&s, 0, 5000, &id, &len));
		ck_assert_uint_eq(id, want);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_uint_eq(atomic_load(&s.dev->stats.bad_requests), 3);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
	fill(DATA, 512, 3);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, 0, 512, NULL), VIRTIO_BLK_S_OK);
	stop_disk();
}
END_TEST

START_TEST(corrupt_ring_needs_reset_and_reset_recovers)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	sim_irq_fired(&s, 0);
	/* More entries than the ring holds, published as a driver publishes
	 * avail.idx (the worker may be reading it at the same time). */
	sim_publish_idx(&s, SIM_RING(0) + 0x1000 + 2, SIM_QSIZE + 5);
	sim_kick(&s, 0);
	ck_assert(sim_irq_fired(&s, 5000));
	ck_assert(sim_rd(&s, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	ck_assert(sim_rd(&s, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.device_errors), 1);
	sim_init(&s, ~0ull); /* resets first */
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 512, NULL), VIRTIO_BLK_S_OK);
	stop_disk();
}
END_TEST

START_TEST(many_requests_in_flight_complete)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	enum { N = 20 };
	/* Per request: header, 4 KiB data and status in their own slots. */
	for (unsigned i = 0; i < N; i++) {
		struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 100 + 8 * i };
		uint64_t hdr = SIM_DATA + 0x100000 + 64 * i, data = DATA + 4096 * i;
		gm_write(&s.mem, hdr, &h, sizeof(h));
		fill(data, 4096, 100 + i);
		struct sim_buf b[3] = { { hdr, 16, false }, { data, 4096, false }, { hdr + 32, 1, true } };
		sim_chain(&s, 0, b, 3);
	}
	sim_kick(&s, 0);
	for (unsigned i = 0; i < N; i++)
		ck_assert(sim_wait_used(&s, 0, 5000, NULL, NULL));
	for (unsigned i = 0; i < N; i++) {
		uint8_t st;
		gm_read(&s.mem, SIM_DATA + 0x100000 + 64 * i + 32, &st, 1);
		ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
		memset(gm_ptr(&s.mem, DATA, 4096), 0, 4096);
		ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 100 + 8 * i, 4096, NULL), VIRTIO_BLK_S_OK);
		ck_assert(check_pattern(gm_ptr(&s.mem, DATA, 4096), 4096, 100 + i));
	}
	stop_disk();
}
END_TEST

START_TEST(host_enospc_becomes_ioerr)
{
	SKIP_UNLESS_ROOT("a private tmpfs");
	/* A 64 KiB tmpfs in a private mount namespace holding a sparse 4 MiB
	 * image: writes past 64 KiB of data fail with ENOSPC on the host. */
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	char dir[] = "/tmp/mpvm-enospc-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", 0, "size=64k"), 0);
	start_disk(dir, DISK_SIZE, false, _i, NULL);
	int st = VIRTIO_BLK_S_OK;
	for (unsigned i = 0; i < 8 && st == VIRTIO_BLK_S_OK; i++) {
		fill(DATA, 64 << 10, i);
		st = request(VIRTIO_BLK_T_OUT, i * 128, 64 << 10, NULL);
	}
	ck_assert_int_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_ge(atomic_load(&s.dev->stats.io_errors), 1);
	/* Still serving: reads work. */
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 512, NULL), VIRTIO_BLK_S_OK);
	stop_disk();
	umount(dir);
	rmdir(dir);
}
END_TEST

START_TEST(rate_limiter_spaces_requests_out)
{
	/* One op per 50 ms, no initial burst beyond the bucket. */
	struct cfg_rate_limiter rl = { .ops = { .set = true, .size = 1, .refill_time_ms = 50 } };
	start_disk("/tmp", DISK_SIZE, false, _i, &rl);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 512, NULL), VIRTIO_BLK_S_OK);
	uint64_t dt = now_ms() - t0;
	ck_assert_msg(dt >= 190, "5 ops took %llu ms", (unsigned long long)dt);
	ck_assert_uint_ge(atomic_load(&s.dev->stats.throttled), 3);
	stop_disk();
}
END_TEST

START_TEST(completion_raises_and_ack_clears_the_interrupt)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	sim_irq_fired(&s, 0);
	sim_wr(&s, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 512, NULL), VIRTIO_BLK_S_OK);
	ck_assert(sim_irq_fired(&s, 1000));
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_VRING);
	sim_wr(&s, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_ISR_VRING);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	stop_disk();
}
END_TEST

START_TEST(patch_swaps_the_backing_file_and_announces_the_new_capacity)
{
	start_disk("/tmp", DISK_SIZE, false, _i, NULL);
	char other[] = "/tmp/mpvm-blk-new-XXXXXX";
	int fd = mkstemp(other);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 2 * DISK_SIZE), 0);
	uint32_t marker[128];
	for (int i = 0; i < 128; i++)
		marker[i] = 0xfeed0000u + (uint32_t)i;
	ck_assert_int_eq(pwrite(fd, marker, 512, 512 * 7), 512);
	close(fd);
	/* A path that cannot be opened changes nothing. */
	ck_assert_int_eq(virtio_blk_update(s.dev, "/nonexistent/x.img", NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.img"));
	ck_assert_uint_eq(cfg64(0), DISK_SIZE / 512);
	sim_irq_fired(&s, 0);
	uint32_t gen = sim_rd(&s, VIRTIO_MMIO_CONFIG_GENERATION);
	ck_assert_int_eq(virtio_blk_update(s.dev, other, NULL, err, sizeof(err)), 0);
	ck_assert(sim_irq_fired(&s, 1000));
	ck_assert(sim_rd(&s, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	ck_assert_uint_ne(sim_rd(&s, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	ck_assert_uint_eq(cfg64(0), 2 * DISK_SIZE / 512);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 7, 512, NULL), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(gm_ptr(&s.mem, DATA, 512), marker, 512), 0);
	/* Sectors past the old end are reachable now. */
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, DISK_SIZE / 512 + 1, 512, NULL), VIRTIO_BLK_S_OK);
	stop_disk();
	unlink(other);
}
END_TEST

START_TEST(missing_image_is_a_clear_error)
{
	struct guest_mem m;
	ck_assert_int_eq(gm_create(&m, 1 << 20, false, err, sizeof(err)), 0);
	struct cfg_drive d = { .drive_id = "data", .path_on_host = "/nonexistent/disk.img" };
	ck_assert_ptr_null(virtio_blk_create(&d, &m, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/disk.img"));
	ck_assert_ptr_nonnull(strstr(err, "data"));
	gm_destroy(&m);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_blk");
	TCase *tc = tcase_create("blk");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, capacity_and_features_describe_the_image);
	tcase_add_loop_test(tc, written_patterns_read_back_and_reach_the_file, 0, 2);
	tcase_add_loop_test(tc, flush_and_get_id, 0, 2);
	tcase_add_loop_test(tc, read_only_drive_refuses_writes, 0, 2);
	tcase_add_loop_test(tc, bad_requests_get_error_statuses, 0, 2);
	tcase_add_loop_test(tc, malformed_chains_fail_and_the_device_carries_on, 0, 2);
	tcase_add_loop_test(tc, corrupt_ring_needs_reset_and_reset_recovers, 0, 2);
	tcase_add_loop_test(tc, many_requests_in_flight_complete, 0, 2);
	tcase_add_loop_test(tc, host_enospc_becomes_ioerr, 0, 2);
	tcase_add_loop_test(tc, rate_limiter_spaces_requests_out, 0, 2);
	tcase_add_loop_test(tc, completion_raises_and_ack_clears_the_interrupt, 0, 2);
	tcase_add_loop_test(tc, patch_swaps_the_backing_file_and_announces_the_new_capacity, 0, 2);
	tcase_add_test(tc, missing_image_is_a_clear_error);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
