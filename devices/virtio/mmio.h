/* virtio-mmio transport, version 2 ("modern") register layout (virtio 1.x 4.2).
 *
 * Contract: virtio_mmio_attach() puts a device's 4 KiB register window on
 * the MMIO bus and, given a VM, wires its interrupt as an irqfd on `gsi`
 * (edge: KVM pulses the line) and each queue's notification as an ioeventfd
 * on QueueNotify with the queue index as datamatch, so kicks wake the
 * device's worker without a trip through a vCPU thread. Notifications KVM
 * does not match (odd sizes, no VM fd in tests) come through the handler and
 * are forwarded to the same eventfds. Registers need aligned 32-bit access
 * (others read 0, writes are ignored); the config space at 0x100 takes any
 * size. Queue registers (QueueNum, ring addresses, QueueReady) are
 * ignored after DRIVER_OK and while the queue is enabled (virtio.h).
 * Legacy (version 1) drivers are not supported: they see version 2.
 */
#ifndef MPVM_VIRTIO_MMIO_H
#define MPVM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/exits.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_MMIO_WINDOW 0x1000
#define VIRTIO_MMIO_VENDOR 0x4d56504d /* "MPVM" */

struct vm;

/* `vm` NULL or without a VM fd: no KVM wiring (unit tests drive the handler
 * directly and read d->irq_fd). The ioctls go through the VM's struct
 * kvm_ops. Returns 0 or -1 with `err` naming the ioctl and errno. */
int virtio_mmio_attach(struct virtio_dev *d, struct io_bus *bus, struct vm *vm,
		       uint64_t base, uint32_t gsi, char *err, size_t errlen);

/* The register handler (an io_handler_fn, opaque = the device). */
void virtio_mmio_access(void *opaque, struct vcpu *vcpu, uint64_t off,
			uint8_t *data, uint32_t len, bool is_write);

#endif
