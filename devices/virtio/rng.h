/* virtio-rng (entropy device) fed by the host's getrandom(2).
 *
 * Contract: one request queue; each chain's device-writable buffers are
 * filled with random bytes, at most VIRTIO_RNG_MAX_REQ per request (the used
 * length says how many; the spec lets the device return fewer). Readable
 * buffers are ignored. The optional rate limiter charges the bytes handed
 * out and one op per request, delaying the queue through a timerfd.
 */
#ifndef MPVM_VIRTIO_RNG_H
#define MPVM_VIRTIO_RNG_H

#include <stddef.h>

#include "config/config.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_RNG_MAX_REQ (64u << 10)

struct virtio_dev *virtio_rng_create(const struct cfg_entropy *cfg, const struct guest_mem *mem,
				     char *err, size_t errlen);

#endif
