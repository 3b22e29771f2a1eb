/* virtio device core: what every device model (blk, net, rng) shares.
 *
 * Contract: a device is a `struct virtio_dev` embedded in the model's own
 * struct, created with virtio_dev_init() and exposed to the guest by the
 * virtio-mmio transport (mmio.h). Threads:
 *  - vCPU threads run the transport (register reads/writes) under `lock`;
 *  - one worker thread per device (its own epoll) handles queue kicks
 *    (ioeventfd), the model's own fds (tap, timerfd, io_uring) and resets,
 *    so slow host I/O never runs on a vCPU or the main loop.
 * The model's callbacks run on the worker, one at a time, and only while the
 * driver has set DRIVER_OK and the device is not broken. A driver reset
 * (Status = 0) blocks the vCPU until the worker has called ops->reset(), so a
 * model never completes a request into rings the driver has taken back.
 * Guest faults are counted and logged (rate-limited) and never stop the VMM:
 * a bad request is failed; a corrupt ring sets DEVICE_NEEDS_RESET.
 * Status bits are sticky (virtio 2.1.2): a write that clears one (other
 * than 0 = reset) sets DEVICE_NEEDS_RESET. Queue geometry (QueueNum, ring
 * addresses, QueueReady) is frozen from DRIVER_OK until a reset: such
 * writes are ignored and counted (register_errors). Together with the reset
 * handshake this gives the invariant the worker relies on: while `active`,
 * no queue's size, rings or enabled flag change (virtio_queue_live()).
 * If the worker dies (its epoll fails), it marks the device NEEDS_RESET and
 * wakes every waiter; from then on the device is broken for good: resets
 * and pauses run inline, DRIVER_OK is answered with NEEDS_RESET, and
 * virtio_dev_call() fails.
 * Pause (virtio_dev_pause(), for PATCH /vm Paused, after the vCPUs parked):
 * the worker stops taking requests, lets in-flight host I/O finish and
 * publishes it to the used ring (ops->quiesce), then waits on its control
 * fd only. From then until resume the device writes nothing to guest memory
 * and raises no interrupt (one raised meanwhile is held back): kicks, tap
 * frames and rate-limiter timers stay pending on their (level-triggered)
 * fds. Resume delivers a held-back interrupt and services every queue.
 */
#ifndef MPVM_VIRTIO_H
#define MPVM_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "devices/virtio/queue.h"

#define VIRTIO_MAX_QUEUES 4 /* balloon: inflate, deflate, statistics, reporting */
#define VIRTIO_MAX_WATCHES 8

/* Device status bits (virtio 1.x 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

/* Transport-independent feature bits offered by every device. */
#define VIRTIO_FEAT_INDIRECT_DESC 28
#define VIRTIO_FEAT_EVENT_IDX 29
#define VIRTIO_FEAT_VERSION_1 32
#define VIRTIO_FEAT(bit) (1ull << (bit))

/* Interrupt status bits. */
#define VIRTIO_ISR_VRING 1u
#define VIRTIO_ISR_CONFIG 2u

/* Per-device counters for metrics and tests. Relaxed atomics: any thread
 * may read them at any time. */
struct virtio_counters {
	_Atomic uint64_t kicks;          /* queue notifications from the driver */
	_Atomic uint64_t interrupts;     /* irqfd signals */
	_Atomic uint64_t requests;       /* chains completed */
	_Atomic uint64_t read_bytes;     /* blk: read from disk; net: received */
	_Atomic uint64_t write_bytes;    /* blk: written to disk; net: sent */
	_Atomic uint64_t flushes;
	_Atomic uint64_t io_errors;      /* host I/O failures reported to the guest */
	_Atomic uint64_t bad_requests;   /* malformed chains or requests from the guest */
	_Atomic uint64_t device_errors;  /* DEVICE_NEEDS_RESET raised */
	_Atomic uint64_t throttled;      /* times a rate limiter made a queue wait */
	_Atomic uint64_t dropped;        /* net: frames dropped (no buffer, too big, tap error) */
	_Atomic uint64_t resets;         /* driver resets */
	_Atomic uint64_t register_errors;/* register writes the protocol forbids (ignored) */
};

struct virtio_dev;
struct snap_w;
struct snap_r;

struct virtio_dev_ops {
	/* The worker thread's kind for the sandbox (core/confine.h):
	 * "virtio-blk", ... Every model mpvm runs names one. */
	const char *thread_kind;
	/* Driver set DRIVER_OK; queues are enabled. Optional. */
	void (*activate)(struct virtio_dev *d);
	/* Queue `q` needs service (kick, activation, or the model asked). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Driver reset: finish or cancel in-flight work before returning (the
	 * rings are forgotten right after). Optional. */
	void (*reset)(struct virtio_dev *d);
	/* Pause: complete in-flight host I/O and push it to the used ring
	 * before returning; start nothing new. 0, or -1 if some request could
	 * not be completed (logged). Optional: models that do their I/O
	 * synchronously have nothing in flight between callbacks. */
	int (*quiesce)(struct virtio_dev *d);
	/* Device-specific configuration space writes (vCPU thread, `lock`
	 * held); ignored unless given. Reads come from virtio_dev.config. */
	void (*config_write)(struct virtio_dev *d, uint32_t off, const uint8_t *buf, uint32_t len);
	/* Release the model's resources, including the memory `d` is embedded
	 * in (worker stopped, common fds closed). */
	void (*destroy)(struct virtio_dev *d);
	/* Snapshots: the model's state beyond its configuration and the
	 * transport, written after the transport's in the device's section
	 * (device paused). Restore reads it back (device paused, before
	 * activation), marking `r` bad (snap_r_fail) on a value it cannot
	 * take. Both optional: a model without them keeps no such state. */
	void (*snap_save)(struct virtio_dev *d, struct snap_w *w);
	void (*snap_restore)(struct virtio_dev *d, struct snap_r *r);
};

typedef void (*virtio_watch_fn)(struct virtio_dev *d, int fd, uint32_t events, void *opaque);

struct virtio_watch {
	struct virtio_dev *dev;
	int fd;
	virtio_watch_fn fn;
	void *opaque;
};

struct virtio_dev {
	char name[48];                 /* "virtio-blk rootfs": log prefix */
	uint32_t device_id;            /* VIRTIO_ID_* */
	uint64_t host_features;
	unsigned nqueues;
	uint16_t queue_max;
	const struct virtio_dev_ops *ops;
	const struct guest_mem *mem;
	/* The model's configuration space (struct virtio_blk_config, ...): the
	 * driver reads it through the transport, under `lock`, so a model that
	 * changes it takes `lock`. Bytes past config_len read as 0. */
	const void *config;
	uint32_t config_len;

	/* Transport state: vCPU threads, under lock. */
	pthread_mutex_t lock;
	_Atomic uint32_t status;
	uint64_t driver_features;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	_Atomic uint32_t isr;
	_Atomic uint32_t config_generation;
	struct virtq vq[VIRTIO_MAX_QUEUES];

	/* Wiring. */
	int irq_fd;                    /* eventfd, KVM_IRQFD (or read by tests) */
	int kick_fd[VIRTIO_MAX_QUEUES];/* eventfds, KVM_IOEVENTFD on QueueNotify */
	int ctl_fd;                    /* wakes the worker for reset/activate/stop */
	int epoll_fd;
	pthread_t worker;
	bool worker_started;
	struct virtio_watch watches[VIRTIO_MAX_WATCHES + 1 + VIRTIO_MAX_QUEUES];
	unsigned nwatches;

	/* Worker handshake (under lock). */
	pthread_cond_t cond;
	bool reset_pending, activate_pending, stop;
	void (*call_fn)(struct virtio_dev *d, void *arg); /* virtio_dev_call() */
	void *call_arg;
	bool active;                   /* worker side: DRIVER_OK seen, not broken */
	bool worker_dead;              /* the worker exited on an error (under lock) */
	_Atomic bool abort_batch;      /* a reset or pause is waiting: leave long loops */
	bool pause_wanted;             /* virtio_dev_pause()/resume() asked (under lock) */
	int pause_result;              /* ops->quiesce() of the last pause (under lock) */
	_Atomic bool paused;           /* written by the worker (or inline without one) */
	_Atomic bool irq_deferred;     /* an interrupt raised while paused */

	struct virtio_counters stats;
	_Atomic uint32_t nwarned;
	_Atomic int64_t warn_sec;  /* CLOCK_MONOTONIC second of the last rate-limited line */
	_Atomic uint32_t warn_hidden; /* faults not logged since that line */
};

/* Fill the common part. `features` are the model's bits; VERSION_1,
 * INDIRECT_DESC and EVENT_IDX are added. Creates the eventfds and the
 * worker's epoll. Returns 0 or -1 with `err` set. */
int virtio_dev_init(struct virtio_dev *d, const char *name, uint32_t device_id,
		    uint64_t features, unsigned nqueues, uint16_t queue_max,
		    const struct virtio_dev_ops *ops, const struct guest_mem *mem,
		    char *err, size_t errlen);
/* Watch a model fd on the worker's epoll (before or after start). */
int virtio_dev_watch(struct virtio_dev *d, int fd, uint32_t events, virtio_watch_fn fn, void *opaque);
int virtio_dev_watch_mod(struct virtio_dev *d, int fd, uint32_t events);
/* Stop watching `fd` for good (an fd that stays in error, which epoll would
 * report forever). On the worker, or before start. */
int virtio_dev_unwatch(struct virtio_dev *d, int fd);
/* Start / stop the worker thread. Stop is idempotent and waits for it. */
int virtio_dev_start(struct virtio_dev *d, char *err, size_t errlen);
void virtio_dev_stop(struct virtio_dev *d);
/* Run fn(d, arg) on the device's worker (inline if it was never started)
 * and wait for it: how other threads (the API) change a running device.
 * 0, or -1 (fn not run) if the worker has died. One call at a time per
 * device; not from the worker itself. */
int virtio_dev_call(struct virtio_dev *d, void (*fn)(struct virtio_dev *d, void *arg), void *arg);
/* Stop, destroy the model, close everything. */
void virtio_dev_destroy(struct virtio_dev *d);
/* Pause the device (see the top of this file) and wait until it is parked:
 * in-flight requests are completed and in the used ring when it returns.
 * -1 if the model could not complete some of them (it is parked anyway).
 * Idempotent. Resume undoes it (a no-op on a running device). Not from the
 * worker itself. _begin/_end are the two halves, so that several devices
 * drain in parallel. */
int virtio_dev_pause(struct virtio_dev *d);
void virtio_dev_pause_begin(struct virtio_dev *d);
int virtio_dev_pause_end(struct virtio_dev *d);
void virtio_dev_resume(struct virtio_dev *d);
/* Snapshots (devices/virtio/snapshot.c): the transport's state (status,
 * features, selectors, ISR, each queue's geometry and indices) then the
 * model's (ops->snap_save). Save with the device paused. Restore into a
 * device just created from the same configuration whose driver has done
 * nothing yet: the device is paused first (and stays paused, as
 * virtio_dev_pause() leaves it), every ring is checked against guest memory
 * as QueueReady checks it, and a device whose driver had set DRIVER_OK is
 * activated (ops->activate on the worker) so that resume serves it. 0, or -1
 * with err; on error the device is left paused and reset. */
void virtio_dev_snap_save(struct virtio_dev *d, struct snap_w *w);
int virtio_dev_snap_restore(struct virtio_dev *d, struct snap_r *r, char *err, size_t errlen);
/* device.c, for snapshot.c: the DRIVER_OK handshake with the worker. */
void virtio_dev_activate_restored(struct virtio_dev *d);
static inline bool virtio_paused(struct virtio_dev *d)
{
	return atomic_load(&d->paused);
}

/* --- for models, on the worker ------------------------------------------ */
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return d->driver_features & VIRTIO_FEAT(bit);
}
/* Interrupt the driver if the queue's suppression rules allow. */
void virtio_notify(struct virtio_dev *d, unsigned q);
/* Configuration changed: bump the generation, raise a config interrupt. */
void virtio_config_changed(struct virtio_dev *d);
/* The driver broke the device (corrupt ring): set DEVICE_NEEDS_RESET, raise
 * a config interrupt, stop serving queues until reset. Logs why. */
void virtio_dev_fail(struct virtio_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log a guest fault: the first 10 per device, then at most one line a
 * second (with the count of those not logged). */
void virtio_dev_warn(struct virtio_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when the worker should stop a long loop early (reset or pause waiting). */
static inline bool virtio_should_yield(struct virtio_dev *d)
{
	return atomic_load_explicit(&d->abort_batch, memory_order_relaxed) || !d->active ||
	       (atomic_load(&d->status) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}
/* The gate of every worker entry point that touches queue `q` (kick, timer,
 * tap, completion): the device is live (DRIVER_OK handled by this worker,
 * not broken, not paused) and the driver enabled `q`. While it holds, the
 * queue's geometry cannot change (see the top of this file); `active` is
 * read first, so a queue the transport is still configuring is never read.
 * Worker only. */
static inline bool virtio_queue_live(struct virtio_dev *d, unsigned q)
{
	return d->active && !virtio_paused(d) &&
	       !(atomic_load(&d->status) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)) &&
	       q < d->nqueues && d->vq[q].enabled;
}

/* --- for the transport (vCPU threads, `lock` held) ---------------------- */
/* Status register write: feature check, reset handshake, activation;
 * clearing a bit without a reset breaks the device (NEEDS_RESET). */
void virtio_set_status(struct virtio_dev *d, uint32_t status);
/* QueueReady = 1: validate and map the selected queue; a bad queue breaks
 * the device (NEEDS_RESET). Ignored (counted) after DRIVER_OK. */
void virtio_queue_ready(struct virtio_dev *d, unsigned q, bool ready);
/* May the driver change queue `q`'s registers now? Not after DRIVER_OK nor
 * while it is enabled; a refusal is logged and counted (register_errors). */
bool virtio_queue_writable(struct virtio_dev *d, unsigned q);

#endif
