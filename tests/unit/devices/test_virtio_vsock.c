/* virtio-vsock through the simulated driver, against real UNIX sockets:
 * connections in both directions with Firecracker's host protocol, data
 * both ways, credit-based flow control, half-close and reset, and hostile
 * packets that must each be dropped or answered with an RST while the
 * device goes on working.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_vsock.h>

#include "check_main.h"
#include "devices/virtio/vsock.h"
#include "test_virtio_driver.h"

#define RXQ 0
#define TXQ 1
#define GUEST_CID 3
#define RX_BUF (SIM_DATA + 0x10000)  /* SIM_QSIZE rx buffers of 4 KiB, in turn */
#define RX_LEN 4096
#define TX_BUF (SIM_DATA + 0x200000)
#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))

static struct sim s;
static char err[256];
static char uds[64];
static uint64_t rx_gpa[SIM_QSIZE]; /* rx descriptor head -> its buffer */
static unsigned rx_next_buf;

static void start(void)
{
	sim_mem_init(&s);
	snprintf(uds, sizeof(uds), "/tmp/mpvm-vsock-test-%d.sock", (int)getpid());
	s.dev = virtio_vsock_create(GUEST_CID, uds, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	sim_start(&s, ~0ull);
	ck_assert_uint_eq(sim_rd(&s, VIRTIO_MMIO_DEVICE_ID), 19);
	uint32_t cid_lo = sim_rd(&s, 0x100);
	ck_assert_uint_eq(cid_lo, GUEST_CID);
	rx_next_buf = 0;
}

static void stop(void)
{
	sim_stop(&s);
	char p[128];
	for (unsigned port = 1230; port < 1240; port++) { /* the tests' host ports */
		snprintf(p, sizeof(p), "%s_%u", uds, port);
		unlink(p);
	}
}

/* Give the device `n` empty 4 KiB receive buffers. */
static void rx_post(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = RX_BUF + (uint64_t)(rx_next_buf++ % SIM_QSIZE) * RX_LEN;
		struct sim_buf b = { gpa, RX_LEN, true };
		uint16_t head = sim_chain(&s, RXQ, &b, 1);
		rx_gpa[head] = gpa;
	}
	sim_kick(&s, RXQ);
}

/* The next packet the device sent the guest; false if none within `ms`. */
static bool rx_get(struct virtio_vsock_hdr *h, char *payload, int ms)
{
	uint32_t id, len;
	if (!sim_wait_used(&s, RXQ, ms, &id, &len))
		return false;
	ck_assert_uint_ge(len, HDR);
	gm_read(&s.mem, rx_gpa[id], h, HDR);
	ck_assert_uint_eq(len, HDR + h->len);
	if (payload && h->len)
		gm_read(&s.mem, rx_gpa[id] + HDR, payload, h->len);
	return true;
}

static struct virtio_vsock_hdr pkt(uint32_t guest_port, uint32_t host_port, uint16_t op, uint32_t len)
{
	return (struct virtio_vsock_hdr){ .src_cid = GUEST_CID, .dst_cid = 2, .src_port = guest_port,
					  .dst_port = host_port, .len = len,
					  .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
					  .buf_alloc = 64 * 1024 };
}

/* Send one packet on the tx queue (header and payload in one buffer, or
 * `chain_len` bytes of it if nonzero) and wait until the device used it. */
static void tx_send_n(const struct virtio_vsock_hdr *h, const void *payload, uint32_t plen,
		      uint32_t chain_len)
{
	gm_write(&s.mem, TX_BUF, h, HDR);
	if (plen)
		gm_write(&s.mem, TX_BUF + HDR, payload, plen);
	struct sim_buf b = { TX_BUF, chain_len ? chain_len : HDR + plen, false };
	sim_chain(&s, TXQ, &b, 1);
	sim_kick(&s, TXQ);
	ck_assert(sim_wait_used(&s, TXQ, 5000, NULL, NULL));
}

static void tx_send(const struct virtio_vsock_hdr *h, const void *payload, uint32_t plen)
{
	tx_send_n(h, payload, plen, 0);
}

static int host_listen(unsigned port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	unlink(sa.sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

static int host_dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, uds);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static ssize_t read_timeout(int fd, char *buf, size_t cap, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, ms) != 1)
		return -2;
	return read(fd, buf, cap);
}

/* The guest connects to host port 1234; returns the host's accepted end. */
static int guest_connects(uint32_t guest_port, unsigned host_port)
{
	struct virtio_vsock_hdr h = pkt(guest_port, host_port, VIRTIO_VSOCK_OP_REQUEST, 0);
	tx_send(&h, NULL, 0);
	char none[1];
	ck_assert(rx_get(&h, none, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	ck_assert_uint_eq(h.src_port, host_port);
	ck_assert_uint_eq(h.dst_port, guest_port);
	ck_assert_uint_eq(h.dst_cid, GUEST_CID);
	ck_assert_uint_eq(h.buf_alloc, VSOCK_CONN_BUF);
	return 0;
}

START_TEST(guest_connects_sends_receives_and_closes)
{
	start();
	int lfd = host_listen(1234);
	rx_post(8);
	guest_connects(5000, 1234);
	int hfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(hfd, 0);
	struct virtio_vsock_hdr h = pkt(5000, 1234, VIRTIO_VSOCK_OP_RW, 5);
	tx_send(&h, "hello", 5);
	char buf[64] = "";
	ck_assert_int_eq(read_timeout(hfd, buf, sizeof(buf), 5000), 5);
	ck_assert(!memcmp(buf, "hello", 5));
	ck_assert_int_eq(write(hfd, "world!", 6), 6);
	ck_assert(rx_get(&h, buf, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(h.len, 6);
	ck_assert(!memcmp(buf, "world!", 6));
	ck_assert_uint_eq(h.fwd_cnt, 5); /* what reached the host socket */
	/* Half-close from the guest: the host reads EOF, and can still answer. */
	h = pkt(5000, 1234, VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx_send(&h, NULL, 0);
	ck_assert_int_eq(read_timeout(hfd, buf, sizeof(buf), 5000), 0);
	ck_assert_int_eq(write(hfd, "bye", 3), 3);
	ck_assert(rx_get(&h, buf, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
	ck_assert(!memcmp(buf, "bye", 3));
	/* The host closes too: SHUTDOWN to the guest, then the device resets. */
	close(hfd);
	ck_assert(rx_get(&h, NULL, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert(rx_get(&h, NULL, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RST);
	for (int i = 0; i < 100 && virtio_vsock_conns(s.dev); i++)
		usleep(10000);
	ck_assert_uint_eq(virtio_vsock_conns(s.dev), 0);
	close(lfd);
	stop();
}
END_TEST

START_TEST(host_connects_with_firecrackers_protocol)
{
	start();
	rx_post(8);
	int fd = host_dial();
	ck_assert_int_eq(write(fd, "CONNECT 52\n", 11), 11);
	struct virtio_vsock_hdr h;
	ck_assert(rx_get(&h, NULL, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(h.dst_port, 52);
	ck_assert_uint_ge(h.src_port, VSOCK_HOST_PORT_BASE);
	uint32_t hp = h.src_port;
	struct virtio_vsock_hdr r = pkt(52, hp, VIRTIO_VSOCK_OP_RESPONSE, 0);
	tx_send(&r, NULL, 0);
	char buf[64] = "";
	ssize_t n = read_timeout(fd, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_gt(n, 0);
	char want[32];
	snprintf(want, sizeof(want), "OK %u\n", hp);
	ck_assert_str_eq(buf, want);
	/* Data host -> guest. */
	ck_assert_int_eq(write(fd, "ping", 4), 4);
	ck_assert(rx_get(&h, buf, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
	ck_assert(!memcmp(buf, "ping", 4));
	/* The guest refuses a second one: the host client is closed. */
	int fd2 = host_dial();
	ck_assert_int_eq(write(fd2, "CONNECT 53\n", 11), 11);
	ck_assert(rx_get(&h, NULL, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	r = pkt(53, h.src_port, VIRTIO_VSOCK_OP_RST, 0);
	tx_send(&r, NULL, 0);
	ck_assert_int_eq(read_timeout(fd2, buf, sizeof(buf), 5000), 0);
	/* A client with no CONNECT line is dropped, the device goes on. */
	int fd3 = host_dial();
	ck_assert_int_eq(write(fd3, "HELLO THERE, THIS IS NOT A CONNECT\n", 35), 35);
	n = read_timeout(fd3, buf, sizeof(buf), 5000);
	ck_assert(n == 0 || (n < 0 && errno == ECONNRESET));
	close(fd);
	close(fd2);
	close(fd3);
	stop();
}
END_TEST

START_TEST(nobody_listening_is_a_reset)
{
	start();
	rx_post(4);
	struct virtio_vsock_hdr h = pkt(6000, 1239, VIRTIO_VSOCK_OP_REQUEST, 0);
	tx_send(&h, NULL, 0);
	ck_assert(rx_get(&h, NULL, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RST);
	ck_assert_uint_eq(h.dst_port, 6000);
	stop();
}
END_TEST

START_TEST(the_guest_gets_no_more_than_its_credit)
{
	start();
	int lfd = host_listen(1235);
	rx_post(32);
	struct virtio_vsock_hdr h = pkt(7000, 1235, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.buf_alloc = 8192;
	tx_send(&h, NULL, 0);
	ck_assert(rx_get(&h, NULL, 5000));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	int hfd = accept(lfd, NULL, NULL);
	static char big[65536];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(write(hfd, big, sizeof(big)), (ssize_t)sizeof(big));
	uint32_t got = 0;
	char buf[RX_LEN];
	while (rx_get(&h, buf, 500))
		got += h.len;
	ck_assert_uint_eq(got, 8192); /* the credit, and not a byte more */
	/* The guest consumed it all: its credit update lets the rest come. */
	rx_post(24);
	h = pkt(7000, 1235, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	h.buf_alloc = 8192;
	h.fwd_cnt = 8192;
	tx_send(&h, NULL, 0);
	uint32_t more = 0;
	while (rx_get(&h, buf, 500))
		more += h.len;
	ck_assert_uint_eq(more, 8192);
	close(hfd);
	close(lfd);
	stop();
}
END_TEST

START_TEST(hostile_packets_are_dropped_or_reset_and_the_device_goes_on)
{
	start();
	int lfd = host_listen(1236);
	rx_post(32);
	struct virtio_vsock_hdr h, r;
	/* A source CID that is not the guest's: dropped, nothing answered. */
	h = pkt(8000, 1236, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.src_cid = 99;
	tx_send(&h, NULL, 0);
	/* To a CID other than the host's: dropped. */
	h = pkt(8000, 1236, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.dst_cid = 7;
	tx_send(&h, NULL, 0);
	ck_assert(!rx_get(&r, NULL, 200));
	/* Not a stream, an unknown op, data for no connection: an RST each. */
	h = pkt(8001, 1236, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = 2;
	tx_send(&h, NULL, 0);
	h = pkt(8002, 1236, 99, 0);
	tx_send(&h, NULL, 0);
	h = pkt(8003, 1236, VIRTIO_VSOCK_OP_RW, 3);
	tx_send(&h, "abc", 3);
	for (int i = 0; i < 3; i++) {
		ck_assert(rx_get(&r, NULL, 5000));
		ck_assert_uint_eq(r.op, VIRTIO_VSOCK_OP_RST);
	}
	/* A length past the chain, and an absurd one: reset, no read past it. */
	h = pkt(8004, 1236, VIRTIO_VSOCK_OP_RW, 100);
	tx_send_n(&h, "abc", 3, HDR + 3);
	h = pkt(8005, 1236, VIRTIO_VSOCK_OP_RW, 0xffffffffu);
	tx_send(&h, NULL, 0);
	/* A chain shorter than a header: counted, no answer possible. */
	tx_send_n(&h, NULL, 0, 10);
	for (int i = 0; i < 2; i++) {
		ck_assert(rx_get(&r, NULL, 5000));
		ck_assert_uint_eq(r.op, VIRTIO_VSOCK_OP_RST);
	}
	ck_assert_uint_ge(atomic_load(&s.dev->stats.bad_requests), 7);
	/* An open connection overrunning its credit is reset, and the host
	 * socket closed. */
	guest_connects(8006, 1236);
	int hfd = accept(lfd, NULL, NULL);
	static char blob[60000];
	h = pkt(8006, 1236, VIRTIO_VSOCK_OP_RW, sizeof(blob));
	/* The host never reads: once its socket is full, fwd_cnt stops and the
	 * guest, ignoring the credit it was told, runs past 256 KiB. */
	bool reset = false;
	for (int i = 0; i < 40 && !reset; i++) {
		tx_send(&h, blob, sizeof(blob));
		while (rx_get(&r, NULL, 50))
			reset |= r.op == VIRTIO_VSOCK_OP_RST && r.dst_port == 8006;
		rx_post(4);
	}
	ck_assert(reset);
	char buf[65536];
	ssize_t n;
	while ((n = read_timeout(hfd, buf, sizeof(buf), 2000)) > 0)
		;
	ck_assert_int_eq(n, 0);
	close(hfd);
	/* And after all that, a good connection still works. */
	rx_post(8);
	guest_connects(8007, 1236);
	hfd = accept(lfd, NULL, NULL);
	h = pkt(8007, 1236, VIRTIO_VSOCK_OP_RW, 2);
	tx_send(&h, "ok", 2);
	ck_assert_int_eq(read_timeout(hfd, buf, sizeof(buf), 5000), 2);
	close(hfd);
	close(lfd);
	stop();
}
END_TEST

START_TEST(a_guest_close_delivers_all_it_sent_before_the_reset)
{
	start();
	int lfd = host_listen(1238);
	rx_post(16);
	guest_connects(9100, 1238);
	int hfd = accept(lfd, NULL, NULL);
	/* More than the host socket buffers, so the device holds a tail... */
	static char blob[60000];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (char)(i * 7);
	struct virtio_vsock_hdr h = pkt(9100, 1238, VIRTIO_VSOCK_OP_RW, sizeof(blob));
	for (int i = 0; i < 4; i++)
		tx_send(&h, blob, sizeof(blob));
	/* ...when the guest closes both ways. */
	h = pkt(9100, 1238, VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV;
	tx_send(&h, NULL, 0);
	size_t total = 0;
	bool same = true;
	static char buf[65536];
	ssize_t n;
	while ((n = read_timeout(hfd, buf, sizeof(buf), 5000)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			same &= buf[i] == blob[(total + (size_t)i) % sizeof(blob)];
		total += (size_t)n;
	}
	ck_assert_int_eq(n, 0); /* EOF after the last byte */
	ck_assert_uint_eq(total, 4 * sizeof(blob));
	ck_assert(same);
	struct virtio_vsock_hdr r;
	bool rst = false;
	while (rx_get(&r, NULL, 1000))
		rst |= r.op == VIRTIO_VSOCK_OP_RST;
	ck_assert(rst);
	close(hfd);
	close(lfd);
	stop();
}
END_TEST

START_TEST(a_driver_reset_closes_every_connection)
{
	start();
	int lfd = host_listen(1237);
	rx_post(8);
	guest_connects(9000, 1237);
	int hfd = accept(lfd, NULL, NULL);
	ck_assert_uint_eq(virtio_vsock_conns(s.dev), 1);
	sim_wr(&s, VIRTIO_MMIO_STATUS, 0);
	char buf[8];
	ck_assert_int_eq(read_timeout(hfd, buf, sizeof(buf), 5000), 0);
	ck_assert_uint_eq(virtio_vsock_conns(s.dev), 0);
	close(hfd);
	close(lfd);
	stop();
}
END_TEST

START_TEST(bad_cids_and_paths_are_refused)
{
	struct guest_mem mem;
	ck_assert_int_eq(gm_create(&mem, 1 << 20, false, err, sizeof(err)), 0);
	ck_assert_ptr_null(virtio_vsock_create(2, "/tmp/x.sock", &mem, err, sizeof(err)));
	ck_assert_msg(strstr(err, "guest_cid 2: must be 3.."), "%s", err);
	char path[200];
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	ck_assert_ptr_null(virtio_vsock_create(3, path, &mem, err, sizeof(err)));
	ck_assert_msg(strstr(err, "UNIX socket path"), "%s", err);
	FILE *f = fopen("/tmp/mpvm-vsock-regular-file", "w");
	fclose(f);
	ck_assert_ptr_null(virtio_vsock_create(3, "/tmp/mpvm-vsock-regular-file", &mem, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a socket"), "%s", err);
	unlink("/tmp/mpvm-vsock-regular-file");
	gm_destroy(&mem);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_vsock");
	TCase *tc = tcase_create("vsock");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, guest_connects_sends_receives_and_closes);
	tcase_add_test(tc, host_connects_with_firecrackers_protocol);
	tcase_add_test(tc, nobody_listening_is_a_reset);
	tcase_add_test(tc, the_guest_gets_no_more_than_its_credit);
	tcase_add_test(tc, hostile_packets_are_dropped_or_reset_and_the_device_goes_on);
	tcase_add_test(tc, a_guest_close_delivers_all_it_sent_before_the_reset);
	tcase_add_test(tc, a_driver_reset_closes_every_connection);
	tcase_add_test(tc, bad_cids_and_paths_are_refused);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
