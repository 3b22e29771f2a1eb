#include "devices/virtio/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "core/log.h"
#include "core/vm.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"

/* IOAPIC pins for devices, in order: free ISA lines first (they also work
 * for command-line-described devices on kernels without ACPI, which only
 * pre-map IRQs 0-15), then the PCI-style pins. */
static const uint32_t gsis[] = { 10, 11, 12, 13, 14, 15, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23 };
_Static_assert(sizeof(gsis) / sizeof(gsis[0]) >= VIRTIO_MAX_DEVICES, "not enough pins for every device");

const char *virtio_kind_name(enum virtio_kind k)
{
	switch (k) {
	case VIRTIO_KIND_BLOCK: return "block";
	case VIRTIO_KIND_NET: return "net";
	case VIRTIO_KIND_VSOCK: return "vsock";
	case VIRTIO_KIND_BALLOON: return "balloon";
	default: return "rng";
	}
}

static int add(struct virtio_set *s, struct vm *vm, enum virtio_kind kind, const char *id,
	       const struct cfg_drive *drive, struct virtio_dev *d, char *err, size_t errlen)
{
	if (!d)
		return -1;
	struct virtio_slot *sl = &s->slot[s->n];
	sl->kind = kind;
	sl->id = id;
	sl->drive = drive;
	sl->dev = d;
	sl->base = VIRTIO_MMIO_BASE + (uint64_t)s->n * VIRTIO_MMIO_WINDOW;
	sl->gsi = gsis[s->n];
	s->n++;
	if (virtio_mmio_attach(d, vm->bus, vm, sl->base, sl->gsi, err, errlen))
		return -1;
	if (virtio_dev_start(d, err, errlen))
		return -1;
	log_info("%s: virtio-mmio at 0x%llx, GSI %u", d->name, (unsigned long long)sl->base, sl->gsi);
	return 0;
}

/* Is interface `id` one that mmds-config lets reach MMDS? */
static bool mmds_on(const struct cfg_mmds *m, const char *id)
{
	for (uint32_t i = 0; m->set && i < m->nifaces; i++)
		if (!strcmp(m->ifaces[i], id))
			return true;
	return false;
}

struct virtio_set *virtio_setup_all(struct vm *vm, const struct vm_config *cfg,
				    char *err, size_t errlen)
{
	struct virtio_set *s = calloc(1, sizeof(*s));
	if (!s) {
		err_set(err, errlen, "virtio: out of memory");
		return NULL;
	}
	/* Root drive first: the guest enumerates in MMIO order (vda). */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < cfg->ndrives; i++) {
			const struct cfg_drive *dr = &cfg->drives[i];
			if (dr->is_root_device != (pass == 0))
				continue;
			if (add(s, vm, VIRTIO_KIND_BLOCK, dr->drive_id, dr,
				virtio_blk_create(dr, &vm->mem, err, errlen), err, errlen))
				goto fail;
		}
	}
	for (uint32_t i = 0; i < cfg->nnets; i++) {
		const struct cfg_net *n = &cfg->nets[i];
		struct virtio_dev *d = virtio_net_create(n, &vm->mem, err, errlen);
		if (d && mmds_on(&cfg->mmds, n->iface_id) &&
		    virtio_net_enable_mmds(d, &cfg->mmds, err, errlen)) {
			virtio_dev_destroy(d);
			d = NULL;
		}
		if (add(s, vm, VIRTIO_KIND_NET, n->iface_id, NULL, d, err, errlen))
			goto fail;
	}
	if (cfg->entropy.enabled &&
	    add(s, vm, VIRTIO_KIND_RNG, "entropy", NULL, virtio_rng_create(&cfg->entropy, &vm->mem, err, errlen),
		err, errlen))
		goto fail;
	if (cfg->vsock.enabled &&
	    add(s, vm, VIRTIO_KIND_VSOCK, "vsock", NULL,
		virtio_vsock_create(cfg->vsock.guest_cid, cfg->vsock.uds_path, &vm->mem, err, errlen),
		err, errlen))
		goto fail;
	if (cfg->balloon.enabled &&
	    add(s, vm, VIRTIO_KIND_BALLOON, "balloon", NULL,
		virtio_balloon_create(&cfg->balloon, &vm->mem, err, errlen),
		err, errlen))
		goto fail;
	return s;
fail:
	virtio_free_all(s);
	return NULL;
}

char *virtio_cmdline(const struct virtio_set *s, const char *base)
{
	size_t len = strlen(base) + 1 + s->n * 64 + 128;
	char *out = malloc(len);
	if (!out)
		return NULL;
	size_t pos = (size_t)snprintf(out, len, "%s", base);
	/* The root drive is slot 0 when there is one (virtio_setup_all). */
	const struct cfg_drive *root = s->n && s->slot[0].drive && s->slot[0].drive->is_root_device ?
				       s->slot[0].drive : NULL;
	if (root && root->partuuid)
		pos += (size_t)snprintf(out + pos, len - pos, "%sroot=PARTUUID=%.64s %s", pos ? " " : "",
					root->partuuid, root->is_read_only ? "ro" : "rw");
	else if (root)
		pos += (size_t)snprintf(out + pos, len - pos, "%sroot=/dev/vda %s", pos ? " " : "",
					root->is_read_only ? "ro" : "rw");
	for (unsigned i = 0; i < s->n; i++)
		pos += (size_t)snprintf(out + pos, len - pos, "%svirtio_mmio.device=%uK@0x%llx:%u",
					pos ? " " : "", VIRTIO_MMIO_WINDOW >> 10,
					(unsigned long long)s->slot[i].base, s->slot[i].gsi);
	return out;
}

void virtio_free_all(struct virtio_set *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++)
		virtio_dev_destroy(s->slot[i].dev);
	free(s);
}

int virtio_pause_all(struct virtio_set *s)
{
	int rc = 0;
	for (unsigned i = 0; s && i < s->n; i++)
		virtio_dev_pause_begin(s->slot[i].dev);
	for (unsigned i = 0; s && i < s->n; i++)
		if (virtio_dev_pause_end(s->slot[i].dev))
			rc = -1;
	return rc;
}

void virtio_resume_all(struct virtio_set *s)
{
	for (unsigned i = 0; s && i < s->n; i++)
		virtio_dev_resume(s->slot[i].dev);
}

struct virtio_dev *virtio_find_kind(const struct virtio_set *s, enum virtio_kind kind)
{
	for (unsigned i = 0; s && i < s->n; i++)
		if (s->slot[i].kind == kind)
			return s->slot[i].dev;
	return NULL;
}

struct virtio_dev *virtio_find_drive(const struct virtio_set *s, const char *drive_id)
{
	for (unsigned i = 0; s && i < s->n; i++)
		if (s->slot[i].kind == VIRTIO_KIND_BLOCK && !strcmp(s->slot[i].id, drive_id))
			return s->slot[i].dev;
	return NULL;
}

void virtio_metrics_add(const struct virtio_set *s, struct cJSON *root)
{
	for (unsigned i = 0; s && i < s->n; i++) {
		const struct virtio_slot *sl = &s->slot[i];
		char name[96];
		if (sl->kind != VIRTIO_KIND_BLOCK && sl->kind != VIRTIO_KIND_NET)
			snprintf(name, sizeof(name), "%s", sl->id);
		else
			snprintf(name, sizeof(name), "%s_%s", sl->kind == VIRTIO_KIND_BLOCK ? "block" : "net", sl->id);
		cJSON *o = cJSON_AddObjectToObject(root, name);
		if (!o)
			return;
		const struct virtio_counters *c = &sl->dev->stats;
#define C(field) cJSON_AddNumberToObject(o, #field, (double)atomic_load_explicit(&c->field, memory_order_relaxed))
		C(kicks);
		C(interrupts);
		C(requests);
		C(read_bytes);
		C(write_bytes);
		C(flushes);
		C(io_errors);
		C(bad_requests);
		C(device_errors);
		C(throttled);
		C(dropped);
		C(resets);
		C(register_errors);
#undef C
	}
}
