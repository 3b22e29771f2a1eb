#include "devices/virtio/blk_int.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/virtio_ids.h>

#include "base/err.h"
#include "core/log.h"

static struct virtio_blk *to_blk(struct virtio_dev *d)
{
	return (struct virtio_blk *)d; /* dev is the first member */
}

/* dst = the bytes [skip, skip+len) of the iovecs. Returns the count. */
static unsigned iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
			  struct iovec *dst)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint64_t c = l - skip < len ? l - skip : len;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[k].iov_len = c;
		k++;
		len -= c;
		skip = 0;
	}
	return k;
}

static void slot_put(struct virtio_blk *b, struct blk_req *r)
{
	r->next_free = b->free;
	b->free = r;
}

static void push(struct virtio_blk *b, struct blk_req *r, uint32_t used_len)
{
	virtq_push(&b->dev.vq[0], r->elem.head, used_len);
	atomic_fetch_add_explicit(&b->dev.stats.requests, 1, memory_order_relaxed);
	b->pushed = true;
	slot_put(b, r);
}

/* A request answered without host I/O (bad, GET_ID, unsupported). */
static void finish(struct virtio_blk *b, struct blk_req *r, uint8_t status, uint32_t extra)
{
	if (r->status) {
		*r->status = status;
		push(b, r, extra + 1);
	} else {
		push(b, r, 0);
	}
}

static void bad_request(struct virtio_blk *b, struct blk_req *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bad_request(struct virtio_blk *b, struct blk_req *r, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	atomic_fetch_add_explicit(&b->dev.stats.bad_requests, 1, memory_order_relaxed);
	virtio_dev_warn(&b->dev, "bad request (head %u): %s", r->elem.head, why);
	finish(b, r, VIRTIO_BLK_S_IOERR, 0);
}

void blk_complete(struct virtio_blk *b, struct blk_req *r, int host_err)
{
	struct virtio_counters *st = &b->dev.stats;
	if (host_err) {
		atomic_fetch_add_explicit(&st->io_errors, 1, memory_order_relaxed);
		virtio_dev_warn(&b->dev, "%s of %llu bytes at sector %llu failed: %s",
				r->type == VIRTIO_BLK_T_IN ? "read" : r->type == VIRTIO_BLK_T_OUT ? "write" : "flush",
				(unsigned long long)r->data_len, (unsigned long long)r->sector,
				strerror(-host_err));
		*r->status = VIRTIO_BLK_S_IOERR;
		push(b, r, 1);
		return;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN: atomic_fetch_add_explicit(&st->read_bytes, r->data_len, memory_order_relaxed); break;
	case VIRTIO_BLK_T_OUT: atomic_fetch_add_explicit(&st->write_bytes, r->data_len, memory_order_relaxed); break;
	case VIRTIO_BLK_T_FLUSH: atomic_fetch_add_explicit(&st->flushes, 1, memory_order_relaxed); break;
	}
	*r->status = VIRTIO_BLK_S_OK;
	push(b, r, r->type == VIRTIO_BLK_T_IN ? (uint32_t)r->data_len + 1 : 1);
}

static volatile uint8_t *status_byte(struct virtq_elem *e)
{
	for (unsigned i = e->nout + e->nin; i-- > e->nout;)
		if (e->iov[i].iov_len)
			return (uint8_t *)e->iov[i].iov_base + e->iov[i].iov_len - 1;
	return NULL;
}

static void arm_timer(struct virtio_blk *b, uint64_t ns)
{
	rl_timer_arm(b->timer_fd, ns);
	b->throttled = true;
	atomic_fetch_add_explicit(&b->dev.stats.throttled, 1, memory_order_relaxed);
}

/* Parse and start one popped request. Returns false when the rate limiter
 * holds it back (it has been given back to the ring). */
static bool handle(struct virtio_blk *b, struct blk_req *r)
{
	struct virtq_elem *e = &r->elem;
	r->status = NULL;
	r->type = UINT32_MAX;
	if (e->err) {
		bad_request(b, r, "%s", virtq_err_name(e->err));
		return true;
	}
	r->status = status_byte(e);
	struct virtio_blk_outhdr hdr;
	if (!r->status || e->out_len < sizeof(hdr)) {
		bad_request(b, r, "no room for the header or the status byte (%llu readable, %llu writable bytes)",
			    (unsigned long long)e->out_len, (unsigned long long)e->in_len);
		return true;
	}
	iov_to_buf(e->iov, e->nout, 0, &hdr, sizeof(hdr));
	r->type = hdr.type;
	r->sector = hdr.sector;
	struct iovec *in = &e->iov[e->nout];
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		r->data_len = e->in_len - 1;
		r->ndata = iov_slice(in, e->nin, 0, r->data_len, r->data);
		break;
	case VIRTIO_BLK_T_OUT:
		r->data_len = e->out_len - sizeof(hdr);
		r->ndata = iov_slice(e->iov, e->nout, sizeof(hdr), r->data_len, r->data);
		break;
	case VIRTIO_BLK_T_FLUSH:
		r->data_len = 0;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = { 0 };
		memcpy(id, b->drive_id, strnlen(b->drive_id, sizeof(id)));
		unsigned n = iov_slice(in, e->nin, 0, e->in_len - 1, r->data);
		size_t w = iov_from_buf(r->data, n, 0, id, sizeof(id));
		finish(b, r, VIRTIO_BLK_S_OK, (uint32_t)w);
		return true;
	}
	default:
		virtio_dev_warn(&b->dev, "unsupported request type %u", r->type);
		finish(b, r, VIRTIO_BLK_S_UNSUPP, 0);
		return true;
	}
	if (r->type != VIRTIO_BLK_T_FLUSH) {
		uint64_t nsec = r->data_len / BLK_SECTOR;
		if (r->data_len % BLK_SECTOR) {
			bad_request(b, r, "length %llu is not a multiple of 512", (unsigned long long)r->data_len);
			return true;
		}
		if (r->sector > b->capacity || nsec > b->capacity - r->sector) {
			bad_request(b, r, "sectors %llu+%llu are beyond the end of the disk (%llu sectors)",
				    (unsigned long long)r->sector, (unsigned long long)nsec,
				    (unsigned long long)b->capacity);
			return true;
		}
		if (r->type == VIRTIO_BLK_T_OUT && b->read_only) {
			atomic_fetch_add_explicit(&b->dev.stats.io_errors, 1, memory_order_relaxed);
			virtio_dev_warn(&b->dev, "write to read-only drive refused (sector %llu)",
					(unsigned long long)r->sector);
			finish(b, r, VIRTIO_BLK_S_IOERR, 0);
			return true;
		}
	}
	uint64_t wait;
	if (!rl_unlimited(&b->rl) && !rl_consume(&b->rl, r->data_len, rl_now_ns(), &wait)) {
		virtq_unpop(&b->dev.vq[0]);
		slot_put(b, r);
		arm_timer(b, wait);
		return false;
	}
	blk_io_submit(b, r);
	return true;
}

void blk_process(struct virtio_blk *b)
{
	struct virtio_dev *d = &b->dev;
	struct virtq *q = &d->vq[0];
	if (b->throttled || !virtio_queue_live(d, 0))
		return;
	b->stalled = false;
	for (;;) {
		virtq_disable_notify(q);
		while (!virtio_should_yield(d)) {
			struct blk_req *r = b->free;
			if (!r) {
				b->stalled = true; /* resumed when a completion frees a slot */
				goto out;
			}
			int p = virtq_pop(q, &r->elem);
			if (p == 0)
				break;
			if (p < 0) {
				virtio_dev_fail(d, "request queue: available ring index or head out of range");
				goto out;
			}
			b->free = r->next_free;
			if (!handle(b, r))
				goto out;
		}
		if (virtio_should_yield(d) || !virtq_enable_notify(q))
			break;
	}
out:
	blk_io_kick(b);
	if (b->pushed) {
		b->pushed = false;
		virtio_notify(d, 0);
	}
}

static void blk_queue_notify(struct virtio_dev *d, unsigned q)
{
	blk_process(to_blk(d));
}

static void on_timer(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	struct virtio_blk *b = to_blk(d);
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
	b->throttled = false;
	blk_process(b); /* a no-op unless the queue is live */
}

static void reset_slots(struct virtio_blk *b)
{
	b->free = NULL;
	for (unsigned i = b->nslots; i-- > 0;)
		slot_put(b, &b->slots[i]);
}

static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = to_blk(d);
	blk_io_drain(b);
	rl_timer_arm(b->timer_fd, 0);
	b->throttled = b->stalled = b->pushed = false;
	reset_slots(b);
}

/* Pause. Sync requests finish inside blk_process(), so only the Async
 * engine can have any in flight here. Whatever is still queued in the ring
 * is picked up when resume services the queue. */
static int blk_quiesce(struct virtio_dev *d)
{
	return blk_io_quiesce(to_blk(d));
}

static void blk_destroy(struct virtio_dev *d)
{
	struct virtio_blk *b = to_blk(d);
	blk_io_exit(b);
	if (b->fd >= 0)
		close(b->fd);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	free(b->slots);
	free(b);
}

static const struct virtio_dev_ops blk_ops = {
	.thread_kind = "virtio-blk",
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.quiesce = blk_quiesce,
	.destroy = blk_destroy,
};

static int disk_size(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) ? -errno : 0;
	return -EINVAL;
}

struct virtio_dev *virtio_blk_create(const struct cfg_drive *cfg, const struct guest_mem *mem,
				     char *err, size_t errlen)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b) {
		err_set(err, errlen, "drive %s: out of memory", cfg->drive_id);
		return NULL;
	}
	b->fd = b->timer_fd = b->ring_efd = -1;
	snprintf(b->drive_id, sizeof(b->drive_id), "%s", cfg->drive_id);
	snprintf(b->path, sizeof(b->path), "%s", cfg->path_on_host);
	b->read_only = cfg->is_read_only;
	b->engine = cfg->io_engine;
	rl_init(&b->rl, &cfg->rate_limiter, rl_now_ns());

	uint64_t features = (1ull << VIRTIO_BLK_F_SEG_MAX);
	if (b->read_only)
		features |= 1ull << VIRTIO_BLK_F_RO;
	if (cfg->cache_type == CFG_CACHE_WRITEBACK)
		features |= 1ull << VIRTIO_BLK_F_FLUSH;
	char name[48];
	snprintf(name, sizeof(name), "blk:%s", cfg->drive_id);
	if (virtio_dev_init(&b->dev, name, VIRTIO_ID_BLOCK, features, 1, VIRTQ_MAX_SIZE,
			    &blk_ops, mem, err, errlen))
		goto fail;

	b->fd = open(b->path, (b->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		FAIL_GOTO(fail, "drive %s: cannot open %s%s: %s", b->drive_id, b->path,
		     b->read_only ? "" : " for writing", strerror(errno));
	uint64_t size;
	int r = disk_size(b->fd, &size);
	if (r)
		FAIL_GOTO(fail, "drive %s: %s: %s", b->drive_id, b->path,
		     r == -EINVAL ? "not a regular file or block device" : strerror(-r));
	b->capacity = size / BLK_SECTOR;
	if (size % BLK_SECTOR)
		log_warn("drive %s: %s is %llu bytes, not a multiple of 512: the last %llu bytes are not visible",
			 b->drive_id, b->path, (unsigned long long)size,
			 (unsigned long long)(size % BLK_SECTOR));
	b->config.capacity = b->capacity;
	b->config.seg_max = VIRTQ_MAX_CHAIN - 2; /* plus header and status */
	b->dev.config = &b->config;
	b->dev.config_len = sizeof(b->config);

	b->nslots = b->engine == CFG_IO_ASYNC ? VIRTQ_MAX_SIZE : 1;
	b->slots = calloc(b->nslots, sizeof(*b->slots));
	if (!b->slots)
		FAIL_GOTO(fail, "drive %s: out of memory", b->drive_id);
	reset_slots(b);

	b->timer_fd = rl_timer_create();
	if (b->timer_fd < 0 || virtio_dev_watch(&b->dev, b->timer_fd, EPOLLIN, on_timer, NULL))
		FAIL_GOTO(fail, "drive %s: timerfd: %s", b->drive_id, strerror(errno));
	if (blk_io_init(b, err, errlen))
		goto fail;
	return &b->dev;
fail:
	virtio_dev_destroy(&b->dev);
	return NULL;
}

struct blk_update {
	int fd;                 /* new backing file, or -1 */
	uint64_t capacity;
	const struct cfg_rate_limiter *rl;
	const char *path;
};

/* On the worker: nothing is being parsed or submitted meanwhile. */
static void apply_update(struct virtio_dev *d, void *arg)
{
	struct virtio_blk *b = to_blk(d);
	struct blk_update *u = arg;
	if (u->rl)
		rl_init(&b->rl, u->rl, rl_now_ns());
	if (u->fd < 0)
		return;
	blk_io_quiesce(b);
	int old = b->fd;
	b->fd = u->fd;
	close(old);
	snprintf(b->path, sizeof(b->path), "%s", u->path);
	bool changed = u->capacity != b->capacity;
	pthread_mutex_lock(&d->lock); /* config space is read on vCPU threads */
	b->capacity = u->capacity;
	b->config.capacity = u->capacity;
	pthread_mutex_unlock(&d->lock);
	if (changed)
		virtio_config_changed(d);
	/* The throttle timer or a stall may be pending; retry what is queued
	 * (when paused, resume does: no request may start before). */
	blk_process(b); /* a no-op unless the queue is live */
}

int virtio_blk_update(struct virtio_dev *d, const char *path, const struct cfg_rate_limiter *rl,
		      char *err, size_t errlen)
{
	struct virtio_blk *b = to_blk(d);
	struct blk_update u = { .fd = -1, .rl = rl, .path = path };
	if (path) {
		u.fd = open(path, (b->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		uint64_t size = 0;
		int r = u.fd < 0 ? -errno : disk_size(u.fd, &size);
		if (r) {
			err_set(err, errlen, "drive %s: %s: %s", b->drive_id, path,
				r == -EINVAL ? "not a regular file or block device" : strerror(-r));
			if (u.fd >= 0)
				close(u.fd);
			return -1;
		}
		u.capacity = size / BLK_SECTOR;
	}
	if (virtio_dev_call(d, apply_update, &u)) {
		err_set(err, errlen, "drive %s: the device's I/O thread has stopped (see the log); "
			"restart the VM", b->drive_id);
		if (u.fd >= 0)
			close(u.fd);
		return -1;
	}
	if (path)
		log_info("drive %s: now backed by %s (%llu sectors)", b->drive_id, path,
			 (unsigned long long)u.capacity);
	return 0;
}

uint64_t virtio_blk_capacity(const struct virtio_dev *d)
{
	return ((const struct virtio_blk *)d)->capacity;
}
