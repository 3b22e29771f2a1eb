/* virtio-blk I/O engines. Sync: preadv/pwritev/fsync on the worker, one
 * request at a time. Async: io_uring with up to a queue's worth of requests
 * in flight; the ring's eventfd is on the worker's epoll and completions are
 * reaped there. Host errors come back as negative errnos to blk_complete(). */
#include "base/err.h"
#include "devices/virtio/blk_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"

/* ---- Sync ----------------------------------------------------------------- */

static int sync_rw(int fd, bool wr, struct iovec *iov, unsigned n, uint64_t off, uint64_t len)
{
	while (len) {
		ssize_t r = wr ? pwritev(fd, iov, (int)n, (off_t)off) : preadv(fd, iov, (int)n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* the file shrank under us: no progress possible */
		off += (uint64_t)r;
		len -= (uint64_t)r;
		while (r > 0 && n) {
			if ((size_t)r >= iov->iov_len) {
				r -= (ssize_t)iov->iov_len;
				iov++;
				n--;
			} else {
				iov->iov_base = (uint8_t *)iov->iov_base + r;
				iov->iov_len -= (size_t)r;
				r = 0;
			}
		}
	}
	return 0;
}

static int sync_do(struct virtio_blk *b, struct blk_req *r)
{
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return sync_rw(b->fd, r->type == VIRTIO_BLK_T_OUT, r->data, r->ndata,
			       r->sector * BLK_SECTOR, r->data_len);
	case VIRTIO_BLK_T_FLUSH:
		return fsync(b->fd) ? -errno : 0;
	}
	return -EINVAL;
}

/* ---- Async ---------------------------------------------------------------- */

static void reap(struct virtio_blk *b)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&b->ring, head, cqe) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res, e = 0;
		if (res < 0)
			e = res;
		else if (r->type != VIRTIO_BLK_T_FLUSH && (uint64_t)res != r->data_len)
			e = -EIO; /* short transfer: end of file or a partial write */
		b->inflight--;
		blk_complete(b, r, e);
		n++;
	}
	io_uring_cq_advance(&b->ring, n);
}

static void on_completion(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	struct virtio_blk *b = (struct virtio_blk *)d;
	uint64_t v;
	ssize_t rr = read(fd, &v, sizeof(v));
	(void)rr;
	reap(b);
	if (b->stalled && virtio_queue_live(d, 0)) {
		blk_process(b); /* slots are free again; it also notifies */
	} else if (b->pushed) {
		b->pushed = false;
		virtio_notify(d, 0);
	}
}

int blk_io_init(struct virtio_blk *b, char *err, size_t errlen)
{
	if (b->engine != CFG_IO_ASYNC)
		return 0;
	int r = io_uring_queue_init(VIRTQ_MAX_SIZE, &b->ring, 0);
	if (r < 0) {
		return err_set(err, errlen, "drive %s: io_uring_queue_init: %s (io_engine \"Async\" needs io_uring; "
			       "use \"Sync\" or enable io_uring, e.g. sysctl kernel.io_uring_disabled=0)",
			       b->drive_id, strerror(-r));
	}
	b->ring_ok = true;
	b->ring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->ring_efd < 0) {
		return err_set(err, errlen, "drive %s: eventfd: %s", b->drive_id, strerror(errno));
	}
	r = io_uring_register_eventfd(&b->ring, b->ring_efd);
	if (r < 0) {
		return err_set(err, errlen, "drive %s: io_uring_register_eventfd: %s", b->drive_id, strerror(-r));
	}
	r = virtio_dev_watch(&b->dev, b->ring_efd, EPOLLIN, on_completion, NULL);
	if (r) {
		return err_set(err, errlen, "drive %s: epoll: %s", b->drive_id, strerror(-r));
	}
	return 0;
}

void blk_io_submit(struct virtio_blk *b, struct blk_req *r)
{
	if (b->engine != CFG_IO_ASYNC) {
		blk_complete(b, r, sync_do(b, r));
		return;
	}
	/* The SQ has as many entries as there are request slots, so this only
	 * fails if a previous submit failed; try once to make room. */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	if (!sqe) {
		blk_io_kick(b);
		sqe = io_uring_get_sqe(&b->ring);
	}
	if (!sqe) {
		blk_complete(b, r, -EBUSY);
		return;
	}
	off_t off = (off_t)(r->sector * BLK_SECTOR);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		io_uring_prep_readv(sqe, b->fd, r->data, r->ndata, off);
		break;
	case VIRTIO_BLK_T_OUT:
		io_uring_prep_writev(sqe, b->fd, r->data, r->ndata, off);
		break;
	default: /* FLUSH: only after every write submitted before it */
		io_uring_prep_fsync(sqe, b->fd, 0);
		sqe->flags |= IOSQE_IO_DRAIN;
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	b->inflight++;
	b->unsubmitted++;
}

void blk_io_kick(struct virtio_blk *b)
{
	if (!b->unsubmitted)
		return;
	int r;
	do
		r = io_uring_submit(&b->ring);
	while (r == -EINTR);
	if (r < 0)
		virtio_dev_warn(&b->dev, "io_uring_submit: %s (will retry)", strerror(-r));
	else
		b->unsubmitted = 0;
}

/* Kick, then wait until no request is in flight: completed normally
 * (`complete`), or with the results thrown away. -1 if the ring failed with
 * requests left. */
static int wait_inflight(struct virtio_blk *b, bool complete)
{
	blk_io_kick(b);
	while (b->inflight) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&b->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			log_err("drive %s: io_uring_wait_cqe: %s (%u requests %s)", b->drive_id,
				strerror(-r), b->inflight, complete ? "still in flight" : "lost");
			return -1;
		}
		if (complete) {
			reap(b);
		} else {
			io_uring_cqe_seen(&b->ring, cqe);
			b->inflight--;
		}
	}
	return 0;
}

int blk_io_quiesce(struct virtio_blk *b)
{
	if (!b->ring_ok)
		return 0;
	int rc = wait_inflight(b, true);
	if (b->pushed) {
		b->pushed = false;
		virtio_notify(&b->dev, 0);
	}
	return rc;
}

void blk_io_drain(struct virtio_blk *b)
{
	if (!b->ring_ok)
		return;
	wait_inflight(b, false);
	b->inflight = 0;
	b->unsubmitted = 0;
}

void blk_io_exit(struct virtio_blk *b)
{
	if (b->ring_ok) {
		blk_io_drain(b);
		io_uring_queue_exit(&b->ring);
		b->ring_ok = false;
	}
	if (b->ring_efd >= 0)
		close(b->ring_efd);
	b->ring_efd = -1;
}
