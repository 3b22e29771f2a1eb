/* vm_config -> JSON in the config file's shape (GET /vm/config). Whatever
 * this writes, vm_config_load_json reads back to the same config; optional
 * values that are unset are left out rather than written as null. */
#include "config/config_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Builder that remembers any allocation failure, so callers add freely and
 * check once. */
struct jb {
	bool ok;
};

static cJSON *chk(struct jb *b, cJSON *v)
{
	if (!v)
		b->ok = false;
	return v;
}

static void add_str(struct jb *b, cJSON *o, const char *k, const char *v)
{
	if (v)
		chk(b, cJSON_AddStringToObject(o, k, v));
}

static void add_num(struct jb *b, cJSON *o, const char *k, double v)
{
	chk(b, cJSON_AddNumberToObject(o, k, v));
}

static void add_bool(struct jb *b, cJSON *o, const char *k, bool v)
{
	chk(b, cJSON_AddBoolToObject(o, k, v));
}

static void add_bucket(struct jb *b, cJSON *o, const char *k, const struct cfg_token_bucket *t)
{
	cJSON *v;

	if (!t->set || !(v = chk(b, cJSON_AddObjectToObject(o, k))))
		return;
	add_num(b, v, "size", (double)t->size);
	if (t->one_time_burst)
		add_num(b, v, "one_time_burst", (double)t->one_time_burst);
	add_num(b, v, "refill_time", (double)t->refill_time_ms);
}

static void add_limiter(struct jb *b, cJSON *o, const char *k, const struct cfg_rate_limiter *rl)
{
	cJSON *v;

	if ((!rl->bandwidth.set && !rl->ops.set) || !(v = chk(b, cJSON_AddObjectToObject(o, k))))
		return;
	add_bucket(b, v, "bandwidth", &rl->bandwidth);
	add_bucket(b, v, "ops", &rl->ops);
}

static void add_machine(struct jb *b, cJSON *root, const struct cfg_machine *m)
{
	cJSON *o = chk(b, cJSON_AddObjectToObject(root, "machine-config"));

	add_num(b, o, "vcpu_count", m->vcpu_count);
	add_num(b, o, "mem_size_mib", (double)m->mem_size_mib);
	add_bool(b, o, "smt", m->smt);
	add_bool(b, o, "track_dirty_pages", m->track_dirty_pages);
	add_str(b, o, "huge_pages", cfg_huge_names[m->huge_pages]);
}

static void add_drives(struct jb *b, cJSON *root, const struct vm_config *c)
{
	cJSON *arr = chk(b, cJSON_AddArrayToObject(root, "drives"));

	for (uint32_t i = 0; arr && i < c->ndrives; i++) {
		const struct cfg_drive *d = &c->drives[i];
		cJSON *o = chk(b, cJSON_CreateObject());

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			b->ok = false;
			return;
		}
		add_str(b, o, "drive_id", d->drive_id);
		add_str(b, o, "path_on_host", d->path_on_host);
		add_bool(b, o, "is_root_device", d->is_root_device);
		add_bool(b, o, "is_read_only", d->is_read_only);
		add_str(b, o, "partuuid", d->partuuid);
		add_str(b, o, "cache_type", cfg_cache_names[d->cache_type == CFG_CACHE_WRITEBACK]);
		add_str(b, o, "io_engine", cfg_engine_names[d->io_engine == CFG_IO_ASYNC]);
		add_limiter(b, o, "rate_limiter", &d->rate_limiter);
	}
}

static void add_nets(struct jb *b, cJSON *root, const struct vm_config *c)
{
	cJSON *arr = chk(b, cJSON_AddArrayToObject(root, "network-interfaces"));

	for (uint32_t i = 0; arr && i < c->nnets; i++) {
		const struct cfg_net *n = &c->nets[i];
		cJSON *o = chk(b, cJSON_CreateObject());
		char mac[18];

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			b->ok = false;
			return;
		}
		add_str(b, o, "iface_id", n->iface_id);
		add_str(b, o, "host_dev_name", n->host_dev_name);
		if (n->has_mac) {
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->guest_mac[0],
				 n->guest_mac[1], n->guest_mac[2], n->guest_mac[3], n->guest_mac[4],
				 n->guest_mac[5]);
			add_str(b, o, "guest_mac", mac);
		}
		add_limiter(b, o, "rx_rate_limiter", &n->rx_rate_limiter);
		add_limiter(b, o, "tx_rate_limiter", &n->tx_rate_limiter);
	}
}

static void add_mmds(struct jb *b, cJSON *root, const struct cfg_mmds *m)
{
	cJSON *o, *arr;
	char ip[16];

	if (!m->set || !(o = chk(b, cJSON_AddObjectToObject(root, "mmds-config"))))
		return;
	add_str(b, o, "version", cfg_mmds_version_names[m->version == CFG_MMDS_V2]);
	arr = chk(b, cJSON_AddArrayToObject(o, "network_interfaces"));
	for (uint32_t i = 0; arr && i < m->nifaces; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(m->ifaces[i])))
			b->ok = false;
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", m->ipv4[0], m->ipv4[1], m->ipv4[2], m->ipv4[3]);
	add_str(b, o, "ipv4_address", ip);
	add_bool(b, o, "imds_compat", m->imds_compat);
}

static void add_filter(struct jb *b, cJSON *pmu, const struct cfg_pmu_filter *f)
{
	cJSON *o = chk(b, cJSON_AddObjectToObject(pmu, "filter"));
	cJSON *arr;

	add_str(b, o, "action", cfg_action_names[f->action == CFG_FILTER_DENY]);
	add_bool(b, o, "masked_events", f->masked_events);
	add_num(b, o, "fixed_counter_bitmap", f->fixed_counter_bitmap);
	arr = chk(b, cJSON_AddArrayToObject(o, "events"));
	for (uint32_t i = 0; arr && i < f->nevents && i < CFG_PMU_MAX_FILTER_EVENTS; i++) {
		const struct cfg_pmu_event *ev = &f->events[i];
		cJSON *e = chk(b, cJSON_CreateObject());
		char hex[8];

		if (!e || !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			b->ok = false;
			return;
		}
		/* Hex, as perf and the SDM write event codes. */
		snprintf(hex, sizeof(hex), "0x%02x", ev->event_select);
		add_str(b, e, "event_select", hex);
		snprintf(hex, sizeof(hex), "0x%02x", ev->unit_mask);
		add_str(b, e, "unit_mask", hex);
		if (f->masked_events) {
			snprintf(hex, sizeof(hex), "0x%02x", ev->mask);
			add_str(b, e, "mask", hex);
			add_bool(b, e, "exclude", ev->exclude);
		}
	}
}

static void add_pmu(struct jb *b, cJSON *root, const struct cfg_pmu *p)
{
	cJSON *o = chk(b, cJSON_AddObjectToObject(root, "pmu"));
	const struct {
		const char *key;
		int v;
	} nums[] = {{"version", p->version},   {"gp_counters", p->gp_counters},
		    {"fixed_counters", p->fixed_counters}, {"gp_width", p->gp_width},
		    {"fixed_width", p->fixed_width}};

	add_str(b, o, "mode", cfg_pmu_mode_name(p->mode));
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (nums[i].v >= 0) /* -1: the host's, left out */
			add_num(b, o, nums[i].key, nums[i].v);
	add_bool(b, o, "trap_event_selects", p->trap_event_selects);
	if (p->unavailable_events) {
		cJSON *arr = chk(b, cJSON_AddArrayToObject(o, "unavailable_events"));

		for (unsigned i = 0; arr && i < CFG_PMU_NUM_ARCH_EVENTS; i++)
			if (p->unavailable_events & (1u << i) &&
			    !cJSON_AddItemToArray(arr, cJSON_CreateString(cfg_pmu_arch_event_name(i))))
				b->ok = false;
	}
	if (p->filter.set)
		add_filter(b, o, &p->filter);
}

char *vm_config_to_json(const struct vm_config *c)
{
	struct jb b = {.ok = true};
	cJSON *root = cJSON_CreateObject();
	cJSON *o;
	char *text = NULL;

	if (!root)
		return NULL;
	if (c->boot.kernel_image_path) {
		o = chk(&b, cJSON_AddObjectToObject(root, "boot-source"));
		add_str(&b, o, "kernel_image_path", c->boot.kernel_image_path);
		add_str(&b, o, "boot_args", c->boot.boot_args);
		add_str(&b, o, "initrd_path", c->boot.initrd_path);
	}
	add_machine(&b, root, &c->machine);
	add_drives(&b, root, c);
	add_nets(&b, root, c);
	if (c->balloon.enabled) {
		o = chk(&b, cJSON_AddObjectToObject(root, "balloon"));
		chk(&b, cJSON_AddNumberToObject(o, "amount_mib", c->balloon.amount_mib));
		chk(&b, cJSON_AddBoolToObject(o, "deflate_on_oom", c->balloon.deflate_on_oom));
		chk(&b, cJSON_AddNumberToObject(o, "stats_polling_interval_s",
						c->balloon.stats_polling_interval_s));
		chk(&b, cJSON_AddBoolToObject(o, "free_page_reporting",
					      c->balloon.free_page_reporting));
	}
	if (c->vsock.enabled) {
		o = chk(&b, cJSON_AddObjectToObject(root, "vsock"));
		chk(&b, cJSON_AddNumberToObject(o, "guest_cid", c->vsock.guest_cid));
		add_str(&b, o, "uds_path", c->vsock.uds_path);
		if (c->vsock.vsock_id)
			add_str(&b, o, "vsock_id", c->vsock.vsock_id);
	}
	if (c->entropy.enabled) {
		o = chk(&b, cJSON_AddObjectToObject(root, "entropy"));
		add_limiter(&b, o, "rate_limiter", &c->entropy.rate_limiter);
	}
	o = chk(&b, cJSON_AddObjectToObject(root, "logger"));
	add_str(&b, o, "log_path", c->logger.log_path);
	add_str(&b, o, "level", cfg_log_level_name(c->logger.level));
	add_bool(&b, o, "show_level", c->logger.show_level);
	add_bool(&b, o, "show_log_origin", c->logger.show_log_origin);
	if (c->metrics.metrics_path) {
		o = chk(&b, cJSON_AddObjectToObject(root, "metrics"));
		add_str(&b, o, "metrics_path", c->metrics.metrics_path);
	}
	add_mmds(&b, root, &c->mmds);
	add_pmu(&b, root, &c->pmu);
	o = chk(&b, cJSON_AddObjectToObject(root, "serial"));
	add_str(&b, o, "mode", cfg_serial_kind_name(c->serial.kind));
	if (c->serial.kind == CFG_SERIAL_FILE || c->serial.kind == CFG_SERIAL_SOCKET)
		add_str(&b, o, "path", c->serial.path);
	o = chk(&b, cJSON_AddObjectToObject(root, "debug"));
	add_bool(&b, o, "exit_port", c->debug.exit_port);
	add_bool(&b, o, "boot_marker", c->debug.boot_marker);
	if (b.ok)
		text = cJSON_Print(root);
	cJSON_Delete(root);
	return text;
}
