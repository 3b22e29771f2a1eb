#include "devices/virtio/net.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "base/err.h"
#include "core/log.h"
#include "devices/virtio/ratelimit.h"
#include "mmds/ns.h"
#include "mmds/pkt.h"

#define HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_v1))
/* Largest frame MMDS takes or sends: a 1500-byte MTU's (no GSO is
 * negotiated, and MMDS advertises an MSS that fits). Bigger frames to the
 * MMDS address are dropped. */
#define MMDS_FRAME_MAX (ETH_HDR + 1500u + 4u)

struct net_dir {
	struct rate_limiter rl;
	int timer_fd;
	bool throttled;
};

struct virtio_net {
	struct virtio_dev dev;
	char iface_id[64];
	char ifname[IFNAMSIZ];
	int tap_fd;
	uint32_t tap_events;     /* what the worker's epoll waits for on the tap */
	bool tap_dead;           /* unreadable for good: no longer watched */
	struct virtio_net_config config;
	struct net_dir rx, tx;
	struct virtq_elem elem;
	struct iovec txv[VIRTQ_MAX_CHAIN + 1];
	/* MMDS on this interface (NULL if not named in mmds-config). */
	struct mmds_ns *mmds;
	int mmds_timer_fd;
	uint8_t mmds_buf[MMDS_FRAME_MAX];
};

static struct virtio_net *to_net(struct virtio_dev *d)
{
	return (struct virtio_net *)d;
}

static void count(struct virtio_dev *d, _Atomic uint64_t *c, uint64_t n)
{
	(void)d;
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void poll_tap(struct virtio_net *n, bool on)
{
	uint32_t want = on ? EPOLLIN : 0;
	if (!n->tap_dead && n->tap_events != want && !virtio_dev_watch_mod(&n->dev, n->tap_fd, want))
		n->tap_events = want;
}

/* The tap cannot be read any more: the interface was deleted or detached on
 * the host (EBADFD, EIO), or an error that does not consume a frame. A
 * retry would fail the same way, and epoll reports the error condition even
 * to a watch with no events, so the worker would spin: receive stops for
 * good (the guest sees a silent link; transmit drops frame by frame).
 * Logged once. */
static void tap_failed(struct virtio_net *n, const char *why)
{
	if (n->tap_dead)
		return;
	n->tap_dead = true;
	int r = virtio_dev_unwatch(&n->dev, n->tap_fd);
	n->tap_events = 0;
	count(&n->dev, &n->dev.stats.io_errors, 1);
	log_err("%s: tap %s: %s: receive stopped for good (recreate the tap and restart the VM)%s",
		n->dev.name, n->ifname, why, r ? "; could not stop watching it" : "");
}

static void throttle(struct virtio_net *n, struct net_dir *dir, uint64_t wait)
{
	rl_timer_arm(dir->timer_fd, wait);
	dir->throttled = true;
	count(&n->dev, &n->dev.stats.throttled, 1);
}

/* ---- MMDS ------------------------------------------------------------------ */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The stack's next deadline on its timerfd (absolute), or disarmed. */
static void mmds_arm(struct virtio_net *n)
{
	uint64_t d = mmds_ns_deadline(n->mmds);
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(d / 1000000000ull),
						.tv_nsec = (long)(d % 1000000000ull) } };
	timerfd_settime(n->mmds_timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* A transmitted frame MMDS takes (true) or leaves to the tap (false). Only
 * frames to the MMDS address are copied out of guest memory. */
static bool mmds_take(struct virtio_net *n, struct virtq_elem *e, bool csum_partial)
{
	uint8_t head[MMDS_PKT_PEEK];
	uint64_t len = e->out_len - HDR_LEN;
	size_t got = iov_to_buf(e->iov, e->nout, HDR_LEN, head, sizeof(head));
	if (!mmds_pkt_maybe_ours(head, got, mmds_ns_ip(n->mmds)))
		return false;
	if (len > MMDS_FRAME_MAX) {
		count(&n->dev, &n->dev.stats.dropped, 1);
		return true;
	}
	iov_to_buf(e->iov, e->nout, HDR_LEN, n->mmds_buf, (size_t)len);
	mmds_ns_tx(n->mmds, n->mmds_buf, (size_t)len, csum_partial, mono_ns());
	return true;
}

/* ---- transmit ------------------------------------------------------------ */

/* Send one chain's frame. The header is copied and sanitised so the kernel
 * only sees offloads the driver negotiated. */
static void tx_frame(struct virtio_net *n, struct virtq_elem *e)
{
	struct virtio_dev *d = &n->dev;
	struct virtio_net_hdr_v1 hdr;
	if (e->out_len < HDR_LEN || e->out_len - HDR_LEN > VIRTIO_NET_MAX_FRAME) {
		count(d, &d->stats.dropped, 1);
		virtio_dev_warn(d, "tx: dropped a %llu-byte chain (header is %u, largest frame %u)",
				(unsigned long long)e->out_len, HDR_LEN, VIRTIO_NET_MAX_FRAME);
		return;
	}
	iov_to_buf(e->iov, e->nout, 0, &hdr, HDR_LEN);
	if (!virtio_has(d, VIRTIO_NET_F_CSUM))
		hdr.flags = 0;
	hdr.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	hdr.gso_size = 0;
	hdr.num_buffers = 0;
	if (n->mmds && mmds_take(n, e, hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return; /* answered by MMDS: the host network never sees it */
	n->txv[0].iov_base = &hdr;
	n->txv[0].iov_len = HDR_LEN;
	unsigned k = 1;
	uint64_t skip = HDR_LEN;
	for (unsigned i = 0; i < e->nout; i++) {
		uint64_t l = e->iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		n->txv[k].iov_base = (uint8_t *)e->iov[i].iov_base + skip;
		n->txv[k].iov_len = l - skip;
		k++;
		skip = 0;
	}
	ssize_t r;
	do
		r = writev(n->tap_fd, n->txv, (int)k);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		count(d, &d->stats.dropped, 1);
		virtio_dev_warn(d, "tx: %s: %s (frame dropped)", n->ifname, strerror(errno));
		return;
	}
	count(d, &d->stats.write_bytes, e->out_len - HDR_LEN);
}

static void rx_process(struct virtio_net *n);

static void tx_process(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	struct virtq *q = &d->vq[VIRTIO_NET_TXQ];
	struct virtq_elem *e = &n->elem;
	bool pushed = false;
	if (n->tx.throttled || !virtio_queue_live(d, VIRTIO_NET_TXQ))
		return;
	for (;;) {
		virtq_disable_notify(q);
		while (!virtio_should_yield(d)) {
			int p = virtq_pop(q, e);
			if (p == 0)
				break;
			if (p < 0) {
				virtio_dev_fail(d, "transmit queue: available ring index or head out of range");
				goto out;
			}
			if (e->err) {
				count(d, &d->stats.bad_requests, 1);
				virtio_dev_warn(d, "tx: bad chain (head %u): %s", e->head, virtq_err_name(e->err));
			} else {
				uint64_t wait;
				uint64_t len = e->out_len > HDR_LEN ? e->out_len - HDR_LEN : 0;
				if (!rl_unlimited(&n->tx.rl) && !rl_consume(&n->tx.rl, len, rl_now_ns(), &wait)) {
					virtq_unpop(q);
					throttle(n, &n->tx, wait);
					goto out;
				}
				tx_frame(n, e);
			}
			virtq_push(q, e->head, 0);
			count(d, &d->stats.requests, 1);
			pushed = true;
		}
		if (virtio_should_yield(d) || !virtq_enable_notify(q))
			break;
	}
out:
	if (pushed)
		virtio_notify(d, VIRTIO_NET_TXQ);
	if (n->mmds && mmds_ns_pending(n->mmds))
		rx_process(n); /* MMDS's answers go out as receive buffers allow */
	if (n->mmds)
		mmds_arm(n);
}

/* ---- receive ------------------------------------------------------------- */

/* Make the header the kernel wrote match what was negotiated. */
static void fix_rx_header(struct virtio_net *n, struct virtq_elem *e)
{
	struct iovec *in = &e->iov[e->nout];
	struct virtio_net_hdr_v1 hdr;
	iov_to_buf(in, e->nin, 0, &hdr, HDR_LEN);
	if (!virtio_has(&n->dev, VIRTIO_NET_F_GUEST_CSUM))
		hdr.flags = 0;
	hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	hdr.gso_size = 0;
	hdr.num_buffers = 1;
	iov_from_buf(in, e->nin, 0, &hdr, HDR_LEN);
}

/* MMDS's next frame, if it has one, into the guest's buffer (pushed). */
static bool mmds_rx(struct virtio_net *n, struct virtq_elem *e)
{
	struct iovec *in = &e->iov[e->nout];
	uint64_t cap = e->in_len - HDR_LEN;
	size_t len;
	if (!n->mmds || !mmds_ns_pending(n->mmds))
		return false;
	len = mmds_ns_rx(n->mmds, n->mmds_buf, cap < MMDS_FRAME_MAX ? (size_t)cap : MMDS_FRAME_MAX,
			 mono_ns());
	if (!len)
		return false;
	/* Checksums are complete: no flags, one buffer. */
	struct virtio_net_hdr_v1 hdr = { .num_buffers = 1 };
	iov_from_buf(in, e->nin, 0, &hdr, HDR_LEN);
	iov_from_buf(in, e->nin, HDR_LEN, n->mmds_buf, len);
	virtq_push(&n->dev.vq[VIRTIO_NET_RXQ], e->head, HDR_LEN + (uint32_t)len);
	count(&n->dev, &n->dev.stats.requests, 1);
	return true;
}

static void rx_process(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	struct virtq *q = &d->vq[VIRTIO_NET_RXQ];
	struct virtq_elem *e = &n->elem;
	bool pushed = false;
	bool mmds_out = n->mmds && mmds_ns_pending(n->mmds);
	if (n->rx.throttled || (n->tap_dead && !mmds_out) || !virtio_queue_live(d, VIRTIO_NET_RXQ) ||
	    virtio_should_yield(d)) {
		/* The tap stays readable: stop watching it or the worker spins.
		 * The timer, a reset or the next activation turn it back on. */
		poll_tap(n, false);
		return;
	}
	while (!virtio_should_yield(d)) {
		uint64_t wait;
		if (!rl_unlimited(&n->rx.rl) && !rl_consume(&n->rx.rl, 0, rl_now_ns(), &wait)) {
			poll_tap(n, false);
			throttle(n, &n->rx, wait);
			break;
		}
		int p = virtq_pop(q, e);
		if (p == 0) {
			/* No buffer: wait for the driver's next rx kick (re-check
			 * after arming, a buffer may have raced in). */
			if (virtq_enable_notify(q))
				continue;
			poll_tap(n, false);
			break;
		}
		virtq_disable_notify(q);
		if (p < 0) {
			virtio_dev_fail(d, "receive queue: available ring index or head out of range");
			break;
		}
		if (e->err || e->nout || e->in_len < HDR_LEN) {
			count(d, &d->stats.bad_requests, 1);
			virtio_dev_warn(d, "rx: bad buffer (head %u): %s", e->head,
					e->err ? virtq_err_name(e->err) : "readable part or shorter than the header");
			virtq_push(q, e->head, 0);
			pushed = true;
			continue;
		}
		if (mmds_rx(n, e)) {
			pushed = true;
			continue;
		}
		if (n->tap_dead) {
			virtq_unpop(q);
			break;
		}
		ssize_t r;
		do
			r = readv(n->tap_fd, &e->iov[e->nout], e->nin);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			int err = errno;
			virtq_unpop(q);
			if (err == EAGAIN || err == EWOULDBLOCK) {
				poll_tap(n, true);
				break;
			}
			/* tun takes the frame off its queue before copying it out:
			 * these lose that one frame, the next read is a new one. */
			if (err == EFAULT || err == EINVAL) {
				count(d, &d->stats.dropped, 1);
				virtio_dev_warn(d, "rx: %s: %s (frame dropped)", n->ifname, strerror(err));
				continue;
			}
			tap_failed(n, strerror(err));
			break;
		}
		if ((uint64_t)r < HDR_LEN) {
			virtq_unpop(q);
			continue;
		}
		fix_rx_header(n, e);
		rl_charge_bytes(&n->rx.rl, (uint64_t)r - HDR_LEN, rl_now_ns());
		count(d, &d->stats.read_bytes, (uint64_t)r - HDR_LEN);
		virtq_push(q, e->head, (uint32_t)r);
		count(d, &d->stats.requests, 1);
		pushed = true;
	}
	if (virtio_should_yield(d))
		poll_tap(n, false);
	if (pushed)
		virtio_notify(d, VIRTIO_NET_RXQ);
	if (n->mmds)
		mmds_arm(n);
}

/* ---- device callbacks ----------------------------------------------------- */

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *n = to_net(d);
	if (q == VIRTIO_NET_TXQ) {
		tx_process(n);
	} else if (!n->rx.throttled) {
		/* New receive buffers: frames may be waiting in the tap. */
		poll_tap(n, true);
		rx_process(n);
	}
}

static void on_tap(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	struct virtio_net *n = to_net(d);
	/* tun reports this once its interface is gone, whatever we wait for. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		tap_failed(n, "interface gone (poll error)");
		return;
	}
	rx_process(n); /* stops watching the tap unless the queue is live */
}

static void on_timer(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	struct virtio_net *n = to_net(d);
	struct net_dir *dir = opaque;
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	dir->throttled = false;
	/* Both are no-ops unless their queue is live. */
	if (dir == &n->tx) {
		tx_process(n);
	} else {
		poll_tap(n, true);
		rx_process(n);
	}
}

static void on_mmds_timer(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	struct virtio_net *n = to_net(d);
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	mmds_ns_tick(n->mmds, mono_ns());
	rx_process(n); /* retransmissions, resets of dropped connections */
	mmds_arm(n);
}

static void set_offload(struct virtio_net *n, unsigned flags)
{
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, flags))
		virtio_dev_warn(&n->dev, "%s: TUNSETOFFLOAD 0x%x: %s", n->ifname, flags, strerror(errno));
}

static void net_activate(struct virtio_dev *d)
{
	struct virtio_net *n = to_net(d);
	set_offload(n, virtio_has(d, VIRTIO_NET_F_GUEST_CSUM) ? TUN_F_CSUM : 0);
	poll_tap(n, true);
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = to_net(d);
	poll_tap(n, false);
	set_offload(n, 0);
	rl_timer_arm(n->rx.timer_fd, 0);
	rl_timer_arm(n->tx.timer_fd, 0);
	n->rx.throttled = n->tx.throttled = false;
	if (n->mmds) {
		mmds_ns_reset(n->mmds);
		mmds_arm(n);
	}
}

static void net_destroy(struct virtio_dev *d)
{
	struct virtio_net *n = to_net(d);
	int fds[] = { n->tap_fd, n->rx.timer_fd, n->tx.timer_fd, n->mmds_timer_fd };
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	mmds_ns_destroy(n->mmds);
	free(n);
}

static const struct virtio_dev_ops net_ops = {
	.thread_kind = "virtio-net",
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.destroy = net_destroy,
};

static int tap_open(const char *name, char *err, size_t errlen)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		return err_set(err, errlen, "/dev/net/tun: %s (is the tun module loaded?)", strerror(errno));
	}
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int hdr = (int)HDR_LEN;
	const char *what = "TUNSETIFF";
	if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
		what = "TUNSETVNETHDRSZ";
		if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) == 0) {
			what = "TUNSETOFFLOAD";
			if (ioctl(fd, TUNSETOFFLOAD, 0) == 0)
				return fd;
		}
	}
	int e = errno;
	err_set(err, errlen, "tap %s: %s: %s%s", name, what, strerror(e),
		e == EPERM ? " (create it first, e.g. `ip tuntap add NAME mode tap user USER`, or run with CAP_NET_ADMIN)" :
		e == EBUSY ? " (another process has it open)" : "");
	close(fd);
	return -1;
}

struct virtio_dev *virtio_net_create(const struct cfg_net *cfg, const struct guest_mem *mem,
				     char *err, size_t errlen)
{
	char e2[256];
	int fd = tap_open(cfg->host_dev_name, e2, sizeof(e2));
	if (fd < 0) {
		err_set(err, errlen, "network interface %s: %s", cfg->iface_id, e2);
		return NULL;
	}
	return virtio_net_create_on_fd(cfg, fd, mem, err, errlen);
}

struct virtio_dev *virtio_net_create_on_fd(const struct cfg_net *cfg, int fd,
					   const struct guest_mem *mem, char *err, size_t errlen)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		err_set(err, errlen, "network interface %s: out of memory", cfg->iface_id);
		return NULL;
	}
	n->tap_fd = fd;
	n->rx.timer_fd = n->tx.timer_fd = n->mmds_timer_fd = -1;
	snprintf(n->iface_id, sizeof(n->iface_id), "%s", cfg->iface_id);
	snprintf(n->ifname, sizeof(n->ifname), "%s", cfg->host_dev_name);
	uint64_t now = rl_now_ns();
	rl_init(&n->rx.rl, &cfg->rx_rate_limiter, now);
	rl_init(&n->tx.rl, &cfg->tx_rate_limiter, now);
	uint64_t features = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM);
	if (cfg->has_mac) {
		features |= 1ull << VIRTIO_NET_F_MAC;
		memcpy(n->config.mac, cfg->guest_mac, 6);
	}
	char name[48];
	snprintf(name, sizeof(name), "net:%s", cfg->iface_id);
	/* From here on the device's destroy() closes the fd. */
	if (virtio_dev_init(&n->dev, name, VIRTIO_ID_NET, features, 2, VIRTQ_MAX_SIZE, &net_ops, mem,
			    err, errlen))
		goto fail;
	n->dev.config = &n->config;
	n->dev.config_len = sizeof(n->config);
	n->rx.timer_fd = rl_timer_create();
	n->tx.timer_fd = rl_timer_create();
	if (n->rx.timer_fd < 0 || n->tx.timer_fd < 0 ||
	    virtio_dev_watch(&n->dev, n->rx.timer_fd, EPOLLIN, on_timer, &n->rx) ||
	    virtio_dev_watch(&n->dev, n->tx.timer_fd, EPOLLIN, on_timer, &n->tx) ||
	    virtio_dev_watch(&n->dev, n->tap_fd, 0, on_tap, NULL)) {
		err_set(err, errlen, "network interface %s: timerfd/epoll: %s", n->iface_id, strerror(errno));
		goto fail;
	}
	return &n->dev;
fail:
	virtio_dev_destroy(&n->dev);
	return NULL;
}

int virtio_net_enable_mmds(struct virtio_dev *d, const struct cfg_mmds *m, char *err, size_t errlen)
{
	struct virtio_net *n = to_net(d);
	if (n->mmds)
		return 0;
	n->mmds_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (n->mmds_timer_fd < 0)
		return err_set(err, errlen, "network interface %s: MMDS timerfd: %s", n->iface_id,
			       strerror(errno));
	if (!(n->mmds = mmds_ns_create(m)))
		return err_set(err, errlen, "network interface %s: MMDS: out of memory", n->iface_id);
	if (virtio_dev_watch(d, n->mmds_timer_fd, EPOLLIN, on_mmds_timer, NULL)) {
		int e = errno;
		mmds_ns_destroy(n->mmds);
		n->mmds = NULL;
		return err_set(err, errlen, "network interface %s: MMDS timer: epoll: %s", n->iface_id,
			       strerror(e));
	}
	log_info("%s: MMDS (%s) answers %u.%u.%u.%u on this interface", d->name,
		 m->version == CFG_MMDS_V2 ? "V2" : "V1", m->ipv4[0], m->ipv4[1], m->ipv4[2], m->ipv4[3]);
	return 0;
}
