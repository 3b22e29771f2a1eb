/* MMDS's frame parsing and building; see pkt.h. */
#include "mmds/pkt.h"

#include <string.h>

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* RFC 1071 one's-complement sum, folded at the end. */
static uint32_t sum(const uint8_t *p, size_t n, uint32_t acc)
{
	for (; n > 1; n -= 2, p += 2)
		acc += be16(p);
	if (n)
		acc += (uint32_t)p[0] << 8;
	return acc;
}
static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}
static uint32_t pseudo(uint32_t src, uint32_t dst, size_t tcp_len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)tcp_len;
}

static void drop(struct mmds_pkt *p, const char *why)
{
	p->kind = MMDS_PKT_DROP;
	p->why = why;
}

bool mmds_pkt_maybe_ours(const uint8_t *f, size_t len, uint32_t ip)
{
	if (len < ETH_HDR + 20)
		return false;
	if (be16(f + 12) == ETH_P_IPV4)
		return be32(f + ETH_HDR + 16) == ip;
	/* ARP target protocol address sits at offset 24 of the ARP body. */
	return be16(f + 12) == ETH_P_ARPV && len >= ETH_HDR + 28 && be32(f + ETH_HDR + 24) == ip;
}

static void parse_arp(const uint8_t *a, size_t len, uint32_t ip, struct mmds_pkt *p)
{
	if (len < 28 || be32(a + 24) != ip)
		return; /* not asking for MMDS: the tap's */
	if (be16(a) != 1 || be16(a + 2) != ETH_P_IPV4 || a[4] != 6 || a[5] != 4)
		return drop(p, "ARP: not Ethernet/IPv4");
	if (be16(a + 6) != 1)
		return drop(p, "ARP: not a request");
	memcpy(p->src_mac, a + 8, 6);
	p->src_ip = be32(a + 14);
	p->kind = MMDS_PKT_ARP;
}

static void parse_tcp(const uint8_t *ip4, size_t ihl, size_t tot, bool partial, struct mmds_pkt *p)
{
	const uint8_t *t = ip4 + ihl;
	size_t tl = tot - ihl;
	if (tl < TCP_HDR)
		return drop(p, "TCP: shorter than its header");
	size_t doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HDR || doff > tl)
		return drop(p, "TCP: data offset out of range");
	if (!partial && fold(sum(t, tl, pseudo(be32(ip4 + 12), be32(ip4 + 16), tl))) != 0)
		return drop(p, "TCP: bad checksum");
	p->src_port = be16(t);
	p->dst_port = be16(t + 2);
	p->seq = be32(t + 4);
	p->ack = be32(t + 8);
	p->flags = t[13] & 0x3f;
	p->window = be16(t + 14);
	for (size_t o = TCP_HDR; o < doff;) {
		uint8_t kind = t[o];
		if (kind == 0)
			break;
		if (kind == 1) {
			o++;
			continue;
		}
		if (o + 1 >= doff || t[o + 1] < 2 || o + t[o + 1] > doff)
			return drop(p, "TCP: malformed options");
		if (kind == 2 && t[o + 1] == 4)
			p->mss = be16(t + o + 2);
		o += t[o + 1];
	}
	p->payload = t + doff;
	p->payload_len = tl - doff;
	p->kind = MMDS_PKT_TCP;
}

void mmds_pkt_parse(const uint8_t *f, size_t len, uint32_t ip, bool partial, struct mmds_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (len < ETH_HDR)
		return;
	uint16_t type = be16(f + 12);
	if (type == ETH_P_ARPV)
		return parse_arp(f + ETH_HDR, len - ETH_HDR, ip, p);
	if (type != ETH_P_IPV4 || len < ETH_HDR + IPV4_HDR)
		return;
	const uint8_t *h = f + ETH_HDR;
	if (be32(h + 16) != ip)
		return;
	/* Everything to the MMDS address is MMDS's from here: dropped if bad. */
	memcpy(p->src_mac, f + 6, 6);
	size_t ihl = (size_t)(h[0] & 15) * 4, tot = be16(h + 2);
	if (h[0] >> 4 != 4 || ihl < IPV4_HDR)
		return drop(p, "IPv4: bad version or header length");
	if (tot < ihl || tot > len - ETH_HDR)
		return drop(p, "IPv4: total length out of range");
	if (fold(sum(h, ihl, 0)) != 0)
		return drop(p, "IPv4: bad header checksum");
	if ((be16(h + 6) & 0x3fff) != 0)
		return drop(p, "IPv4: fragment");
	if (h[9] != 6)
		return drop(p, "IPv4: not TCP");
	p->src_ip = be32(h + 12);
	parse_tcp(h, ihl, tot, partial, p);
}

static void eth(uint8_t *b, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, type);
}

size_t mmds_pkt_arp_reply(uint8_t *b, size_t cap, const uint8_t mac[6], uint32_t ip,
			  const uint8_t to_mac[6], uint32_t to_ip)
{
	if (cap < ETH_HDR + 28)
		return 0;
	eth(b, to_mac, mac, ETH_P_ARPV);
	uint8_t *a = b + ETH_HDR;
	put16(a, 1);
	put16(a + 2, ETH_P_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	put32(a + 14, ip);
	memcpy(a + 18, to_mac, 6);
	put32(a + 24, to_ip);
	return ETH_HDR + 28;
}

size_t mmds_pkt_tcp(uint8_t *b, size_t cap, const struct mmds_seg *s)
{
	size_t opt = s->mss ? 4 : 0, tl = TCP_HDR + opt + s->len, tot = IPV4_HDR + tl;
	if (cap < ETH_HDR + tot || tot > 0xffff)
		return 0;
	eth(b, s->dst_mac, s->src_mac, ETH_P_IPV4);
	uint8_t *h = b + ETH_HDR, *t = h + IPV4_HDR;
	memset(h, 0, IPV4_HDR + TCP_HDR + opt);
	h[0] = 0x45;
	put16(h + 2, (uint16_t)tot);
	put16(h + 6, 0x4000); /* DF */
	h[8] = 64;
	h[9] = 6;
	put32(h + 12, s->src_ip);
	put32(h + 16, s->dst_ip);
	put16(h + 10, fold(sum(h, IPV4_HDR, 0)));
	put16(t, s->src_port);
	put16(t + 2, s->dst_port);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)(((TCP_HDR + opt) / 4) << 4);
	t[13] = s->flags;
	put16(t + 14, s->window);
	if (s->mss) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, s->mss);
	}
	if (s->len)
		memcpy(t + TCP_HDR + opt, s->data, s->len);
	put16(t + 16, fold(sum(t, tl, pseudo(s->src_ip, s->dst_ip, tl))));
	return ETH_HDR + tot;
}
