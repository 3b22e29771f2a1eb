/* A test client in C for mpvm's API, the way an orchestrator talks to it:
 * one keep-alive connection for the whole Firecracker flow, pipelined
 * requests, a stalled client left hanging on the side, many short clients,
 * and pause/resume checked against the guest's serial counter.
 *
 * usage: test_api_client SOCKET SERIAL_FILE KERNEL
 * Prints "ok - ..." / "FAIL - ..." lines; exit status 0 when all passed.
 * Plain libc on purpose: it checks the wire, not mpvm's own code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path;
static int failures;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf(ok ? "ok   - " : "FAIL - ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	failures += !ok;
}

static int dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror(sock_path);
		exit(2);
	}
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

/* Per connection: bytes received but not yet consumed as a response. */
struct conn {
	int fd;
	char buf[65536];
	size_t len;
};

/* Reads one response (headers + Content-Length body) within 10 s.
 * Returns the status (0: EOF/timeout); `body` gets the body. */
static int read_response(struct conn *c, char *body, size_t cap)
{
	for (;;) {
		c->buf[c->len] = 0;
		char *end = strstr(c->buf, "\r\n\r\n");
		if (end) {
			int status = 0;
			sscanf(c->buf, "HTTP/1.1 %d", &status);
			size_t clen = 0;
			char *cl = strcasestr(c->buf, "\r\nContent-Length:");
			if (cl && cl < end)
				clen = strtoul(cl + 17, NULL, 10);
			size_t total = (size_t)(end + 4 - c->buf) + clen;
			if (c->len >= total) {
				snprintf(body, cap, "%.*s", (int)clen, end + 4);
				memmove(c->buf, c->buf + total, c->len - total);
				c->len -= total;
				return status;
			}
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (c->len + 1 >= sizeof(c->buf) || poll(&p, 1, 10000) <= 0)
			return 0;
		ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
		if (r <= 0)
			return 0;
		c->len += (size_t)r;
	}
}

static size_t format_request(char *out, size_t cap, const char *method, const char *path,
			     const char *body)
{
	size_t blen = body ? strlen(body) : 0;
	return (size_t)snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
				"Content-Length: %zu\r\n\r\n%s", method, path, blen, body ? body : "");
}

static int call(struct conn *c, const char *method, const char *path, const char *body,
		char *resp, size_t cap)
{
	char req[4096];
	size_t n = format_request(req, sizeof(req), method, path, body);
	send_all(c->fd, req, n);
	return read_response(c, resp, cap);
}

static long serial_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int ch;
	if (!f)
		return 0;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Until the file has more than `n` lines, 10 s at most. */
static int grows_past(const char *path, long n)
{
	for (int i = 0; i < 100; i++) {
		if (serial_lines(path) > n)
			return 1;
		sleep_ms(100);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s SOCKET SERIAL_FILE KERNEL\n", argv[0]);
		return 2;
	}
	sock_path = argv[1];
	const char *serial = argv[2];
	static struct conn c;
	char resp[16384], body[1024];
	int st;

	/* A client that sends half a request and goes quiet: nobody waits on it. */
	int stalled = dial();
	send_all(stalled, "PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Len", 48);

	c.fd = dial();
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"period_ms=20\"}",
		 argv[3]);
	st = call(&c, "PUT", "/boot-source", body, resp, sizeof(resp));
	check(st == 204, "PUT /boot-source on a keep-alive connection: %d %s", st, resp);
	st = call(&c, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 32}", resp,
		  sizeof(resp));
	check(st == 204, "PUT /machine-config: %d %s", st, resp);
	snprintf(body, sizeof(body), "{\"mode\": \"file\", \"path\": \"%s\"}", serial);
	st = call(&c, "PUT", "/serial", body, resp, sizeof(resp));
	check(st == 204, "PUT /serial: %d %s", st, resp);
	st = call(&c, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", resp, sizeof(resp));
	check(st == 204, "InstanceStart: %d %s", st, resp);

	/* Three requests in one write: three answers, in order. */
	char pipe[4096];
	size_t n = format_request(pipe, sizeof(pipe), "GET", "/", NULL);
	n += format_request(pipe + n, sizeof(pipe) - n, "GET", "/version", NULL);
	n += format_request(pipe + n, sizeof(pipe) - n, "GET", "/vcpus", NULL);
	send_all(c.fd, pipe, n);
	st = read_response(&c, resp, sizeof(resp));
	check(st == 200 && strstr(resp, "\"state\":\"Running\""), "pipelined GET /: %d %s", st, resp);
	st = read_response(&c, resp, sizeof(resp));
	check(st == 200 && strstr(resp, "firecracker_version"), "pipelined GET /version: %d", st);
	st = read_response(&c, resp, sizeof(resp));
	check(st == 200 && strstr(resp, "\"id\":1"), "pipelined GET /vcpus lists 2 vCPUs: %d %s", st,
	      resp);

	check(grows_past(serial, 3), "the guest counts on its serial port");
	st = call(&c, "PATCH", "/vm", "{\"state\": \"Paused\"}", resp, sizeof(resp));
	check(st == 204, "pause: %d %s", st, resp);
	sleep_ms(300);
	long a = serial_lines(serial);
	sleep_ms(1500);
	long b = serial_lines(serial);
	check(a == b, "paused: %ld lines, then %ld lines 1.5 s later", a, b);
	st = call(&c, "GET", "/vcpus", NULL, resp, sizeof(resp));
	check(st == 200 && !strstr(resp, "\"running\""), "every vCPU parked: %s", resp);
	st = call(&c, "PATCH", "/vm", "{\"state\": \"Resumed\"}", resp, sizeof(resp));
	check(st == 204, "resume: %d %s", st, resp);
	check(grows_past(serial, b), "resumed: the counter moves past %ld lines", b);

	/* Many short clients in turn, then many at once. */
	int good = 0;
	for (int i = 0; i < 100; i++) {
		static struct conn one;
		one.fd = dial();
		one.len = 0;
		good += call(&one, "GET", "/", NULL, resp, sizeof(resp)) == 200;
		close(one.fd);
	}
	check(good == 100, "100 clients in turn: %d answered 200", good);
	static struct conn many[32];
	for (int i = 0; i < 32; i++) {
		many[i].fd = dial();
		n = format_request(pipe, sizeof(pipe), "GET", "/machine-config", NULL);
		send_all(many[i].fd, pipe, n);
	}
	good = 0;
	for (int i = 31; i >= 0; i--) {
		good += read_response(&many[i], resp, sizeof(resp)) == 200 &&
			strstr(resp, "\"vcpu_count\":2") != NULL;
		close(many[i].fd);
	}
	check(good == 32, "32 clients at once: %d answered 200", good);

	st = call(&c, "PUT", "/actions", "{\"action_type\": \"StopVmm\"}", resp, sizeof(resp));
	check(st == 204, "StopVmm: %d %s", st, resp);
	check(read_response(&c, resp, sizeof(resp)) == 0, "the connection closes as mpvm exits");
	close(c.fd);
	close(stalled);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
