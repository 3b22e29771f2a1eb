/* libFuzzer: MMDS's guest-side stack (mmds/pkt.c, mmds/ns.c, and through
 * TCP the HTTP answers of mmds/http.c over the store), fed the frames a
 * hostile guest transmits. Input: records of [flags, len_hi, len_lo, frame
 * bytes]; flags bit 0: the guest left the TCP checksum to the device
 * (NEEDS_CSUM), bit 1: MMDS V2, bits 2-3: how much time passes before the
 * frame (none, 1 ms, 300 ms, 31 s: retransmissions and idle timeouts run),
 * bits 4-7: the receive buffer size the guest offers (64 bytes to 1514).
 *
 * Oracles: the parser's payload lies inside the frame; what MMDS consumes
 * is for its address; everything it sends fits the offered buffer, comes
 * from MMDS's MAC and address and is an ARP reply or a TCP segment whose
 * IPv4 and TCP checksums are right (mmds_pkt_parse() verifies them); the
 * frames queued per input frame are bounded (no amplification).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "mmds/ns.h"
#include "mmds/pkt.h"
#include "mmds/store.h"

#define MIP 0xa9fea9feu

static void check_out(const uint8_t *f, size_t n, size_t cap)
{
	struct mmds_pkt p;
	CHECK(n <= cap && n >= ETH_HDR + 28);
	CHECK(!memcmp(f + 6, MMDS_MAC, 6));
	if (f[12] == 0x08 && f[13] == 0x06) {
		CHECK(n == ETH_HDR + 28);
		CHECK(!memcmp(f + ETH_HDR + 8, MMDS_MAC, 6));
		CHECK(f[ETH_HDR + 7] == 2);
		return;
	}
	CHECK(f[12] == 0x08 && f[13] == 0x00);
	/* Parse it as its receiver would: addressed to the destination IP. */
	uint32_t dst = (uint32_t)f[30] << 24 | (uint32_t)f[31] << 16 | (uint32_t)f[32] << 8 | f[33];
	mmds_pkt_parse(f, n, dst, false, &p);
	CHECK(p.kind == MMDS_PKT_TCP);
	CHECK(p.src_ip == MIP);
	CHECK(p.src_port == MMDS_PORT || (p.flags & TCP_RST));
	CHECK(p.payload_len <= MMDS_MSS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool stored;
	static const uint64_t step[4] = { 0, 1000000ull, 300000000ull, 31000000000ull };
	char err[128];
	uint8_t out[1514];
	uint64_t now = 1000000000000ull;
	struct mmds_ns *ns[2];

	if (!stored) {
		stored = mmds_put("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"n\": {\"k\": \"v\"}},"
				  " \"user-data\": \"" "0123456789abcdef0123456789abcdef0123456789abcdef"
				  "0123456789abcdef0123456789abcdef0123456789abcdef\"}}", err, sizeof(err)) == 0;
		CHECK(stored);
	}
	struct cfg_mmds m1 = { .set = true, .version = CFG_MMDS_V1, .ipv4 = { 169, 254, 169, 254 } };
	struct cfg_mmds m2 = { .set = true, .version = CFG_MMDS_V2, .ipv4 = { 169, 254, 169, 254 } };
	ns[0] = mmds_ns_create(&m1);
	ns[1] = mmds_ns_create(&m2);
	CHECK(ns[0] && ns[1]);
	for (size_t i = 0; i + 3 <= size;) {
		uint8_t fl = data[i];
		size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (len > size - i)
			len = size - i;
		const uint8_t *f = data + i;
		i += len;
		struct mmds_ns *n = ns[(fl >> 1) & 1];
		now += step[(fl >> 2) & 3];
		if (step[(fl >> 2) & 3])
			mmds_ns_tick(n, now);

		struct mmds_pkt p;
		mmds_pkt_parse(f, len, MIP, fl & 1, &p);
		if (p.kind == MMDS_PKT_TCP)
			CHECK(p.payload >= f && p.payload + p.payload_len <= f + len);
		bool took = mmds_ns_tx(n, f, len, fl & 1, now);
		CHECK(took == (p.kind != MMDS_PKT_OTHER));
		if (took)
			CHECK(len >= ETH_HDR + 20 && mmds_pkt_maybe_ours(f, len, MIP));

		size_t cap = 64 + (size_t)(fl >> 4) * 97;
		unsigned frames = 0;
		size_t k;
		while ((k = mmds_ns_rx(n, out, cap, now)) != 0) {
			check_out(out, k, cap);
			CHECK(++frames <= MMDS_PENDING_CTL + 64 * MMDS_MAX_CONNS);
		}
	}
	mmds_ns_destroy(ns[0]);
	mmds_ns_destroy(ns[1]);
	return 0;
}
