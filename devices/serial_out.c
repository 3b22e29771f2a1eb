/* The UART's output sink (contract in serial.h, "Output").
 *
 * A vCPU that writes THR must never wait for the host: a socket client that
 * stops reading, or a stdout pipe nobody drains, would otherwise hold the
 * vCPU in write() for ever, and with it SIGTERM and PATCH /vm Paused (both
 * wait for the vCPU to come back). So the sink is written without blocking;
 * what it cannot take waits in a 64 KiB buffer that the event loop flushes
 * when the fd turns writable, and bytes that do not fit are dropped and
 * counted, as Firecracker does. Regular files are written plainly: they
 * never wait for a reader.
 *
 * The caller's fd (stdout) usually shares its open file description with
 * other processes (the shell, the terminal): setting O_NONBLOCK on it would
 * change them too. A pipe, FIFO or terminal is therefore reopened through
 * /proc/self/fd, which gives a description of our own; a socket is written
 * with send(MSG_DONTWAIT), which needs no flag at all.
 */
#include "devices/serial_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* serial_free() waits at most this long for a slow sink to take what is
 * still buffered: a sink nobody reads must not delay exit. */
#define SERIAL_CLOSE_FLUSH_MS 200

static void on_writable(void *opaque, int fd, uint32_t events);

/* A second fd for the same sink when fd is also the input fd: epoll
 * registers (file, fd) pairs, and input and output are armed separately. */
static int own_dup(struct serial *s, int fd)
{
	if (fd != s->in_fd)
		return fd;
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0) {
		log_warn("serial: dup of output fd %d: %s; guest output dropped", fd, strerror(errno));
		return -1;
	}
	s->out_own = d;
	return d;
}

void serial_out_attach_olocked(struct serial *s, int fd)
{
	s->out_fd = -1;
	s->out_kind = SINK_NONE;
	s->out_own = s->out_restore_fd = -1;
	s->out_failed = s->out_armed = s->out_dropping = false;
	s->out_head = s->out_count = 0;
	if (fd < 0)
		return;
	struct stat st;
	if (!fstat(fd, &st) && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		s->out_kind = SINK_FILE;
		s->out_fd = fd;
		return;
	}
	if (!fstat(fd, &st) && S_ISSOCK(st.st_mode)) {
		s->out_kind = SINK_SOCKET;
		s->out_fd = own_dup(s, fd);
		return;
	}
	s->out_kind = SINK_STREAM;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int priv = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (priv >= 0) {
		s->out_fd = s->out_own = priv;
		return;
	}
	int e = errno;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK)) {
		/* No /proc (or the reader is gone: ENXIO, and writes will say
		 * EPIPE). Fall back to the shared description and put its
		 * flags back in serial_free(). */
		if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
			s->out_restore_fd = fd;
			s->out_restore_flags = fl;
		}
		log_info("serial: cannot reopen output fd %d (%s): made it non-blocking in place", fd,
			 strerror(e));
	}
	s->out_fd = own_dup(s, fd);
}

static void disarm_olocked(struct serial *s)
{
	if (s->out_armed) {
		ev_del(s->loop, s->out_fd);
		s->out_armed = false;
	}
}

void serial_out_detach_olocked(struct serial *s)
{
	disarm_olocked(s);
	if (s->out_own >= 0)
		close(s->out_own);
	if (s->out_restore_fd >= 0)
		fcntl(s->out_restore_fd, F_SETFL, s->out_restore_flags);
	s->out_own = s->out_restore_fd = s->out_fd = -1;
	s->out_kind = SINK_NONE;
	s->out_head = s->out_count = 0;
	s->out_dropping = false;
}

/* Bytes the sink took (0: it would block) or -errno. */
static ssize_t sink_write(struct serial *s, const uint8_t *p, size_t n)
{
	ssize_t r;
	if (s->out_kind == SINK_SOCKET) {
		r = send(s->out_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	} else if (s->out_kind == SINK_FILE) {
		/* A file does not wait for a reader: finish the write. */
		size_t done = 0;
		while (done < n) {
			r = write(s->out_fd, p + done, n - done);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r < 0 ? -errno : -EIO;
			done += (size_t)r;
		}
		return (ssize_t)done;
	} else {
		r = write(s->out_fd, p, n);
	}
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return -errno;
}

static void fail_olocked(struct serial *s, int err)
{
	s->out_failed = true;
	disarm_olocked(s);
	s->out_head = s->out_count = 0;
	/* A socket client going away is routine; a dead stdout or file is
	 * worth one warning. */
	if (s->client_fd < 0)
		log_warn("serial: writing guest output to fd %d: %s; further output dropped", s->out_fd,
			 strerror(err));
}

/* Write what the sink takes now, oldest first. */
static void flush_olocked(struct serial *s)
{
	while (s->out_count && !s->out_failed) {
		unsigned chunk = SERIAL_OUT_BUF - s->out_head;
		if (chunk > s->out_count)
			chunk = s->out_count;
		ssize_t r = sink_write(s, s->out + s->out_head, chunk);
		if (r < 0) {
			fail_olocked(s, (int)-r);
			return;
		}
		if (r == 0)
			return;
		s->out_head = (s->out_head + (unsigned)r) % SERIAL_OUT_BUF;
		s->out_count -= (unsigned)r;
	}
	if (s->out_count)
		return;
	s->out_head = 0;
	disarm_olocked(s);
	if (s->out_dropping) {
		s->out_dropping = false;
		log_info("serial: the output sink is reading again; %" PRIu64
			 " bytes of guest output dropped so far",
			 s->out_dropped);
	}
}

/* Watch for the sink turning writable. Without a loop (or if epoll refuses
 * the fd) the buffer is flushed when the guest next writes and at free. */
static void arm_olocked(struct serial *s)
{
	if (s->out_armed || !s->loop)
		return;
	int rc = ev_add(s->loop, s->out_fd, EPOLLOUT, on_writable, s);
	if (rc == 0)
		s->out_armed = true;
	else
		log_debug("serial: cannot watch output fd %d: %s", s->out_fd, strerror(-rc));
}

static void on_writable(void *opaque, int fd, uint32_t events)
{
	struct serial *s = opaque;
	pthread_mutex_lock(&s->out_lock);
	/* A stale event for a sink that was detached or replaced meanwhile. */
	if (s->out_armed && fd == s->out_fd)
		flush_olocked(s);
	pthread_mutex_unlock(&s->out_lock);
}

static void enqueue_olocked(struct serial *s, uint8_t b)
{
	if (s->out_count == SERIAL_OUT_BUF) {
		s->out_dropped++;
		if (!s->out_dropping) {
			s->out_dropping = true;
			log_warn("serial: the output sink is not reading; dropping guest output (%d KiB buffered)",
				 SERIAL_OUT_BUF / 1024);
		}
		return;
	}
	s->out[(s->out_head + s->out_count++) % SERIAL_OUT_BUF] = b;
}

void serial_host_output(struct serial *s, uint8_t b)
{
	pthread_mutex_lock(&s->out_lock);
	if (s->out_fd < 0 || s->out_failed)
		goto out;
	/* Nobody is flushing for us: make progress here. */
	if (s->out_count && !s->out_armed)
		flush_olocked(s);
	/* Straight out while nothing waits (keeps the order). */
	if (!s->out_count && !s->out_failed) {
		ssize_t r = sink_write(s, &b, 1);
		if (r == 1)
			goto out;
		if (r < 0) {
			fail_olocked(s, (int)-r);
			goto out;
		}
	}
	if (s->out_failed)
		goto out;
	enqueue_olocked(s, b);
	arm_olocked(s);
out:
	pthread_mutex_unlock(&s->out_lock);
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void serial_out_close(struct serial *s)
{
	pthread_mutex_lock(&s->out_lock);
	int64_t end = ms_now() + SERIAL_CLOSE_FLUSH_MS;
	for (;;) {
		flush_olocked(s);
		int64_t left = end - ms_now();
		if (!s->out_count || s->out_failed || left <= 0)
			break;
		struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	if (s->out_count && !s->out_failed) {
		s->out_dropped += s->out_count;
		log_warn("serial: %u bytes of guest output were still waiting for the sink at exit",
			 s->out_count);
	}
	if (s->out_dropped)
		log_warn("serial: %" PRIu64 " bytes of guest output dropped in all: the sink did not keep up",
			 s->out_dropped);
	serial_out_detach_olocked(s);
	pthread_mutex_unlock(&s->out_lock);
}

uint64_t serial_output_dropped(struct serial *s)
{
	pthread_mutex_lock(&s->out_lock);
	uint64_t n = s->out_dropped;
	pthread_mutex_unlock(&s->out_lock);
	return n;
}
