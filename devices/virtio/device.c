#include "devices/virtio/virtio.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "core/confine.h"
#include "core/log.h"

static void signal_fd(int fd)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the reader wakes anyway. */
	ssize_t r = write(fd, &one, sizeof(one));
	(void)r;
}

static void drain_fd(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
}

/* Called with `lock` held: true while the worker thread can still answer
 * a handshake. */
static inline bool worker_alive(struct virtio_dev *d)
{
	return d->worker_started && !d->worker_dead;
}

static void raise_irq(struct virtio_dev *d, uint32_t why);

/* Set DEVICE_NEEDS_RESET and tell the driver; false if it was set already. */
static bool set_needs_reset(struct virtio_dev *d)
{
	uint32_t old = atomic_fetch_or(&d->status, VIRTIO_STATUS_NEEDS_RESET);
	if (old & VIRTIO_STATUS_NEEDS_RESET)
		return false;
	atomic_fetch_add_explicit(&d->stats.device_errors, 1, memory_order_relaxed);
	raise_irq(d, VIRTIO_ISR_CONFIG);
	return true;
}

/* Work may be waiting without a kick of its own: buffers made available
 * before DRIVER_OK, or left when a pause cut a batch short (with guest
 * notifications still disabled). queue_notify() on an idle queue is a
 * no-op, so asking is always safe. */
static void service_queues(struct virtio_dev *d)
{
	for (unsigned q = 0; q < d->nqueues; q++)
		if (virtio_queue_live(d, q))
			d->ops->queue_notify(d, q);
}

static void deliver_deferred_irq(struct virtio_dev *d)
{
	if (atomic_exchange(&d->irq_deferred, false))
		signal_fd(d->irq_fd);
}

/* ---- worker ------------------------------------------------------------- */

/* Returns true if the device went live. */
static bool do_activate(struct virtio_dev *d)
{
	uint32_t s = atomic_load(&d->status);
	if (!(s & VIRTIO_STATUS_DRIVER_OK) || (s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
		return false;
	d->active = true;
	log_debug("%s: driver ready, features 0x%llx", d->name,
		  (unsigned long long)d->driver_features);
	if (d->ops->activate)
		d->ops->activate(d);
	return true;
}

static void on_ctl(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	drain_fd(fd);
	pthread_mutex_lock(&d->lock);
	if (d->reset_pending) {
		pthread_mutex_unlock(&d->lock);
		d->active = false;
		if (d->ops->reset)
			d->ops->reset(d);
		pthread_mutex_lock(&d->lock);
		d->reset_pending = false;
		atomic_store(&d->abort_batch, false);
		pthread_cond_broadcast(&d->cond);
	}
	if (d->call_fn) {
		void (*fn)(struct virtio_dev *, void *) = d->call_fn;
		pthread_mutex_unlock(&d->lock);
		fn(d, d->call_arg);
		pthread_mutex_lock(&d->lock);
		d->call_fn = NULL;
		pthread_cond_broadcast(&d->cond);
	}
	if (d->pause_wanted && !virtio_paused(d)) {
		pthread_mutex_unlock(&d->lock);
		/* Requests this worker started finish now, so that nothing
		 * reaches guest memory once the pause is acknowledged. */
		int r = d->ops->quiesce ? d->ops->quiesce(d) : 0;
		pthread_mutex_lock(&d->lock);
		d->pause_result = r;
		/* A resume may have come meanwhile (pause_begin() then resume). */
		atomic_store(&d->paused, d->pause_wanted);
		if (!d->reset_pending)
			atomic_store(&d->abort_batch, false);
		pthread_cond_broadcast(&d->cond);
		if (!d->pause_wanted) {
			pthread_mutex_unlock(&d->lock);
			service_queues(d);
			pthread_mutex_lock(&d->lock);
		}
	} else if (!d->pause_wanted && virtio_paused(d)) {
		atomic_store(&d->paused, false);
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		deliver_deferred_irq(d);
		service_queues(d);
		pthread_mutex_lock(&d->lock);
	}
	if (d->activate_pending) {
		pthread_mutex_unlock(&d->lock);
		bool live = do_activate(d);
		pthread_mutex_lock(&d->lock);
		d->activate_pending = false;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		/* While paused, resume does this. */
		if (live)
			service_queues(d);
		return;
	}
	pthread_mutex_unlock(&d->lock);
}

static void on_kick(struct virtio_dev *d, int fd, uint32_t events, void *opaque)
{
	unsigned q = (unsigned)(uintptr_t)opaque;
	if (virtio_paused(d))
		return; /* stays readable: served after resume */
	drain_fd(fd);
	atomic_fetch_add_explicit(&d->stats.kicks, 1, memory_order_relaxed);
	if (virtio_queue_live(d, q))
		d->ops->queue_notify(d, q);
}

static bool stop_requested(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	bool stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	return stop;
}

/* Paused: only the control fd is watched (resume, stop, virtio_dev_call(),
 * a reset). Everything else keeps its readiness in the kernel until the
 * main epoll is polled again. */
static void park(struct virtio_dev *d)
{
	while (virtio_paused(d) && !stop_requested(d)) {
		struct pollfd p = { .fd = d->ctl_fd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			log_err("%s: poll: %s (retrying in 10 ms)", d->name, strerror(errno));
			usleep(10000);
			continue;
		}
		on_ctl(d, d->ctl_fd, 0, NULL);
	}
}

/* The worker cannot go on (its epoll failed: EBADF/EINVAL never heal).
 * Nothing would ever answer a reset, an activation, a pause or a call, so
 * the device is marked broken and every waiter is woken: they see
 * `worker_dead` and finish inline (see the top of virtio.h). */
static void worker_died(struct virtio_dev *d, int err)
{
	log_err("%s: I/O thread stopped: epoll_wait: %s; the device is broken until the VM restarts",
		d->name, strerror(err));
	d->active = false;
	set_needs_reset(d);
	/* Last: from here on the vCPU and API threads run the model inline. */
	pthread_mutex_lock(&d->lock);
	d->worker_dead = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void *worker_main(void *arg)
{
	struct virtio_dev *d = arg;
	/* Before the first guest request reaches this thread. */
	confine_thread(d->ops->thread_kind);
	while (!stop_requested(d)) {
		if (virtio_paused(d)) {
			park(d);
			continue;
		}
		struct epoll_event ev[8];
		int n = epoll_wait(d->epoll_fd, ev, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			worker_died(d, errno);
			break;
		}
		/* After a pause in this batch, the rest waits (level-triggered). */
		for (int i = 0; i < n && !virtio_paused(d); i++) {
			struct virtio_watch *w = ev[i].data.ptr;
			w->fn(d, w->fd, ev[i].events, w->opaque);
		}
	}
	return NULL;
}

/* ---- setup -------------------------------------------------------------- */

int virtio_dev_watch(struct virtio_dev *d, int fd, uint32_t events, virtio_watch_fn fn, void *opaque)
{
	if (d->nwatches >= sizeof(d->watches) / sizeof(d->watches[0]))
		return -ENOSPC;
	struct virtio_watch *w = &d->watches[d->nwatches];
	*w = (struct virtio_watch){ .dev = d, .fd = fd, .fn = fn, .opaque = opaque };
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	d->nwatches++;
	return 0;
}

int virtio_dev_watch_mod(struct virtio_dev *d, int fd, uint32_t events)
{
	for (unsigned i = 0; i < d->nwatches; i++) {
		if (d->watches[i].fd != fd)
			continue;
		struct epoll_event ev = { .events = events, .data.ptr = &d->watches[i] };
		return epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
	}
	return -ENOENT;
}

int virtio_dev_unwatch(struct virtio_dev *d, int fd)
{
	for (unsigned i = 0; i < d->nwatches; i++) {
		if (d->watches[i].fd != fd)
			continue;
		if (epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, fd, NULL))
			return -errno;
		d->watches[i].fd = -1; /* the slot stays: epoll events point into the array */
		return 0;
	}
	return -ENOENT;
}

int virtio_dev_init(struct virtio_dev *d, const char *name, uint32_t device_id,
		    uint64_t features, unsigned nqueues, uint16_t queue_max,
		    const struct virtio_dev_ops *ops, const struct guest_mem *mem,
		    char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->device_id = device_id;
	d->host_features = features | VIRTIO_FEAT(VIRTIO_FEAT_VERSION_1) |
			   VIRTIO_FEAT(VIRTIO_FEAT_INDIRECT_DESC) | VIRTIO_FEAT(VIRTIO_FEAT_EVENT_IDX);
	d->nqueues = nqueues;
	d->queue_max = queue_max;
	d->ops = ops;
	d->mem = mem;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->irq_fd = d->ctl_fd = d->epoll_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->kick_fd[q] = -1;
	if (nqueues == 0 || nqueues > VIRTIO_MAX_QUEUES || queue_max == 0 || queue_max > VIRTQ_MAX_SIZE)
		FAIL("%s: bad queue layout (%u queues of %u)", name, nqueues, queue_max);

	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->irq_fd < 0 || d->ctl_fd < 0 || d->epoll_fd < 0)
		FAIL("%s: eventfd/epoll: %s", name, strerror(errno));
	int r = virtio_dev_watch(d, d->ctl_fd, EPOLLIN, on_ctl, NULL);
	for (unsigned q = 0; q < nqueues && !r; q++) {
		d->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[q] < 0)
			FAIL("%s: eventfd: %s", name, strerror(errno));
		r = virtio_dev_watch(d, d->kick_fd[q], EPOLLIN, on_kick, (void *)(uintptr_t)q);
	}
	if (r)
		FAIL("%s: epoll_ctl: %s", name, strerror(-r));
	return 0;
}

int virtio_dev_start(struct virtio_dev *d, char *err, size_t errlen)
{
	int r = pthread_create(&d->worker, NULL, worker_main, d);
	if (r)
		FAIL("%s: cannot start its I/O thread: %s", d->name, strerror(r));
	d->worker_started = true;
	char tname[16];
	memcpy(tname, d->name, sizeof(tname) - 1); /* thread names hold 15 chars */
	tname[sizeof(tname) - 1] = 0;
	pthread_setname_np(d->worker, tname);
	return 0;
}

int virtio_dev_call(struct virtio_dev *d, void (*fn)(struct virtio_dev *d, void *arg), void *arg)
{
	pthread_mutex_lock(&d->lock);
	if (!d->worker_started) {
		pthread_mutex_unlock(&d->lock);
		fn(d, arg);
		return 0;
	}
	while (d->call_fn && !d->worker_dead)
		pthread_cond_wait(&d->cond, &d->lock);
	int rc = 0;
	if (!d->worker_dead) {
		d->call_fn = fn;
		d->call_arg = arg;
		signal_fd(d->ctl_fd);
		while (d->call_fn == fn && d->call_arg == arg && !d->worker_dead)
			pthread_cond_wait(&d->cond, &d->lock);
	}
	/* The worker dies only between callbacks: a call still posted never ran. */
	if (d->worker_dead) {
		if (d->call_fn == fn && d->call_arg == arg)
			d->call_fn = NULL;
		rc = -1;
	}
	pthread_mutex_unlock(&d->lock);
	if (rc)
		log_err("%s: cannot change the device: its I/O thread has stopped", d->name);
	return rc;
}

/* Pause without a worker (never started, or dead): the caller quiesces the
 * model itself. `lock` held; dropped around quiesce() (which may take it). */
static void pause_inline(struct virtio_dev *d)
{
	pthread_mutex_unlock(&d->lock);
	int r = d->ops->quiesce ? d->ops->quiesce(d) : 0;
	pthread_mutex_lock(&d->lock);
	d->pause_result = r;
	atomic_store(&d->paused, true);
}

void virtio_dev_pause_begin(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->pause_wanted = true;
	if (virtio_paused(d)) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (!worker_alive(d)) {
		pause_inline(d);
	} else {
		atomic_store(&d->abort_batch, true); /* cut a long batch short */
		signal_fd(d->ctl_fd);
	}
	pthread_mutex_unlock(&d->lock);
}

int virtio_dev_pause_end(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	while (d->pause_wanted && !virtio_paused(d) && worker_alive(d))
		pthread_cond_wait(&d->cond, &d->lock);
	if (d->pause_wanted && !virtio_paused(d)) /* the worker died meanwhile */
		pause_inline(d);
	int r = virtio_paused(d) ? d->pause_result : 0;
	pthread_mutex_unlock(&d->lock);
	if (r)
		log_err("%s: paused, but some in-flight requests did not complete", d->name);
	return r;
}

int virtio_dev_pause(struct virtio_dev *d)
{
	virtio_dev_pause_begin(d);
	return virtio_dev_pause_end(d);
}

void virtio_dev_resume(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->pause_wanted = false;
	if (worker_alive(d)) {
		signal_fd(d->ctl_fd);
		while (virtio_paused(d) && !d->worker_dead)
			pthread_cond_wait(&d->cond, &d->lock);
	}
	if (virtio_paused(d)) {
		atomic_store(&d->paused, false);
		deliver_deferred_irq(d);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_dev_stop(struct virtio_dev *d)
{
	if (!d->worker_started)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_mutex_unlock(&d->lock);
	signal_fd(d->ctl_fd);
	pthread_join(d->worker, NULL);
	d->worker_started = false;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	virtio_dev_stop(d);
	int fds[] = { d->irq_fd, d->ctl_fd, d->epoll_fd };
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (d->kick_fd[q] >= 0)
			close(d->kick_fd[q]);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	/* Last: the model may free the memory `d` lives in. */
	if (d->ops && d->ops->destroy)
		d->ops->destroy(d);
}

/* ---- interrupts and faults ---------------------------------------------- */

static void raise_irq(struct virtio_dev *d, uint32_t why)
{
	atomic_fetch_or(&d->isr, why);
	atomic_fetch_add_explicit(&d->stats.interrupts, 1, memory_order_relaxed);
	if (virtio_paused(d)) {
		/* Held back for resume. Paired with resume's store of `paused`
		 * then exchange of `irq_deferred` (all seq_cst): either resume
		 * sees the flag, or we see the device running again and
		 * deliver it ourselves; never both, never neither. */
		atomic_store(&d->irq_deferred, true);
		if (virtio_paused(d) || !atomic_exchange(&d->irq_deferred, false))
			return;
	}
	signal_fd(d->irq_fd);
}

void virtio_notify(struct virtio_dev *d, unsigned q)
{
	if (virtq_should_notify(&d->vq[q]))
		raise_irq(d, VIRTIO_ISR_VRING);
}

void virtio_config_changed(struct virtio_dev *d)
{
	atomic_fetch_add(&d->config_generation, 1);
	raise_irq(d, VIRTIO_ISR_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *d, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	err_vset(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (set_needs_reset(d))
		log_warn("%s: guest driver error: %s; device needs reset", d->name, msg);
}

void virtio_dev_warn(struct virtio_dev *d, const char *fmt, ...)
{
	/* A guest can fault in a loop: the first 10 are logged, then at most one
	 * line a second with the count of those not logged, so a hostile guest
	 * cannot fill the host's disk through mpvm's log. */
	uint32_t n = atomic_fetch_add(&d->nwarned, 1) + 1;
	uint32_t hidden = 0;
	if (n > 10) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t last = atomic_load(&d->warn_sec);
		if (ts.tv_sec == last ||
		    !atomic_compare_exchange_strong(&d->warn_sec, &last, (int64_t)ts.tv_sec)) {
			atomic_fetch_add(&d->warn_hidden, 1);
			return;
		}
		hidden = atomic_exchange(&d->warn_hidden, 0);
	}
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	err_vset(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (hidden)
		log_warn("%s: %s (and %u more faults in the last second, not logged)", d->name, msg,
			 hidden);
	else
		log_warn("%s: %s%s", d->name, msg,
			 n == 10 ? " (further faults: at most one line a second)" : "");
}

/* ---- transport side ----------------------------------------------------- */

static void reset_transport(struct virtio_dev *d)
{
	atomic_store(&d->status, 0);
	atomic_store(&d->isr, 0);
	d->driver_features = 0;
	d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&d->vq[q]);
}

/* A register write the protocol forbids: ignored, counted, logged. */
static void register_error(struct virtio_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void register_error(struct virtio_dev *d, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add_explicit(&d->stats.register_errors, 1, memory_order_relaxed);
	virtio_dev_warn(d, "%s (ignored)", msg);
}

/* The model forgets the rings: on the worker, or here when there is none
 * (never started, or dead: then nothing else runs the model). */
static void reset_model_inline(struct virtio_dev *d)
{
	d->active = false;
	if (d->ops->reset)
		d->ops->reset(d);
	d->reset_pending = false;
	atomic_store(&d->abort_batch, false);
}

static void request_reset(struct virtio_dev *d)
{
	atomic_fetch_add_explicit(&d->stats.resets, 1, memory_order_relaxed);
	if (worker_alive(d)) {
		d->reset_pending = true;
		d->activate_pending = false;
		atomic_store(&d->abort_batch, true);
		signal_fd(d->ctl_fd);
		while (d->reset_pending && !d->worker_dead)
			pthread_cond_wait(&d->cond, &d->lock);
	}
	/* The worker dies only between callbacks: a reset still pending never ran. */
	if (!worker_alive(d))
		reset_model_inline(d);
	reset_transport(d);
}

/* Wait for the worker's activate() (e.g. tap offloads): once the driver
 * sees DRIVER_OK accepted, the device is live. */
static void request_activation(struct virtio_dev *d)
{
	if (!d->worker_started)
		return; /* unit tests without a worker: nothing serves the queues */
	if (!d->worker_dead) {
		d->activate_pending = true;
		signal_fd(d->ctl_fd);
		while (d->activate_pending && !d->worker_dead)
			pthread_cond_wait(&d->cond, &d->lock);
	}
	if (d->worker_dead) {
		d->activate_pending = false;
		if (set_needs_reset(d))
			log_err("%s: driver ready, but the device's I/O thread has stopped: device needs reset",
				d->name);
	}
}

void virtio_dev_activate_restored(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->worker_started)
		request_activation(d);
	else
		do_activate(d); /* no worker (unit tests): as a worker would */
	pthread_mutex_unlock(&d->lock);
}

void virtio_set_status(struct virtio_dev *d, uint32_t val)
{
	if (val == 0) {
		request_reset(d);
		return;
	}
	/* Another vCPU's reset is waiting for the worker (`lock` is free while
	 * it waits): a status change now could re-activate the device under the
	 * rings the reset is about to clear. */
	if (d->reset_pending) {
		register_error(d, "status 0x%x written during a reset", val);
		return;
	}
	uint32_t old = atomic_load(&d->status);
	/* Bits are sticky (virtio 2.1.2): only a reset clears them. Clearing
	 * DRIVER_OK must not reopen the queue registers under a live worker. */
	uint32_t cleared = old & ~val & ~VIRTIO_STATUS_NEEDS_RESET;
	if (cleared) {
		atomic_fetch_add_explicit(&d->stats.register_errors, 1, memory_order_relaxed);
		virtio_dev_fail(d, "status 0x%x clears bits 0x%x without a reset", val, cleared);
		return;
	}
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t extra = d->driver_features & ~d->host_features;
		if (extra || !(d->driver_features & VIRTIO_FEAT(VIRTIO_FEAT_VERSION_1))) {
			virtio_dev_warn(d, "refusing features 0x%llx (%s)",
					(unsigned long long)d->driver_features,
					extra ? "not offered" : "legacy driver: VERSION_1 missing");
			val &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	/* NEEDS_RESET belongs to the device: the driver can neither set nor clear
	 * it. The worker may set it meanwhile (a corrupt ring): keep that. */
	val &= ~VIRTIO_STATUS_NEEDS_RESET;
	old = atomic_fetch_or(&d->status, val);
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(val & VIRTIO_STATUS_FEATURES_OK)) {
			virtio_dev_warn(d, "DRIVER_OK without FEATURES_OK: device stays idle");
			return;
		}
		request_activation(d);
	}
}

bool virtio_queue_writable(struct virtio_dev *d, unsigned q)
{
	if (q >= d->nqueues)
		return false;
	/* The worker may be reading the rings from DRIVER_OK on: only a reset
	 * (which waits for it) may change them (virtio 4.2.2.3, 3.1.1). */
	if (atomic_load(&d->status) & VIRTIO_STATUS_DRIVER_OK) {
		register_error(d, "queue %u: configuration written after DRIVER_OK", q);
		return false;
	}
	if (d->vq[q].enabled) {
		register_error(d, "queue %u: configuration written while enabled", q);
		return false;
	}
	return true;
}

void virtio_queue_ready(struct virtio_dev *d, unsigned q, bool ready)
{
	if (q >= d->nqueues)
		return;
	if (atomic_load(&d->status) & VIRTIO_STATUS_DRIVER_OK) {
		register_error(d, "queue %u: QueueReady=%u after DRIVER_OK", q, ready);
		return;
	}
	if (!ready) {
		d->vq[q].enabled = false;
		return;
	}
	if (d->vq[q].enabled) {
		register_error(d, "queue %u: QueueReady=1 while already enabled", q);
		return;
	}
	char e[160];
	if (d->vq[q].size > d->queue_max) {
		virtio_dev_fail(d, "queue %u: size %u above QueueNumMax %u", q, d->vq[q].size, d->queue_max);
		return;
	}
	if (virtq_enable(&d->vq[q], d->mem, virtio_has(d, VIRTIO_FEAT_EVENT_IDX),
			 virtio_has(d, VIRTIO_FEAT_INDIRECT_DESC), e, sizeof(e)))
		virtio_dev_fail(d, "queue %u: %s", q, e);
}
