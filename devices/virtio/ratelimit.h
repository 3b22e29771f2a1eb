/* Token-bucket rate limiters with Firecracker's semantics.
 *
 * Contract: a bucket holds up to `size` tokens (bytes or operations) and
 * refills `size` tokens every `refill_time` ms, continuously; an optional
 * one-time burst is spent first and never refills. A bucket with size 0 or
 * refill time 0 is unlimited (as in Firecracker). A request larger than the
 * whole bucket (size + remaining burst) is not refused forever: it waits for
 * a full bucket, then takes it all and leaves a debt that later requests wait
 * out, so the long-term rate still holds. A limiter pairs a bandwidth and an
 * ops bucket; a request passes only if both have room, and then takes from
 * both. When it cannot pass, the caller gets the time until it can, arms a
 * timer (timerfd) for it and retries then: nothing ever busy-waits.
 * Time is passed in explicitly (CLOCK_MONOTONIC ns) so tests need no clock.
 * Not thread-safe: a limiter belongs to one device worker.
 */
#ifndef MPVM_VIRTIO_RATELIMIT_H
#define MPVM_VIRTIO_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct token_bucket {
	uint64_t size;         /* 0: unlimited */
	uint64_t refill_ns;    /* time to refill `size` tokens */
	uint64_t burst;        /* one-time burst left */
	int64_t budget;        /* tokens now; negative = debt from an oversized request */
	uint64_t last_ns;      /* when budget was last refilled */
};

/* Starts full, as Firecracker's buckets do. */
void tb_init(struct token_bucket *tb, uint64_t size, uint64_t one_time_burst,
	     uint64_t refill_ms, uint64_t now_ns);
static inline bool tb_unlimited(const struct token_bucket *tb) { return tb->size == 0; }
/* Nanoseconds until `n` tokens can be taken (0: now). */
uint64_t tb_wait_ns(struct token_bucket *tb, uint64_t n, uint64_t now_ns);
/* Take `n` tokens if tb_wait_ns() is 0; returns false (nothing taken) otherwise. */
bool tb_take(struct token_bucket *tb, uint64_t n, uint64_t now_ns);
/* Take `n` tokens unconditionally (may leave a debt). */
void tb_charge(struct token_bucket *tb, uint64_t n, uint64_t now_ns);

struct rate_limiter {
	struct token_bucket bytes, ops;
	uint64_t throttled;    /* requests that had to wait (metrics) */
};

void rl_init(struct rate_limiter *rl, const struct cfg_rate_limiter *cfg, uint64_t now_ns);
static inline bool rl_unlimited(const struct rate_limiter *rl)
{
	return tb_unlimited(&rl->bytes) && tb_unlimited(&rl->ops);
}
/* One operation of `bytes` bytes. true: allowed and charged. false: nothing
 * charged, *wait_ns says when to retry. bytes == 0 with a bandwidth bucket
 * asks only that the bucket is not in debt (for receive paths that learn the
 * size after the fact and then call rl_charge_bytes()). */
bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns, uint64_t *wait_ns);
void rl_charge_bytes(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rl_now_ns(void);
/* The retry timer a throttled queue waits on: a non-blocking CLOCK_MONOTONIC
 * timerfd (-1 on error, errno set); arm it `ns` from now (0 disarms). */
int rl_timer_create(void);
void rl_timer_arm(int fd, uint64_t ns);

#endif
