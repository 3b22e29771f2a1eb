/* virtio-rng through the simulated driver: buffers come back full of
 * host randomness, capped per request, rate-limited, and bad chains fail. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "devices/virtio/rng.h"
#include "test_util.h"
#include "test_virtio_driver.h"

#define BUF (SIM_DATA + 0x1000)

static struct sim s;
static char err[256];

static void start(const struct cfg_entropy *cfg)
{
	sim_mem_init(&s);
	s.dev = virtio_rng_create(cfg, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	sim_start(&s, ~0ull);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_DEVICE_ID), 4);
}

static uint32_t ask(uint64_t gpa, uint32_t len)
{
	struct sim_buf b = { gpa, len, true };
	uint16_t head = sim_chain(&s, 0, &b, 1);
	sim_kick(&s, 0);
	uint32_t id, used;
	ck_assert(sim_wait_used(&s, 0, 5000, &id, &used));
	ck_assert_uint_eq(id, head);
	return used;
}

START_TEST(buffers_are_filled_with_fresh_random_bytes)
{
	start(NULL);
	uint8_t *a = gm_ptr(&s.mem, BUF, 64), *b = gm_ptr(&s.mem, BUF + 64, 64);
	ck_assert_uint_eq(ask(BUF, 64), 64);
	ck_assert_uint_eq(ask(BUF + 64, 64), 64);
	ck_assert(!all_zero(a, 64));
	ck_assert(memcmp(a, b, 64) != 0);
	/* Two writable buffers in one chain: both filled. */
	memset(a, 0, 128);
	struct sim_buf two[2] = { { BUF, 16, true }, { BUF + 64, 16, true } };
	sim_chain(&s, 0, two, 2);
	sim_kick(&s, 0);
	uint32_t used;
	ck_assert(sim_wait_used(&s, 0, 5000, NULL, &used));
	ck_assert_uint_eq(used, 32);
	ck_assert(!all_zero(a, 16) && !all_zero(b, 16));
	ck_assert(all_zero(a + 16, 48));
	ck_assert_uint_eq(atomic_load(&s.dev->stats.read_bytes), 160);
	sim_stop(&s);
}
END_TEST

START_TEST(large_requests_are_capped)
{
	start(NULL);
	ck_assert_uint_eq(ask(BUF, 1 << 20), VIRTIO_RNG_MAX_REQ);
	sim_stop(&s);
}
END_TEST

START_TEST(bad_chain_gets_nothing_and_device_continues)
{
	start(NULL);
	ck_assert_uint_eq(ask(0xffffffff000ull, 64), 0);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.bad_requests), 1);
	ck_assert_uint_eq(ask(BUF, 8), 8);
	sim_stop(&s);
}
END_TEST

START_TEST(rate_limiter_delays_entropy)
{
	struct cfg_entropy c = { .enabled = true,
				 .rate_limiter = { .bandwidth = { .set = true, .size = 100, .refill_time_ms = 100 } } };
	start(&c);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(ask(BUF, 64), 64);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* 192 bytes from a 100-byte bucket refilling 1 byte/ms: >= 92 ms. */
	ck_assert_msg(ms >= 85, "took %.1f ms", ms);
	ck_assert_uint_ge(atomic_load(&s.dev->stats.throttled), 1);
	sim_stop(&s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_rng");
	TCase *tc = tcase_create("rng");
	tcase_add_test(tc, buffers_are_filled_with_fresh_random_bytes);
	tcase_add_test(tc, large_requests_are_capped);
	tcase_add_test(tc, bad_chain_gets_nothing_and_device_continues);
	tcase_add_test(tc, rate_limiter_delays_entropy);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
