/* MMDS's guest-side stack; see ns.h. The TCP here is a server that answers
 * short requests with one response each over a loss-free virtual link:
 * enough of RFC 9293 for Linux's stack (and busybox wget) and for a guest
 * that retransmits or misbehaves, nothing of congestion control. */
#include "mmds/ns.h"

#include <stdlib.h>
#include <string.h>

#include "mmds/http.h"
#include "mmds/pkt.h"

const uint8_t MMDS_MAC[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };

enum cstate { C_FREE, C_SYN_RCVD, C_EST };

struct conn {
	enum cstate st;
	uint8_t mac[6];
	uint32_t ip;
	uint16_t port;
	uint32_t iss, snd_una, snd_nxt, snd_max, rcv_nxt;
	uint16_t mss;
	uint32_t wnd;           /* the guest's receive window */
	char *out;              /* response being sent; out[0] is sequence out_seq */
	size_t out_len;
	uint32_t out_seq;
	bool fin_wanted;        /* FIN after the response */
	bool peer_fin;
	bool ack_due;
	unsigned retries;
	uint64_t rto, sent_ns, active_ns;
	size_t rq_len;
	char rq[MMDS_MAX_REQUEST];
};

struct ctl {                    /* a queued ARP reply or RST */
	bool arp;
	uint8_t mac[6];
	uint32_t ip;
	uint16_t port, my_port;
	uint32_t seq, ack;
	uint8_t flags;
};

struct mmds_ns {
	uint32_t ip;
	enum cfg_mmds_version version;
	bool imds_compat;
	uint64_t rng;
	unsigned rr;            /* round robin over connections for output */
	struct ctl ctl[MMDS_PENDING_CTL];
	unsigned nctl;
	struct mmds_ns_stats st;
	struct conn c[MMDS_MAX_CONNS];
};

static bool lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

struct mmds_ns *mmds_ns_create(const struct cfg_mmds *m)
{
	struct mmds_ns *ns = calloc(1, sizeof(*ns));
	const uint8_t *ip = m->ipv4;
	if (!ns)
		return NULL;
	ns->ip = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];
	ns->version = m->version;
	ns->imds_compat = m->imds_compat;
	ns->rng = 0x9e3779b97f4a7c15ull ^ ns->ip; /* reproducible runs (tests, fuzzing) */
	return ns;
}

uint32_t mmds_ns_ip(const struct mmds_ns *ns) { return ns->ip; }

static void conn_free(struct conn *c)
{
	free(c->out);
	c->out = NULL;
	c->st = C_FREE;
}

void mmds_ns_reset(struct mmds_ns *ns)
{
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		conn_free(&ns->c[i]);
	ns->nctl = 0;
}

void mmds_ns_destroy(struct mmds_ns *ns)
{
	if (!ns)
		return;
	mmds_ns_reset(ns);
	free(ns);
}

void mmds_ns_stats(const struct mmds_ns *ns, struct mmds_ns_stats *out) { *out = ns->st; }

/* Initial sequence numbers: xorshift, stirred by time. The only peer is
 * the guest, which sees everything on this link anyway: they need to differ
 * between connections, not to be secret. */
static uint32_t next_iss(struct mmds_ns *ns, uint64_t now)
{
	uint64_t x = ns->rng ^ now;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ns->rng = x;
	return (uint32_t)(x >> 16);
}

static void queue_ctl(struct mmds_ns *ns, const struct ctl *k)
{
	if (ns->nctl == MMDS_PENDING_CTL) {
		ns->st.dropped++; /* a busy network drops too; the guest retries */
		return;
	}
	ns->ctl[ns->nctl++] = *k;
}

/* RFC 9293's reset for a segment with no connection behind it. */
static void reset_for(struct mmds_ns *ns, const struct mmds_pkt *p)
{
	struct ctl k = { .ip = p->src_ip, .port = p->src_port, .my_port = p->dst_port };
	if (p->flags & TCP_RST)
		return;
	memcpy(k.mac, p->src_mac, 6);
	if (p->flags & TCP_ACK) {
		k.seq = p->ack;
		k.flags = TCP_RST;
	} else {
		k.ack = p->seq + (uint32_t)p->payload_len + !!(p->flags & TCP_SYN) + !!(p->flags & TCP_FIN);
		k.flags = TCP_RST | TCP_ACK;
	}
	ns->st.resets++;
	queue_ctl(ns, &k);
}

/* Drop a connection the guest still believes in: tell it. */
static void abort_conn(struct mmds_ns *ns, struct conn *c)
{
	struct ctl k = { .ip = c->ip, .port = c->port, .my_port = MMDS_PORT, .seq = c->snd_nxt,
			 .ack = c->rcv_nxt, .flags = TCP_RST | TCP_ACK };
	memcpy(k.mac, c->mac, 6);
	ns->st.resets++;
	queue_ctl(ns, &k);
	conn_free(c);
}

static struct conn *find(struct mmds_ns *ns, const struct mmds_pkt *p)
{
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct conn *c = &ns->c[i];
		if (c->st != C_FREE && c->ip == p->src_ip && c->port == p->src_port)
			return c;
	}
	return NULL;
}

/* A slot for a new connection: a free one, else the oldest half-open one
 * (what a SYN flood fills), else none. */
static struct conn *slot(struct mmds_ns *ns)
{
	struct conn *old = NULL;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct conn *c = &ns->c[i];
		if (c->st == C_FREE)
			return c;
		if (c->st == C_SYN_RCVD && (!old || c->active_ns < old->active_ns))
			old = c;
	}
	if (old) {
		ns->st.conns_evicted++;
		conn_free(old);
	}
	return old;
}

static uint32_t data_end(const struct conn *c) { return c->out_seq + (uint32_t)c->out_len; }

/* Answer what the guest has asked, one response at a time. */
static void serve(struct mmds_ns *ns, struct conn *c, uint64_t now)
{
	while (!c->out && !c->fin_wanted && c->rq_len) {
		struct mmds_reply r;
		int k = mmds_http_answer(c->rq, c->rq_len, ns->version, ns->imds_compat, now, &r);
		if (k == 0)
			break;
		if (k < 0) {
			abort_conn(ns, c);
			return;
		}
		memmove(c->rq, c->rq + r.consumed, c->rq_len - r.consumed);
		c->rq_len -= r.consumed;
		c->out = r.data;
		c->out_len = r.len;
		c->fin_wanted = r.close;
	}
	/* The guest closed its side: nothing more will come. */
	if (!c->out && c->peer_fin)
		c->fin_wanted = true;
}

static void on_syn(struct mmds_ns *ns, const struct mmds_pkt *p, uint64_t now)
{
	struct conn *c = slot(ns);
	if (!c) {
		reset_for(ns, p);
		return;
	}
	memset(c, 0, offsetof(struct conn, rq));
	c->st = C_SYN_RCVD;
	memcpy(c->mac, p->src_mac, 6);
	c->ip = p->src_ip;
	c->port = p->src_port;
	c->iss = next_iss(ns, now);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->out_seq = c->iss + 1;
	c->rcv_nxt = p->seq + 1; /* data on a SYN is not taken: the guest sends it again */
	c->mss = p->mss ? (p->mss < MMDS_MSS ? p->mss : MMDS_MSS) : 536;
	if (c->mss < 64)
		c->mss = 64;
	c->wnd = p->window;
	c->rto = MMDS_RTO_NS;
	c->active_ns = now;
}

static void on_segment(struct mmds_ns *ns, struct conn *c, const struct mmds_pkt *p, uint64_t now)
{
	uint32_t room = (uint32_t)(MMDS_MAX_REQUEST - c->rq_len);
	c->active_ns = now;
	if (p->flags & TCP_RST) {
		/* RFC 5961: only a reset inside the window counts. */
		if (le(c->rcv_nxt, p->seq) && lt(p->seq, c->rcv_nxt + room + 1))
			conn_free(c);
		return;
	}
	if (p->flags & TCP_SYN) {
		if (c->st == C_SYN_RCVD && p->seq + 1 == c->rcv_nxt)
			c->snd_nxt = c->iss; /* our SYN-ACK was lost: again */
		else
			c->ack_due = true; /* challenge ACK */
		return;
	}
	if (!(p->flags & TCP_ACK))
		return;
	if (lt(c->snd_max, p->ack)) {
		c->ack_due = true; /* acknowledges what was never sent */
		return;
	}
	if (lt(c->snd_una, p->ack)) {
		c->snd_una = p->ack;
		c->retries = 0;
		c->rto = MMDS_RTO_NS;
		c->sent_ns = now;
		if (lt(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
	}
	if (c->st == C_SYN_RCVD) {
		if (!lt(c->iss, c->snd_una))
			return;
		c->st = C_EST;
	}
	c->wnd = p->window;
	if (c->out && !lt(c->snd_una, data_end(c))) {
		c->out_seq = data_end(c);
		free(c->out);
		c->out = NULL;
		c->out_len = 0;
	}

	/* Data and FIN, in order only: anything else is answered with the ACK
	 * that says what is expected (the guest retransmits). */
	size_t n = p->payload_len;
	bool fin = p->flags & TCP_FIN;
	if (n || fin)
		c->ack_due = true;
	if (lt(c->rcv_nxt, p->seq))
		return;
	uint32_t skip = c->rcv_nxt - p->seq;
	if (skip > n)
		goto served; /* all old */
	n -= skip;
	size_t take = n < room ? n : room;
	if (c->fin_wanted || c->peer_fin)
		take = 0; /* closing: nothing more is read */
	memcpy(c->rq + c->rq_len, p->payload + skip, take);
	c->rq_len += take;
	c->rcv_nxt += (uint32_t)take;
	if (fin && take == n && !c->peer_fin && !(c->fin_wanted && n)) {
		c->rcv_nxt++;
		c->peer_fin = true;
	}
served:
	serve(ns, c, now);
	/* Both sides closed, our FIN acknowledged, nothing left to ACK. */
	if (c->st != C_FREE && c->fin_wanted && c->peer_fin && !c->ack_due &&
	    c->snd_una == data_end(c) + 1)
		conn_free(c);
}

bool mmds_ns_tx(struct mmds_ns *ns, const uint8_t *frame, size_t len, bool partial, uint64_t now)
{
	struct mmds_pkt p;
	mmds_pkt_parse(frame, len, ns->ip, partial, &p);
	switch (p.kind) {
	case MMDS_PKT_OTHER:
		return false;
	case MMDS_PKT_DROP:
		ns->st.dropped++;
		return true;
	case MMDS_PKT_ARP: {
		struct ctl k = { .arp = true, .ip = p.src_ip };
		memcpy(k.mac, p.src_mac, 6);
		ns->st.rx_frames++;
		queue_ctl(ns, &k);
		return true;
	}
	case MMDS_PKT_TCP:
		break;
	}
	ns->st.rx_frames++;
	struct conn *c = p.dst_port == MMDS_PORT ? find(ns, &p) : NULL;
	if (c)
		on_segment(ns, c, &p, now);
	else if (p.dst_port == MMDS_PORT && (p.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
		on_syn(ns, &p, now);
	else
		reset_for(ns, &p);
	return true;
}

/* What a connection would send now, if anything. */
static bool has_output(const struct conn *c)
{
	if (c->st == C_FREE)
		return false;
	if (c->st == C_SYN_RCVD)
		return c->snd_nxt == c->iss;
	if (lt(c->snd_nxt, data_end(c)) && c->snd_nxt - c->snd_una < c->wnd)
		return true;
	return c->ack_due || (c->fin_wanted && c->snd_nxt == data_end(c));
}

bool mmds_ns_pending(const struct mmds_ns *ns)
{
	if (ns->nctl)
		return true;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		if (has_output(&ns->c[i]))
			return true;
	return false;
}

static size_t emit_ctl(struct mmds_ns *ns, uint8_t *buf, size_t cap)
{
	struct ctl *k = &ns->ctl[0];
	size_t n;
	if (k->arp) {
		n = mmds_pkt_arp_reply(buf, cap, MMDS_MAC, ns->ip, k->mac, k->ip);
	} else {
		struct mmds_seg s = { .src_mac = MMDS_MAC, .dst_mac = k->mac, .src_ip = ns->ip,
				      .dst_ip = k->ip, .src_port = k->my_port, .dst_port = k->port,
				      .seq = k->seq, .ack = k->ack, .flags = k->flags };
		n = mmds_pkt_tcp(buf, cap, &s);
	}
	if (!n)
		return 0;
	memmove(ns->ctl, ns->ctl + 1, --ns->nctl * sizeof(*k));
	return n;
}

static size_t emit(struct mmds_ns *ns, struct conn *c, uint8_t *buf, size_t cap, uint64_t now)
{
	struct mmds_seg s = { .src_mac = MMDS_MAC, .dst_mac = c->mac, .src_ip = ns->ip,
			      .dst_ip = c->ip, .src_port = MMDS_PORT, .dst_port = c->port,
			      .seq = c->snd_nxt, .ack = c->rcv_nxt, .flags = TCP_ACK,
			      .window = (uint16_t)(MMDS_MAX_REQUEST - c->rq_len) };
	uint32_t adv = 0;
	size_t room = cap > ETH_HDR + IPV4_HDR + TCP_HDR ? cap - (ETH_HDR + IPV4_HDR + TCP_HDR) : 0;
	if (c->st == C_SYN_RCVD) {
		s.flags = TCP_SYN | TCP_ACK;
		s.mss = MMDS_MSS;
		adv = 1;
	} else if (lt(c->snd_nxt, data_end(c)) && c->snd_nxt - c->snd_una < c->wnd) {
		size_t n = data_end(c) - c->snd_nxt, w = c->wnd - (c->snd_nxt - c->snd_una);
		n = n < c->mss ? n : c->mss;
		n = n < w ? n : w;
		n = n < room ? n : room;
		if (!n)
			return 0;
		s.data = c->out + (c->snd_nxt - c->out_seq);
		s.len = n;
		s.flags |= TCP_PSH;
		adv = (uint32_t)n;
	} else if (c->fin_wanted && c->snd_nxt == data_end(c)) {
		s.flags |= TCP_FIN;
		adv = 1;
	}
	size_t len = mmds_pkt_tcp(buf, cap, &s);
	if (!len)
		return 0;
	if (adv && c->snd_una == c->snd_max)
		c->sent_ns = now; /* the retransmission clock starts */
	c->snd_nxt += adv;
	if (lt(c->snd_max, c->snd_nxt))
		c->snd_max = c->snd_nxt;
	c->ack_due = false;
	/* Both sides closed and our FIN acknowledged: nothing left to say. */
	if (c->fin_wanted && c->peer_fin && c->snd_una == data_end(c) + 1)
		conn_free(c);
	return len;
}

size_t mmds_ns_rx(struct mmds_ns *ns, uint8_t *buf, size_t cap, uint64_t now)
{
	if (ns->nctl)
		return emit_ctl(ns, buf, cap);
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct conn *c = &ns->c[(ns->rr + i) % MMDS_MAX_CONNS];
		if (!has_output(c))
			continue;
		size_t n = emit(ns, c, buf, cap, now);
		if (n) {
			ns->rr = (ns->rr + i + 1) % MMDS_MAX_CONNS;
			ns->st.tx_frames++;
			return n;
		}
	}
	return 0;
}

uint64_t mmds_ns_deadline(const struct mmds_ns *ns)
{
	uint64_t d = 0;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		const struct conn *c = &ns->c[i];
		if (c->st == C_FREE)
			continue;
		uint64_t t = c->active_ns + MMDS_IDLE_S * 1000000000ull;
		if (c->snd_una != c->snd_max && c->sent_ns + c->rto < t)
			t = c->sent_ns + c->rto;
		if (!d || t < d)
			d = t;
	}
	return d;
}

uint64_t mmds_ns_tick(struct mmds_ns *ns, uint64_t now)
{
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct conn *c = &ns->c[i];
		if (c->st == C_FREE)
			continue;
		if (now - c->active_ns >= MMDS_IDLE_S * 1000000000ull) {
			abort_conn(ns, c);
			continue;
		}
		if (c->snd_una == c->snd_max || now - c->sent_ns < c->rto)
			continue;
		if (++c->retries > MMDS_MAX_RETRIES) {
			abort_conn(ns, c);
			continue;
		}
		c->snd_nxt = c->snd_una; /* go back N */
		c->sent_ns = now;
		c->rto *= 2;
	}
	return mmds_ns_deadline(ns);
}
