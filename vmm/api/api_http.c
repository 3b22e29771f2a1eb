/* The API's transport: HTTP/1.1 on a UNIX socket mpvm binds itself, with
 * mpvm's own strict parser (http_parse.c) and connection handling.
 *
 * Why not libmicrohttpd (used until issue 11): it answers malformed requests
 * itself (HTML bodies, two header blocks for "Content-Length: -1"), executed
 * a request with two conflicting Content-Length headers, holds a garbage
 * connection until its idle timeout, lets a trickling client extend its
 * stay forever (its timeout is per idle gap, not per request), and refuses
 * new clients when its slots are full instead of evicting idle ones. None of
 * that is configurable. Firecracker made the same choice (micro_http).
 *
 * Why on the main thread: every handler reads or edits struct vmm. On the
 * main loop they are serialised with the other callbacks (serial input,
 * signals, VM exit) for free. The server has its own epoll fd (listening
 * socket and connections) registered in the loop, plus one timerfd armed at
 * the earliest connection deadline. Handlers must be quick: the longest is
 * vmm_pause(), which waits only for vCPUs to leave KVM_RUN.
 *
 * Limits (README "Security"): API_MAX_CONNECTIONS connections; when full, a
 * new client evicts the longest-idle connection, else the oldest unfinished
 * request, so idle or slow clients cannot lock others out. A request (head
 * and body) must arrive within the request deadline from its first byte, and
 * its answer must be taken within the same time; an idle keep-alive
 * connection is closed after the idle timeout. Bytes arriving slowly extend
 * neither.
 */
#include "api/api.h"
#include "base/http_parse.h"
#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/metrics.h"
#include "builder/vmm.h"
#include "core/event_loop.h"
#include "core/log.h"

/* Input a connection may buffer: one whole request at most. */
#define CONN_IN_CAP (HTTP_MAX_HEAD + API_MAX_BODY + 1)
/* What a connection starts with: most requests fit, and 64 idle clients
 * then hold 256 KiB, not 5 MiB. */
#define CONN_IN_START 4096

struct conn {
	int fd;
	char *in;             /* bytes received, not yet consumed by a request */
	size_t in_len, in_cap; /* grows from CONN_IN_START to CONN_IN_CAP */
	size_t need;          /* head parsed: bytes the whole request needs; else 0 */
	char *out;            /* answer being sent */
	size_t out_len, out_off;
	uint64_t req_start;   /* ms: first byte of the unfinished request; 0 none */
	uint64_t idle_since;  /* ms: connected or last answer sent */
	uint64_t write_start; /* ms: answer queued and not yet taken; 0 none */
	uint32_t events;      /* what the server's epoll waits for */
	bool peer_done;       /* the client shut down its side */
	bool close_after;     /* close once `out` is sent */
	bool stop_after;      /* StopVmm: stop the VMM once `out` is sent */
	bool continue_sent;   /* "100 Continue" already sent for this request */
};

struct api_server {
	struct api_ctx ctx;
	struct ev_loop *loop;
	int epoll_fd;   /* the listening socket and the connections */
	int timer_fd;   /* armed at the earliest connection deadline */
	int listen_fd;
	char *path;     /* the socket file we created, NULL if none */
	dev_t dev;
	ino_t ino;
	bool stopping;
	unsigned idle_ms, request_ms;
	struct conn *conns[API_MAX_CONNECTIONS];
};

/* ---- the listening socket ---- */

static int unix_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!path[0] || strlen(path) >= sizeof(sa->sun_path)) {
		return err_set(err, errlen, "--api-sock %s: a UNIX socket path must have 1..%zu bytes", path,
			       sizeof(sa->sun_path) - 1);
	}
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* 1: a server answers at `path`; 0: nobody does (stale file); -1: error. */
static int socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	if (!rc)
		return 1;
	return e == ECONNREFUSED || e == ENOENT ? 0 : -1;
}

static int bind_socket(struct api_server *s, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	if (unix_addr(path, &sa, err, errlen))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return err_set(err, errlen, "--api-sock %s: socket: %s", path, strerror(errno));
	}
	/* umask, not chmod after bind: no moment where others may connect. No
	 * other thread creates files yet (the API starts before the vCPUs). */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc && errno == EADDRINUSE) {
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			umask(old);
			err_set(err, errlen, "--api-sock %s: exists and is not a socket; refusing to "
					      "replace it", path);
			goto fail;
		}
		int live = socket_is_live(&sa);
		if (live) {
			umask(old);
			err_set(err, errlen, "--api-sock %s: %s", path, live > 0
				? "another process is serving this socket (connect succeeded); stop it "
				   "or choose another path"
				: "exists and cannot be probed; remove it or choose another path");
			goto fail;
		}
		/* A socket file left by a process that is gone. */
		log_info("removing stale API socket %s", path);
		unlink(path);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	int e = errno;
	umask(old);
	if (rc) {
		err_set(err, errlen, "--api-sock %s: bind: %s", path, strerror(e));
		goto fail;
	}
	if (listen(fd, SOMAXCONN) || stat(path, &st)) {
		err_set(err, errlen, "--api-sock %s: listen: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->path = strdup(path);
	return fd;
fail:
	close(fd);
	return -1;
}

/* ---- connections ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_watch(struct api_server *s, struct conn *c, uint32_t events)
{
	if (c->events == events)
		return;
	struct epoll_event e = { .events = events, .data.ptr = c };
	if (!epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &e))
		c->events = events;
}

static int conn_slot(struct api_server *s, const struct conn *c)
{
	for (int i = 0; i < API_MAX_CONNECTIONS; i++)
		if (s->conns[i] == c)
			return i;
	return -1;
}

static void stop_vmm(struct api_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	log_info("StopVmm: stopping");
	s->ctx.ops->stop(s->ctx.vmm);
}

static void conn_close(struct api_server *s, struct conn *c, const char *why)
{
	int i = conn_slot(s, c);
	if (i >= 0)
		s->conns[i] = NULL;
	if (why)
		log_debug("API: closing connection %d: %s", c->fd, why);
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	/* StopVmm takes effect once its 204 is on the wire (or the client left). */
	if (c->stop_after)
		stop_vmm(s);
	free(c->in);
	free(c->out);
	free(c);
}

/* Queue `len` bytes of `text` (taken over, malloc'd) as the answer. */
static void conn_queue(struct conn *c, char *text, size_t len)
{
	free(c->out);
	c->out = text;
	c->out_len = len;
	c->out_off = 0;
	c->write_start = now_ms();
}

/* An HTTP answer with `body` (malloc'd JSON, taken over; NULL: none). */
static void conn_answer(struct conn *c, int status, char *body)
{
	size_t blen = body ? strlen(body) : 0;
	char head[256];
	int n;
	if (status == 204 || !body) {
		/* RFC 9110: a 204 carries no Content-Length. */
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: mpvm API\r\n%s%s\r\n",
			     status, http_reason(status), status == 204 ? "" : "Content-Length: 0\r\n",
			     c->close_after ? "Connection: close\r\n" : "");
		blen = 0;
	} else {
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: mpvm API\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
			     status, http_reason(status), blen,
			     c->close_after ? "Connection: close\r\n" : "");
	}
	char *text = malloc((size_t)n + blen + 1);
	if (!text) {
		free(body);
		c->close_after = true;
		conn_queue(c, NULL, 0);
		return;
	}
	memcpy(text, head, (size_t)n);
	if (blen)
		memcpy(text + n, body, blen);
	free(body);
	conn_queue(c, text, (size_t)n + blen);
}

/* A transport-level refusal: one JSON fault, then close. */
static void conn_refuse(struct conn *c, int status, const char *msg, const char *route)
{
	c->close_after = true;
	c->in_len = 0;
	metrics_count_request(route, status);
	log_debug("API: %s: %d %s", route, status, msg);
	conn_answer(c, status, api_fault_json(msg));
}

static void conn_consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->need = 0;
	c->continue_sent = false;
	c->req_start = 0;
}

/* Robustness rule (RFC 9112 2.2): ignore empty lines before a request. */
static void skip_blank_lines(struct conn *c)
{
	size_t n = 0;
	while (n < c->in_len && (c->in[n] == '\r' || c->in[n] == '\n'))
		n++;
	if (n) {
		memmove(c->in, c->in + n, c->in_len - n);
		c->in_len -= n;
	}
}

static void serve(struct api_server *s, struct conn *c, const struct http_request *rq)
{
	char path[HTTP_MAX_TARGET + 1];
	memcpy(path, rq->target, rq->target_len);
	path[rq->target_len] = 0;
	struct api_reply r;
	api_route(&s->ctx, rq->method, path, rq->body, rq->body_len, &r);
	c->close_after = !rq->keep_alive || c->peer_done || r.stop_after;
	c->stop_after = r.stop_after;
	conn_consume(c, rq->total_len);
	conn_answer(c, r.status, r.body);
}

/* Work through what the connection has buffered: at most one answer in
 * flight (pipelined requests wait their turn). `fresh` is where the bytes
 * that just arrived start. */
static void conn_process(struct api_server *s, struct conn *c, size_t fresh)
{
	if (c->out || c->close_after)
		return;
	if (!c->need)
		skip_blank_lines(c);
	if (!c->in_len)
		return;
	if (!c->req_start)
		c->req_start = now_ms();
	if (c->need && c->in_len < c->need)
		return; /* the body is still coming */
	struct http_request rq;
	struct http_error e;
	enum http_result res;
	if (!c->need && fresh && fresh < c->in_len && memchr(c->in, '\n', fresh) &&
	    !memchr(c->in + fresh, '\n', c->in_len - fresh))
		return; /* no line ended since the last look: nothing new to judge */
	res = http_parse(c->in, c->in_len, API_MAX_BODY, &rq, &e);
	if (res == HTTP_MALFORMED) {
		conn_refuse(c, e.status, e.msg, e.too_large ? "oversize" : "malformed");
		return;
	}
	if (res == HTTP_NEED_MORE) {
		if (rq.head_len) {
			c->need = rq.total_len;
			if (rq.expect_continue && !c->continue_sent) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				char *t = strdup(cont);
				if (t)
					conn_queue(c, t, sizeof(cont) - 1);
				c->continue_sent = true;
			}
		}
		return;
	}
	serve(s, c, &rq);
}

static void conn_flush(struct api_server *s, struct conn *c);

static void conn_read(struct api_server *s, struct conn *c)
{
	size_t fresh = c->in_len;
	while (!c->peer_done && c->in_len < CONN_IN_CAP) {
		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : CONN_IN_START;
			char *in = realloc(c->in, cap < CONN_IN_CAP ? cap : CONN_IN_CAP);
			if (!in) {
				conn_close(s, c, "out of memory");
				return;
			}
			c->in = in;
			c->in_cap = cap < CONN_IN_CAP ? cap : CONN_IN_CAP;
		}
		ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (r > 0) {
			c->in_len += (size_t)r;
		} else if (r == 0) {
			c->peer_done = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN) {
			break;
		} else {
			conn_close(s, c, strerror(errno));
			return;
		}
	}
	conn_process(s, c, fresh);
	conn_flush(s, c);
}

/* Send what is queued; when done, go on with the next request or close. */
static void conn_flush(struct api_server *s, struct conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN) {
			conn_watch(s, c, EPOLLOUT);
			return;
		} else {
			conn_close(s, c, "the client went away");
			return;
		}
	}
	if (c->out || c->close_after) {
		bool was_answer = c->out && !(c->continue_sent && c->need);
		free(c->out);
		c->out = NULL;
		c->write_start = 0;
		if (c->close_after) {
			conn_close(s, c, NULL);
			return;
		}
		if (was_answer)
			c->idle_since = now_ms();
		/* Pipelined requests already buffered. */
		conn_process(s, c, 0);
		if (c->out) {
			conn_flush(s, c);
			return;
		}
	}
	if (c->peer_done && !c->out) {
		/* The client has sent all it will; an unfinished request never completes. */
		conn_close(s, c, c->in_len ? "the client left mid-request" : NULL);
		return;
	}
	conn_watch(s, c, EPOLLIN | EPOLLRDHUP);
}

/* An idle connection whose client has already gone (EOF or reset waiting
 * to be read): free to reap, not worth keeping. */
static bool conn_client_gone(const struct conn *c)
{
	char b;
	ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
}

/* The connection to give up when all slots are taken: one whose client has
 * gone, else the longest idle, else the oldest unfinished request, else the
 * oldest unread answer. Gone clients come first because a client that
 * connects, asks and closes in a tight loop can fill the table before the
 * loop reads their hang-ups; evicting a live idle client then would be wrong. */
static int pick_victim(struct api_server *s)
{
	int best = -1, best_rank = 3;
	uint64_t best_t = UINT64_MAX;
	for (int i = 0; i < API_MAX_CONNECTIONS; i++) {
		struct conn *c = s->conns[i];
		if (!c)
			continue;
		if (!c->out && !c->in_len && conn_client_gone(c))
			return i;
		int rank = c->out ? 2 : c->in_len ? 1 : 0;
		uint64_t t = rank == 2 ? c->write_start : rank == 1 ? c->req_start : c->idle_since;
		if (rank < best_rank || (rank == best_rank && t < best_t)) {
			best = i;
			best_rank = rank;
			best_t = t;
		}
	}
	return best;
}

static void conn_read(struct api_server *s, struct conn *c);

/* Serve what the client already sent before the next accept: under a flood
 * of new connections, a client whose request is waiting in its socket must
 * not look idle and be evicted for the next one. */
static int conn_add(struct api_server *s, int fd)
{
	int slot = -1;
	for (int i = 0; i < API_MAX_CONNECTIONS && slot < 0; i++)
		if (!s->conns[i])
			slot = i;
	if (slot < 0) {
		slot = pick_victim(s);
		struct conn *victim = s->conns[slot];
		if (!victim->out && !victim->in_len && conn_client_gone(victim)) {
			conn_close(s, victim, "its client has gone");
		} else {
			metrics_count_request("evicted", 0);
			conn_close(s, victim, "evicted: all connection slots are taken");
		}
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->idle_since = now_ms();
	c->events = EPOLLIN | EPOLLRDHUP;
	struct epoll_event e = { .events = c->events, .data.ptr = c };
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &e)) {
		close(fd);
		free(c);
		return -1;
	}
	s->conns[slot] = c;
	conn_read(s, c);
	return 0;
}

/* A batch at a time: a client that connects, asks and closes in a loop
 * must not keep the server accepting while the hang-ups of the earlier
 * ones wait unread. */
static void accept_clients(struct api_server *s)
{
	for (int i = 0; i < 16; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("API: accept: %s", strerror(errno));
			return;
		}
		conn_add(s, fd);
	}
}

/* Enforce the deadlines and return the next one (0: none). */
static uint64_t sweep(struct api_server *s)
{
	uint64_t now = now_ms(), next = 0;
	for (int i = 0; i < API_MAX_CONNECTIONS; i++) {
		struct conn *c = s->conns[i];
		if (!c)
			continue;
		uint64_t due;
		if (c->write_start && !(c->continue_sent && c->need))
			due = c->write_start + s->request_ms;
		else if (c->req_start)
			due = c->req_start + s->request_ms;
		else
			due = c->idle_since + s->idle_ms;
		if (due > now) {
			if (!next || due < next)
				next = due;
			continue;
		}
		if (c->out) {
			conn_close(s, c, "the client does not read its answer");
		} else if (c->req_start) {
			char msg[128];
			snprintf(msg, sizeof(msg), "Request not complete within %u ms; closing",
				 s->request_ms);
			conn_refuse(c, 408, msg, "timeout");
			conn_flush(s, c);
		} else {
			conn_close(s, c, "idle");
		}
	}
	return next;
}

static void arm_timer(struct api_server *s, uint64_t due)
{
	struct itimerspec its = { 0 };
	if (due) {
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000L;
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void api_server_run(struct api_server *s)
{
	struct epoll_event evs[16];
	int n;
	while ((n = epoll_wait(s->epoll_fd, evs, 16, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				accept_clients(s);
			} else if (conn_slot(s, c) >= 0) { /* not closed earlier in this batch */
				if (c->out)
					conn_flush(s, c);
				else
					conn_read(s, c);
			}
		}
		if (n < 16)
			break;
	}
	arm_timer(s, sweep(s));
}

static void on_epoll(void *opaque, int fd, uint32_t events)
{
	api_server_run(opaque);
}

static void on_timer(void *opaque, int fd, uint32_t events)
{
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
	api_server_run(opaque);
}

static unsigned env_seconds(const char *name, unsigned dflt)
{
	const char *env = getenv(name);
	long t = env ? atol(env) : 0;
	return t > 0 && t < 86400 ? (unsigned)t : dflt;
}

struct api_server *api_server_new(struct vmm *v, struct ev_loop *loop, const char *sock_path,
				  const struct api_ops *ops, const char *id, char *err,
				  size_t errlen)
{
	struct api_server *s = calloc(1, sizeof(*s));
	if (!s) {
		err_set(err, errlen, "API: out of memory");
		return NULL;
	}
	s->ctx = (struct api_ctx){ .vmm = v, .ops = ops ? ops : &api_vmm_ops,
				   .id = id ? id : API_DEFAULT_ID };
	s->epoll_fd = s->timer_fd = s->listen_fd = -1;
	s->idle_ms = env_seconds("MPVM_API_TIMEOUT_S", API_CONN_TIMEOUT_S) * 1000;
	/* A request gets the shorter of the two: one idle timeout never outlasts
	 * a test's or a user's shorter setting. */
	unsigned req_s = env_seconds("MPVM_API_REQUEST_TIMEOUT_S", API_REQUEST_TIMEOUT_S);
	s->request_ms = (req_s * 1000 < s->idle_ms ? req_s * 1000 : s->idle_ms);
	if (sock_path && (s->listen_fd = bind_socket(s, sock_path, err, errlen)) < 0)
		goto fail_quiet;
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->epoll_fd < 0 || s->timer_fd < 0)
		FAIL_GOTO(fail, "API: epoll fd / timerfd: %s", strerror(errno));
	if (s->listen_fd >= 0) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &e))
			FAIL_GOTO(fail, "API: epoll_ctl(listening socket): %s", strerror(errno));
	}
	if (loop) {
		if (ev_add(loop, s->epoll_fd, EPOLLIN, on_epoll, s))
			FAIL_GOTO(fail, "API: event loop is full");
		if (ev_add(loop, s->timer_fd, EPOLLIN, on_timer, s)) {
			ev_del(loop, s->epoll_fd);
			FAIL_GOTO(fail, "API: event loop is full");
		}
		s->loop = loop;
	}
	metrics_attach(v);
	if (sock_path)
		log_info("API listening on %s", sock_path);
	return s;
fail:
fail_quiet:
	api_server_free(s);
	return NULL;
}

int api_server_add_connection(struct api_server *s, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -1;
	if (conn_add(s, fd))
		return -1;
	arm_timer(s, sweep(s));
	return 0;
}

void api_server_free(struct api_server *s)
{
	struct stat st;
	if (!s)
		return;
	if (s->loop) {
		ev_del(s->loop, s->epoll_fd);
		ev_del(s->loop, s->timer_fd);
	}
	for (int i = 0; i < API_MAX_CONNECTIONS; i++) {
		if (s->conns[i]) {
			s->conns[i]->stop_after = false; /* shutting down already */
			conn_close(s, s->conns[i], NULL);
		}
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	/* Only our own socket: another mpvm may have replaced a file we lost. */
	if (s->path && !lstat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	free(s);
}
