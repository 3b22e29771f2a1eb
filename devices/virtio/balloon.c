/* virtio-balloon (see balloon.h). */
#include "devices/virtio/balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>

#include "base/err.h"
#include "base/snap.h"

#define INFLATE_Q 0
#define DEFLATE_Q 1
#define STATS_Q 2
#define PAGE 4096u

const char *const balloon_stat_names[BALLOON_NSTATS] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
	"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures",
};

struct virtio_balloon {
	struct virtio_dev dev;
	struct virtio_balloon_config cfg; /* read by the transport under dev.lock */
	int timer_fd;
	uint32_t interval_s;
	bool stats_vq;
	int report_q;                     /* the reporting queue, or -1 */
	bool have_stats_buf;              /* the driver's stats buffer, held */
	uint16_t stats_head;
	pthread_mutex_t stats_lock;       /* `last` is read by the API thread */
	struct balloon_stats last;
	struct virtq_elem elem;
};

static struct virtio_balloon *to_balloon(struct virtio_dev *d)
{
	return (struct virtio_balloon *)d;
}

/* Inflate: every PFN (4 KiB page number, le32) in the chain goes back to
 * the host. Deflate: nothing to do; the chain is just returned. */
static void pfn_queue(struct virtio_balloon *b, unsigned qi)
{
	struct virtio_dev *d = &b->dev;
	struct virtq *q = &d->vq[qi];
	bool pushed = false;
	uint64_t discarded = 0;
	for (;;) {
		virtq_disable_notify(q);
		while (!virtio_should_yield(d)) {
			struct virtq_elem *e = &b->elem;
			int p = virtq_pop(q, e);
			if (p == 0)
				break;
			if (p < 0) {
				virtio_dev_fail(d, "%s queue: available ring index or head out of range",
						qi == INFLATE_Q ? "inflate" : "deflate");
				return;
			}
			if (e->err) {
				atomic_fetch_add_explicit(&d->stats.bad_requests, 1, memory_order_relaxed);
				virtio_dev_warn(d, "bad chain (head %u): %s", e->head, virtq_err_name(e->err));
			} else if (qi == INFLATE_Q) {
				for (unsigned i = 0; i < e->nout; i++) {
					const uint8_t *pfns = e->iov[i].iov_base;
					for (size_t k = 0; k + 4 <= e->iov[i].iov_len; k += 4) {
						uint32_t pfn;
						memcpy(&pfn, pfns + k, 4);
						if (gm_discard(d->mem, (uint64_t)pfn * PAGE, PAGE)) {
							atomic_fetch_add_explicit(&d->stats.bad_requests, 1,
										  memory_order_relaxed);
							virtio_dev_warn(d, "inflate: page frame %u is not guest RAM",
									pfn);
						} else {
							discarded++;
						}
					}
				}
			}
			virtq_push(q, e->head, 0);
			atomic_fetch_add_explicit(&d->stats.requests, 1, memory_order_relaxed);
			pushed = true;
		}
		if (virtio_should_yield(d) || !virtq_enable_notify(q))
			break;
	}
	if (discarded) {
		pthread_mutex_lock(&b->stats_lock);
		b->last.discarded_pages += discarded;
		pthread_mutex_unlock(&b->stats_lock);
	}
	if (pushed)
		virtio_notify(d, qi);
}

/* The driver sent its statistics: keep the values and the buffer (it is
 * given back at the next interval, which asks for fresh ones). */
static void stats_queue(struct virtio_balloon *b)
{
	struct virtio_dev *d = &b->dev;
	struct virtq *q = &d->vq[STATS_Q];
	for (;;) {
		struct virtq_elem *e = &b->elem;
		int p = virtq_pop_armed(q, e);
		if (p == 0)
			return;
		if (p < 0) {
			virtio_dev_fail(d, "stats queue: available ring index or head out of range");
			return;
		}
		if (b->have_stats_buf) {
			/* A second buffer: the driver lost track; give the old one back. */
			virtq_push(q, b->stats_head, 0);
			virtio_notify(d, STATS_Q);
		}
		b->have_stats_buf = true;
		b->stats_head = e->head;
		if (e->err) {
			atomic_fetch_add_explicit(&d->stats.bad_requests, 1, memory_order_relaxed);
			continue;
		}
		pthread_mutex_lock(&b->stats_lock);
		for (unsigned i = 0; i < e->nout; i++) {
			const uint8_t *s = e->iov[i].iov_base;
			/* struct virtio_balloon_stat: le16 tag, le64 val, packed (10 bytes). */
			for (size_t k = 0; k + 10 <= e->iov[i].iov_len; k += 10) {
				uint16_t tag;
				uint64_t val;
				memcpy(&tag, s + k, 2);
				memcpy(&val, s + k + 2, 8);
				if (tag < BALLOON_NSTATS)
					b->last.stat[tag] = val > INT64_MAX ? INT64_MAX : (int64_t)val;
			}
		}
		pthread_mutex_unlock(&b->stats_lock);
	}
}

/* Free page reporting: every buffer is a range of pages the guest keeps
 * free; the host takes them back (they read as zero when the guest uses
 * them again, which it may without asking) and returns the buffer. */
static void report_queue(struct virtio_balloon *b)
{
	struct virtio_dev *d = &b->dev;
	struct virtq *q = &d->vq[b->report_q];
	bool pushed = false;
	uint64_t reported = 0;
	while (!virtio_should_yield(d)) {
		struct virtq_elem *e = &b->elem;
		int p = virtq_pop_armed(q, e);
		if (p == 0)
			break;
		if (p < 0) {
			virtio_dev_fail(d, "reporting queue: available ring index or head out of range");
			return;
		}
		for (unsigned i = 0; !e->err && i < (unsigned)(e->nout + e->nin); i++) {
			uint64_t gpa, len = e->iov[i].iov_len;
			if (gm_gpa_of(d->mem, e->iov[i].iov_base, len, &gpa) ||
			    gm_discard(d->mem, gpa, len)) {
				atomic_fetch_add_explicit(&d->stats.bad_requests, 1, memory_order_relaxed);
				virtio_dev_warn(d, "reporting: a range of %llu bytes that is not whole "
						"pages of guest RAM", (unsigned long long)len);
				continue;
			}
			reported += len / PAGE;
		}
		if (e->err) {
			atomic_fetch_add_explicit(&d->stats.bad_requests, 1, memory_order_relaxed);
			virtio_dev_warn(d, "bad reporting chain (head %u): %s", e->head,
					virtq_err_name(e->err));
		}
		virtq_push(q, e->head, 0);
		atomic_fetch_add_explicit(&d->stats.requests, 1, memory_order_relaxed);
		pushed = true;
	}
	if (reported) {
		pthread_mutex_lock(&b->stats_lock);
		b->last.discarded_pages += reported;
		b->last.reported_pages += reported;
		pthread_mutex_unlock(&b->stats_lock);
	}
	if (pushed)
		virtio_notify(d, (unsigned)b->report_q);
}

static void arm_timer(struct virtio_balloon *b)
{
	struct itimerspec its = { .it_interval = { b->interval_s, 0 }, .it_value = { b->interval_s, 0 } };
	timerfd_settime(b->timer_fd, 0, &its, NULL);
}

static void on_timer(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	struct virtio_balloon *b = to_balloon(d);
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
	if (b->have_stats_buf && virtio_queue_live(d, STATS_Q)) {
		b->have_stats_buf = false;
		virtq_push(&d->vq[STATS_Q], b->stats_head, 0);
		virtio_notify(d, STATS_Q);
	}
}

static void balloon_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_balloon *b = to_balloon(d);
	if (!virtio_queue_live(d, q))
		return;
	if ((int)q == b->report_q)
		report_queue(b);
	else if (q == STATS_Q)
		stats_queue(b);
	else
		pfn_queue(b, q);
}

static void balloon_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *buf,
				 uint32_t len)
{
	struct virtio_balloon *b = to_balloon(d);
	/* Only `actual` (offset 4) is the driver's to write. */
	if (off == offsetof(struct virtio_balloon_config, actual) && len == 4) {
		memcpy(&b->cfg.actual, buf, 4);
		pthread_mutex_lock(&b->stats_lock);
		b->last.actual_pages = b->cfg.actual;
		pthread_mutex_unlock(&b->stats_lock);
	}
}

static void balloon_reset(struct virtio_dev *d)
{
	struct virtio_balloon *b = to_balloon(d);
	b->have_stats_buf = false;
}

static void balloon_destroy(struct virtio_dev *d)
{
	struct virtio_balloon *b = to_balloon(d);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	pthread_mutex_destroy(&b->stats_lock);
	free(b);
}

/* Snapshots: the target (it may have changed since boot), what the driver
 * reported, the statistics interval and the stats buffer the device holds
 * (its head: the element was popped, so it is given back at the next
 * interval after restore as it would have been). */
static void balloon_snap_save(struct virtio_dev *d, struct snap_w *w)
{
	struct virtio_balloon *b = to_balloon(d);
	pthread_mutex_lock(&d->lock);
	snap_put_u32(w, b->cfg.num_pages);
	snap_put_u32(w, b->cfg.actual);
	pthread_mutex_unlock(&d->lock);
	snap_put_u32(w, b->interval_s);
	snap_put_bool(w, b->have_stats_buf);
	snap_put_u16(w, b->stats_head);
	pthread_mutex_lock(&b->stats_lock);
	for (int i = 0; i < BALLOON_NSTATS; i++)
		snap_put_u64(w, (uint64_t)b->last.stat[i]);
	snap_put_u64(w, b->last.discarded_pages);
	snap_put_u64(w, b->last.reported_pages);
	pthread_mutex_unlock(&b->stats_lock);
}

static void balloon_snap_restore(struct virtio_dev *d, struct snap_r *r)
{
	struct virtio_balloon *b = to_balloon(d);
	uint32_t num = snap_get_u32(r), actual = snap_get_u32(r), interval = snap_get_u32(r);
	bool have = snap_get_bool(r);
	uint16_t head = snap_get_u16(r);
	int64_t stat[BALLOON_NSTATS];
	for (int i = 0; i < BALLOON_NSTATS; i++)
		stat[i] = (int64_t)snap_get_u64(r);
	uint64_t discarded = snap_get_u64(r), reported = snap_get_u64(r);
	if (r->bad)
		return;
	if ((uint64_t)num * PAGE > d->mem->ram_size) {
		snap_r_fail(r, "a balloon target above the guest's memory");
		return;
	}
	if ((interval == 0) != !b->stats_vq) {
		snap_r_fail(r, "balloon statistics on in one and off in the other");
		return;
	}
	if (have && (!b->stats_vq || head >= d->vq[STATS_Q].size)) {
		snap_r_fail(r, "a held statistics buffer outside the statistics queue");
		return;
	}
	pthread_mutex_lock(&d->lock);
	b->cfg.num_pages = num;
	b->cfg.actual = actual;
	pthread_mutex_unlock(&d->lock);
	b->have_stats_buf = have;
	b->stats_head = head;
	pthread_mutex_lock(&b->stats_lock);
	memcpy(b->last.stat, stat, sizeof(stat));
	b->last.discarded_pages = discarded;
	b->last.reported_pages = reported;
	b->last.target_pages = num;
	b->last.actual_pages = actual;
	pthread_mutex_unlock(&b->stats_lock);
	if (b->stats_vq && interval != b->interval_s) {
		b->interval_s = interval;
		arm_timer(b);
	}
}

static const struct virtio_dev_ops balloon_ops = {
	.snap_save = balloon_snap_save,
	.snap_restore = balloon_snap_restore,
	.thread_kind = "virtio-balloon",
	.queue_notify = balloon_queue_notify,
	.config_write = balloon_config_write,
	.reset = balloon_reset,
	.destroy = balloon_destroy,
};

static uint32_t mib_to_pages(uint32_t mib)
{
	return mib * (1024u * 1024u / PAGE);
}

struct virtio_dev *virtio_balloon_create(const struct cfg_balloon *cfg,
					 const struct guest_mem *mem, char *err, size_t errlen)
{
	uint32_t amount_mib = cfg->amount_mib, stats_interval_s = cfg->stats_polling_interval_s;
	if (amount_mib > mem->ram_size >> 20) {
		err_set(err, errlen, "balloon amount_mib %u: more than the guest's %llu MiB", amount_mib,
			(unsigned long long)(mem->ram_size >> 20));
		return NULL;
	}
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	if (!b) {
		err_set(err, errlen, "balloon device: out of memory");
		return NULL;
	}
	b->timer_fd = -1;
	b->interval_s = stats_interval_s;
	b->stats_vq = stats_interval_s > 0;
	b->cfg.num_pages = mib_to_pages(amount_mib);
	pthread_mutex_init(&b->stats_lock, NULL);
	b->last.target_pages = b->cfg.num_pages;
	b->last.stats_enabled = b->stats_vq;
	for (int i = 0; i < BALLOON_NSTATS; i++)
		b->last.stat[i] = -1;
	uint64_t features = (b->stats_vq ? VIRTIO_FEAT(VIRTIO_BALLOON_F_STATS_VQ) : 0) |
			    (cfg->deflate_on_oom ? VIRTIO_FEAT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) : 0) |
			    (cfg->free_page_reporting ? VIRTIO_FEAT(VIRTIO_BALLOON_F_REPORTING) : 0);
	/* The driver numbers only the queues that exist: inflate, deflate,
	 * then stats and reporting when offered. */
	unsigned nq = 2 + b->stats_vq;
	b->report_q = cfg->free_page_reporting ? (int)nq++ : -1;
	if (virtio_dev_init(&b->dev, "balloon", VIRTIO_ID_BALLOON, features, nq,
			    VIRTQ_MAX_SIZE, &balloon_ops, mem, err, errlen)) {
		pthread_mutex_destroy(&b->stats_lock);
		free(b);
		return NULL;
	}
	b->dev.config = &b->cfg;
	b->dev.config_len = sizeof(b->cfg);
	if (b->stats_vq) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (b->timer_fd < 0 || virtio_dev_watch(&b->dev, b->timer_fd, EPOLLIN, on_timer, NULL)) {
			err_set(err, errlen, "balloon device: statistics timer: %s", strerror(errno));
			virtio_dev_destroy(&b->dev);
			return NULL;
		}
		arm_timer(b);
	}
	return &b->dev;
}

struct target_arg {
	uint32_t pages;
};

static void set_target_on_worker(struct virtio_dev *d, void *arg)
{
	struct virtio_balloon *b = to_balloon(d);
	const struct target_arg *t = arg;
	pthread_mutex_lock(&d->lock);
	b->cfg.num_pages = t->pages;
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_lock(&b->stats_lock);
	b->last.target_pages = t->pages;
	pthread_mutex_unlock(&b->stats_lock);
	virtio_config_changed(d);
}

int virtio_balloon_set_target(struct virtio_dev *d, uint32_t amount_mib, char *err, size_t errlen)
{
	if (amount_mib > d->mem->ram_size >> 20)
		return err_set(err, errlen, "amount_mib %u: more than the guest's %llu MiB", amount_mib,
			       (unsigned long long)(d->mem->ram_size >> 20));
	struct target_arg t = { mib_to_pages(amount_mib) };
	if (virtio_dev_call(d, set_target_on_worker, &t))
		return err_set(err, errlen, "the balloon device is broken (its I/O thread stopped)");
	return 0;
}

static void set_interval_on_worker(struct virtio_dev *d, void *arg)
{
	struct virtio_balloon *b = to_balloon(d);
	b->interval_s = *(const uint32_t *)arg;
	arm_timer(b);
}

int virtio_balloon_set_interval(struct virtio_dev *d, uint32_t seconds, char *err, size_t errlen)
{
	struct virtio_balloon *b = to_balloon(d);
	if (!b->stats_vq || !seconds)
		return err_set(err, errlen, "Cannot %s statistics after boot: the statistics queue "
			       "exists only when stats_polling_interval_s was set before start",
			       b->stats_vq ? "disable" : "enable");
	if (virtio_dev_call(d, set_interval_on_worker, &seconds))
		return err_set(err, errlen, "the balloon device is broken (its I/O thread stopped)");
	return 0;
}

void virtio_balloon_stats(struct virtio_dev *d, struct balloon_stats *out)
{
	struct virtio_balloon *b = to_balloon(d);
	pthread_mutex_lock(&b->stats_lock);
	*out = b->last;
	pthread_mutex_unlock(&b->stats_lock);
}
