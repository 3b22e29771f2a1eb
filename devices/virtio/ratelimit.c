#include "devices/virtio/ratelimit.h"

#include <sys/timerfd.h>
#include <time.h>

void tb_init(struct token_bucket *tb, uint64_t size, uint64_t one_time_burst,
	     uint64_t refill_ms, uint64_t now_ns)
{
	tb->size = refill_ms ? size : 0;
	/* Cap what the arithmetic below has to handle: 2^62 tokens per bucket and
	 * a refill time of 2^40 ms (35 years) are beyond any configuration. */
	if (tb->size > (1ull << 62))
		tb->size = 1ull << 62;
	if (refill_ms > (1ull << 40))
		refill_ms = 1ull << 40;
	tb->refill_ns = refill_ms * 1000000ull;
	tb->burst = tb->size ? one_time_burst : 0;
	tb->budget = (int64_t)tb->size;
	tb->last_ns = now_ns;
}

static void refill(struct token_bucket *tb, uint64_t now_ns)
{
	if (now_ns <= tb->last_ns)
		return;
	uint64_t elapsed = now_ns - tb->last_ns;
	unsigned __int128 add = (unsigned __int128)elapsed * tb->size / tb->refill_ns;
	if (add == 0)
		return; /* keep last_ns: the fraction of a token is not lost */
	__int128 nb = (__int128)tb->budget + (__int128)add;
	if (nb >= (__int128)tb->size) {
		tb->budget = (int64_t)tb->size;
		tb->last_ns = now_ns;
		return;
	}
	tb->budget = (int64_t)nb;
	/* Advance by exactly the time those tokens took, keeping the remainder. */
	tb->last_ns += (uint64_t)(add * tb->refill_ns / tb->size);
}

/* Time for the bucket to grow from its budget to `target` tokens. */
static uint64_t time_to(const struct token_bucket *tb, int64_t target)
{
	if (tb->budget >= target)
		return 0;
	unsigned __int128 need = (unsigned __int128)(target - tb->budget);
	uint64_t ns = (uint64_t)((need * tb->refill_ns + tb->size - 1) / tb->size);
	return ns ? ns : 1;
}

uint64_t tb_wait_ns(struct token_bucket *tb, uint64_t n, uint64_t now_ns)
{
	if (tb_unlimited(tb))
		return 0;
	refill(tb, now_ns);
	if (n && n <= tb->burst)
		return 0;
	uint64_t rest = n - tb->burst;
	/* Oversized: wait for a full bucket, then let it through (debt). */
	int64_t target = rest > tb->size ? (int64_t)tb->size : (int64_t)rest;
	return time_to(tb, target);
}

void tb_charge(struct token_bucket *tb, uint64_t n, uint64_t now_ns)
{
	if (tb_unlimited(tb))
		return;
	refill(tb, now_ns);
	if (n <= tb->burst) {
		tb->burst -= n;
		return;
	}
	n -= tb->burst;
	tb->burst = 0;
	if (n > (uint64_t)INT64_MAX / 2)
		n = (uint64_t)INT64_MAX / 2;
	tb->budget -= (int64_t)n;
}

bool tb_take(struct token_bucket *tb, uint64_t n, uint64_t now_ns)
{
	if (tb_wait_ns(tb, n, now_ns))
		return false;
	tb_charge(tb, n, now_ns);
	return true;
}

static void bucket_from_cfg(struct token_bucket *tb, const struct cfg_token_bucket *c,
			    uint64_t now_ns)
{
	if (c && c->set)
		tb_init(tb, c->size, c->one_time_burst, c->refill_time_ms, now_ns);
	else
		tb_init(tb, 0, 0, 0, now_ns);
}

void rl_init(struct rate_limiter *rl, const struct cfg_rate_limiter *cfg, uint64_t now_ns)
{
	bucket_from_cfg(&rl->bytes, cfg ? &cfg->bandwidth : NULL, now_ns);
	bucket_from_cfg(&rl->ops, cfg ? &cfg->ops : NULL, now_ns);
	rl->throttled = 0;
}

bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns, uint64_t *wait_ns)
{
	uint64_t wo = tb_wait_ns(&rl->ops, 1, now_ns);
	uint64_t wb = tb_wait_ns(&rl->bytes, bytes, now_ns);
	if (wo || wb) {
		*wait_ns = wo > wb ? wo : wb;
		rl->throttled++;
		return false;
	}
	tb_charge(&rl->ops, 1, now_ns);
	tb_charge(&rl->bytes, bytes, now_ns);
	*wait_ns = 0;
	return true;
}

void rl_charge_bytes(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns)
{
	tb_charge(&rl->bytes, bytes, now_ns);
}

uint64_t rl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int rl_timer_create(void)
{
	return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

void rl_timer_arm(int fd, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull) },
	};
	timerfd_settime(fd, 0, &its, NULL);
}
