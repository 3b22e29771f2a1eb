/* The UART's host side: input buffering, the Ctrl-A escape, the socket
 * server and setup from the config (contract in serial.h). The output sink
 * is in serial_out.c. */
#include "base/err.h"
#include "devices/serial_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/term.h"

#define CTRL_A 0x01

static void on_input(void *opaque, int fd, uint32_t events);

/* Watch in_fd on the loop. epoll refuses files that are always readable
 * (regular files, /dev/null): those are read on demand instead. */
static void arm_locked(struct serial *s)
{
	if (s->in_fd < 0 || s->in_armed || s->in_pull || s->in_eof)
		return;
	int rc = s->loop ? ev_add(s->loop, s->in_fd, EPOLLIN, on_input, s) : -EPERM;
	if (rc == 0) {
		s->in_armed = true;
		return;
	}
	struct stat st;
	if (rc == -EPERM && !fstat(s->in_fd, &st) && (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) &&
	    (s->loop || S_ISREG(st.st_mode))) {
		s->in_pull = true;
		return;
	}
	log_warn("serial: cannot watch input fd %d: %s; guest input disabled", s->in_fd,
		 s->loop ? strerror(-rc) : "no event loop and not a regular file");
	s->in_eof = true;
}

static void disarm_locked(struct serial *s)
{
	if (s->in_armed) {
		ev_del(s->loop, s->in_fd);
		s->in_armed = false;
	}
}

static void print_help(void)
{
	static const char help[] = "\nmpvm console escapes:\n"
				   "  Ctrl-A x       quit mpvm (exit status 130)\n"
				   "  Ctrl-A Ctrl-A  send Ctrl-A to the guest\n"
				   "  Ctrl-A h       this help\n";
	ssize_t r = write(STDERR_FILENO, help, sizeof(help) - 1);
	(void)r;
}

/* Append host bytes, interpreting the escape. Never produces more bytes
 * than it consumes, so the caller only checks room for `n`. */
static void host_push_locked(struct serial *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (s->escape && s->esc_pending) {
			s->esc_pending = false;
			if (b == 'x' || b == 'X') {
				s->request_exit(s->vm, MPVM_EXIT_SIGNAL(SIGINT),
						"quit from the console (Ctrl-A x)");
				continue;
			}
			if (b == 'h' || b == 'H' || b == '?')
				print_help();
			if (b != CTRL_A)
				continue;
		} else if (s->escape && b == CTRL_A) {
			s->esc_pending = true;
			continue;
		}
		s->host[(s->host_head + s->host_count++) % SERIAL_HOST_BUF] = b;
	}
}

static void detach_client_locked(struct serial *s)
{
	disarm_locked(s);
	pthread_mutex_lock(&s->out_lock);
	serial_out_detach_olocked(s); /* what waited for this client is dropped */
	close(s->client_fd);
	s->client_fd = s->in_fd = -1;
	pthread_mutex_unlock(&s->out_lock);
	s->in_eof = false;
	s->esc_pending = false;
	log_info("serial: client of %s disconnected", s->sock_path);
}

static void input_ended_locked(struct serial *s, int err)
{
	if (s->client_fd >= 0 && s->in_fd == s->client_fd) {
		detach_client_locked(s);
		return;
	}
	if (err)
		log_warn("serial: reading input fd %d: %s; guest input stops", s->in_fd,
			 strerror(err));
	disarm_locked(s);
	s->in_eof = true;
}

/* Read what fits in the host buffer (one read: the fd said it is ready,
 * or it is a file that cannot block). */
static void read_host_locked(struct serial *s)
{
	unsigned room = SERIAL_HOST_BUF - s->host_count;
	if (!room || s->in_fd < 0)
		return;
	/* An event can be stale: its fd was closed and the number reused by
	 * the next client before the loop got to it. Never block the loop. */
	struct pollfd p = { .fd = s->in_fd, .events = POLLIN };
	if (!s->in_pull && poll(&p, 1, 0) != 1)
		return;
	uint8_t tmp[SERIAL_HOST_BUF];
	ssize_t n = read(s->in_fd, tmp, room);
	if (n > 0)
		host_push_locked(s, tmp, (size_t)n);
	else if (n == 0)
		input_ended_locked(s, 0);
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		input_ended_locked(s, errno);
}

static void on_input(void *opaque, int fd, uint32_t events)
{
	struct serial *s = opaque;
	pthread_mutex_lock(&s->lock);
	/* A stale event for an fd that was disarmed or replaced meanwhile. */
	if (s->in_armed && fd == s->in_fd) {
		read_host_locked(s);
		/* Full: stop watching until the guest drains half (no busy
		 * loop on a level-triggered fd, no byte dropped). */
		if (s->host_count == SERIAL_HOST_BUF)
			disarm_locked(s);
		serial_refill_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
}

void serial_host_drained_locked(struct serial *s)
{
	/* Half-empty hysteresis: one ev_add or read per 2 KiB, not per byte. */
	if (s->in_fd < 0 || s->in_eof || s->host_count > SERIAL_HOST_BUF / 2)
		return;
	if (s->in_pull)
		read_host_locked(s);
	else
		arm_locked(s);
}

struct serial *serial_new(struct vm *vm, uint16_t base, uint32_t irq, int out_fd, int in_fd,
			  struct ev_loop *loop)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->vm = vm;
	s->base = base;
	s->irq = irq;
	s->irq_line = vm_irq_line;
	s->request_exit = vm_request_exit;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->out_lock, NULL);
	serial_reset_locked(s);
	s->loop = loop;
	s->in_fd = in_fd;
	s->own_fd = s->listen_fd = s->client_fd = -1;
	serial_out_attach_olocked(s, out_fd); /* nobody else sees `s` yet */
	pthread_mutex_lock(&s->lock);
	arm_locked(s);
	serial_refill_locked(s); /* a file's first bytes are there at once */
	pthread_mutex_unlock(&s->lock);
	return s;
}

void serial_set_hooks(struct serial *s, int (*irq_line)(struct vm *, uint32_t, int),
		      void (*request_exit)(struct vm *, int, const char *, ...))
{
	pthread_mutex_lock(&s->lock);
	s->irq_line = irq_line;
	s->request_exit = request_exit;
	pthread_mutex_unlock(&s->lock);
}

void serial_set_escape(struct serial *s, bool on)
{
	pthread_mutex_lock(&s->lock);
	s->escape = on;
	s->esc_pending = false;
	pthread_mutex_unlock(&s->lock);
}

static void on_accept(void *opaque, int fd, uint32_t events)
{
	struct serial *s = opaque;
	/* Non-blocking: the loop must never wait on a client. */
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	pthread_mutex_lock(&s->lock);
	/* A client that hung up but whose EOF the loop has not seen yet (a
	 * liveness probe, a quick reconnect) gives way to the new one. */
	struct pollfd p = { .fd = s->client_fd, .events = POLLRDHUP };
	if (s->client_fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		detach_client_locked(s);
	if (s->client_fd >= 0) {
		pthread_mutex_unlock(&s->lock);
		static const char busy[] = "mpvm: this serial console already has a client\n";
		ssize_t r = write(c, busy, sizeof(busy) - 1);
		(void)r;
		close(c);
		return;
	}
	pthread_mutex_lock(&s->out_lock);
	s->client_fd = s->in_fd = c;
	serial_out_attach_olocked(s, c);
	pthread_mutex_unlock(&s->out_lock);
	s->in_eof = s->in_pull = false;
	arm_locked(s);
	pthread_mutex_unlock(&s->lock);
	log_info("serial: client connected to %s", s->sock_path);
}

static int listen_unix(struct serial *s, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		FAIL("serial.path \"%s\": too long for a UNIX socket (at most %zu bytes)", path,
		     sizeof(a.sun_path) - 1);
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		FAIL("serial socket: %s", strerror(errno));
	struct stat st;
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			FAIL("serial.path %s: exists and is not a socket; remove it or pick another path",
			     path);
		}
		/* Replace a stale socket from an earlier run, not a live one. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		bool live = probe >= 0 && (!connect(probe, (struct sockaddr *)&a, sizeof(a)) ||
					   errno == EAGAIN);
		if (probe >= 0)
			close(probe);
		if (live) {
			close(fd);
			FAIL("serial.path %s: another process is listening there", path);
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) {
		int e = errno;
		close(fd);
		FAIL("serial.path %s: cannot listen: %s", path, strerror(e));
	}
	s->listen_fd = fd;
	s->sock_path = strdup(path);
	int rc = s->loop ? ev_add(s->loop, fd, EPOLLIN, on_accept, s) : -EINVAL;
	if (!s->sock_path || rc)
		FAIL("serial.path %s: cannot watch the socket: %s", path,
		     strerror(s->sock_path ? -rc : ENOMEM));
	return 0;
}

struct serial *serial_setup_from_config(struct vm *vm, struct io_bus *bus, struct ev_loop *loop,
					const struct cfg_serial *cfg, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (cfg->kind == CFG_SERIAL_NONE)
		return NULL;
	if (cfg->kind != CFG_SERIAL_STDIO && (!cfg->path || !*cfg->path)) {
		err_set(err, errlen, "serial: mode \"%s\" needs a path",
			cfg->kind == CFG_SERIAL_FILE ? "file" : "socket");
		return NULL;
	}
	int out = -1, in = -1;
	if (cfg->kind == CFG_SERIAL_STDIO) {
		out = STDOUT_FILENO;
		if (fcntl(STDIN_FILENO, F_GETFD) >= 0)
			in = STDIN_FILENO;
	} else if (cfg->kind == CFG_SERIAL_FILE) {
		out = open(cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
		if (out < 0) {
			err_set(err, errlen, "serial.path %s: cannot open for appending: %s",
				cfg->path, strerror(errno));
			return NULL;
		}
	}
	struct serial *s = serial_new(vm, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, out, in, loop);
	if (!s) {
		err_set(err, errlen, "serial: out of memory");
		if (cfg->kind == CFG_SERIAL_FILE)
			close(out);
		return NULL;
	}
	if (cfg->kind == CFG_SERIAL_FILE)
		s->own_fd = out;
	if (cfg->kind == CFG_SERIAL_SOCKET && listen_unix(s, cfg->path, err, errlen))
		goto fail;
	if (in == STDIN_FILENO) {
		int r = term_raw(STDIN_FILENO);
		if (r == 1)
			serial_set_escape(s, true);
		else if (r < 0)
			log_warn("serial: cannot put the terminal in raw mode: %s", strerror(-r));
	}
	int rc = io_register(bus, IO_SPACE_PIO, SERIAL_COM1_BASE, SERIAL_NREGS, serial_io, s,
			     "serial");
	if (rc) {
		err_set(err, errlen, "serial: I/O ports 0x%x-0x%x: %s", SERIAL_COM1_BASE,
			SERIAL_COM1_BASE + SERIAL_NREGS - 1,
			rc == -EEXIST ? "already taken by another device" : strerror(-rc));
		goto fail;
	}
	return s;
fail:
	serial_free(s);
	return NULL;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	disarm_locked(s);
	pthread_mutex_unlock(&s->lock);
	serial_out_close(s);
	if (s->listen_fd >= 0) {
		if (s->loop)
			ev_del(s->loop, s->listen_fd);
		close(s->listen_fd);
	}
	if (s->client_fd >= 0)
		close(s->client_fd);
	if (s->sock_path) {
		unlink(s->sock_path);
		free(s->sock_path);
	}
	if (s->own_fd >= 0)
		close(s->own_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->out_lock);
	free(s);
}
