#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>

#include "base/err.h"
#include "core/kvm_ops.h"
#include "core/vm.h"

#define MMIO_MAGIC 0x74726976 /* "virt" */

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffull) | val;
}

static uint32_t reg_read(struct virtio_dev *d, uint64_t off)
{
	struct virtq *q = d->queue_sel < d->nqueues ? &d->vq[d->queue_sel] : NULL;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return d->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return d->dev_feat_sel == 0 ? (uint32_t)d->host_features :
		       d->dev_feat_sel == 1 ? (uint32_t)(d->host_features >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? d->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q ? q->enabled : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return atomic_load(&d->isr);
	case VIRTIO_MMIO_STATUS: return atomic_load(&d->status);
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return q ? (uint32_t)q->desc_gpa : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return q ? (uint32_t)(q->desc_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: return q ? (uint32_t)q->avail_gpa : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: return q ? (uint32_t)(q->avail_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW: return q ? (uint32_t)q->used_gpa : 0;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: return q ? (uint32_t)(q->used_gpa >> 32) : 0;
	/* No shared memory regions: a length of -1 says so (virtio 1.2 4.2.2). */
	case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu;
	case VIRTIO_MMIO_CONFIG_GENERATION: return atomic_load(&d->config_generation);
	default: return 0;
	}
}

static void kick(struct virtio_dev *d, uint32_t q)
{
	if (q >= d->nqueues) {
		virtio_dev_warn(d, "notify for queue %u, which does not exist", q);
		return;
	}
	uint64_t one = 1;
	ssize_t r = write(d->kick_fd[q], &one, sizeof(one));
	(void)r;
}

/* The selected queue, if the driver may change its registers now
 * (virtio_queue_writable(): never after DRIVER_OK or while enabled). */
static struct virtq *writable_queue(struct virtio_dev *d)
{
	return virtio_queue_writable(d, d->queue_sel) ? &d->vq[d->queue_sel] : NULL;
}

static void reg_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtq *q;
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: d->dev_feat_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (atomic_load(&d->status) & VIRTIO_STATUS_FEATURES_OK)
			virtio_dev_warn(d, "features written after FEATURES_OK (ignored)");
		else if (d->drv_feat_sel < 2)
			set_half(&d->driver_features, d->drv_feat_sel, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: d->drv_feat_sel = v; break;
	case VIRTIO_MMIO_QUEUE_SEL: d->queue_sel = v; break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if ((q = writable_queue(d)))
			q->size = v > 0xffff ? 0xffff : (uint16_t)v; /* > max: refused at QueueReady */
		break;
	case VIRTIO_MMIO_QUEUE_READY: virtio_queue_ready(d, d->queue_sel, v & 1); break;
	case VIRTIO_MMIO_QUEUE_NOTIFY: kick(d, v); break;
	case VIRTIO_MMIO_INTERRUPT_ACK: atomic_fetch_and(&d->isr, ~v); break;
	case VIRTIO_MMIO_STATUS: virtio_set_status(d, v & 0xff); break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((q = writable_queue(d)))
			set_half(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if ((q = writable_queue(d)))
			set_half(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if ((q = writable_queue(d)))
			set_half(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	case VIRTIO_MMIO_SHM_SEL: break;
	default:
		virtio_dev_warn(d, "write of 0x%x to register 0x%llx ignored", v, (unsigned long long)off);
		break;
	}
}

void virtio_mmio_access(void *opaque, struct vcpu *vcpu, uint64_t off,
			uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_dev *d = opaque;
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;
		if (len > 8 || !gm_add_ok(coff, len, VIRTIO_MMIO_WINDOW - VIRTIO_MMIO_CONFIG)) {
			if (!is_write)
				memset(data, 0, len);
			return;
		}
		pthread_mutex_lock(&d->lock);
		if (!is_write) {
			memset(data, 0, len);
			if (coff < d->config_len)
				memcpy(data, (const uint8_t *)d->config + coff,
				       len < d->config_len - coff ? len : d->config_len - coff);
		} else if (d->ops->config_write) {
			d->ops->config_write(d, (uint32_t)coff, data, len);
		}
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (len != 4 || (off & 3)) {
		virtio_dev_warn(d, "%u-byte %s at register 0x%llx: registers are 32-bit only",
				len, is_write ? "write" : "read", (unsigned long long)off);
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	uint32_t v;
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		memcpy(&v, data, 4);
		reg_write(d, off, v);
	} else {
		v = reg_read(d, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_attach(struct virtio_dev *d, struct io_bus *bus, struct vm *vm,
		       uint64_t base, uint32_t gsi, char *err, size_t errlen)
{
	if (bus) {
		int r = io_register(bus, IO_SPACE_MMIO, base, VIRTIO_MMIO_WINDOW,
				    virtio_mmio_access, d, d->name);
		if (r)
			FAIL("%s: MMIO window 0x%llx+0x%x: %s", d->name, (unsigned long long)base,
			     VIRTIO_MMIO_WINDOW, strerror(-r));
	}
	if (!vm || vm->fd < 0)
		return 0;
	char what[64];
	snprintf(what, sizeof(what), "KVM_IRQFD on GSI %u", gsi);
	struct kvm_irqfd irqfd = { .fd = (uint32_t)d->irq_fd, .gsi = gsi };
	if (kvm_vm_ioctl_named(vm, KVM_IRQFD, what, &irqfd, err, errlen) < 0)
		return err_prefix(err, errlen, "%s: ", d->name);
	for (unsigned q = 0; q < d->nqueues; q++) {
		struct kvm_ioeventfd ioe = {
			.datamatch = q,
			.addr = base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = d->kick_fd[q],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		snprintf(what, sizeof(what), "KVM_IOEVENTFD at 0x%llx (queue %u)",
			 (unsigned long long)ioe.addr, q);
		if (kvm_vm_ioctl_named(vm, KVM_IOEVENTFD, what, &ioe, err, errlen) < 0)
			return err_prefix(err, errlen, "%s: ", d->name);
	}
	return 0;
}
