/* MMDS's guest-side stack (mmds/ns.h, mmds/pkt.h) driven with the frames a
 * guest would send, built here byte by byte: ARP, the TCP handshake, a
 * request and its answer over several segments, close, retransmission, and
 * what a hostile guest sends (bad checksums, absurd lengths, SYN floods,
 * segments out of the window, random bytes). No device, no tap.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "mmds/ns.h"
#include "mmds/pkt.h"
#include "mmds/store.h"

#define MS 1000000ull
static const uint8_t MMDS_IP4[4] = { 169, 254, 169, 254 };
#define MIP 0xa9fea9feu
#define GIP 0x0a000302u /* the guest: 10.0.3.2 */
static const uint8_t GMAC[6] = { 0x06, 0, 0x0a, 0, 3, 2 };

static struct mmds_ns *ns;
static uint64_t now;

static void setup(void)
{
	char err[256];
	mmds_reset();
	/* A value long enough for several segments. */
	char *big = malloc(20000 + 64);
	int n = sprintf(big, "{\"a\": \"A\", \"big\": \"");
	for (int i = 0; i < 20000; i++)
		big[n++] = (char)('a' + i % 26);
	strcpy(big + n, "\"}");
	ck_assert_int_eq(mmds_put(big, err, sizeof(err)), 0);
	free(big);
	struct cfg_mmds m = { .set = true, .version = CFG_MMDS_V1, .ipv4 = { 169, 254, 169, 254 } };
	ns = mmds_ns_create(&m);
	ck_assert_ptr_nonnull(ns);
	now = 5000 * MS;
}

static void teardown(void)
{
	mmds_ns_destroy(ns);
	mmds_reset();
}

/* A segment from the guest's port `port`. */
static size_t seg(uint8_t *buf, uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags,
		  const char *data, uint16_t mss)
{
	struct mmds_seg s = { .src_mac = GMAC, .dst_mac = MMDS_MAC, .src_ip = GIP, .dst_ip = MIP,
			      .src_port = port, .dst_port = MMDS_PORT, .seq = seq, .ack = ack,
			      .flags = flags, .window = 65535, .mss = mss, .data = data,
			      .len = data ? strlen(data) : 0 };
	size_t n = mmds_pkt_tcp(buf, 2048, &s);
	ck_assert_uint_gt(n, 0);
	return n;
}

static bool send_seg(uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, const char *data)
{
	uint8_t f[2048];
	size_t n = seg(f, port, seq, ack, flags, data, flags & TCP_SYN ? 1460 : 0);
	return mmds_ns_tx(ns, f, n, false, now);
}

/* The next frame MMDS has for the guest, parsed as the guest would (the
 * parser classifies frames to an address: the guest's here). */
static bool recv_seg(struct mmds_pkt *p, uint8_t *frame)
{
	size_t n = mmds_ns_rx(ns, frame, 1514, now);
	if (!n)
		return false;
	ck_assert(!memcmp(frame, GMAC, 6));
	ck_assert(!memcmp(frame + 6, MMDS_MAC, 6));
	mmds_pkt_parse(frame, n, GIP, false, p);
	ck_assert_int_eq(p->kind, MMDS_PKT_TCP); /* checksums verified */
	ck_assert_uint_eq(p->src_port, MMDS_PORT);
	return true;
}

/* Handshake from `port`; returns MMDS's next sequence number. */
static uint32_t connect_(uint16_t port, uint32_t iss)
{
	struct mmds_pkt p;
	uint8_t f[1514];
	ck_assert(send_seg(port, iss, 0, TCP_SYN, NULL));
	ck_assert(recv_seg(&p, f));
	ck_assert_uint_eq(p.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(p.ack, iss + 1);
	ck_assert_uint_eq(p.mss, 1460);
	ck_assert(send_seg(port, iss + 1, p.seq + 1, TCP_ACK, NULL));
	ck_assert(!mmds_ns_pending(ns));
	return p.seq + 1;
}

/* Reads segments until the FIN, ACKing each; returns the bytes. */
static size_t read_all(uint16_t port, uint32_t my_seq, uint32_t *their, char *out, size_t cap)
{
	struct mmds_pkt p;
	uint8_t f[1514];
	size_t got = 0;
	for (int guard = 0; guard < 1000; guard++) {
		if (!recv_seg(&p, f))
			break;
		ck_assert_uint_eq(p.seq, *their);
		ck_assert_uint_le(p.payload_len, 1460);
		ck_assert_uint_le(got + p.payload_len, cap);
		memcpy(out + got, p.payload, p.payload_len);
		got += p.payload_len;
		*their += (uint32_t)p.payload_len + !!(p.flags & TCP_FIN);
		send_seg(port, my_seq, *their, TCP_ACK, NULL);
		if (p.flags & TCP_FIN)
			break;
	}
	return got;
}

START_TEST(arp_request_for_the_address_is_answered_others_pass)
{
	uint8_t f[64] = { 0 }, r[1514];
	memset(f, 0xff, 6);
	memcpy(f + 6, GMAC, 6);
	f[12] = 0x08, f[13] = 0x06;
	uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	memcpy(arp + 8, GMAC, 6);
	arp[14] = 10, arp[15] = 0, arp[16] = 3, arp[17] = 2;
	memcpy(arp + 24, MMDS_IP4, 4);
	memcpy(f + 14, arp, 28);
	ck_assert(mmds_pkt_maybe_ours(f, 42, MIP));
	ck_assert(mmds_ns_tx(ns, f, 42, false, now));
	size_t n = mmds_ns_rx(ns, r, sizeof(r), now);
	ck_assert_uint_eq(n, 42);
	ck_assert(!memcmp(r, GMAC, 6));
	ck_assert_uint_eq(r[21], 2); /* reply */
	ck_assert(!memcmp(r + 22, MMDS_MAC, 6));
	ck_assert(!memcmp(r + 28, MMDS_IP4, 4));
	ck_assert(!memcmp(r + 32, GMAC, 6));
	ck_assert_uint_eq(r[38], 10);
	ck_assert_uint_eq(mmds_ns_rx(ns, r, sizeof(r), now), 0);
	/* An ARP for another address is the tap's. */
	f[14 + 27] = 1;
	ck_assert(!mmds_pkt_maybe_ours(f, 42, MIP));
	ck_assert(!mmds_ns_tx(ns, f, 42, false, now));
	/* So is TCP to another address. */
	uint8_t t[2048];
	struct mmds_seg s = { .src_mac = GMAC, .dst_mac = MMDS_MAC, .src_ip = GIP, .dst_ip = 0x0a000301,
			      .src_port = 1, .dst_port = 80, .flags = TCP_SYN };
	n = mmds_pkt_tcp(t, sizeof(t), &s);
	ck_assert(!mmds_ns_tx(ns, t, n, false, now));
}
END_TEST

START_TEST(get_over_tcp_with_a_multi_segment_answer_and_close)
{
	uint32_t their = connect_(40000, 1000), mine = 1001;
	const char *rq = "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	ck_assert(send_seg(40000, mine, their, TCP_ACK | TCP_PSH, rq));
	mine += (uint32_t)strlen(rq);
	char *out = malloc(65536);
	size_t n = read_all(40000, mine, &their, out, 65536);
	out[n] = 0;
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
	char *body = strstr(out, "\r\n\r\n") + 4;
	ck_assert_uint_eq(strlen(body), 20000);
	for (int i = 0; i < 20000; i++)
		ck_assert_int_eq(body[i], 'a' + i % 26);
	/* MMDS closed (Connection: close); the guest's FIN ends it. */
	ck_assert(send_seg(40000, mine, their, TCP_FIN | TCP_ACK, NULL));
	struct mmds_pkt p;
	uint8_t f[1514];
	ck_assert(recv_seg(&p, f));
	ck_assert_uint_eq(p.flags, TCP_ACK);
	ck_assert_uint_eq(p.ack, mine + 1);
	ck_assert(!mmds_ns_pending(ns));
	ck_assert_uint_eq(mmds_ns_deadline(ns), 0); /* the connection is gone */
	free(out);
}
END_TEST

START_TEST(keep_alive_and_a_guest_half_close)
{
	uint32_t their = connect_(40001, 5), mine = 6;
	const char *rq = "GET /a HTTP/1.1\r\n\r\n";
	char out[4096];
	struct mmds_pkt p;
	uint8_t f[1514];
	for (int round = 0; round < 3; round++) {
		ck_assert(send_seg(40001, mine, their, TCP_ACK, rq));
		mine += (uint32_t)strlen(rq);
		ck_assert(recv_seg(&p, f));
		ck_assert_uint_eq(p.ack, mine);
		ck_assert(memmem(p.payload, p.payload_len, "\r\n\r\nA", 5));
		their += (uint32_t)p.payload_len;
		send_seg(40001, mine, their, TCP_ACK, NULL);
		ck_assert(!mmds_ns_pending(ns)); /* keep-alive: no FIN */
	}
	/* The request and the FIN together: answered, then closed. */
	ck_assert(send_seg(40001, mine, their, TCP_ACK | TCP_FIN, rq));
	mine += (uint32_t)strlen(rq) + 1;
	size_t n = read_all(40001, mine, &their, out, sizeof(out));
	ck_assert(memmem(out, n, "\r\n\r\nA", 5));
	ck_assert_uint_eq(mmds_ns_deadline(ns), 0);
}
END_TEST

START_TEST(lost_segments_are_sent_again)
{
	struct mmds_pkt p;
	uint8_t f[1514];
	/* A retransmitted SYN gets the same SYN-ACK again. */
	ck_assert(send_seg(40002, 77, 0, TCP_SYN, NULL));
	ck_assert(recv_seg(&p, f));
	uint32_t iss = p.seq;
	ck_assert(send_seg(40002, 77, 0, TCP_SYN, NULL));
	ck_assert(recv_seg(&p, f));
	ck_assert_uint_eq(p.seq, iss);
	ck_assert_uint_eq(p.flags, TCP_SYN | TCP_ACK);
	/* The SYN-ACK "lost" again: the timer sends it once more. */
	uint64_t d = mmds_ns_deadline(ns);
	ck_assert_uint_gt(d, now);
	now = d;
	mmds_ns_tick(ns, now);
	ck_assert(recv_seg(&p, f));
	ck_assert_uint_eq(p.flags, TCP_SYN | TCP_ACK);
	uint32_t their = iss + 1, mine = 78;
	send_seg(40002, mine, their, TCP_ACK, NULL);
	const char *rq = "GET /a HTTP/1.1\r\n\r\n";
	/* The guest sends its request twice (it thought the first lost): one answer. */
	send_seg(40002, mine, their, TCP_ACK, rq);
	ck_assert(recv_seg(&p, f));
	uint32_t data_seq = p.seq;
	size_t len = p.payload_len;
	send_seg(40002, mine, their, TCP_ACK, rq);
	mine += (uint32_t)strlen(rq);
	ck_assert(recv_seg(&p, f));
	ck_assert_uint_eq(p.payload_len, 0); /* a duplicate ACK, not a second answer */
	ck_assert_uint_eq(p.ack, mine);
	/* The answer is not acknowledged: it comes again after the timeout. */
	now = mmds_ns_deadline(ns);
	mmds_ns_tick(ns, now);
	ck_assert(recv_seg(&p, f));
	ck_assert_uint_eq(p.seq, data_seq);
	ck_assert_uint_eq(p.payload_len, len);
	/* A guest that never answers is dropped after MMDS_MAX_RETRIES, with a reset. */
	for (int i = 0; i <= MMDS_MAX_RETRIES + 1 && mmds_ns_deadline(ns); i++) {
		now = mmds_ns_deadline(ns);
		mmds_ns_tick(ns, now);
		while (mmds_ns_rx(ns, f, sizeof(f), now))
			mmds_pkt_parse(f, 60, GIP, true, &p);
	}
	ck_assert_uint_eq(mmds_ns_deadline(ns), 0);
	ck_assert(p.flags & TCP_RST);
}
END_TEST

START_TEST(resets_for_strangers_and_other_ports)
{
	struct mmds_pkt p;
	uint8_t f[1514];
	/* An ACK for no connection: RST with its sequence. */
	ck_assert(send_seg(40003, 1, 12345, TCP_ACK, "x"));
	ck_assert(recv_seg(&p, f));
	ck_assert_uint_eq(p.flags, TCP_RST);
	ck_assert_uint_eq(p.seq, 12345);
	/* A SYN to port 22: RST|ACK. */
	struct mmds_seg s = { .src_mac = GMAC, .dst_mac = MMDS_MAC, .src_ip = GIP, .dst_ip = MIP,
			      .src_port = 5, .dst_port = 22, .seq = 9, .flags = TCP_SYN };
	size_t n = mmds_pkt_tcp(f, sizeof(f), &s);
	ck_assert(mmds_ns_tx(ns, f, n, false, now));
	ck_assert(mmds_ns_rx(ns, f, sizeof(f), now));
	mmds_pkt_parse(f, 54, GIP, false, &p);
	ck_assert_uint_eq(p.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(p.ack, 10);
	/* A RST for no connection gets nothing. */
	ck_assert(send_seg(40003, 1, 0, TCP_RST, NULL));
	ck_assert(!mmds_ns_pending(ns));
	/* A RST outside the window does not kill a connection; one at rcv_nxt does. */
	connect_(40004, 100);
	ck_assert(send_seg(40004, 100 + 100000, 0, TCP_RST, NULL));
	ck_assert_uint_ne(mmds_ns_deadline(ns), 0);
	ck_assert(send_seg(40004, 101, 0, TCP_RST, NULL));
	ck_assert_uint_eq(mmds_ns_deadline(ns), 0);
}
END_TEST

START_TEST(syn_flood_and_reset_queue_are_bounded)
{
	uint8_t f[1514];
	struct mmds_ns_stats st;
	/* Thousands of SYNs from different ports, never completed. */
	for (uint32_t i = 0; i < 5000; i++) {
		uint8_t b[2048];
		size_t n = seg(b, (uint16_t)(1000 + i), i, 0, TCP_SYN, NULL, 1460);
		ck_assert(mmds_ns_tx(ns, b, n, false, now));
		now += 1000;
	}
	mmds_ns_stats(ns, &st);
	ck_assert_uint_ge(st.conns_evicted, 5000 - MMDS_MAX_CONNS);
	/* A real client still gets in: the oldest half-open slot makes way. */
	while (mmds_ns_rx(ns, f, sizeof(f), now))
		;
	connect_(60000, 1);
	/* Thousands of stray ACKs: the reset queue stays bounded, the rest dropped. */
	for (uint32_t i = 0; i < 5000; i++)
		send_seg((uint16_t)(2000 + i % 1000), i, 7, TCP_ACK, NULL);
	int frames = 0;
	while (mmds_ns_rx(ns, f, sizeof(f), now))
		frames++;
	ck_assert_int_le(frames, MMDS_PENDING_CTL + MMDS_MAX_CONNS);
}
END_TEST

START_TEST(hostile_frames_are_dropped_not_passed)
{
	uint8_t f[2048];
	size_t n = seg(f, 40005, 1, 0, TCP_SYN, NULL, 1460);
	struct mmds_ns_stats st0, st1;
	mmds_ns_stats(ns, &st0);
	/* Bad TCP checksum: dropped (but it was for MMDS: never to the tap). */
	f[n - 1] ^= 0xff;
	ck_assert(mmds_ns_tx(ns, f, n, false, now));
	ck_assert(!mmds_ns_pending(ns));
	/* ...unless the guest left the checksum to the device (NEEDS_CSUM). */
	ck_assert(mmds_ns_tx(ns, f, n, true, now));
	ck_assert(mmds_ns_pending(ns));
	mmds_ns_reset(ns);
	f[n - 1] ^= 0xff;
	/* Bad IPv4 header checksum, total length past the frame, fragments,
	 * UDP, a TCP data offset past the end. */
	uint8_t g[2048];
	memcpy(g, f, n);
	g[14 + 10] ^= 1;
	ck_assert(mmds_ns_tx(ns, g, n, false, now));
	memcpy(g, f, n);
	g[14 + 2] = 0x7f; /* total length 0x7f.. > frame */
	ck_assert(mmds_ns_tx(ns, g, n, false, now));
	ck_assert(mmds_ns_tx(ns, f, 14 + 20 + 3, false, now)); /* truncated TCP */
	ck_assert(mmds_ns_tx(ns, f, 14 + 20, false, now));
	ck_assert(!mmds_ns_pending(ns));
	mmds_ns_stats(ns, &st1);
	ck_assert_uint_ge(st1.dropped - st0.dropped, 5);
	/* Frames too short to be anything pass untouched. */
	ck_assert(!mmds_ns_tx(ns, f, 10, false, now));
	ck_assert(!mmds_ns_tx(ns, f, 0, false, now));
}
END_TEST

START_TEST(a_request_larger_than_the_window_gets_400)
{
	uint32_t their = connect_(40006, 1), mine = 2;
	char chunk[1001];
	memset(chunk, 'a', 1000);
	chunk[1000] = 0;
	ck_assert(send_seg(40006, mine, their, TCP_ACK, "GET / HTTP/1.1\r\nX: "));
	mine += 19;
	struct mmds_pkt p;
	uint8_t f[1514];
	char out[4096];
	size_t got = 0;
	/* The guest pushes a head that never ends; MMDS answers once it hits the limit. */
	for (int i = 0; i < 10; i++) {
		send_seg(40006, mine, their, TCP_ACK, chunk);
		while (recv_seg(&p, f)) {
			mine = p.ack;
			if (p.payload_len && got + p.payload_len < sizeof(out)) {
				memcpy(out + got, p.payload, p.payload_len);
				got += p.payload_len;
				their += (uint32_t)p.payload_len;
			}
			if (p.flags & TCP_FIN)
				their++;
		}
	}
	out[got] = 0;
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 400 "));
}
END_TEST

START_TEST(random_frames_do_not_crash)
{
	uint8_t f[1600], r[1514];
	srand(13);
	for (int i = 0; i < 200000; i++) {
		size_t n = (size_t)(rand() % 1600);
		for (size_t k = 0; k < n; k++)
			f[k] = (uint8_t)rand();
		/* Often aim at MMDS so the deep paths run. */
		if (n >= 34 && rand() % 2) {
			f[12] = 8, f[13] = 0, f[14] = 0x45;
			memcpy(f + 30, MMDS_IP4, 4);
			f[23] = 6;
		}
		mmds_ns_tx(ns, f, n, rand() % 2, now);
		while (mmds_ns_rx(ns, r, sizeof(r), now))
			;
		now += 1000;
		if (i % 1000 == 0)
			mmds_ns_tick(ns, now);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mmds_ns");
	TCase *tc = tcase_create("mmds_ns");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, arp_request_for_the_address_is_answered_others_pass);
	tcase_add_test(tc, get_over_tcp_with_a_multi_segment_answer_and_close);
	tcase_add_test(tc, keep_alive_and_a_guest_half_close);
	tcase_add_test(tc, lost_segments_are_sent_again);
	tcase_add_test(tc, resets_for_strangers_and_other_ports);
	tcase_add_test(tc, syn_flood_and_reset_queue_are_bounded);
	tcase_add_test(tc, hostile_frames_are_dropped_not_passed);
	tcase_add_test(tc, a_request_larger_than_the_window_gets_400);
	tcase_add_test(tc, random_frames_do_not_crash);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
