/* The API's transport: libmicrohttpd on a UNIX socket mpvm binds itself.
 *
 * Why external-epoll mode rather than MHD's own thread: every handler reads
 * or edits struct vmm (config, vCPU state, devices). On the main thread they
 * are serialised with the other loop callbacks (serial input, signals, VM
 * exit) for free; an MHD thread would need a lock around the whole VMM that
 * every other main-thread callback takes too. MHD's epoll fd goes into the
 * loop, MHD_run() is non-blocking, and a timerfd armed from
 * MHD_get_timeout() closes idle connections and lets MHD finish work it has
 * already buffered. Handlers must be quick: the longest is vmm_pause(), which
 * waits only for vCPUs to leave KVM_RUN.
 */
#include "api/api.h"
#include "base/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api/metrics.h"
#include "builder/vmm.h"
#include "core/event_loop.h"
#include "core/log.h"

struct api_server {
	struct api_ctx ctx;
	struct MHD_Daemon *d;
	struct ev_loop *loop;
	int epoll_fd;   /* MHD's, registered in the loop */
	int timer_fd;
	char *path;     /* the socket file we created, NULL if none */
	dev_t dev;
	ino_t ino;
	bool stopping;
};

/* Per request (MHD's con_cls): the body collected so far. */
struct upload {
	char *buf;
	size_t len;
	bool answered;   /* refused early (oversize): ignore the rest */
	bool stop_after;
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
	if (listen(fd, 64) || stat(path, &st)) {
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

/* ---- MHD callbacks ---- */

static enum MHD_Result queue(struct MHD_Connection *c, const struct api_reply *r)
{
	size_t len = r->body ? strlen(r->body) : 0;
	/* MHD frees the body with free(); an empty buffer is fine for 204. */
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, r->body ? r->body : (void *)"", r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	if (len)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, "mpvm API");
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result too_large(struct MHD_Connection *c, unsigned long long size)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "Request payload with size %llu is larger than the limit of %d "
		 "allowed by server.", size, API_MAX_BODY);
	struct api_reply r = { .status = 400, .body = api_fault_json(msg), .route = "oversize" };
	metrics_count_request(r.route, r.status);
	return queue(c, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct api_server *s = cls;
	struct upload *u = *con_cls;
	if (!u) {
		/* Headers are in: refuse a declared oversize body before reading it. */
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		*con_cls = u;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
		if (n > API_MAX_BODY) {
			u->answered = true;
			return too_large(c, n);
		}
		return MHD_YES;
	}
	if (u->answered) {
		*data_size = 0;
		return MHD_YES;
	}
	if (*data_size) {
		if (u->len + *data_size > API_MAX_BODY) {
			/* Chunked and too big: MHD cannot answer mid-body, so drop it. */
			log_debug("API: closing a connection whose body exceeds %d bytes", API_MAX_BODY);
			metrics_count_request("oversize", 0);
			return MHD_NO;
		}
		char *nb = realloc(u->buf, u->len + *data_size + 1);
		if (!nb)
			return MHD_NO;
		memcpy(nb + u->len, data, *data_size);
		u->buf = nb;
		u->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	struct api_reply r;
	api_route(&s->ctx, method, url, u->buf, u->len, &r);
	u->stop_after = r.stop_after;
	return queue(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct upload *u = *con_cls;
	if (!u)
		return;
	/* StopVmm takes effect once its 204 is on the wire (or the client left). */
	if (u->stop_after && !s->stopping) {
		s->stopping = true;
		log_info("StopVmm: stopping");
		s->ctx.ops->stop(s->ctx.vmm);
	}
	free(u->buf);
	free(u);
	*con_cls = NULL;
}

/* libmicrohttpd would percent-decode the path in place into a C string, so
 * "/drives/x%00y" would reach us as "/drives/x". Leave it encoded:
 * api_route() decodes it with its length and applies the text rule. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	if (log_get_level() < LOG_DEBUG)
		return;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	log_debug("libmicrohttpd: %s", msg);
}

/* ---- event-loop integration ---- */

static void arm_timer(struct api_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct itimerspec its = { 0 };
	if (MHD_get_timeout(s->d, &ms) == MHD_YES) {
		if (ms > 3600 * 1000ULL)
			ms = 3600 * 1000ULL;
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
		if (!ms)
			its.it_value.tv_nsec = 1; /* MHD has buffered work: run again now */
	}
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

void api_server_run(struct api_server *s)
{
	MHD_run(s->d);
	arm_timer(s);
}

static void on_epoll(void *opaque, int fd, uint32_t events)
{
	api_server_run(opaque);
}

static void on_timer(void *opaque, int fd, uint32_t events)
{
	struct api_server *s = opaque;
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
	api_server_run(s);
}

static unsigned conn_timeout(void)
{
	const char *env = getenv("MPVM_API_TIMEOUT_S");
	long t = env ? atol(env) : 0;
	return t > 0 && t < 86400 ? (unsigned)t : API_CONN_TIMEOUT_S;
}

struct api_server *api_server_new(struct vmm *v, struct ev_loop *loop, const char *sock_path,
				  const struct api_ops *ops, const char *id, char *err,
				  size_t errlen)
{
	struct api_server *s = calloc(1, sizeof(*s));
	int lfd = -1;
	if (!s) {
		err_set(err, errlen, "API: out of memory");
		return NULL;
	}
	s->ctx = (struct api_ctx){ .vmm = v, .ops = ops ? ops : &api_vmm_ops,
				   .id = id ? id : API_DEFAULT_ID };
	s->epoll_fd = s->timer_fd = -1;
	if (sock_path && (lfd = bind_socket(s, sock_path, err, errlen)) < 0)
		goto fail_quiet;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (!sock_path)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_CONNECTION_LIMIT, API_MAX_CONNECTIONS, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)conn_timeout(), NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, API_MEMORY_LIMIT, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_escaped, NULL },
		{ sock_path ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END, lfd, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	if (!s->d)
		FAIL_GOTO(fail, "API: cannot start the HTTP server (libmicrohttpd) on %s",
		     sock_path ? sock_path : "socketpairs");
	lfd = -1; /* the daemon owns it now */
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
	s->epoll_fd = di ? di->epoll_fd : -1;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->epoll_fd < 0 || s->timer_fd < 0)
		FAIL_GOTO(fail, "API: libmicrohttpd epoll fd / timerfd: %s", strerror(errno));
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
	if (lfd >= 0)
		close(lfd);
fail_quiet:
	api_server_free(s);
	return NULL;
}

int api_server_add_connection(struct api_server *s, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (MHD_add_connection(s->d, fd, (const struct sockaddr *)&sa, sizeof(sa)) != MHD_YES)
		return -1;
	arm_timer(s);
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
	if (s->d)
		MHD_stop_daemon(s->d); /* closes the listening socket and connections */
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	/* Only our own socket: another mpvm may have replaced a file we lost. */
	if (s->path && !lstat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	free(s);
}
