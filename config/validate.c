/* The one validator, run once before boot, and the canonical enum names.
 * The parsers already apply the same rules (rules.c) per section; this runs
 * them over the whole config because the CLI and callers may also fill the
 * struct directly. */
#include "config/config_int.h"

#include <string.h>

const char *cfg_pmu_mode_name(enum cfg_pmu_mode m)
{
	return (unsigned)m <= CFG_PMU_SOFT ? cfg_pmu_mode_names[m] : "?";
}

const char *cfg_log_level_name(enum cfg_log_level l)
{
	return l >= CFG_LOG_OFF && l <= CFG_LOG_TRACE ? cfg_log_level_names[l + 1] : "?";
}

const char *cfg_serial_kind_name(enum cfg_serial_kind k)
{
	return (unsigned)k <= CFG_SERIAL_NONE ? cfg_serial_names[k] : "?";
}

static int check_drives(const struct vm_config *c, struct jerr *e)
{
	char p[JG_PATH_LEN];

	if (c->ndrives > CFG_MAX_DRIVES)
		return jg_fail(e, "drives", NULL, "at most %d drives", CFG_MAX_DRIVES);
	for (uint32_t i = 0; i < c->ndrives; i++) {
		const struct cfg_drive *d = &c->drives[i];
		int other = -1;

		jg_index(p, sizeof(p), "drives", i);
		if (cfg_check_id(d->drive_id, p, "drive_id", e))
			return -1;
		if (!d->path_on_host || !d->path_on_host[0])
			return jg_fail(e, p, "path_on_host", "not set");
		for (uint32_t k = 0; k < i && other < 0; k++)
			if (!strcmp(c->drives[k].drive_id, d->drive_id))
				other = (int)k;
		if (cfg_check_unique_id(d->drive_id, other, p, "drive_id", e) ||
		    cfg_check_drive_against(c->drives, i, d, p, &cfg_json_keys, e))
			return -1;
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
		int other = -1;

		jg_index(p, sizeof(p), "network-interfaces", i);
		if (cfg_check_id(n->iface_id, p, "iface_id", e) ||
		    cfg_check_tap(n->host_dev_name, p, "host_dev_name", e))
			return -1;
		for (uint32_t k = 0; k < i && other < 0; k++)
			if (!strcmp(c->nets[k].iface_id, n->iface_id))
				other = (int)k;
		if (cfg_check_unique_id(n->iface_id, other, p, "iface_id", e) ||
		    cfg_check_net_against(c->nets, i, n, p, &cfg_json_keys, e))
			return -1;
	}
	return 0;
}

int vm_config_validate(const struct vm_config *c, char *err, size_t errlen)
{
	struct jerr e = {err, errlen};

	if (!c->boot.kernel_image_path || !c->boot.kernel_image_path[0])
		return jg_fail(&e, "boot-source", "kernel_image_path",
			       "not set (give --kernel, a \"boot-source\" section in the config "
			       "file, or PUT /boot-source)");
	if (cfg_check_machine(&c->machine, "machine-config", &e) || check_drives(c, &e) ||
	    check_nets(c, &e) || cfg_check_mmds(c, "mmds-config", &e) ||
	    cfg_check_pmu(&c->pmu, "pmu", &e) ||
	    cfg_check_serial(&c->serial, "serial", &e))
		return -1;
	return 0;
}
