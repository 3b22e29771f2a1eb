/* virtio-net on a host tap device.
 *
 * Contract: opens /dev/net/tun as `host_dev_name` (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, 12-byte vnet header = virtio 1.x's virtio_net_hdr_v1, so
 * frames move between tap and guest buffers with readv/writev and no copy).
 * The tap is created if it does not exist (needs CAP_NET_ADMIN); bringing it
 * up and addressing it is the host's business. Queues: 0 receive, 1 transmit.
 * Features: MAC (when configured; the address is in config space), CSUM
 * (guest may send partially checksummed frames) and GUEST_CSUM (the tap is
 * told, with TUNSETOFFLOAD, that the guest accepts them too). No GSO/TSO and
 * no mergeable buffers: every frame fits in one receive chain. The header of
 * each transmitted frame is copied and sanitised (only negotiated flags, no
 * GSO) before the kernel sees it; received headers are rewritten the same
 * way with num_buffers = 1. A frame that does not fit, a tap error, or a
 * malformed chain drops that frame (counted), never the device. A tap that
 * cannot be read any more (interface deleted on the host) stops receive for
 * good, logged once, rather than being retried in a loop. Receive
 * stops polling the tap while the guest has no buffers or the rx limiter is
 * empty, so the kernel's tap queue absorbs (and eventually drops) bursts.
 *
 * MMDS: on an interface named in mmds-config, virtio_net_enable_mmds()
 * (before the device starts) puts Firecracker's metadata service on the
 * transmit path: frames to the MMDS address are handed to mmds/ns.h and
 * never written to the tap; its answers are put in receive buffers ahead
 * of the tap's frames, only when the guest has given a buffer (nothing
 * waits as a frame, so nothing is dropped for a full queue). A timerfd
 * drives its retransmissions and idle timeouts.
 */
#ifndef MPVM_VIRTIO_NET_H
#define MPVM_VIRTIO_NET_H

#include <stddef.h>

#include "config/config.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
/* Largest frame accepted for transmit: 64 KiB IP packet + Ethernet + VLAN. */
#define VIRTIO_NET_MAX_FRAME (65535u + 14u + 4u)

struct virtio_dev *virtio_net_create(const struct cfg_net *cfg, const struct guest_mem *mem,
				     char *err, size_t errlen);
/* The same on an fd that is already open and acts as the tap: one frame,
 * vnet header first, per read or write (the fuzzer passes one end of a
 * SOCK_DGRAM socketpair, so needs no CAP_NET_ADMIN). The device owns `fd`
 * from then on, even on failure; a TUNSETOFFLOAD it refuses is only logged. */
struct virtio_dev *virtio_net_create_on_fd(const struct cfg_net *cfg, int fd,
					   const struct guest_mem *mem, char *err, size_t errlen);

/* Answer MMDS (mmds-config `m`) on this interface. Before virtio_dev_start(). */
int virtio_net_enable_mmds(struct virtio_dev *d, const struct cfg_mmds *m, char *err, size_t errlen);

#endif
