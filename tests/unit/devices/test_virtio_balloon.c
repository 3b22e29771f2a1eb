/* virtio-balloon's free page reporting through the simulated driver: a
 * reported range of free pages goes back to the host (it reads as zero
 * afterwards) while the guest keeps it, the buffer comes back, and a range
 * that is not whole pages of RAM is a counted fault that changes nothing.
 * (Inflation, statistics and deflation are tested with a Linux guest:
 * test_linux_balloon.sh.) */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "devices/virtio/balloon.h"
#include "test_util.h"
#include "test_virtio_driver.h"

/* inflate, deflate, then reporting; with statistics, reporting comes after them */
static unsigned report_q;
#define FREE_BLOCK 0x200000ull /* 2 MiB: a block Linux reports */

static struct sim s;
static char err[256];

static void start(bool reporting, uint32_t stats_s)
{
	sim_mem_init(&s);
	struct cfg_balloon c = { .enabled = true, .free_page_reporting = reporting,
				 .stats_polling_interval_s = stats_s };
	report_q = stats_s ? 3 : 2;
	s.dev = virtio_balloon_create(&c, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	sim_start(&s, ~0ull);
}

static uint32_t report(uint64_t gpa, uint32_t len)
{
	struct sim_buf b = { gpa, len, true };
	uint16_t head = sim_chain(&s, report_q, &b, 1);
	sim_kick(&s, report_q);
	uint32_t id, used;
	ck_assert(sim_wait_used(&s, report_q, 5000, &id, &used));
	ck_assert_uint_eq(id, head);
	return used;
}

START_TEST(a_reported_free_block_goes_back_to_the_host)
{
	start(true, (uint32_t)_i); /* without, then with the statistics queue */
	ck_assert(s.features & (1ull << 5)); /* VIRTIO_BALLOON_F_REPORTING negotiated */
	ck_assert_uint_eq(s.dev->nqueues, 3 + (unsigned)_i);
	uint8_t *p = gm_ptr(&s.mem, FREE_BLOCK, FREE_BLOCK);
	memset(p, 0xa5, FREE_BLOCK);
	ck_assert_uint_eq(report(FREE_BLOCK, FREE_BLOCK), 0);
	ck_assert(all_zero(p, FREE_BLOCK));
	struct balloon_stats st;
	virtio_balloon_stats(s.dev, &st);
	ck_assert_uint_eq(st.reported_pages, FREE_BLOCK / 4096);
	ck_assert_uint_eq(st.discarded_pages, FREE_BLOCK / 4096);
	sim_stop(&s);
}
END_TEST

START_TEST(a_range_that_is_not_whole_pages_is_a_fault_and_changes_nothing)
{
	start(true, 0);
	uint8_t *p = gm_ptr(&s.mem, FREE_BLOCK, 8192);
	memset(p, 0xa5, 8192);
	report(FREE_BLOCK + 0x100, 4096);
	ck_assert_uint_eq(p[0], 0xa5);
	ck_assert_uint_eq(p[8191], 0xa5);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.bad_requests), 1);
	/* The device carries on. */
	report(FREE_BLOCK, 4096);
	ck_assert_uint_eq(p[0], 0);
	sim_stop(&s);
}
END_TEST

START_TEST(without_reporting_the_feature_and_queue_are_absent)
{
	start(false, 0);
	ck_assert(!(s.features & (1ull << 5)));
	ck_assert_uint_eq(s.dev->nqueues, 2);
	sim_stop(&s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_balloon");
	TCase *tc = tcase_create("virtio_balloon");
	tcase_add_loop_test(tc, a_reported_free_block_goes_back_to_the_host, 0, 2);
	tcase_add_test(tc, a_range_that_is_not_whole_pages_is_a_fault_and_changes_nothing);
	tcase_add_test(tc, without_reporting_the_feature_and_queue_are_absent);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
