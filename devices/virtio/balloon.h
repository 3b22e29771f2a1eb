/* virtio-balloon (virtio 1.2 5.5), as Firecracker's: a target size set
 * before boot and changed at run time, the driver's statistics polled at an
 * interval, deflate-on-OOM.
 *
 * Contract:
 *  - The target (MiB) is the config's num_pages; the driver inflates toward
 *    it, sending page frame numbers on the inflate queue. Every page it
 *    gives is handed back to the host (gm_discard: mpvm's RSS drops); a PFN
 *    outside RAM is a counted guest fault, never fatal. Deflating needs
 *    nothing from the host (VIRTIO_BALLOON_F_MUST_TELL_HOST is not offered):
 *    a page the guest touches again is a fresh zero page.
 *  - With a statistics interval (s), the device keeps the driver's stats
 *    buffer and gives it back every interval, which makes the driver refill
 *    it; the last values are what virtio_balloon_stats() reports. The
 *    interval can change at run time, but not from or to 0 (Firecracker's
 *    rule: the stats queue exists only if it was on at boot).
 *  - Free page reporting (VIRTIO_BALLOON_F_REPORTING, with
 *    free_page_reporting): the driver sends ranges of free guest pages
 *    (device-writable buffers, 2 MiB blocks or more on Linux) on its
 *    reporting queue, the last queue; each range goes back to the host
 *    like an inflated page, without the guest giving it up, and the buffer
 *    is returned. Counted in reported_pages. Free page hinting is not
 *    offered.
 * virtio_balloon_set_target() and _set_interval() may be called from any
 * thread (they run on the device's worker); _stats() reads a snapshot.
 */
#ifndef MPVM_VIRTIO_BALLOON_H
#define MPVM_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "devices/virtio/virtio.h"

/* The driver's statistics (VIRTIO_BALLOON_S_*), in bytes or counts; a stat
 * the driver never sent reads as -1. */
enum { BALLOON_NSTATS = 10 };
struct balloon_stats {
	uint32_t target_pages, actual_pages;
	int64_t stat[BALLOON_NSTATS];
	uint64_t discarded_pages;  /* pages given back to the host so far (inflated + reported) */
	uint64_t reported_pages;   /* of which free page reporting gave */
	bool stats_enabled;
};
/* Firecracker's names for stat[i]. */
extern const char *const balloon_stat_names[BALLOON_NSTATS];

struct virtio_dev *virtio_balloon_create(const struct cfg_balloon *cfg,
					 const struct guest_mem *mem, char *err, size_t errlen);
int virtio_balloon_set_target(struct virtio_dev *d, uint32_t amount_mib, char *err, size_t errlen);
int virtio_balloon_set_interval(struct virtio_dev *d, uint32_t seconds, char *err, size_t errlen);
void virtio_balloon_stats(struct virtio_dev *d, struct balloon_stats *out);

#endif
