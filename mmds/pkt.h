/* Ethernet, ARP, IPv4 and TCP headers for MMDS's guest-side stack: parse a
 * frame the guest sent, build the frames MMDS answers with.
 *
 * Contract: mmds_pkt_parse() reads only frame[0..len) and judges every
 * length and checksum a hostile guest could get wrong; what it returns
 * points into the frame. It classifies, it keeps no state (ns.h does). The
 * builders write a whole frame with correct IPv4 and TCP checksums into a
 * caller's buffer and return its length, or 0 if it would not fit.
 */
#ifndef MPVM_MMDS_PKT_H
#define MPVM_MMDS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_HDR 14
#define ETH_P_IPV4 0x0800
#define ETH_P_ARPV 0x0806
#define IPV4_HDR 20
#define TCP_HDR 20
#define MMDS_PORT 80

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum mmds_pkt_kind {
	MMDS_PKT_OTHER,     /* not for MMDS: the tap's business */
	MMDS_PKT_DROP,      /* for MMDS but malformed, or nothing MMDS answers */
	MMDS_PKT_ARP,       /* an ARP request for the MMDS address */
	MMDS_PKT_TCP,       /* a TCP segment to the MMDS address */
};

struct mmds_pkt {
	enum mmds_pkt_kind kind;
	const char *why;        /* MMDS_PKT_DROP: what was wrong (for counters/tests) */
	uint8_t src_mac[6];
	uint32_t src_ip;        /* host order */
	/* TCP */
	uint16_t src_port, dst_port;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	uint16_t mss;           /* from a SYN's options, 0 if none */
	const uint8_t *payload;
	size_t payload_len;
};

/* `ip` is the MMDS address (host order). `csum_partial`: the guest left the
 * TCP checksum to the device (virtio-net NEEDS_CSUM), so it is not checked. */
void mmds_pkt_parse(const uint8_t *frame, size_t len, uint32_t ip, bool csum_partial,
		    struct mmds_pkt *p);

/* A frame that cannot be for MMDS is recognised from its first
 * MMDS_PKT_PEEK bytes (Ethernet + IPv4 or ARP addresses). */
#define MMDS_PKT_PEEK (ETH_HDR + 28)
bool mmds_pkt_maybe_ours(const uint8_t *head, size_t len, uint32_t ip);

/* The ARP reply from `mac`/`ip` to the requester. */
size_t mmds_pkt_arp_reply(uint8_t *buf, size_t cap, const uint8_t mac[6], uint32_t ip,
			  const uint8_t to_mac[6], uint32_t to_ip);

struct mmds_seg {
	const uint8_t *src_mac, *dst_mac;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	uint16_t mss;            /* nonzero: an MSS option (SYN-ACK) */
	const void *data;
	size_t len;
};
size_t mmds_pkt_tcp(uint8_t *buf, size_t cap, const struct mmds_seg *s);

#endif
