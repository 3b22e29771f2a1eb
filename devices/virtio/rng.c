#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>
#include <linux/virtio_ids.h>

#include "base/err.h"
#include "devices/virtio/ratelimit.h"

struct virtio_rng {
	struct virtio_dev dev;
	struct rate_limiter rl;
	int timer_fd;
	bool throttled;
	struct virtq_elem elem;
};

static struct virtio_rng *to_rng(struct virtio_dev *d)
{
	return (struct virtio_rng *)d;
}

/* Fill up to `max` bytes of the writable buffers; returns the count, or -1
 * if the host has no randomness to give (getrandom failed). */
static int64_t fill_random(struct virtq_elem *e, uint64_t max)
{
	uint64_t done = 0;
	for (unsigned i = e->nout; i < e->nout + e->nin && done < max; i++) {
		uint8_t *p = e->iov[i].iov_base;
		uint64_t want = e->iov[i].iov_len < max - done ? e->iov[i].iov_len : max - done;
		uint64_t got = 0;
		while (got < want) {
			ssize_t r = getrandom(p + got, want - got, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			got += (uint64_t)r;
		}
		done += want;
	}
	return (int64_t)done;
}

static void rng_queue_notify(struct virtio_dev *d, unsigned qi)
{
	struct virtio_rng *g = to_rng(d);
	struct virtq *q = &d->vq[0];
	bool pushed = false;
	if (g->throttled || !virtio_queue_live(d, 0))
		return;
	for (;;) {
		virtq_disable_notify(q);
		while (!virtio_should_yield(d)) {
			struct virtq_elem *e = &g->elem;
			int p = virtq_pop(q, e);
			if (p == 0)
				break;
			if (p < 0) {
				virtio_dev_fail(d, "request queue: available ring index or head out of range");
				goto out;
			}
			uint32_t used = 0;
			if (e->err) {
				atomic_fetch_add_explicit(&d->stats.bad_requests, 1, memory_order_relaxed);
				virtio_dev_warn(d, "bad request (head %u): %s", e->head, virtq_err_name(e->err));
			} else {
				uint64_t n = e->in_len < VIRTIO_RNG_MAX_REQ ? e->in_len : VIRTIO_RNG_MAX_REQ;
				uint64_t wait;
				if (!rl_unlimited(&g->rl) && !rl_consume(&g->rl, n, rl_now_ns(), &wait)) {
					virtq_unpop(q);
					rl_timer_arm(g->timer_fd, wait);
					g->throttled = true;
					atomic_fetch_add_explicit(&d->stats.throttled, 1, memory_order_relaxed);
					goto out;
				}
				int64_t r = fill_random(e, n);
				if (r < 0) {
					atomic_fetch_add_explicit(&d->stats.io_errors, 1, memory_order_relaxed);
					virtio_dev_warn(d, "getrandom: %s", strerror(errno));
				} else {
					used = (uint32_t)r;
					atomic_fetch_add_explicit(&d->stats.read_bytes, (uint64_t)r, memory_order_relaxed);
				}
			}
			virtq_push(q, e->head, used);
			atomic_fetch_add_explicit(&d->stats.requests, 1, memory_order_relaxed);
			pushed = true;
		}
		if (virtio_should_yield(d) || !virtq_enable_notify(q))
			break;
	}
out:
	if (pushed)
		virtio_notify(d, 0);
}

static void on_timer(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
	to_rng(d)->throttled = false;
	rng_queue_notify(d, 0); /* a no-op unless the queue is live */
}

static void rng_reset(struct virtio_dev *d)
{
	struct virtio_rng *g = to_rng(d);
	rl_timer_arm(g->timer_fd, 0);
	g->throttled = false;
}

static void rng_destroy(struct virtio_dev *d)
{
	struct virtio_rng *g = to_rng(d);
	if (g->timer_fd >= 0)
		close(g->timer_fd);
	free(g);
}

static const struct virtio_dev_ops rng_ops = {
	.thread_kind = "virtio-rng",
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
	.destroy = rng_destroy,
};

struct virtio_dev *virtio_rng_create(const struct cfg_entropy *cfg, const struct guest_mem *mem,
				     char *err, size_t errlen)
{
	struct virtio_rng *g = calloc(1, sizeof(*g));
	if (!g) {
		err_set(err, errlen, "entropy device: out of memory");
		return NULL;
	}
	g->timer_fd = -1;
	rl_init(&g->rl, cfg ? &cfg->rate_limiter : NULL, rl_now_ns());
	if (virtio_dev_init(&g->dev, "rng", VIRTIO_ID_RNG, 0, 1, VIRTQ_MAX_SIZE, &rng_ops, mem,
			    err, errlen))
		goto fail;
	g->timer_fd = rl_timer_create();
	if (g->timer_fd < 0 || virtio_dev_watch(&g->dev, g->timer_fd, EPOLLIN, on_timer, NULL)) {
		err_set(err, errlen, "entropy device: timerfd: %s", strerror(errno));
		goto fail;
	}
	return &g->dev;
fail:
	virtio_dev_destroy(&g->dev);
	return NULL;
}
