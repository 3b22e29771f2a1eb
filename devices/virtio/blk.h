/* virtio-blk on a raw image file or block device.
 *
 * Contract: capacity is the backing file's size in 512-byte sectors (a
 * trailing partial sector is not exposed). One request queue. Requests are
 * parsed without assuming any descriptor framing; reads and writes must be
 * whole sectors inside the disk. Answers (virtio 1.x 5.2):
 *  - IN/OUT done with the chosen engine: "Sync" (preadv/pwritev on the
 *    device's worker) or "Async" (io_uring: many requests in flight,
 *    completions reaped on the worker);
 *  - FLUSH: fsync (IORING_OP_FSYNC after every earlier write, with
 *    IOSQE_IO_DRAIN) before the status is written. VIRTIO_BLK_F_FLUSH is
 *    offered for cache_type "Writeback" (Firecracker's rule: "Unsafe" tells
 *    the guest there is no volatile cache); a FLUSH is honoured either way;
 *  - GET_ID: the drive_id, up to 20 bytes, NUL-padded;
 *  - read-only drives (VIRTIO_BLK_F_RO, file opened O_RDONLY) fail OUT with
 *    VIRTIO_BLK_S_IOERR;
 *  - host errors (EIO, ENOSPC, short transfers) fail that request with
 *    IOERR; unknown types get UNSUPP; malformed chains are failed and counted.
 * A rate limiter (bytes + ops) delays requests through a timerfd.
 */
#ifndef MPVM_VIRTIO_BLK_H
#define MPVM_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "devices/virtio/virtio.h"

/* Opens the backing file; the device's worker is not started yet. NULL with
 * `err` naming the drive and path on failure. */
struct virtio_dev *virtio_blk_create(const struct cfg_drive *cfg, const struct guest_mem *mem,
				     char *err, size_t errlen);
uint64_t virtio_blk_capacity(const struct virtio_dev *d); /* sectors */

/* PATCH /drives/{id} on a running VM (Firecracker's semantics): a new
 * backing file (`path`, NULL: keep) opened like the first one, and/or new
 * rate limits (`rl`, NULL: keep). Requests in flight finish on the old file
 * first; a changed capacity reaches the driver as a config-change
 * interrupt. The new file is opened before anything changes, so a bad path
 * returns -1 with `err` set and leaves the drive as it was (as does a drive
 * whose worker has died). */
int virtio_blk_update(struct virtio_dev *d, const char *path, const struct cfg_rate_limiter *rl,
		      char *err, size_t errlen);

#endif
