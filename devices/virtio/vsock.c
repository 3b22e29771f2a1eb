/* virtio-vsock with Firecracker's UNIX-socket host side (see vsock.h).
 *
 * Why a nested epoll: the model watches a listening socket and up to
 * VSOCK_MAX_CONNS connections, more than the device core's fixed watch
 * table; the core watches one fd, this epoll, and the model dispatches.
 * Interest is kept exact so that nothing level-triggered spins: a
 * connection asks for EPOLLIN only while it can take the bytes to the guest
 * (credit left, not known readable already), for EPOLLOUT only while bytes
 * from the guest wait for the host socket.
 */
#include "devices/virtio/vsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>

#include "base/err.h"
#include "base/snap.h"

#define RX_Q 0
#define TX_Q 1
#define EV_Q 2
#define HDR_LEN ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define CTL_MAX 256        /* RSTs owed for packets that had no connection */
#define HELLO_MAX 32       /* "CONNECT 4294967295\n" fits */

enum conn_state {
	C_HELLO,     /* host client connected, its "CONNECT <port>\n" not yet read */
	C_WAIT,      /* REQUEST sent to the guest, no answer yet */
	C_OPEN,
};

struct conn {
	struct conn *next;
	int fd;                         /* -1 once reset */
	enum conn_state st;
	uint32_t host_port, guest_port;
	bool host_initiated;
	/* guest -> host: a ring of VSOCK_CONN_BUF bytes (the buf_alloc we advertise) */
	uint8_t *buf;
	uint32_t head, len;
	uint32_t fwd_cnt, fwd_told;     /* bytes written to the host socket; last told */
	uint32_t recv_cnt;              /* bytes the guest sent */
	/* host -> guest */
	uint32_t rx_cnt;                /* bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	bool readable;                  /* the host socket has bytes (or EOF) for us */
	bool host_eof, guest_no_send, guest_no_recv, shut_wr_done;
	bool hup;                       /* the host socket hung up: out of epoll, read to EOF */
	/* packets owed to the guest */
	bool owe_request, owe_response, owe_credit, owe_rst;
	char hello[HELLO_MAX];
	uint32_t hello_len;
	uint32_t events;                /* current epoll interest */
};

struct ctl_rst {
	uint32_t host_port, guest_port;
};

struct virtio_vsock {
	struct virtio_dev dev;
	struct virtio_vsock_config cfg;
	uint64_t cid;
	char *uds_path;
	dev_t sock_dev;
	ino_t sock_ino;
	int listen_fd, ep;
	struct conn *conns;
	unsigned nconns;
	_Atomic unsigned nconns_pub;
	uint32_t next_port;
	struct ctl_rst ctl[CTL_MAX];
	unsigned ctl_len;
	bool reset_event; /* restored from a snapshot: tell the driver (vsock_snap_restore) */
	struct virtq_elem elem;
};

static struct virtio_vsock *to_vsock(struct virtio_dev *d)
{
	return (struct virtio_vsock *)d;
}

/* ---- iovec helpers: the header and payload may span buffers ---- */

static void iov_copy_out(const struct iovec *iov, unsigned n, uint64_t off, void *dst, uint64_t len)
{
	uint8_t *p = dst;
	for (unsigned i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		memcpy(p, (uint8_t *)iov[i].iov_base + off, take);
		p += take;
		len -= take;
		off = 0;
	}
}

static void iov_copy_in(const struct iovec *iov, unsigned n, uint64_t off, const void *src, uint64_t len)
{
	const uint8_t *p = src;
	for (unsigned i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		memcpy((uint8_t *)iov[i].iov_base + off, p, take);
		p += take;
		len -= take;
		off = 0;
	}
}

/* iov[off .. off+max) as a new iovec array in `out` (at most `cap`). */
static unsigned iov_slice(const struct iovec *iov, unsigned n, uint64_t off, uint64_t max,
			  struct iovec *out, unsigned cap)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && max && k < cap; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - off < max ? iov[i].iov_len - off : max;
		out[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, take };
		max -= take;
		off = 0;
	}
	return k;
}

/* ---- connections ---- */

static void publish_count(struct virtio_vsock *v)
{
	atomic_store(&v->nconns_pub, v->nconns);
}

static struct conn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (struct conn *c = v->conns; c; c = c->next)
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	return NULL;
}

static bool host_port_used(struct virtio_vsock *v, uint32_t port)
{
	for (struct conn *c = v->conns; c; c = c->next)
		if (c->host_port == port)
			return true;
	return false;
}

static uint32_t alloc_host_port(struct virtio_vsock *v)
{
	do {
		v->next_port = v->next_port < VSOCK_HOST_PORT_BASE ? VSOCK_HOST_PORT_BASE
								   : v->next_port + 1;
	} while (host_port_used(v, v->next_port));
	return v->next_port;
}

static uint32_t credit_left(const struct conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;
	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static void conn_interest(struct virtio_vsock *v, struct conn *c)
{
	if (c->fd < 0 || c->hup)
		return;
	uint32_t ev = 0;
	if (c->st == C_HELLO)
		ev |= EPOLLIN;
	if (c->st == C_OPEN && !c->readable && !c->host_eof && !c->guest_no_recv && credit_left(c))
		ev |= EPOLLIN;
	if (c->len)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (!epoll_ctl(v->ep, EPOLL_CTL_MOD, c->fd, &e))
		c->events = ev;
}

static void conn_close_fd(struct virtio_vsock *v, struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(v->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
}

static void conn_free(struct virtio_vsock *v, struct conn *c)
{
	for (struct conn **p = &v->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	conn_close_fd(v, c);
	free(c);
	v->nconns--;
	publish_count(v);
}

/* Close the host side and owe the guest an RST; freed once it is sent. A
 * connection the guest never heard of (still C_HELLO) just goes. */
static void conn_reset(struct virtio_vsock *v, struct conn *c)
{
	if (c->st == C_HELLO) {
		conn_free(v, c);
		return;
	}
	conn_close_fd(v, c);
	c->owe_request = c->owe_response = c->owe_credit = false;
	c->owe_rst = true;
}

static struct conn *conn_new(struct virtio_vsock *v, int fd, enum conn_state st)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->st = st;
	c->events = st == C_HELLO ? EPOLLIN : 0;
	struct epoll_event e = { .events = c->events, .data.ptr = c };
	if (epoll_ctl(v->ep, EPOLL_CTL_ADD, fd, &e)) {
		free(c);
		return NULL;
	}
	c->next = v->conns;
	v->conns = c;
	v->nconns++;
	publish_count(v);
	return c;
}

/* An RST for a packet that matched no connection. */
static void owe_ctl_rst(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	if (v->ctl_len < CTL_MAX)
		v->ctl[v->ctl_len++] = (struct ctl_rst){ host_port, guest_port };
	else
		atomic_fetch_add_explicit(&v->dev.stats.dropped, 1, memory_order_relaxed);
}

/* ---- device -> guest (rx queue) ---- */

static void fill_hdr(struct virtio_vsock *v, struct virtio_vsock_hdr *h, uint32_t host_port,
		     uint32_t guest_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->cid;
	h->src_port = host_port;
	h->dst_port = guest_port;
	h->type = VIRTIO_VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = VSOCK_CONN_BUF;
}

/* Fill `e` with the next thing owed to the guest. Returns the used length,
 * 0 when nothing is owed, -1 when a connection had nothing after all (try
 * the next), leaving `e` unused. */
static int64_t next_packet(struct virtio_vsock *v, struct virtq_elem *e)
{
	struct virtio_vsock_hdr h;
	if (v->ctl_len) {
		struct ctl_rst r = v->ctl[--v->ctl_len];
		fill_hdr(v, &h, r.host_port, r.guest_port, VIRTIO_VSOCK_OP_RST);
		iov_copy_in(e->iov + e->nout, e->nin, 0, &h, HDR_LEN);
		return HDR_LEN;
	}
	for (struct conn *c = v->conns; c; c = c->next) {
		uint16_t op = 0;
		if (c->owe_rst) {
			fill_hdr(v, &h, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RST);
			iov_copy_in(e->iov + e->nout, e->nin, 0, &h, HDR_LEN);
			conn_free(v, c);
			return HDR_LEN;
		}
		if (c->owe_request) {
			op = VIRTIO_VSOCK_OP_REQUEST;
			c->owe_request = false;
		} else if (c->owe_response) {
			op = VIRTIO_VSOCK_OP_RESPONSE;
			c->owe_response = false;
		} else if (c->owe_credit) {
			op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
			c->owe_credit = false;
		}
		if (op) {
			fill_hdr(v, &h, c->host_port, c->guest_port, op);
			h.fwd_cnt = c->fwd_cnt;
			c->fwd_told = c->fwd_cnt;
			iov_copy_in(e->iov + e->nout, e->nin, 0, &h, HDR_LEN);
			return HDR_LEN;
		}
	}
	/* Data: from a host socket known readable, within the guest's credit. */
	for (struct conn *c = v->conns; c; c = c->next) {
		if (c->st != C_OPEN || !c->readable || c->fd < 0 || c->host_eof || c->guest_no_recv)
			continue;
		uint32_t max = credit_left(c);
		if (!max)
			continue;
		if (max > VSOCK_MAX_PKT)
			max = VSOCK_MAX_PKT;
		if (max > e->in_len - HDR_LEN)
			max = (uint32_t)(e->in_len - HDR_LEN);
		if (!max)
			continue; /* a buffer with room for a header only: control packets */
		struct iovec sub[VIRTQ_MAX_CHAIN];
		unsigned k = iov_slice(e->iov + e->nout, e->nin, HDR_LEN, max, sub, VIRTQ_MAX_CHAIN);
		ssize_t n = readv(c->fd, sub, (int)k);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			c->readable = false;
			conn_interest(v, c);
			return -1;
		}
		if (n <= 0) {
			/* EOF: the host will send no more (a half-close: it may still
			 * read, unless it hung up altogether, which is then a reset). */
			c->host_eof = true;
			c->readable = false;
			fill_hdr(v, &h, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_SHUTDOWN);
			h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
			h.fwd_cnt = c->fwd_cnt;
			c->fwd_told = c->fwd_cnt;
			iov_copy_in(e->iov + e->nout, e->nin, 0, &h, HDR_LEN);
			if (c->hup || n < 0)
				conn_reset(v, c);
			else
				conn_interest(v, c);
			return HDR_LEN;
		} else {
			fill_hdr(v, &h, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RW);
			h.len = (uint32_t)n;
			c->rx_cnt += (uint32_t)n;
			atomic_fetch_add_explicit(&v->dev.stats.read_bytes, (uint64_t)n,
						  memory_order_relaxed);
		}
		h.fwd_cnt = c->fwd_cnt;
		c->fwd_told = c->fwd_cnt;
		iov_copy_in(e->iov + e->nout, e->nin, 0, &h, HDR_LEN);
		conn_interest(v, c);
		return HDR_LEN + (n > 0 ? n : 0);
	}
	return 0;
}

static bool anything_owed(struct virtio_vsock *v)
{
	if (v->ctl_len)
		return true;
	for (struct conn *c = v->conns; c; c = c->next) {
		if (c->owe_rst || c->owe_request || c->owe_response || c->owe_credit)
			return true;
		if (c->st == C_OPEN && c->readable && !c->host_eof && !c->guest_no_recv &&
		    credit_left(c))
			return true;
	}
	return false;
}

static void rx_flush(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtq *q = &d->vq[RX_Q];
	bool pushed = false;
	if (!virtio_queue_live(d, RX_Q))
		return;
	while (!virtio_should_yield(d) && anything_owed(v)) {
		struct virtq_elem *e = &v->elem;
		int p = virtq_pop_armed(q, e);
		if (p == 0)
			break; /* no buffer: the driver's next rx kick brings us back */
		if (p < 0) {
			virtio_dev_fail(d, "rx queue: available ring index or head out of range");
			return;
		}
		if (e->err || e->nout || e->in_len < HDR_LEN) {
			atomic_fetch_add_explicit(&d->stats.bad_requests, 1, memory_order_relaxed);
			virtio_dev_warn(d, "bad rx buffer (head %u): %s", e->head,
					e->err ? virtq_err_name(e->err)
					       : "not a writable buffer of at least a header");
			virtq_push(q, e->head, 0);
			pushed = true;
			continue;
		}
		int64_t used;
		while ((used = next_packet(v, e)) < 0)
			;
		if (!used) {
			virtq_unpop(q);
			break;
		}
		virtq_push(q, e->head, (uint32_t)used);
		atomic_fetch_add_explicit(&d->stats.requests, 1, memory_order_relaxed);
		pushed = true;
	}
	if (pushed)
		virtio_notify(d, RX_Q);
}

/* ---- host sockets ---- */

static void host_write(struct virtio_vsock *v, struct conn *c)
{
	while (c->len && c->fd >= 0) {
		uint32_t chunk = VSOCK_CONN_BUF - c->head < c->len ? VSOCK_CONN_BUF - c->head : c->len;
		ssize_t n = send(c->fd, c->buf + c->head, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_reset(v, c);
			return;
		}
		c->head = (c->head + (uint32_t)n) % VSOCK_CONN_BUF;
		c->len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
		atomic_fetch_add_explicit(&v->dev.stats.write_bytes, (uint64_t)n, memory_order_relaxed);
	}
	/* Tell the guest about freed room before it runs dry (a quarter of it). */
	if (c->fwd_cnt - c->fwd_told >= VSOCK_CONN_BUF / 4)
		c->owe_credit = true;
	if (!c->len && c->guest_no_send && !c->shut_wr_done && c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr_done = true;
	}
	/* Closed both ways by the guest, and all it sent has reached the host:
	 * the spec's answer is an RST. Not sooner: that would drop the tail. */
	if (!c->len && c->guest_no_send && c->guest_no_recv) {
		conn_reset(v, c);
		return;
	}
	conn_interest(v, c);
}

/* "CONNECT <port>\n" from a host client on uds_path. */
static void host_hello(struct virtio_vsock *v, struct conn *c)
{
	ssize_t n = read(c->fd, c->hello + c->hello_len, HELLO_MAX - 1 - c->hello_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(v, c);
		return;
	}
	c->hello_len += (uint32_t)n;
	c->hello[c->hello_len] = 0;
	char *nl = strchr(c->hello, '\n');
	if (!nl) {
		if (c->hello_len >= HELLO_MAX - 1) {
			virtio_dev_warn(&v->dev, "%s: a host client sent no \"CONNECT <port>\" line",
					v->uds_path);
			conn_free(v, c);
		}
		return;
	}
	unsigned long port;
	char *end;
	if (strncmp(c->hello, "CONNECT ", 8) || c->hello[8] < '0' || c->hello[8] > '9' ||
	    (port = strtoul(c->hello + 8, &end, 10)) > UINT32_MAX || (end != nl && !(end[0] == '\r' && end + 1 == nl)) ||
	    nl[1]) {
		virtio_dev_warn(&v->dev, "%s: a host client sent a bad CONNECT line", v->uds_path);
		conn_free(v, c);
		return;
	}
	c->guest_port = (uint32_t)port;
	c->host_port = alloc_host_port(v);
	c->host_initiated = true;
	c->st = C_WAIT;
	c->owe_request = true;
	conn_interest(v, c);
}

static void accept_clients(struct virtio_vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (v->nconns >= VSOCK_MAX_CONNS || !conn_new(v, fd, C_HELLO)) {
			virtio_dev_warn(&v->dev, "%s: too many connections (%u); refusing one",
					v->uds_path, v->nconns);
			close(fd);
		}
	}
}

static void on_ep(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	struct virtio_vsock *v = to_vsock(d);
	struct epoll_event evs[64];
	int n = epoll_wait(v->ep, evs, 64, 0);
	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].data.ptr;
		if (!c) {
			accept_clients(v);
			continue;
		}
		/* A connection freed earlier in this batch is not in the list. */
		struct conn *it = v->conns;
		while (it && it != c)
			it = it->next;
		if (!it || c->fd < 0)
			continue;
		if (c->st == C_HELLO) {
			host_hello(v, c);
		} else if (c->st == C_WAIT) {
			if (evs[i].events & (EPOLLHUP | EPOLLERR))
				conn_reset(v, c); /* the host client left before the guest answered */
		} else {
			if (evs[i].events & EPOLLOUT)
				host_write(v, c);
			if ((evs[i].events & (EPOLLHUP | EPOLLERR)) && c->fd >= 0) {
				/* Reported for ever once it happens: leave epoll, read
				 * what is left, then reset (next_packet). */
				epoll_ctl(v->ep, EPOLL_CTL_DEL, c->fd, NULL);
				c->hup = true;
				c->readable = true;
				c->len = 0; /* nobody will read what the guest sent */
			} else if ((evs[i].events & EPOLLIN) && c->fd >= 0) {
				c->readable = true;
				conn_interest(v, c);
			}
			if (c->hup && c->fd >= 0 && (c->host_eof || c->guest_no_recv))
				conn_reset(v, c);
		}
	}
	rx_flush(v);
}

/* ---- guest -> device (tx queue) ---- */

static void guest_connect(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port,
			  const struct virtio_vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int len = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds_path, host_port);
	int fd = -1;
	if (v->nconns >= VSOCK_MAX_CONNS || len < 0 || (size_t)len >= sizeof(sa.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		owe_ctl_rst(v, host_port, guest_port); /* nobody listens there: refused */
		return;
	}
	struct conn *c = conn_new(v, fd, C_OPEN);
	if (!c) {
		close(fd);
		owe_ctl_rst(v, host_port, guest_port);
		return;
	}
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->owe_response = true;
	conn_interest(v, c);
}

static void guest_fault(struct virtio_vsock *v, struct conn *c, uint32_t host_port,
			uint32_t guest_port, const char *why)
{
	atomic_fetch_add_explicit(&v->dev.stats.bad_requests, 1, memory_order_relaxed);
	virtio_dev_warn(&v->dev, "bad packet (guest port %u -> host port %u): %s; reset", guest_port,
			host_port, why);
	if (c)
		conn_reset(v, c);
	else
		owe_ctl_rst(v, host_port, guest_port);
}

static void handle_packet(struct virtio_vsock *v, struct virtq_elem *e)
{
	struct virtio_vsock_hdr h;
	if (e->err || e->out_len < HDR_LEN) {
		atomic_fetch_add_explicit(&v->dev.stats.bad_requests, 1, memory_order_relaxed);
		virtio_dev_warn(&v->dev, "bad tx chain (head %u): %s", e->head,
				e->err ? virtq_err_name(e->err) : "shorter than a packet header");
		return;
	}
	iov_copy_out(e->iov, e->nout, 0, &h, HDR_LEN);
	uint32_t hp = h.dst_port, gp = h.src_port;
	if (h.src_cid != v->cid || h.dst_cid != VSOCK_HOST_CID) {
		/* Not from this guest or not to the host: nothing to answer. */
		atomic_fetch_add_explicit(&v->dev.stats.bad_requests, 1, memory_order_relaxed);
		virtio_dev_warn(&v->dev, "packet from CID %llu to CID %llu dropped (guest CID %llu, "
			       "host CID %u)", (unsigned long long)h.src_cid,
			       (unsigned long long)h.dst_cid, (unsigned long long)v->cid, VSOCK_HOST_CID);
		return;
	}
	struct conn *c = conn_find(v, hp, gp);
	if (c && c->owe_rst)
		return; /* already being reset: the guest will hear */
	if (h.type != VIRTIO_VSOCK_TYPE_STREAM) {
		guest_fault(v, c, hp, gp, "only stream sockets are supported");
		return;
	}
	if (h.len > VSOCK_MAX_PKT || HDR_LEN + (uint64_t)h.len > e->out_len) {
		guest_fault(v, c, hp, gp, "length beyond the chain or the 64 KiB packet limit");
		return;
	}
	if (c) {
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
		conn_interest(v, c); /* more credit may re-arm reading */
	}
	switch (h.op) {
	case VIRTIO_VSOCK_OP_REQUEST:
		if (c)
			guest_fault(v, c, hp, gp, "REQUEST on an open connection");
		else
			guest_connect(v, hp, gp, &h);
		return;
	case VIRTIO_VSOCK_OP_RESPONSE: {
		if (!c || c->st != C_WAIT) {
			guest_fault(v, c, hp, gp, "RESPONSE without a REQUEST");
			return;
		}
		char ok[32];
		int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
		c->st = C_OPEN;
		if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
			conn_reset(v, c);
		else
			conn_interest(v, c);
		return;
	}
	case VIRTIO_VSOCK_OP_RST:
		if (c)
			conn_free(v, c);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (!c || c->st != C_OPEN) {
			guest_fault(v, c, hp, gp, "SHUTDOWN for no open connection");
			return;
		}
		c->guest_no_recv |= (h.flags & VIRTIO_VSOCK_SHUTDOWN_RCV) != 0;
		c->guest_no_send |= (h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND) != 0;
		host_write(v, c); /* flushes, half-closes, resets when both ways are done */
		return;
	case VIRTIO_VSOCK_OP_RW:
		if (!c || c->st != C_OPEN || c->guest_no_send) {
			guest_fault(v, c, hp, gp, "data for no open connection");
			return;
		}
		/* The guest may have at most buf_alloc bytes beyond the fwd_cnt we
		 * last told it (virtio 1.2 5.10.6.3); the ring holds that much. */
		if ((uint32_t)(c->recv_cnt + h.len - c->fwd_told) > VSOCK_CONN_BUF ||
		    h.len > VSOCK_CONN_BUF - c->len) {
			guest_fault(v, c, hp, gp, "more data than the credit the device gave");
			return;
		}
		c->recv_cnt += h.len;
		if (!c->buf && !(c->buf = malloc(VSOCK_CONN_BUF))) {
			conn_reset(v, c);
			return;
		}
		for (uint32_t done = 0; done < h.len;) {
			uint32_t tail = (c->head + c->len) % VSOCK_CONN_BUF;
			uint32_t room = VSOCK_CONN_BUF - tail < h.len - done ? VSOCK_CONN_BUF - tail
									: h.len - done;
			iov_copy_out(e->iov, e->nout, HDR_LEN + done, c->buf + tail, room);
			c->len += room;
			done += room;
		}
		host_write(v, c);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		if (!c) {
			guest_fault(v, c, hp, gp, "CREDIT_UPDATE for no connection");
			return;
		}
		conn_interest(v, c); /* more credit may re-arm reading */
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		if (!c) {
			guest_fault(v, c, hp, gp, "CREDIT_REQUEST for no connection");
			return;
		}
		c->owe_credit = true;
		return;
	default:
		guest_fault(v, c, hp, gp, "unknown operation");
		return;
	}
}

static void tx_process(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtq *q = &d->vq[TX_Q];
	bool pushed = false;
	if (!virtio_queue_live(d, TX_Q))
		return;
	for (;;) {
		virtq_disable_notify(q);
		while (!virtio_should_yield(d)) {
			int p = virtq_pop(q, &v->elem);
			if (p == 0)
				break;
			if (p < 0) {
				virtio_dev_fail(d, "tx queue: available ring index or head out of range");
				return;
			}
			handle_packet(v, &v->elem);
			virtq_push(q, v->elem.head, 0);
			atomic_fetch_add_explicit(&d->stats.requests, 1, memory_order_relaxed);
			pushed = true;
		}
		if (virtio_should_yield(d) || !virtq_enable_notify(q))
			break;
	}
	if (pushed)
		virtio_notify(d, TX_Q);
}

/* ---- device ops ---- */

/* After a restore, the first event: TRANSPORT_RESET (virtio 5.10.6.7), on
 * which the driver drops every connection and re-reads the guest CID. Until
 * the driver gives an event buffer, the event waits. */
static void send_reset_event(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtq *q = &d->vq[EV_Q];
	if (!v->reset_event || !virtio_queue_live(d, EV_Q))
		return;
	int p = virtq_pop_armed(q, &v->elem);
	if (p == 0)
		return;
	if (p < 0) {
		virtio_dev_fail(d, "event queue: available ring index or head out of range");
		return;
	}
	struct virtio_vsock_event ev = { .id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET };
	uint32_t len = 0;
	if (!v->elem.err && !v->elem.nout && v->elem.in_len >= sizeof(ev))
		len = (uint32_t)iov_from_buf(v->elem.iov, v->elem.nin, 0, &ev, sizeof(ev));
	else
		virtio_dev_warn(d, "bad event buffer (head %u)", v->elem.head);
	virtq_push(q, v->elem.head, len);
	virtio_notify(d, EV_Q);
	v->reset_event = len == 0; /* a bad buffer: try the next one */
}

static void vsock_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_vsock *v = to_vsock(d);
	if (q == TX_Q)
		tx_process(v);
	if (q == EV_Q)
		send_reset_event(v);
	/* Otherwise the event queue holds buffers for events not sent. */
	rx_flush(v);
}

/* Snapshots: no connection survives (their host sockets belong to the old
 * process), as in Firecracker: the restored device sends the driver a
 * transport reset when the VM resumes. */
static void vsock_snap_restore(struct virtio_dev *d, struct snap_r *r)
{
	(void)r;
	to_vsock(d)->reset_event = true;
}

static void vsock_reset(struct virtio_dev *d)
{
	struct virtio_vsock *v = to_vsock(d);
	/* The driver forgot every connection: so does the host side. */
	v->reset_event = false; /* a new driver instance starts afresh */
	while (v->conns)
		conn_free(v, v->conns);
	v->ctl_len = 0;
}

static void vsock_destroy(struct virtio_dev *d)
{
	struct virtio_vsock *v = to_vsock(d);
	struct stat st;
	while (v->conns)
		conn_free(v, v->conns);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->ep >= 0)
		close(v->ep);
	/* Only our own socket file: another process may have replaced it. */
	if (v->uds_path && !lstat(v->uds_path, &st) && st.st_dev == v->sock_dev &&
	    st.st_ino == v->sock_ino)
		unlink(v->uds_path);
	free(v->uds_path);
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.thread_kind = "virtio-vsock",
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.destroy = vsock_destroy,
	.snap_restore = vsock_snap_restore,
};

static int listen_on(struct virtio_vsock *v, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	/* Room for "_<port>" too: guest-initiated connections go to path_PORT. */
	if (!path[0] || strlen(path) + 11 >= sizeof(sa.sun_path))
		return err_set(err, errlen, "vsock uds_path %s: a UNIX socket path of 1..%zu bytes "
			       "(room for \"_<port>\" is needed)", path, sizeof(sa.sun_path) - 12);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(err, errlen, "vsock uds_path %s: exists and is not a socket; "
				       "refusing to replace it", path);
		unlink(path); /* a socket file left behind, as Firecracker's users expect */
	}
	memcpy(sa.sun_path, path, strlen(path));
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(v->listen_fd, SOMAXCONN) || stat(path, &st))
		return err_set(err, errlen, "vsock uds_path %s: %s", path, strerror(errno));
	v->sock_dev = st.st_dev;
	v->sock_ino = st.st_ino;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(v->ep, EPOLL_CTL_ADD, v->listen_fd, &e))
		return err_set(err, errlen, "vsock: epoll_ctl: %s", strerror(errno));
	return 0;
}

struct virtio_dev *virtio_vsock_create(uint64_t cid, const char *uds_path,
				       const struct guest_mem *mem, char *err, size_t errlen)
{
	if (cid < 3 || cid > UINT32_MAX) {
		err_set(err, errlen, "vsock guest_cid %llu: must be 3..4294967295 (0-2 are reserved)",
			(unsigned long long)cid);
		return NULL;
	}
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	if (!v) {
		err_set(err, errlen, "vsock device: out of memory");
		return NULL;
	}
	v->listen_fd = -1;
	v->cid = cid;
	v->cfg.guest_cid = cid;
	v->ep = epoll_create1(EPOLL_CLOEXEC);
	if (v->ep < 0 || !(v->uds_path = strdup(uds_path))) {
		err_set(err, errlen, "vsock device: %s", strerror(errno));
		goto fail_early;
	}
	if (virtio_dev_init(&v->dev, "vsock", VIRTIO_ID_VSOCK, 0, 3, VIRTQ_MAX_SIZE, &vsock_ops, mem,
			    err, errlen))
		goto fail_early;
	v->dev.config = &v->cfg;
	v->dev.config_len = sizeof(v->cfg);
	if (listen_on(v, uds_path, err, errlen)) {
		virtio_dev_destroy(&v->dev);
		return NULL;
	}
	if (virtio_dev_watch(&v->dev, v->ep, EPOLLIN, on_ep, NULL)) {
		err_set(err, errlen, "vsock device: cannot watch its sockets");
		virtio_dev_destroy(&v->dev);
		return NULL;
	}
	return &v->dev;
fail_early:
	if (v->ep >= 0)
		close(v->ep);
	free(v->uds_path);
	free(v);
	return NULL;
}

unsigned virtio_vsock_conns(struct virtio_dev *d)
{
	return atomic_load(&to_vsock(d)->nconns_pub);
}
