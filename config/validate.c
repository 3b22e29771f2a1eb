/* Cross-field checks run once before boot, and the canonical enum names.
 * The parsers already enforce most of this per section; validate re-checks
 * it because the CLI and callers may also fill the struct directly. */
#include "config/config_int.h"

#include <string.h>

const char *cfg_pmu_mode_name(enum cfg_pmu_mode m)
{
	return (unsigned)m <= CFG_PMU_SOFT ? cfg_pmu_mode_names[m] : "?";
}

const char *cfg_log_level_name(enum cfg_log_level l)
{
	static const char *const names[] = {"Off", "Error", "Warning", "Info", "Debug", "Trace"};

	return l >= CFG_LOG_OFF && l <= CFG_LOG_TRACE ? names[l + 1] : "?";
}

const char *cfg_serial_kind_name(enum cfg_serial_kind k)
{
	return (unsigned)k <= CFG_SERIAL_NONE ? cfg_serial_names[k] : "?";
}

static int check_drives(const struct vm_config *c, struct jerr *e)
{
	char p[JG_PATH_LEN];
	int root = -1;

	if (c->ndrives > CFG_MAX_DRIVES)
		return jg_fail(e, "drives", NULL, "at most %d drives", CFG_MAX_DRIVES);
	for (uint32_t i = 0; i < c->ndrives; i++) {
		const struct cfg_drive *d = &c->drives[i];

		jg_index(p, sizeof(p), "drives", i);
		if (!d->drive_id || !cfg_valid_id(d->drive_id))
			return jg_fail(e, p, "drive_id", "missing or not 1..64 of A-Z a-z 0-9 _ -");
		if (!d->path_on_host || !d->path_on_host[0])
			return jg_fail(e, p, "path_on_host", "not set");
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(c->drives[k].drive_id, d->drive_id))
				return jg_fail(e, p, "drive_id", "\"%s\" is also drives[%u]",
					       d->drive_id, k);
		if (d->is_root_device) {
			if (root >= 0)
				return jg_fail(e, p, "is_root_device",
					       "drives[%d] is already the root device", root);
			root = (int)i;
		}
	}
	return 0;
}

static int check_nets(const struct vm_config *c, struct jerr *e)
{
	char p[JG_PATH_LEN];

	if (c->nnets > CFG_MAX_NETS)
		return jg_fail(e, "network-interfaces", NULL, "at most %d interfaces",
			       CFG_MAX_NETS);
	for (uint32_t i = 0; i < c->nnets; i++) {
		const struct cfg_net *n = &c->nets[i];

		jg_index(p, sizeof(p), "network-interfaces", i);
		if (!n->iface_id || !cfg_valid_id(n->iface_id))
			return jg_fail(e, p, "iface_id", "missing or not 1..64 of A-Z a-z 0-9 _ -");
		if (!n->host_dev_name || !cfg_valid_tap(n->host_dev_name))
			return jg_fail(e, p, "host_dev_name", "missing or not 1..15 characters");
		for (uint32_t k = 0; k < i; k++) {
			const struct cfg_net *o = &c->nets[k];

			if (!strcmp(o->iface_id, n->iface_id))
				return jg_fail(e, p, "iface_id", "\"%s\" is also "
					       "network-interfaces[%u]", n->iface_id, k);
			if (!strcmp(o->host_dev_name, n->host_dev_name))
				return jg_fail(e, p, "host_dev_name", "\"%s\" is also used by "
					       "network-interfaces[%u]", n->host_dev_name, k);
			if (n->has_mac && o->has_mac && !memcmp(n->guest_mac, o->guest_mac, 6))
				return jg_fail(e, p, "guest_mac", "also used by "
					       "network-interfaces[%u]", k);
		}
	}
	return 0;
}

static int check_pmu(const struct cfg_pmu *p, struct jerr *e)
{
	if ((unsigned)p->mode > CFG_PMU_SOFT)
		return jg_fail(e, "pmu", "mode", "invalid value %d", (int)p->mode);
	if (p->version < -1 || p->version > 5)
		return jg_fail(e, "pmu", "version", "expected -1 (host's) or 0..5, got %d",
			       p->version);
	if (p->gp_counters < -1 || p->gp_counters > 32 || p->fixed_counters < -1 ||
	    p->fixed_counters > 32)
		return jg_fail(e, "pmu", NULL, "counter counts must be -1 (host's) or 0..32");
	if (p->gp_width == 0 || p->gp_width < -1 || p->gp_width > 64 || p->fixed_width == 0 ||
	    p->fixed_width < -1 || p->fixed_width > 64)
		return jg_fail(e, "pmu", NULL, "counter widths must be -1 (host's) or 1..64");
	if (p->filter.set && p->filter.nevents > CFG_PMU_MAX_FILTER_EVENTS)
		return jg_fail(e, "pmu.filter", "events", "at most %d events",
			       CFG_PMU_MAX_FILTER_EVENTS);
	return 0;
}

int vm_config_validate(const struct vm_config *c, char *err, size_t errlen)
{
	struct jerr e = {err, errlen};
	const struct cfg_machine *m = &c->machine;

	if (!c->boot.kernel_image_path || !c->boot.kernel_image_path[0])
		return jg_fail(&e, "boot-source", "kernel_image_path",
			       "not set (give --kernel, a \"boot-source\" section in the config "
			       "file, or PUT /boot-source)");
	if (m->vcpu_count < 1 || m->vcpu_count > CFG_MAX_VCPUS)
		return jg_fail(&e, "machine-config", "vcpu_count", "expected 1..%d, got %u",
			       CFG_MAX_VCPUS, m->vcpu_count);
	if (m->mem_size_mib < 1 || m->mem_size_mib > CFG_MAX_MEM_MIB)
		return jg_fail(&e, "machine-config", "mem_size_mib", "expected 1..%d, got %llu",
			       CFG_MAX_MEM_MIB, (unsigned long long)m->mem_size_mib);
	if (m->smt && m->vcpu_count > 1 && m->vcpu_count % 2)
		return jg_fail(&e, "machine-config", "vcpu_count",
			       "must be 1 or even when smt is true, got %u", m->vcpu_count);
	if (m->huge_pages == CFG_HUGE_2M && m->mem_size_mib % 2)
		return jg_fail(&e, "machine-config", "mem_size_mib",
			       "must be a multiple of 2 with huge_pages \"2M\"");
	if (check_drives(c, &e) || check_nets(c, &e) || check_pmu(&c->pmu, &e))
		return -1;
	if ((c->serial.kind == CFG_SERIAL_FILE || c->serial.kind == CFG_SERIAL_SOCKET) &&
	    (!c->serial.path || !c->serial.path[0]))
		return jg_fail(&e, "serial", "path", "required with mode \"%s\"",
			       cfg_serial_kind_name(c->serial.kind));
	return 0;
}
