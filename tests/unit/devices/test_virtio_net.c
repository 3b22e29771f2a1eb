/* virtio-net on a real tap, inside a private network namespace (each Check
 * test runs in its own forked process, so unshare() isolates it; nothing
 * leaves the machine). A simulated driver sends and receives frames that
 * the host side sees on packet and UDP sockets. Needs root; skips otherwise. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>

#include "check_main.h"
#include "devices/virtio/net.h"
#include "test_netns.h"
#include "test_virtio_driver.h"

#define TAP "mpvmt0"
#define ETH_TEST 0x88b5 /* IEEE local experimental ethertype */
#define TXBUF (SIM_DATA + 0x1000)
#define RXBUF(i) (SIM_DATA + 0x10000 + (i) * 0x1000ull)
#define RXLEN 1526 /* header + 1514-byte frame, what Linux posts without offloads */

static struct sim s;
static char err[512];
static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static uint8_t tap_mac[6];
static int ifindex;

static void ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	ifreq_ioctl_on(TAP, req, ifr);
}

static void set_addr(unsigned long req, const char *ip)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ifr.ifr_addr;
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	ifreq_ioctl(req, &ifr);
}

/* New netns, the device (creating the tap), tap up at 10.0.0.1/24. */
static void start(uint64_t want_features, const struct cfg_rate_limiter *tx_rl)
{
	enter_private_netns();
	struct cfg_net c = { .iface_id = "eth0", .host_dev_name = TAP, .has_mac = true };
	memcpy(c.guest_mac, guest_mac, 6);
	if (tx_rl)
		c.tx_rate_limiter = *tx_rl;
	sim_mem_init(&s);
	s.dev = virtio_net_create(&c, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	ck_assert_int_eq(virtio_dev_start(s.dev, err, sizeof(err)), 0);
	link_up(TAP);
	set_addr(SIOCSIFADDR, "10.0.0.1");
	set_addr(SIOCSIFNETMASK, "255.255.255.0");
	struct ifreq ifr = { 0 };
	ifreq_ioctl(SIOCGIFHWADDR, &ifr);
	memcpy(tap_mac, ifr.ifr_hwaddr.sa_data, 6);
	ifindex = (int)if_nametoindex(TAP);
	sim_init(&s, want_features);
}

static int packet_socket(void)
{
	int sk = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_TEST));
	ck_assert_int_ge(sk, 0);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_TEST),
				   .sll_ifindex = ifindex };
	ck_assert_int_eq(bind(sk, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return sk;
}

static size_t test_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, const char *text)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	size_t n = strlen(text);
	memcpy(f + 14, text, n);
	return 14 + n < 60 ? 60 : 14 + n; /* minimum Ethernet frame */
}

/* Transmit: header and frame in two descriptors. */
static void guest_send(const struct virtio_net_hdr_v1 *h, const uint8_t *frame, size_t len)
{
	gm_write(&s.mem, TXBUF, h, sizeof(*h));
	gm_write(&s.mem, TXBUF + 64, frame, len);
	struct sim_buf b[2] = { { TXBUF, sizeof(*h), false }, { TXBUF + 64, (uint32_t)len, false } };
	uint16_t head = sim_chain(&s, VIRTIO_NET_TXQ, b, 2);
	sim_kick(&s, VIRTIO_NET_TXQ);
	uint32_t id, used;
	ck_assert(sim_wait_used(&s, VIRTIO_NET_TXQ, 5000, &id, &used));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(used, 0);
}

static void post_rx_buffers(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct sim_buf b = { RXBUF(i), RXLEN, true };
		sim_chain(&s, VIRTIO_NET_RXQ, &b, 1);
	}
	sim_kick(&s, VIRTIO_NET_RXQ);
}

static ssize_t host_recv(int sk, void *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return recv(sk, buf, len, 0);
}

START_TEST(mac_is_in_config_space)
{
	SKIP_UNLESS_NETNS();
	start(~0ull, NULL);
	ck_assert(s.features & (1ull << VIRTIO_NET_F_MAC));
	uint8_t mac[6];
	for (int i = 0; i < 6; i++)
		virtio_mmio_access(s.dev, NULL, VIRTIO_MMIO_CONFIG + i, &mac[i], 1, false);
	ck_assert_int_eq(memcmp(mac, guest_mac, 6), 0);
	sim_stop(&s);
}
END_TEST

START_TEST(guest_frame_reaches_the_host)
{
	SKIP_UNLESS_NETNS();
	start(~0ull, NULL);
	int sk = packet_socket();
	uint8_t f[128], got[256];
	size_t n = test_frame(f, bcast, guest_mac, "hello from the guest");
	struct virtio_net_hdr_v1 h = { 0 };
	guest_send(&h, f, n);
	ssize_t r = host_recv(sk, got, sizeof(got), 2000);
	ck_assert_int_eq(r, (ssize_t)n);
	ck_assert_int_eq(memcmp(got, f, n), 0);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.write_bytes), n);
	close(sk);
	sim_stop(&s);
}
END_TEST

static void expect_rx(const uint8_t *f, size_t n)
{
	uint32_t id, len;
	ck_assert(sim_wait_used(&s, VIRTIO_NET_RXQ, 5000, &id, &len));
	ck_assert_uint_eq(len, 12 + n);
	struct virtio_net_hdr_v1 h;
	gm_read(&s.mem, RXBUF(id), &h, sizeof(h));
	ck_assert_uint_eq(h.num_buffers, 1);
	ck_assert_uint_eq(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	ck_assert_int_eq(memcmp(gm_ptr(&s.mem, RXBUF(id) + 12, n), f, n), 0);
}

START_TEST(host_frame_reaches_the_guest)
{
	SKIP_UNLESS_NETNS();
	start(~0ull, NULL);
	post_rx_buffers(4);
	int sk = packet_socket();
	uint8_t f[128];
	size_t n = test_frame(f, guest_mac, tap_mac, "hello from the host");
	ck_assert_int_eq(send(sk, f, n, 0), (ssize_t)n);
	expect_rx(f, n);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.read_bytes), n);
	close(sk);
	sim_stop(&s);
}
END_TEST

START_TEST(frames_wait_in_the_tap_until_buffers_arrive)
{
	SKIP_UNLESS_NETNS();
	start(~0ull, NULL);
	int sk = packet_socket();
	uint8_t f[128];
	size_t n = test_frame(f, guest_mac, tap_mac, "early frame");
	ck_assert_int_eq(send(sk, f, n, 0), (ssize_t)n);
	usleep(50000);
	ck_assert_uint_eq(sim_used_idx(&s, VIRTIO_NET_RXQ), 0);
	post_rx_buffers(1);
	expect_rx(f, n);
	close(sk);
	sim_stop(&s);
}
END_TEST

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

/* Ethernet/IPv4/UDP 10.0.0.2:4000 -> 10.0.0.1:5555 whose UDP checksum field
 * holds only the pseudo-header sum, as a driver using CSUM offload sends. */
static size_t partial_csum_udp(uint8_t *f, const char *payload)
{
	size_t pl = strlen(payload), ulen = 8 + pl, iplen = 20 + ulen;
	memcpy(f, tap_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08, f[13] = 0x00;
	uint8_t *ip = f + 14, *udp = ip + 20;
	memset(ip, 0, 20);
	ip[0] = 0x45, ip[2] = (uint8_t)(iplen >> 8), ip[3] = (uint8_t)iplen, ip[8] = 64, ip[9] = 17;
	inet_pton(AF_INET, "10.0.0.2", ip + 12);
	inet_pton(AF_INET, "10.0.0.1", ip + 16);
	uint16_t c = (uint16_t)~csum_fold(csum_add(0, ip, 20));
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	udp[0] = 4000 >> 8, udp[1] = 4000 & 0xff, udp[2] = 5555 >> 8, udp[3] = 5555 & 0xff;
	udp[4] = (uint8_t)(ulen >> 8), udp[5] = (uint8_t)ulen;
	memcpy(udp + 8, payload, pl);
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = (uint8_t)(ulen >> 8), pseudo[11] = (uint8_t)ulen;
	uint16_t ps = csum_fold(csum_add(0, pseudo, 12));
	udp[6] = (uint8_t)(ps >> 8), udp[7] = (uint8_t)ps;
	return 14 + iplen;
}

static int udp_listener(uint16_t port)
{
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(sk, (struct sockaddr *)&a, sizeof(a)), 0);
	return sk;
}

START_TEST(tx_checksum_offload_completes_partial_checksums)
{
	SKIP_UNLESS_NETNS();
	bool negotiate = _i;
	start(negotiate ? ~0ull : ~(1ull << VIRTIO_NET_F_CSUM), NULL);
	int sk = udp_listener(5555);
	uint8_t f[256];
	char got[64];
	size_t n = partial_csum_udp(f, "offloaded checksum");
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
	guest_send(&h, f, n);
	ssize_t r = host_recv(sk, got, sizeof(got), 500);
	if (negotiate) {
		ck_assert_int_eq(r, 18);
		ck_assert_int_eq(memcmp(got, "offloaded checksum", 18), 0);
	} else {
		/* Not negotiated: the flag is stripped and the host drops the frame
		 * for its bad checksum. */
		ck_assert_int_eq(r, -1);
	}
	/* Without the flag the partial checksum is wrong either way. */
	struct virtio_net_hdr_v1 none = { 0 };
	guest_send(&none, f, n);
	ck_assert_int_eq(host_recv(sk, got, sizeof(got), 300), -1);
	close(sk);
	sim_stop(&s);
}
END_TEST

START_TEST(rx_checksum_flags_follow_guest_csum)
{
	SKIP_UNLESS_NETNS();
	bool negotiate = _i;
	start(negotiate ? ~0ull : ~(1ull << VIRTIO_NET_F_GUEST_CSUM), NULL);
	struct arpreq ar = { .arp_flags = ATF_COM | ATF_PERM };
	struct sockaddr_in *pa = (struct sockaddr_in *)&ar.arp_pa;
	pa->sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.0.2", &pa->sin_addr);
	ar.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(ar.arp_ha.sa_data, guest_mac, 6);
	snprintf(ar.arp_dev, sizeof(ar.arp_dev), "%s", TAP);
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(ioctl(sk, SIOCSARP, &ar), 0);
	post_rx_buffers(2);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7777) };
	inet_pton(AF_INET, "10.0.0.2", &to.sin_addr);
	ck_assert_int_eq(sendto(sk, "to the guest", 12, 0, (struct sockaddr *)&to, sizeof(to)), 12);
	uint32_t id, len;
	ck_assert(sim_wait_used(&s, VIRTIO_NET_RXQ, 5000, &id, &len));
	ck_assert_uint_eq(len, 12 + 14 + 20 + 8 + 12);
	struct virtio_net_hdr_v1 h;
	gm_read(&s.mem, RXBUF(id), &h, sizeof(h));
	const uint8_t *ip = gm_ptr(&s.mem, RXBUF(id) + 12 + 14, 40);
	if (negotiate) {
		ck_assert_uint_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
		ck_assert_uint_eq(h.csum_start, 34);
		ck_assert_uint_eq(h.csum_offset, 6);
	} else {
		/* Full checksum in the frame: pseudo-header + UDP sums to 0xffff. */
		ck_assert_uint_eq(h.flags, 0);
		uint8_t pseudo[12];
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = 0, pseudo[11] = 20;
		uint32_t sum = csum_add(csum_add(0, pseudo, 12), ip + 20, 20);
		ck_assert_uint_eq(csum_fold(sum), 0xffff);
	}
	close(sk);
	sim_stop(&s);
}
END_TEST

START_TEST(bad_tx_chain_is_dropped_and_tx_continues)
{
	SKIP_UNLESS_NETNS();
	start(~0ull, NULL);
	int sk = packet_socket();
	/* A header-only buffer outside RAM, then a chain shorter than a header. */
	struct sim_buf bad = { 0x7f0000000000ull, 64, false };
	sim_chain(&s, VIRTIO_NET_TXQ, &bad, 1);
	struct sim_buf tiny = { TXBUF, 4, false };
	sim_chain(&s, VIRTIO_NET_TXQ, &tiny, 1);
	sim_kick(&s, VIRTIO_NET_TXQ);
	ck_assert(sim_wait_used(&s, VIRTIO_NET_TXQ, 5000, NULL, NULL));
	ck_assert(sim_wait_used(&s, VIRTIO_NET_TXQ, 5000, NULL, NULL));
	ck_assert_uint_eq(atomic_load(&s.dev->stats.bad_requests), 1);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.dropped), 1);
	uint8_t f[128], got[128];
	size_t n = test_frame(f, bcast, guest_mac, "still alive");
	struct virtio_net_hdr_v1 h = { 0 };
	guest_send(&h, f, n);
	ck_assert_int_eq(host_recv(sk, got, sizeof(got), 2000), (ssize_t)n);
	close(sk);
	sim_stop(&s);
}
END_TEST

START_TEST(tx_rate_limiter_paces_frames)
{
	SKIP_UNLESS_NETNS();
	struct cfg_rate_limiter rl = { .ops = { .set = true, .size = 1, .refill_time_ms = 50 } };
	start(~0ull, &rl);
	uint8_t f[128];
	size_t n = test_frame(f, bcast, guest_mac, "paced");
	struct virtio_net_hdr_v1 h = { 0 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 4; i++)
		guest_send(&h, f, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ck_assert_msg(ms >= 140, "4 frames took %.1f ms", ms);
	ck_assert_uint_ge(atomic_load(&s.dev->stats.throttled), 2);
	sim_stop(&s);
}
END_TEST

/* PATCH /vm Paused: a frame arriving on the tap stays in the tap's kernel
 * queue and a frame the driver queued is not sent, until resume. */
START_TEST(nothing_moves_while_paused)
{
	SKIP_UNLESS_NETNS();
	start(~0ull, NULL);
	post_rx_buffers(4);
	int sk = packet_socket();
	ck_assert_int_eq(virtio_dev_pause(s.dev), 0);
	sim_irq_fired(&s, 0);

	uint8_t in[128], out[128], got[256];
	size_t nin = test_frame(in, guest_mac, tap_mac, "sent while paused");
	ck_assert_int_eq(send(sk, in, nin, 0), (ssize_t)nin);
	size_t nout = test_frame(out, bcast, guest_mac, "queued while paused");
	struct virtio_net_hdr_v1 h = { 0 };
	gm_write(&s.mem, TXBUF, &h, sizeof(h));
	gm_write(&s.mem, TXBUF + 64, out, nout);
	struct sim_buf b[2] = { { TXBUF, sizeof(h), false }, { TXBUF + 64, (uint32_t)nout, false } };
	uint16_t head = sim_chain(&s, VIRTIO_NET_TXQ, b, 2);
	sim_kick(&s, VIRTIO_NET_TXQ);

	ck_assert_int_eq(host_recv(sk, got, sizeof(got), 200), -1);
	ck_assert_uint_eq(sim_used_idx(&s, VIRTIO_NET_RXQ), 0);
	ck_assert_uint_eq(sim_used_idx(&s, VIRTIO_NET_TXQ), 0);
	ck_assert(!sim_irq_fired(&s, 0));
	ck_assert_uint_eq(atomic_load(&s.dev->stats.read_bytes), 0);

	virtio_dev_resume(s.dev);
	expect_rx(in, nin);
	uint32_t id;
	ck_assert(sim_wait_used(&s, VIRTIO_NET_TXQ, 5000, &id, NULL));
	ck_assert_uint_eq(id, head);
	ck_assert_int_eq(host_recv(sk, got, sizeof(got), 2000), (ssize_t)nout);
	ck_assert_int_eq(memcmp(got, out, nout), 0);
	ck_assert(sim_irq_fired(&s, 1000));
	close(sk);
	sim_stop(&s);
}
END_TEST

START_TEST(missing_permission_or_bad_name_is_a_clear_error)
{
	struct guest_mem m;
	ck_assert_int_eq(gm_create(&m, 1 << 20, false, err, sizeof(err)), 0);
	struct cfg_net c = { .iface_id = "eth9", .host_dev_name = "bad name!" };
	ck_assert_ptr_null(virtio_net_create(&c, &m, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "eth9"));
	ck_assert_ptr_nonnull(strstr(err, "bad name!"));
	gm_destroy(&m);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_net");
	TCase *tc = tcase_create("net");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, mac_is_in_config_space);
	tcase_add_test(tc, guest_frame_reaches_the_host);
	tcase_add_test(tc, host_frame_reaches_the_guest);
	tcase_add_test(tc, frames_wait_in_the_tap_until_buffers_arrive);
	tcase_add_loop_test(tc, tx_checksum_offload_completes_partial_checksums, 0, 2);
	tcase_add_loop_test(tc, rx_checksum_flags_follow_guest_csum, 0, 2);
	tcase_add_test(tc, bad_tx_chain_is_dropped_and_tx_continues);
	tcase_add_test(tc, tx_rate_limiter_paces_frames);
	tcase_add_test(tc, nothing_moves_while_paused);
	tcase_add_test(tc, missing_permission_or_bad_name_is_a_clear_error);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
