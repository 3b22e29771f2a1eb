/* virtio-vsock (virtio 1.2 5.10) with Firecracker's host side: stream
 * sockets between the guest and UNIX sockets on the host.
 *
 * Contract:
 *  - Host-initiated: a host process connects to `uds_path` and writes
 *    "CONNECT <port>\n"; the device asks the guest (REQUEST to that port from
 *    a fresh host port >= 2^30) and, once the guest accepts, answers
 *    "OK <host port>\n" on the socket; the guest refusing (RST) closes it.
 *  - Guest-initiated: a connection to CID 2 (the host), port P, is a
 *    connection to the UNIX socket "<uds_path>_P"; nobody listening there is
 *    an RST to the guest.
 *  - Then bytes flow both ways with the spec's credit-based flow control:
 *    the device buffers at most VSOCK_CONN_BUF bytes a connection from the
 *    guest (its advertised buf_alloc), and sends the guest no more than the
 *    guest's credit allows. Half-close (SHUTDOWN with one flag) and reset
 *    (RST) are passed on; a host socket's EOF is a SHUTDOWN to the guest.
 *  - Every field of a guest packet is checked: a wrong source CID, a
 *    destination other than the host, a type other than STREAM, a length
 *    beyond the chain or VSOCK_MAX_PKT, an unknown op, a packet for no
 *    connection, a credit overrun: the packet is dropped (counted, logged
 *    rate-limited) and the connection, if any, reset. The VMM never stops.
 *  - At most VSOCK_MAX_CONNS connections; the event queue is not used.
 * All of it runs on the device's worker thread.
 */
#ifndef MPVM_VIRTIO_VSOCK_H
#define MPVM_VIRTIO_VSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

#define VSOCK_HOST_CID 2
#define VSOCK_CONN_BUF (256u << 10)  /* buf_alloc the device advertises */
#define VSOCK_MAX_PKT (64u << 10)    /* payload of one packet, as Linux */
#define VSOCK_MAX_CONNS 1024
#define VSOCK_HOST_PORT_BASE (1u << 30)

/* Create the device for guest `cid` (>= 3) and listen on `uds_path`
 * (a stale socket file is replaced; anything else there is an error). */
struct virtio_dev *virtio_vsock_create(uint64_t cid, const char *uds_path,
				       const struct guest_mem *mem, char *err, size_t errlen);

/* Connections open now (tests, metrics). Any thread. */
unsigned virtio_vsock_conns(struct virtio_dev *d);

#endif
