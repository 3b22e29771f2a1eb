/* Snapshots of virtio devices (virtio.h, setup.h): the transport of each
 * device, its model's own state, and the set (one "VIRT" section per slot,
 * in slot order, naming the slot so that a snapshot of another device
 * layout is refused). */
#include <string.h>

#include "base/err.h"
#include "base/snap.h"
#include "devices/virtio/setup.h"
#include "devices/virtio/virtio.h"

#define VIRT_SNAP_VERSION 1

/* Status bits a driver can have set (plus the device's NEEDS_RESET). */
#define STATUS_KNOWN (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
		      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

void virtio_dev_snap_save(struct virtio_dev *d, struct snap_w *w)
{
	pthread_mutex_lock(&d->lock);
	snap_put_u32(w, atomic_load(&d->status));
	snap_put_u64(w, d->driver_features);
	snap_put_u32(w, d->dev_feat_sel);
	snap_put_u32(w, d->drv_feat_sel);
	snap_put_u32(w, d->queue_sel);
	snap_put_u32(w, atomic_load(&d->isr));
	snap_put_u32(w, atomic_load(&d->config_generation));
	snap_put_u32(w, d->nqueues);
	for (unsigned i = 0; i < d->nqueues; i++) {
		const struct virtq *q = &d->vq[i];
		snap_put_u16(w, q->size);
		snap_put_u64(w, q->desc_gpa);
		snap_put_u64(w, q->avail_gpa);
		snap_put_u64(w, q->used_gpa);
		snap_put_bool(w, q->enabled);
		snap_put_u16(w, q->last_avail);
		snap_put_u16(w, q->used_idx);
		snap_put_u16(w, q->signalled_used);
		snap_put_bool(w, q->signalled_valid);
	}
	pthread_mutex_unlock(&d->lock);
	if (d->ops->snap_save)
		d->ops->snap_save(d, w);
}

struct queue_state {
	uint16_t size;
	uint64_t desc, avail, used;
	bool enabled;
	uint16_t last_avail, used_idx, signalled_used;
	bool signalled_valid;
};

int virtio_dev_snap_restore(struct virtio_dev *d, struct snap_r *r, char *err, size_t errlen)
{
	uint32_t status = snap_get_u32(r);
	uint64_t features = snap_get_u64(r);
	uint32_t dev_sel = snap_get_u32(r), drv_sel = snap_get_u32(r), queue_sel = snap_get_u32(r);
	uint32_t isr = snap_get_u32(r), gen = snap_get_u32(r);
	uint32_t nq = snap_get_u32(r);
	struct queue_state qs[VIRTIO_MAX_QUEUES];
	if (!r->bad && nq != d->nqueues)
		snap_r_fail(r, "a device with another number of queues");
	for (unsigned i = 0; i < nq && !r->bad; i++) {
		qs[i].size = snap_get_u16(r);
		qs[i].desc = snap_get_u64(r);
		qs[i].avail = snap_get_u64(r);
		qs[i].used = snap_get_u64(r);
		qs[i].enabled = snap_get_bool(r);
		qs[i].last_avail = snap_get_u16(r);
		qs[i].used_idx = snap_get_u16(r);
		qs[i].signalled_used = snap_get_u16(r);
		qs[i].signalled_valid = snap_get_bool(r);
		if (qs[i].enabled && qs[i].size > d->queue_max)
			snap_r_fail(r, "an enabled queue larger than the device allows");
	}
	if (!r->bad && (status & ~STATUS_KNOWN))
		snap_r_fail(r, "unknown device status bits");
	if (!r->bad && (features & ~d->host_features))
		snap_r_fail(r, "driver features this device does not offer");
	if (!r->bad && (isr & ~(VIRTIO_ISR_VRING | VIRTIO_ISR_CONFIG)))
		snap_r_fail(r, "unknown interrupt status bits");
	if (r->bad)
		return snap_r_done(r, err, errlen);

	/* Parked before anything changes: from here until the VM resumes, the
	 * worker touches neither the rings nor guest memory. */
	virtio_dev_pause(d);
	pthread_mutex_lock(&d->lock);
	d->driver_features = features;
	d->dev_feat_sel = dev_sel;
	d->drv_feat_sel = drv_sel;
	d->queue_sel = queue_sel;
	atomic_store(&d->isr, isr);
	atomic_store(&d->config_generation, gen);
	int rc = 0;
	for (unsigned i = 0; i < nq; i++) {
		struct virtq *q = &d->vq[i];
		q->size = qs[i].size;
		q->desc_gpa = qs[i].desc;
		q->avail_gpa = qs[i].avail;
		q->used_gpa = qs[i].used;
		if (!qs[i].enabled)
			continue;
		/* The rings go through the same checks as the driver's
		 * QueueReady: a snapshot cannot point the device outside RAM. */
		char e[160];
		if (virtq_enable(q, d->mem, features & VIRTIO_FEAT(VIRTIO_FEAT_EVENT_IDX),
				 features & VIRTIO_FEAT(VIRTIO_FEAT_INDIRECT_DESC), e, sizeof(e))) {
			rc = err_set(err, errlen, "snapshot section %s: %s: queue %u: %s", r->tag,
				     d->name, i, e);
			break;
		}
		q->last_avail = qs[i].last_avail;
		q->used_idx = qs[i].used_idx;
		q->signalled_used = qs[i].signalled_used;
		q->signalled_valid = qs[i].signalled_valid;
	}
	if (!rc)
		atomic_store(&d->status, status);
	pthread_mutex_unlock(&d->lock);
	if (rc)
		goto undo;
	if (d->ops->snap_restore)
		d->ops->snap_restore(d, r);
	if (snap_r_done(r, err, errlen)) {
		rc = -1;
		goto undo;
	}
	if ((status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK)) ==
		    (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK) &&
	    !(status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
		virtio_dev_activate_restored(d);
	return 0;
undo:
	pthread_mutex_lock(&d->lock);
	atomic_store(&d->status, 0);
	d->driver_features = 0;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&d->vq[i]);
	pthread_mutex_unlock(&d->lock);
	return -1;
}

int virtio_snap_save(struct virtio_set *s, struct snap_w *w, char *err, size_t errlen)
{
	if (!s)
		return 0;
	for (unsigned i = 0; i < s->n; i++) {
		const struct virtio_slot *sl = &s->slot[i];
		if (!virtio_paused(sl->dev))
			return err_set(err, errlen, "snapshot: virtio %s %s is not paused; pause "
				       "the VM first", virtio_kind_name(sl->kind), sl->id);
		size_t m = snap_section_begin(w, "VIRT", VIRT_SNAP_VERSION);
		snap_put_u32(w, i);
		snap_put_u32(w, sl->kind);
		snap_put_str(w, sl->id);
		snap_put_u64(w, sl->base);
		snap_put_u32(w, sl->gsi);
		virtio_dev_snap_save(sl->dev, w);
		snap_section_end(w, m);
	}
	return 0;
}

int virtio_snap_restore(struct virtio_set *s, const void *state, size_t len, char *err,
			size_t errlen)
{
	unsigned n = snap_section_count(state, len, "VIRT");
	unsigned have = s ? s->n : 0;
	if (n != have)
		return err_set(err, errlen, "snapshot: %u virtio devices in the snapshot, %u in "
			       "this VM's configuration; restore with the configuration the "
			       "snapshot was made with", n, have);
	for (unsigned i = 0; i < have; i++) {
		struct virtio_slot *sl = &s->slot[i];
		struct snap_r r;
		if (snap_section_open(state, len, "VIRT", i, VIRT_SNAP_VERSION, &r, err, errlen))
			return -1;
		uint32_t idx = snap_get_u32(&r), kind = snap_get_u32(&r);
		char id[CFG_ID_MAX_LEN * 4 + 1]; /* characters, up to 4 bytes each */
		snap_get_str(&r, id, sizeof(id));
		uint64_t base = snap_get_u64(&r);
		uint32_t gsi = snap_get_u32(&r);
		if (!r.bad && (idx != i || kind != sl->kind || strcmp(id, sl->id) ||
			       base != sl->base || gsi != sl->gsi))
			snap_r_fail(&r, "a virtio device other than this VM's in that slot");
		if (r.bad)
			return snap_r_done(&r, err, errlen);
		if (virtio_dev_snap_restore(sl->dev, &r, err, errlen))
			return err_prefix(err, errlen, "virtio %s %s: ", virtio_kind_name(sl->kind),
					  sl->id);
	}
	return 0;
}
