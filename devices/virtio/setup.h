/* The virtio devices of a VM, built from its configuration.
 *
 * Contract: virtio_setup_all() creates every configured device (the root
 * drive first, so Linux names it /dev/vda; then the other drives in config
 * order, the network interfaces, the entropy, vsock and balloon devices), places device n at
 * MMIO 0xD0000000 + n * 4 KiB with its own IOAPIC pin (GSIs 10-15, 5-7,
 * then 16-23: none shared with the PIT, COM1, the i8042 or ACPI), wires
 * irqfd/ioeventfd and starts each device's I/O thread. The guest learns of
 * the devices twice, as Firecracker and distribution kernels need:
 *  - ACPI: the builder describes each slot's window (base, VIRTIO_MMIO_WINDOW
 *    bytes, gsi) in the DSDT as LNRO0005, which the virtio_mmio driver binds
 *    whether built in or loaded as a module;
 *  - the kernel command line: virtio_cmdline() appends
 *    `virtio_mmio.device=4K@0xd0000000:10` per device, for kernels built
 *    without ACPI. A kernel that sees both finds each device once: the second
 *    probe of a window fails (-EBUSY) because the first claimed its region.
 *    As Firecracker does, a root drive also adds `root=/dev/vda` (or
 *    `root=PARTUUID=<partuuid>`) and `rw`/`ro` to the command line.
 * virtio_free_all() stops the I/O threads and closes everything; call it
 * after the vCPUs stopped and before guest memory is unmapped.
 */
#ifndef MPVM_VIRTIO_SETUP_H
#define MPVM_VIRTIO_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_MMIO_BASE 0xD0000000ull
#define VIRTIO_MAX_DEVICES (CFG_MAX_DRIVES + CFG_MAX_NETS + 3)

enum virtio_kind { VIRTIO_KIND_BLOCK, VIRTIO_KIND_NET, VIRTIO_KIND_RNG, VIRTIO_KIND_VSOCK,
		   VIRTIO_KIND_BALLOON };

struct virtio_slot {
	enum virtio_kind kind;
	const char *id;          /* drive_id / iface_id / "entropy" / "vsock" / "balloon" */
	const struct cfg_drive *drive; /* block devices: their configuration */
	struct virtio_dev *dev;
	uint64_t base;
	uint32_t gsi;
};

struct virtio_set {
	unsigned n;
	struct virtio_slot slot[VIRTIO_MAX_DEVICES];
};

struct vm;

/* NULL with `err` set (naming the device) on failure; nothing is left
 * running then. A config with no devices gives an empty set. */
struct virtio_set *virtio_setup_all(struct vm *vm, const struct vm_config *cfg,
				    char *err, size_t errlen);
/* `base` plus one virtio_mmio.device= per device (malloc'd; NULL when out
 * of memory). */
char *virtio_cmdline(const struct virtio_set *s, const char *base);
void virtio_free_all(struct virtio_set *s);
/* PATCH /vm Paused, after the vCPUs are parked: every device stops taking
 * requests, completes what is in flight (all devices drain in parallel) and
 * then leaves guest memory alone until virtio_resume_all() (virtio.h).
 * 0, or -1 if some device could not complete its in-flight requests (every
 * device is paused anyway; logged). Both accept NULL and are idempotent. */
int virtio_pause_all(struct virtio_set *s);
void virtio_resume_all(struct virtio_set *s);

/* Snapshots (snapshot.c; base/snap.h): one section "VIRT" per device, in
 * slot order: the slot (kind, id, window, GSI), the transport, the model.
 * Save: every device paused (virtio_pause_all()); -1 with err otherwise.
 * Restore: into a set just built by virtio_setup_all() from the snapshot's
 * configuration, before any vCPU runs; a snapshot with other devices is
 * refused. Leaves every device paused: virtio_resume_all() when the VM
 * resumes. 0, or -1 with err naming the device. Both accept NULL (no
 * devices). */
struct snap_w;
int virtio_snap_save(struct virtio_set *s, struct snap_w *w, char *err, size_t errlen);
int virtio_snap_restore(struct virtio_set *s, const void *state, size_t len, char *err,
			size_t errlen);

const char *virtio_kind_name(enum virtio_kind k); /* "block", "net", "rng" */
/* The drive with this drive_id (PATCH /drives/{id}); NULL if none. */
/* The one device of `kind` (the balloon, the vsock device), or NULL. */
struct virtio_dev *virtio_find_kind(const struct virtio_set *s, enum virtio_kind kind);
struct virtio_dev *virtio_find_drive(const struct virtio_set *s, const char *drive_id);

/* Metrics: one object per device, named as Firecracker names them
 * ("block_<drive_id>", "net_<iface_id>", "entropy"), holding the device's
 * counters (struct virtio_counters) under the same names. Any thread. */
struct cJSON;
void virtio_metrics_add(const struct virtio_set *s, struct cJSON *root);

#endif
