/* MMDS's guest-side network stack (Firecracker's "dumbo"): the frames a
 * guest sends to the MMDS address on an interface named in mmds-config are
 * answered here and never reach the tap.
 *
 * Contract: one stack per virtio-net device, used by that device's worker
 * only (no locking; the data store has its own). The device hands every
 * transmitted frame that mmds_pkt_maybe_ours() flags to mmds_ns_tx(), which
 * consumes it: an ARP request for the address is answered with MMDS_MAC; a
 * TCP segment to port 80 drives a minimal server endpoint (handshake,
 * in-order data, ACKs, FIN and RST, go-back-N retransmission on a timeout,
 * HTTP/1.1 requests answered by mmds/http.h); anything else to the address
 * is dropped (counted), TCP to another port is reset. Answers are not sent
 * from there: the device pulls them with mmds_ns_rx() when the guest has a
 * receive buffer, so a guest with a full receive queue loses nothing and
 * costs bounded memory (what waits is connection state, not frames).
 * Bounds: MMDS_MAX_CONNS connections (a SYN when full replaces the oldest
 * half-open one, or is reset), MMDS_MAX_REQUEST bytes of request per
 * connection (the advertised window), one response in flight per
 * connection, MMDS_PENDING_CTL queued ARP replies and RSTs (more are
 * dropped, as a busy network would). Idle or unresponsive connections are
 * dropped after MMDS_IDLE_S seconds or MMDS_MAX_RETRIES retransmissions.
 */
#ifndef MPVM_MMDS_NS_H
#define MPVM_MMDS_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define MMDS_MAX_CONNS 32
#define MMDS_PENDING_CTL 16
#define MMDS_IDLE_S 30
#define MMDS_MAX_RETRIES 6
#define MMDS_RTO_NS 200000000ull   /* first retransmission timeout: 200 ms, then doubled */
#define MMDS_MSS 1460

/* Firecracker's MMDS MAC address, so guests see the same neighbour. */
extern const uint8_t MMDS_MAC[6];

struct mmds_ns_stats {
	uint64_t rx_frames, tx_frames, dropped, resets, conns_evicted;
};

struct mmds_ns;

/* NULL if out of memory. The address, version and imds_compat of
 * mmds-config. */
struct mmds_ns *mmds_ns_create(const struct cfg_mmds *m);
void mmds_ns_destroy(struct mmds_ns *ns);
/* All connections and queued answers dropped (the device was reset). */
void mmds_ns_reset(struct mmds_ns *ns);

uint32_t mmds_ns_ip(const struct mmds_ns *ns);

/* A frame the guest sent (Ethernet, linear). Returns false if it is not
 * MMDS's (the device sends it to the tap), true if MMDS consumed it. */
bool mmds_ns_tx(struct mmds_ns *ns, const uint8_t *frame, size_t len, bool csum_partial,
		uint64_t now_ns);

/* The next frame for the guest, written to buf[0..cap) (cap at least
 * ETH_HDR + 40 + 1 byte to make progress); its length, 0 if none. */
size_t mmds_ns_rx(struct mmds_ns *ns, uint8_t *buf, size_t cap, uint64_t now_ns);

/* Whether mmds_ns_rx() has something now (timers not counted). */
bool mmds_ns_pending(const struct mmds_ns *ns);

/* Drive timers (retransmission, idle): call at the time mmds_ns_deadline()
 * said. Returns the next deadline in CLOCK_MONOTONIC ns, 0 for none. */
uint64_t mmds_ns_tick(struct mmds_ns *ns, uint64_t now_ns);
uint64_t mmds_ns_deadline(const struct mmds_ns *ns);

void mmds_ns_stats(const struct mmds_ns *ns, struct mmds_ns_stats *out);

#endif
