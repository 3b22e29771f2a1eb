/* MMDS on virtio-net's transmit path, on the device's worker thread: the
 * simulated driver sends frames to the MMDS address and other frames; the
 * "tap" is one end of a SOCK_DGRAM socketpair (as the fuzzer's), so the
 * test sees exactly what would reach the host network. MMDS's answers
 * arrive in receive buffers, also when the buffers come later than the
 * request (nothing is lost for a full receive queue).
 */
#include <check.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_net.h>

#include "check_main.h"
#include "devices/virtio/net.h"
#include "mmds/ns.h"
#include "mmds/pkt.h"
#include "mmds/store.h"
#include "test_virtio_driver.h"

#define TXBUF (SIM_DATA + 0x1000)
#define RXBUF(i) (SIM_DATA + 0x10000 + (i) * 0x1000ull)
#define RXLEN 1526
#define HDR ((uint32_t)sizeof(struct virtio_net_hdr_v1))
#define GIP 0x0a000302u
#define MIP 0xa9fea9feu

static struct sim s;
static int host_fd;
static const uint8_t GMAC[6] = { 0x06, 0, 0x0a, 0, 3, 2 };

static void start(void)
{
	char err[256];
	int sv[2];
	ck_assert_int_eq(mmds_put("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-9\"}}}", err, sizeof(err)), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	struct cfg_net c = { .iface_id = "eth0", .host_dev_name = "mmds0" };
	struct cfg_mmds m = { .set = true, .version = CFG_MMDS_V1, .ipv4 = { 169, 254, 169, 254 } };
	sim_mem_init(&s);
	s.dev = virtio_net_create_on_fd(&c, sv[0], &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	ck_assert_msg(virtio_net_enable_mmds(s.dev, &m, err, sizeof(err)) == 0, "%s", err);
	host_fd = sv[1];
	sim_start(&s, ~0ull);
}

static void stop(void)
{
	sim_stop(&s);
	close(host_fd);
	mmds_reset();
}

static void guest_send(const uint8_t *frame, size_t len)
{
	struct virtio_net_hdr_v1 h = { 0 };
	gm_write(&s.mem, TXBUF, &h, sizeof(h));
	gm_write(&s.mem, TXBUF + 64, frame, len);
	struct sim_buf b[2] = { { TXBUF, sizeof(h), false }, { TXBUF + 64, (uint32_t)len, false } };
	sim_chain(&s, VIRTIO_NET_TXQ, b, 2);
	sim_kick(&s, VIRTIO_NET_TXQ);
	ck_assert(sim_wait_used(&s, VIRTIO_NET_TXQ, 5000, NULL, NULL));
}

static void post_rx(unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		struct sim_buf b = { RXBUF(i), RXLEN, true };
		sim_chain(&s, VIRTIO_NET_RXQ, &b, 1);
	}
	sim_kick(&s, VIRTIO_NET_RXQ);
}

/* The next received frame (in buffer `i`), parsed as the guest would. */
static void guest_recv(unsigned i, struct mmds_pkt *p, uint8_t *f)
{
	uint32_t len;
	ck_assert(sim_wait_used(&s, VIRTIO_NET_RXQ, 5000, NULL, &len));
	ck_assert_uint_gt(len, HDR);
	struct virtio_net_hdr_v1 h;
	gm_read(&s.mem, RXBUF(i), &h, HDR);
	ck_assert_uint_eq(h.num_buffers, 1);
	gm_read(&s.mem, RXBUF(i) + HDR, f, len - HDR);
	mmds_pkt_parse(f, len - HDR, GIP, false, p);
}

static bool host_got_something(int ms)
{
	struct pollfd p = { .fd = host_fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

static size_t tcp(uint8_t *f, uint32_t dst, uint32_t seq, uint32_t ack, uint8_t flags, const char *data)
{
	struct mmds_seg g = { .src_mac = GMAC, .dst_mac = MMDS_MAC, .src_ip = GIP, .dst_ip = dst,
			      .src_port = 41000, .dst_port = 80, .seq = seq, .ack = ack, .flags = flags,
			      .window = 65535, .mss = flags & TCP_SYN ? 1460 : 0, .data = data,
			      .len = data ? strlen(data) : 0 };
	return mmds_pkt_tcp(f, 2048, &g);
}

START_TEST(a_get_is_answered_by_mpvm_and_never_reaches_the_tap)
{
	uint8_t f[2048];
	struct mmds_pkt p;
	start();
	/* The request comes before any receive buffer: the answer waits. */
	guest_send(f, tcp(f, MIP, 500, 0, TCP_SYN, NULL));
	ck_assert(!host_got_something(100));
	post_rx(0, 1);
	guest_recv(0, &p, f);
	ck_assert_int_eq(p.kind, MMDS_PKT_TCP);
	ck_assert_uint_eq(p.flags, TCP_SYN | TCP_ACK);
	uint32_t their = p.seq + 1;
	guest_send(f, tcp(f, MIP, 501, their, TCP_ACK, NULL));
	const char *rq = "GET /latest/meta-data/ami-id HTTP/1.1\r\nConnection: close\r\n\r\n";
	guest_send(f, tcp(f, MIP, 501, their, TCP_ACK | TCP_PSH, rq));
	post_rx(1, 2);
	guest_recv(1, &p, f);
	ck_assert(memmem(p.payload, p.payload_len, "HTTP/1.1 200 OK", 15));
	ck_assert(memmem(p.payload, p.payload_len, "\r\n\r\nami-9", 9));
	ck_assert(!host_got_something(100));
	/* A frame to another address still goes to the tap. */
	size_t n = tcp(f, 0x0a000301, 1, 0, TCP_SYN, NULL);
	guest_send(f, n);
	ck_assert(host_got_something(2000));
	uint8_t got[2048];
	ck_assert_int_eq(recv(host_fd, got, sizeof(got), 0), (int)(HDR + n));
	ck_assert(!memcmp(got + HDR, f, n));
	stop();
}
END_TEST

START_TEST(garbage_to_the_mmds_address_is_dropped_and_the_device_lives)
{
	uint8_t f[2048];
	struct mmds_pkt p;
	start();
	size_t n = tcp(f, MIP, 1, 0, TCP_SYN, NULL);
	for (int i = 0; i < 200; i++) {
		uint8_t g[2048];
		memcpy(g, f, n);
		g[34 + (i % 20)] ^= (uint8_t)(i | 1); /* break the TCP header or checksum */
		guest_send(g, n);
	}
	/* A frame to MMDS larger than an MTU's: dropped, not sent to the tap. */
	uint8_t *big = calloc(1, 9000);
	memcpy(big, f, n);
	guest_send(big, 9000);
	free(big);
	ck_assert(!host_got_something(100));
	/* Still answering. */
	guest_send(f, tcp(f, MIP, 1, 0, TCP_SYN, NULL));
	post_rx(0, 8);
	do
		guest_recv(0, &p, f);
	while (p.flags != (TCP_SYN | TCP_ACK) && (p.flags & TCP_RST));
	ck_assert_uint_eq(p.flags, TCP_SYN | TCP_ACK);
	stop();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_net_mmds");
	TCase *tc = tcase_create("virtio_net_mmds");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_get_is_answered_by_mpvm_and_never_reaches_the_tap);
	tcase_add_test(tc, garbage_to_the_mmds_address_is_dropped_and_the_device_lives);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
