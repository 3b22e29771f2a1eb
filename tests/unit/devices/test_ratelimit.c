/* Token buckets and rate limiters (Firecracker semantics), on a fake clock. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "check_main.h"
#include "devices/virtio/ratelimit.h"

#define MS 1000000ull

START_TEST(unset_or_zero_buckets_are_unlimited)
{
	struct rate_limiter rl;
	uint64_t wait = 99;
	rl_init(&rl, NULL, 0);
	ck_assert(rl_unlimited(&rl));
	ck_assert(rl_consume(&rl, 1ull << 40, 0, &wait));
	ck_assert_uint_eq(wait, 0);

	struct cfg_rate_limiter c = { .bandwidth = { .set = true, .size = 0, .refill_time_ms = 100 },
				      .ops = { .set = true, .size = 10, .refill_time_ms = 0 } };
	rl_init(&rl, &c, 0);
	ck_assert(rl_unlimited(&rl));
}
END_TEST

START_TEST(full_bucket_then_waits_exactly_for_the_refill)
{
	struct token_bucket tb;
	tb_init(&tb, 1000, 0, 100, 0); /* 1000 tokens per 100 ms: one per 100 us */
	ck_assert(tb_take(&tb, 1000, 0));
	ck_assert(!tb_take(&tb, 1, 0));
	ck_assert_uint_eq(tb_wait_ns(&tb, 1, 0), 100000);
	ck_assert_uint_eq(tb_wait_ns(&tb, 500, 0), 50 * MS);
	ck_assert(!tb_take(&tb, 500, 50 * MS - 1));
	ck_assert(tb_take(&tb, 500, 50 * MS));
	ck_assert(!tb_take(&tb, 1, 50 * MS));
}
END_TEST

START_TEST(refill_is_continuous_and_capped_at_size)
{
	struct token_bucket tb;
	tb_init(&tb, 1000, 0, 100, 0);
	ck_assert(tb_take(&tb, 1000, 0));
	/* 2.5 tokens' worth of time: two whole tokens, the half is kept. */
	ck_assert(tb_take(&tb, 2, 250000));
	ck_assert(!tb_take(&tb, 1, 250000));
	ck_assert(tb_take(&tb, 1, 300000));
	/* A long idle time does not store more than the bucket size. */
	ck_assert(tb_take(&tb, 1000, 3600000 * MS));
	ck_assert(!tb_take(&tb, 1, 3600000 * MS));
}
END_TEST

START_TEST(one_time_burst_is_spent_first_and_never_refills)
{
	struct token_bucket tb;
	tb_init(&tb, 100, 1000, 1000, 0);
	ck_assert(tb_take(&tb, 1000, 0)); /* the burst */
	ck_assert(tb_take(&tb, 100, 0));  /* the bucket */
	ck_assert(!tb_take(&tb, 1, 0));
	ck_assert(tb_take(&tb, 100, 10000 * MS));
	ck_assert(!tb_take(&tb, 1, 10000 * MS)); /* no burst again */
}
END_TEST

START_TEST(oversized_request_waits_for_a_full_bucket_and_leaves_a_debt)
{
	struct token_bucket tb;
	tb_init(&tb, 1000, 0, 100, 0);
	ck_assert(tb_take(&tb, 10, 0));
	/* 2500 > size: waits until the bucket is full again (10 tokens). */
	ck_assert_uint_eq(tb_wait_ns(&tb, 2500, 0), 1 * MS);
	ck_assert(!tb_take(&tb, 2500, 0));
	ck_assert(tb_take(&tb, 2500, 1 * MS));
	/* 1500 tokens of debt: the next single token needs 1501 refills. */
	ck_assert_uint_eq(tb_wait_ns(&tb, 1, 1 * MS), 150100000ull);
}
END_TEST

START_TEST(limiter_needs_both_buckets_and_charges_neither_on_failure)
{
	struct cfg_rate_limiter c = {
		.bandwidth = { .set = true, .size = 4096, .refill_time_ms = 1000 },
		.ops = { .set = true, .size = 3, .refill_time_ms = 1000 },
	};
	struct rate_limiter rl;
	uint64_t wait;
	rl_init(&rl, &c, 0);
	ck_assert(rl_consume(&rl, 4000, 0, &wait));
	/* Bandwidth is short: the op is not charged. */
	ck_assert(!rl_consume(&rl, 1000, 0, &wait));
	ck_assert_uint_gt(wait, 0);
	ck_assert_uint_eq(rl.throttled, 1);
	ck_assert(rl_consume(&rl, 96, 0, &wait));
	ck_assert(rl_consume(&rl, 0, 0, &wait));
	/* Three ops used: the fourth waits a third of a second. */
	ck_assert(!rl_consume(&rl, 0, 0, &wait));
	ck_assert_uint_eq(wait, 333333334);
}
END_TEST

START_TEST(receive_path_charges_after_the_fact_and_then_waits_out_the_debt)
{
	struct cfg_rate_limiter c = { .bandwidth = { .set = true, .size = 1000, .refill_time_ms = 10 } };
	struct rate_limiter rl;
	uint64_t wait;
	rl_init(&rl, &c, 0);
	ck_assert(rl_consume(&rl, 0, 0, &wait));
	rl_charge_bytes(&rl, 1500, 0); /* a frame larger than the bucket */
	ck_assert(!rl_consume(&rl, 0, 0, &wait));
	ck_assert_uint_eq(wait, 5 * MS);
	ck_assert(rl_consume(&rl, 0, 5 * MS, &wait));
}
END_TEST

START_TEST(long_run_rate_matches_the_configuration)
{
	/* 1 MB/s, 100 ms bucket; a greedy sender of 1500-byte frames that always
	 * retries exactly when told, for 10 s of fake time. */
	struct cfg_rate_limiter c = { .bandwidth = { .set = true, .size = 100000, .refill_time_ms = 100 } };
	struct rate_limiter rl;
	uint64_t now = 0, sent = 0, wait;
	rl_init(&rl, &c, 0);
	while (now <= 10000 * MS) {
		if (rl_consume(&rl, 1500, now, &wait))
			sent += 1500;
		else
			now += wait;
	}
	/* 10 s at 1 MB/s plus the initial full bucket, within one frame. */
	ck_assert_uint_le(sent, 10000000ull + 100000 + 1500);
	ck_assert_uint_ge(sent, 10000000ull + 100000 - 1500);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("token_bucket");
	tcase_add_test(tc, unset_or_zero_buckets_are_unlimited);
	tcase_add_test(tc, full_bucket_then_waits_exactly_for_the_refill);
	tcase_add_test(tc, refill_is_continuous_and_capped_at_size);
	tcase_add_test(tc, one_time_burst_is_spent_first_and_never_refills);
	tcase_add_test(tc, oversized_request_waits_for_a_full_bucket_and_leaves_a_debt);
	tcase_add_test(tc, limiter_needs_both_buckets_and_charges_neither_on_failure);
	tcase_add_test(tc, receive_path_charges_after_the_fact_and_then_waits_out_the_debt);
	tcase_add_test(tc, long_run_rate_matches_the_configuration);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
