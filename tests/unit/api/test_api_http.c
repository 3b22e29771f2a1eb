/* The API's HTTP transport on a real UNIX socket, with the VM faked: the
 * socket file's life (mode, stale, live, removal), keep-alive, the limits
 * that keep the VMM alive (body cap, header cap, stalled and many clients)
 * and StopVmm taking effect after its answer.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "builder/vmm.h"
#include "check_main.h"
#include "core/event_loop.h"

static struct vmm V;
static struct api_server *S;
static pthread_t loop_thread;
static char sock_path[108];
static atomic_int stops;

static int ok_op(struct vmm *v, char *err, size_t errlen) { return 0; }
static int ok_filter(struct vmm *v, const void *f, char *err, size_t errlen) { return 0; }
static void fake_stop(struct vmm *v) { atomic_fetch_add(&stops, 1); }
static int ok_logger(struct vmm *v, const struct cfg_logger *l, char *err, size_t errlen)
{
	return 0;
}
static int ok_metrics(struct vmm *v, const char *path, char *err, size_t errlen) { return 0; }
static const struct api_ops fake_ops = {
	.instance_start = ok_op,
	.pause = ok_op,
	.resume = ok_op,
	.ctrl_alt_del = ok_op,
	.set_logger = ok_logger,
	.set_metrics = ok_metrics,
	.set_pmu_filter = ok_filter,
	.stop = fake_stop,
};

static void *run_loop(void *arg)
{
	ev_run(V.loop);
	return NULL;
}

static void start_server(void)
{
	char err[256];
	S = api_server_new(&V, V.loop, sock_path, &fake_ops, "http-test", err, sizeof(err));
	ck_assert_msg(S != NULL, "%s", err);
	pthread_create(&loop_thread, NULL, run_loop, NULL);
}

static void setup(void)
{
	memset(&V, 0, sizeof(V));
	vm_config_init(&V.cfg);
	V.loop = ev_new();
	atomic_store(&stops, 0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/mpvm-api-test-%d.sock", (int)getpid());
	unlink(sock_path);
	setenv("MPVM_API_TIMEOUT_S", "1", 1);
}

static void teardown(void)
{
	if (S) {
		ev_stop(V.loop);
		pthread_join(loop_thread, NULL);
		api_server_free(S);
		S = NULL;
	}
	ev_free(V.loop);
	vm_config_free(&V.cfg);
	unlink(sock_path);
}

static int dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w <= 0)
			return; /* the server may close early (oversize); the answer tells */
		buf += w;
		len -= (size_t)w;
	}
}

/* Reads until `want` appears, EOF, or the timeout. Returns bytes read. */
static size_t read_until(int fd, char *out, size_t cap, const char *want, int timeout_ms)
{
	size_t len = 0;
	out[0] = 0;
	while (len + 1 < cap && !(want && strstr(out, want))) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t r = read(fd, out + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
		out[len] = 0;
	}
	return len;
}

/* One request with Connection: close; the whole answer in `out`. */
static void request(const char *raw, char *out, size_t cap)
{
	int fd = dial();
	send_all(fd, raw, strlen(raw));
	read_until(fd, out, cap, NULL, 5000);
	close(fd);
}

START_TEST(socket_is_private_and_removed_on_exit)
{
	start_server();
	struct stat st;
	ck_assert_int_eq(lstat(sock_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ev_stop(V.loop);
	pthread_join(loop_thread, NULL);
	api_server_free(S);
	S = NULL;
	ck_assert_int_eq(lstat(sock_path, &st), -1);
}
END_TEST

START_TEST(stale_socket_is_replaced_live_one_is_an_error)
{
	/* A socket file whose server is gone (bound, closed, never unlinked). */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	start_server();
	char err[256];
	struct api_server *second = api_server_new(&V, NULL, sock_path, &fake_ops, NULL, err,
						   sizeof(err));
	ck_assert_ptr_null(second);
	ck_assert_msg(strstr(err, "another process"), "%s", err);
	struct stat st;
	ck_assert_int_eq(lstat(sock_path, &st), 0); /* the live one's file stays */
}
END_TEST

START_TEST(a_regular_file_is_never_replaced)
{
	FILE *f = fopen(sock_path, "w");
	fputs("precious", f);
	fclose(f);
	char err[256];
	ck_assert_ptr_null(api_server_new(&V, NULL, sock_path, &fake_ops, NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a socket"), "%s", err);
	struct stat st;
	ck_assert_int_eq(stat(sock_path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(keep_alive_serves_several_requests_on_one_connection)
{
	start_server();
	int fd = dial();
	char buf[4096];
	const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	send_all(fd, get, strlen(get));
	read_until(fd, buf, sizeof(buf), "}", 5000);
	ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "%s", buf);
	ck_assert_msg(strstr(buf, "application/json"), "%s", buf);
	ck_assert_msg(strstr(buf, "\"id\":\"http-test\""), "%s", buf);
	const char *put = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\n"
			  "{\"vcpu_count\": 3, \"mem_size_mib\": 64}";
	send_all(fd, put, strlen(put));
	read_until(fd, buf, sizeof(buf), "\r\n\r\n", 5000);
	ck_assert_msg(strstr(buf, "HTTP/1.1 204"), "%s", buf);
	close(fd);
	/* The loop thread has handled it: the answer came after the handler. */
	ck_assert_uint_eq(V.cfg.machine.vcpu_count, 3);
}
END_TEST

START_TEST(oversize_body_is_refused_before_it_is_read)
{
	start_server();
	char buf[4096];
	request("PUT /machine-config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		"Content-Length: 1000000\r\n\r\n{", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 400"), "%s", buf);
	ck_assert_msg(strstr(buf, "larger than the limit of 51200"), "%s", buf);
	/* Chunked bodies have no length to check up front: refused, as
	 * Firecracker does, before any chunk is read. */
	int fd = dial();
	const char *head = "PUT /boot-source HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
	send_all(fd, head, strlen(head));
	read_until(fd, buf, sizeof(buf), NULL, 5000);
	ck_assert_msg(strstr(buf, "HTTP/1.1 400"), "%s", buf);
	ck_assert_msg(strstr(buf, "Transfer-Encoding is not supported"), "%s", buf);
	close(fd);
	request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "%s", buf);
}
END_TEST

START_TEST(huge_headers_are_refused)
{
	start_server();
	size_t n = 64 * 1024;
	char *big = malloc(n + 128);
	int off = sprintf(big, "GET / HTTP/1.1\r\nHost: x\r\nX-Junk: ");
	memset(big + off, 'a', n);
	strcpy(big + off + n, "\r\nConnection: close\r\n\r\n");
	char buf[4096];
	request(big, buf, sizeof(buf));
	free(big);
	ck_assert_msg(strstr(buf, "HTTP/1.1 400"), "%s", buf);
	ck_assert_msg(strstr(buf, "larger than the limit of 32768 bytes"), "%s", buf);
	request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "%s", buf);
}
END_TEST

START_TEST(stalled_client_neither_blocks_others_nor_stays_forever)
{
	start_server();
	int stalled = dial();
	const char *half = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Le";
	send_all(stalled, half, strlen(half));
	char buf[4096];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	request("GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "%s", buf);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 1);
	/* MPVM_API_TIMEOUT_S=1: the unfinished request times out with one JSON
	 * 408, and the server hangs up. */
	read_until(stalled, buf, sizeof(buf), NULL, 5000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(strstr(buf, "HTTP/1.1 408"), "%s", buf);
	ck_assert_msg(strstr(buf, "\"fault_message\""), "%s", buf);
	ck_assert_int_le(t1.tv_sec - t0.tv_sec, 4);
	close(stalled);
}
END_TEST

START_TEST(many_clients_in_turn_and_at_once)
{
	start_server();
	char buf[4096];
	for (int i = 0; i < 200; i++) {
		request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
		ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "request %d: %s", i, buf);
	}
	int fds[40];
	const char *get = "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	for (int i = 0; i < 40; i++)
		fds[i] = dial();
	for (int i = 39; i >= 0; i--)
		send_all(fds[i], get, strlen(get));
	for (int i = 0; i < 40; i++) {
		read_until(fds[i], buf, sizeof(buf), NULL, 5000);
		ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "client %d: %s", i, buf);
		close(fds[i]);
	}
}
END_TEST

START_TEST(stop_takes_effect_after_the_answer)
{
	start_server();
	char buf[4096];
	const char *body = "{\"action_type\": \"StopVmm\"}";
	char req[256];
	snprintf(req, sizeof(req), "PUT /actions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		 "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	request(req, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 204"), "%s", buf);
	for (int i = 0; i < 100 && !atomic_load(&stops); i++)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&stops), 1);
}
END_TEST

START_TEST(garbage_is_answered_not_fatal)
{
	start_server();
	char buf[4096];
	request("\x01\x02 nonsense\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 400"), "%s", buf);
	request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "%s", buf);
}
END_TEST

/* Exactly one answer, a JSON fault with `status`, and then the server hangs
 * up: the shape of every transport-level refusal. */
static void assert_one_json_fault(const char *buf, const char *status, const char *words)
{
	ck_assert_msg(!strncmp(buf, status, strlen(status)), "%s", buf);
	ck_assert_msg(strstr(buf, "Content-Type: application/json"), "%s", buf);
	ck_assert_msg(strstr(buf, "Connection: close"), "%s", buf);
	ck_assert_msg(strstr(buf, "{\"fault_message\":"), "%s", buf);
	ck_assert_msg(strstr(buf, words), "want \"%s\" in: %s", words, buf);
	/* After the one head comes exactly the JSON body it announced. */
	const char *body = strstr(buf, "\r\n\r\n"), *cl = strstr(buf, "Content-Length: ");
	ck_assert_msg(body && cl && cl < body, "%s", buf);
	body += 4;
	ck_assert_uint_eq(strtoul(cl + 16, NULL, 10), strlen(body));
	ck_assert_msg(body[0] == '{' && body[strlen(body) - 1] == '}', "%s", buf);
	ck_assert_msg(!strstr(buf, "<html") && !strstr(buf, "<HTML"), "%s", buf);
}

START_TEST(malformed_http_gets_one_json_400_and_a_close)
{
	static const struct {
		const char *raw, *words;
	} cases[] = {
		{ "PUT /machine-config HTTP/1.1\r\nContent-Length: -1\r\n\r\n{}",
		  "Invalid Content-Length" },
		{ "PUT /machine-config HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		  "larger than the limit" },
		{ "PUT /machine-config HTTP/1.1\r\nContent-Length: 2x\r\n\r\n{}",
		  "Invalid Content-Length" },
		{ "GET / HTTP/2.0\r\n\r\n", "Unsupported HTTP version" },
		{ "GET http://x/ HTTP/1.1\r\n\r\n", "must start with '/'" },
		{ "GET /a b HTTP/1.1\r\n\r\n", "Unsupported HTTP version" },
		{ "GET / HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\n", "obsolete line folding" },
		{ "GET / HTTP/1.1\r\nBad Name: a\r\n\r\n", "Invalid header" },
		{ "GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", "control byte 0x01" },
		{ "GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", "only 100-continue" },
		{ "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", "must be percent-encoded" },
		{ "GET / HTTP/1.1\rX: y\r\n\r\n", "bare CR" },
	};
	start_server();
	char buf[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		request(cases[i].raw, buf, sizeof(buf));
		assert_one_json_fault(buf, "HTTP/1.1 400", cases[i].words);
	}
	request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "%s", buf);
}
END_TEST

START_TEST(conflicting_content_lengths_are_refused_not_executed)
{
	start_server();
	char buf[4096];
	/* The smuggling shape: which length wins decides where the next request
	 * starts. Neither wins: the request is refused and nothing runs. */
	request("PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n"
		"Content-Length: 2\r\n\r\n{\"vcpu_count\": 3, \"mem_size_mib\": 64}", buf, sizeof(buf));
	assert_one_json_fault(buf, "HTTP/1.1 400", "conflicting Content-Length");
	ck_assert_uint_ne(V.cfg.machine.vcpu_count, 3);
	/* Both framings at once are refused too. */
	request("PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n"
		"Transfer-Encoding: chunked\r\n\r\n{\"vcpu_count\": 3, \"mem_size_mib\": 64}", buf,
		sizeof(buf));
	assert_one_json_fault(buf, "HTTP/1.1 400", "Transfer-Encoding");
	ck_assert_uint_ne(V.cfg.machine.vcpu_count, 3);
	/* The same length twice is one length (RFC 9110 8.6). */
	request("PUT /machine-config HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 37\r\n"
		"Content-Length: 37\r\n\r\n{\"vcpu_count\": 3, \"mem_size_mib\": 64}", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 204"), "%s", buf);
	ck_assert_uint_eq(V.cfg.machine.vcpu_count, 3);
}
END_TEST

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

START_TEST(binary_garbage_is_answered_at_once_not_at_a_timeout)
{
	setenv("MPVM_API_TIMEOUT_S", "30", 1);
	start_server();
	int fd = dial();
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	send_all(fd, "\x16\x03\x01\x02\x00\x01", 6); /* a TLS hello's first bytes, no newline */
	char buf[4096];
	read_until(fd, buf, sizeof(buf), NULL, 5000);
	close(fd);
	assert_one_json_fault(buf, "HTTP/1.1 400", "Invalid HTTP method");
	ck_assert_double_lt(elapsed_s(&t0), 1.0);
}
END_TEST

START_TEST(a_trickling_client_cannot_extend_its_request)
{
	/* One byte every 100 ms keeps the idle gap short; the request deadline
	 * (1 s here: MPVM_API_TIMEOUT_S=1) still ends it. */
	start_server();
	int fd = dial();
	const char *req = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char buf[4096] = "";
	for (size_t i = 0; req[i] && elapsed_s(&t0) < 5; i++) {
		if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) > 0)
			break;
	}
	read_until(fd, buf, sizeof(buf), NULL, 3000);
	close(fd);
	assert_one_json_fault(buf, "HTTP/1.1 408", "not complete within 1000 ms");
	ck_assert_double_lt(elapsed_s(&t0), 2.5);
}
END_TEST

START_TEST(idle_clients_are_evicted_before_a_new_one_is_refused)
{
	setenv("MPVM_API_TIMEOUT_S", "30", 1);
	start_server();
	enum { IDLE = API_MAX_CONNECTIONS + 6 };
	int idle[IDLE];
	for (int i = 0; i < IDLE; i++)
		idle[i] = dial();
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char buf[4096];
	request("GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "HTTP/1.1 200"), "%s", buf);
	ck_assert_double_lt(elapsed_s(&t0), 1.0);
	/* The oldest idle ones made room: they see the server hang up. */
	int hung_up = 0;
	for (int i = 0; i < IDLE; i++) {
		struct pollfd p = { .fd = idle[i], .events = POLLIN };
		if (poll(&p, 1, 0) > 0 && read(idle[i], buf, sizeof(buf)) == 0)
			hung_up++;
		close(idle[i]);
	}
	ck_assert_int_ge(hung_up, 7);
}
END_TEST

START_TEST(expect_100_continue_and_pipelined_requests)
{
	start_server();
	int fd = dial();
	char buf[4096];
	const char *head = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n"
			   "Expect: 100-continue\r\n\r\n";
	send_all(fd, head, strlen(head));
	read_until(fd, buf, sizeof(buf), "\r\n\r\n", 5000);
	ck_assert_msg(!strcmp(buf, "HTTP/1.1 100 Continue\r\n\r\n"), "%s", buf);
	const char *body = "{\"vcpu_count\": 2, \"mem_size_mib\": 64}";
	send_all(fd, body, strlen(body));
	read_until(fd, buf, sizeof(buf), "\r\n\r\n", 5000);
	ck_assert_msg(strstr(buf, "HTTP/1.1 204"), "%s", buf);
	/* Two requests in one write: two answers, in order. */
	const char *two = "GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
			  "GET / HTTP/1.0\r\n\r\n";
	send_all(fd, two, strlen(two));
	read_until(fd, buf, sizeof(buf), NULL, 5000); /* HTTP/1.0: closed after the second */
	close(fd);
	char *first = strstr(buf, "HTTP/1.1 200"), *second = first ? strstr(first + 1, "HTTP/1.1 200") : NULL;
	ck_assert_msg(first && second, "%s", buf);
	ck_assert_msg(strstr(first, "firecracker_version") < second, "%s", buf);
	ck_assert_msg(strstr(second, "\"id\":\"http-test\""), "%s", buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_http");
	TCase *tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, socket_is_private_and_removed_on_exit);
	tcase_add_test(tc, stale_socket_is_replaced_live_one_is_an_error);
	tcase_add_test(tc, a_regular_file_is_never_replaced);
	tcase_add_test(tc, keep_alive_serves_several_requests_on_one_connection);
	tcase_add_test(tc, oversize_body_is_refused_before_it_is_read);
	tcase_add_test(tc, huge_headers_are_refused);
	tcase_add_test(tc, stalled_client_neither_blocks_others_nor_stays_forever);
	tcase_add_test(tc, many_clients_in_turn_and_at_once);
	tcase_add_test(tc, stop_takes_effect_after_the_answer);
	tcase_add_test(tc, garbage_is_answered_not_fatal);
	tcase_add_test(tc, malformed_http_gets_one_json_400_and_a_close);
	tcase_add_test(tc, conflicting_content_lengths_are_refused_not_executed);
	tcase_add_test(tc, binary_garbage_is_answered_at_once_not_at_a_timeout);
	tcase_add_test(tc, a_trickling_client_cannot_extend_its_request);
	tcase_add_test(tc, idle_clients_are_evicted_before_a_new_one_is_refused);
	tcase_add_test(tc, expect_100_continue_and_pipelined_requests);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
