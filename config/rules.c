/* Every rule a configuration must follow, once. The config file's
 * sections, the API's bodies, the CLI's flags and the final validator
 * (vm_config_validate) all call these, so a rule and its message live in one
 * place; each source only names the place ("drives[1].drive_id",
 * "drive.drive_id", "--drive: id") through the path and keys it passes. */
#include "config/config_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const struct cfg_keys cfg_json_keys = {
	.drive_id = "drive_id", .path_on_host = "path_on_host", .root = "is_root_device",
	.iface_id = "iface_id", .tap = "host_dev_name", .mac = "guest_mac",
};
const struct cfg_keys cfg_cli_keys = {
	.drive_id = "id", .path_on_host = "path", .root = "root",
	.iface_id = "id", .tap = "tap", .mac = "mac",
};

bool cfg_valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > CFG_ID_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_' && id[i] != '-')
			return false;
	return true;
}

bool cfg_valid_tap(const char *name)
{
	size_t n = strlen(name);

	/* IFNAMSIZ counts the NUL; '/' and spaces are not valid in names. */
	if (n < 1 || n > CFG_TAP_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || isspace((unsigned char)name[i]))
			return false;
	return true;
}

/* "<path>.<key>: expected <what>, got "<s>"" (s NULL: not given). */
static int refuse(const char *s, const char *path, const char *key, const char *what,
		  struct jerr *e)
{
	char got[64];

	if (s)
		jg_describe_str(s, got, sizeof(got));
	else
		snprintf(got, sizeof(got), "nothing");
	return jg_fail(e, path, key, "expected %s, got %s", what, got);
}

int cfg_check_id(const char *id, const char *path, const char *key, struct jerr *e)
{
	if (id && cfg_valid_id(id))
		return 0;
	return refuse(id, path, key, "1.." CFG_STR(CFG_ID_MAX_LEN) " characters of A-Z a-z 0-9 _ -", e);
}

int cfg_check_tap(const char *name, const char *path, const char *key, struct jerr *e)
{
	if (name && cfg_valid_tap(name))
		return 0;
	return refuse(name, path, key, "a tap device name of 1.." CFG_STR(CFG_TAP_MAX_LEN) " characters",
		      e);
}

int cfg_check_drive_against(const struct cfg_drive *list, uint32_t n, const struct cfg_drive *d,
			    const char *path, const struct cfg_keys *k, struct jerr *e)
{
	/* Firecracker refuses a second root device rather than demoting one. */
	for (uint32_t i = 0; d->is_root_device && i < n; i++)
		if (list[i].is_root_device && strcmp(list[i].drive_id, d->drive_id))
			return jg_fail(e, path, k->root, "drive \"%s\" is already the root device",
				       list[i].drive_id);
	return 0;
}

int cfg_check_net_against(const struct cfg_net *list, uint32_t n, const struct cfg_net *t,
			  const char *path, const struct cfg_keys *k, struct jerr *e)
{
	/* Two interfaces on one tap or one MAC would fight over frames. */
	for (uint32_t i = 0; i < n; i++) {
		const struct cfg_net *o = &list[i];

		if (!strcmp(o->iface_id, t->iface_id))
			continue; /* the entry it replaces */
		if (!strcmp(o->host_dev_name, t->host_dev_name))
			return jg_fail(e, path, k->tap, "\"%s\" is already used by interface \"%s\"",
				       t->host_dev_name, o->iface_id);
		if (t->has_mac && o->has_mac && !memcmp(o->guest_mac, t->guest_mac, 6))
			return jg_fail(e, path, k->mac, "already used by interface \"%s\"",
				       o->iface_id);
	}
	return 0;
}

int cfg_check_unique_id(const char *id, int other, const char *path, const char *key,
			struct jerr *e)
{
	if (other < 0)
		return 0;
	return jg_fail(e, path, key, "\"%s\" is given twice", id);
}

int cfg_check_machine(const struct cfg_machine *m, const char *path, struct jerr *e)
{
	if (m->vcpu_count < 1 || m->vcpu_count > CFG_MAX_VCPUS)
		return jg_fail(e, path, "vcpu_count", "expected 1..%d, got %u", CFG_MAX_VCPUS,
			       m->vcpu_count);
	if (m->mem_size_mib < 1 || m->mem_size_mib > CFG_MAX_MEM_MIB)
		return jg_fail(e, path, "mem_size_mib", "expected 1..%d, got %llu",
			       CFG_MAX_MEM_MIB, (unsigned long long)m->mem_size_mib);
	/* Firecracker's rules: SMT siblings come in pairs; 2M pages tile memory. */
	if (m->smt && m->vcpu_count > 1 && m->vcpu_count % 2)
		return jg_fail(e, path, "vcpu_count", "must be 1 or even when smt is true, got %u",
			       m->vcpu_count);
	if (m->huge_pages == CFG_HUGE_2M && m->mem_size_mib % 2)
		return jg_fail(e, path, "mem_size_mib",
			       "must be a multiple of 2 with huge_pages \"2M\", got %llu",
			       (unsigned long long)m->mem_size_mib);
	return 0;
}

int cfg_check_serial(const struct cfg_serial *s, const char *path, struct jerr *e)
{
	if ((s->kind == CFG_SERIAL_FILE || s->kind == CFG_SERIAL_SOCKET) &&
	    (!s->path || !s->path[0]))
		return jg_fail(e, path, "path", "required with mode \"%s\"",
			       cfg_serial_kind_name(s->kind));
	return 0;
}

int cfg_check_mmds(const struct vm_config *c, const char *path, struct jerr *e)
{
	const struct cfg_mmds *m = &c->mmds;

	if (!m->set)
		return 0;
	/* Firecracker's rules: MMDS answers on named, existing interfaces. */
	if (!m->nifaces)
		return jg_fail(e, path, "network_interfaces",
			       "the list of interfaces that may reach MMDS is empty");
	for (uint32_t i = 0; i < m->nifaces; i++) {
		if (!m->ifaces[i] || cfg_find_net(c, m->ifaces[i]) < 0)
			return jg_fail(e, path, "network_interfaces",
				       "\"%s\" is not a configured network interface",
				       m->ifaces[i] ? m->ifaces[i] : "");
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(m->ifaces[k], m->ifaces[i]))
				return jg_fail(e, path, "network_interfaces",
					       "\"%s\" is given twice", m->ifaces[i]);
	}
	return 0;
}

/* A count or width that is -1 ("the host's") or in min..max. */
static bool host_or(int v, int min, int max)
{
	return v == -1 || (v >= min && v <= max);
}

int cfg_check_pmu(const struct cfg_pmu *p, const char *path, struct jerr *e)
{
	if ((unsigned)p->mode > CFG_PMU_SOFT)
		return jg_fail(e, path, "mode", "invalid value %d", (int)p->mode);
	if (!host_or(p->version, 0, CFG_PMU_MAX_VERSION))
		return jg_fail(e, path, "version", "expected -1 (host's) or 0..%d, got %d",
			       CFG_PMU_MAX_VERSION, p->version);
	if (!host_or(p->gp_counters, 0, CFG_PMU_MAX_COUNTERS) ||
	    !host_or(p->fixed_counters, 0, CFG_PMU_MAX_COUNTERS))
		return jg_fail(e, path, NULL, "counter counts must be -1 (host's) or 0..%d",
			       CFG_PMU_MAX_COUNTERS);
	if (!host_or(p->gp_width, 1, CFG_PMU_MAX_WIDTH) ||
	    !host_or(p->fixed_width, 1, CFG_PMU_MAX_WIDTH))
		return jg_fail(e, path, NULL, "counter widths must be -1 (host's) or 1..%d",
			       CFG_PMU_MAX_WIDTH);
	if (p->filter.set && p->filter.nevents > CFG_PMU_MAX_FILTER_EVENTS)
		return jg_fail(e, path, "filter.events", "at most %d events",
			       CFG_PMU_MAX_FILTER_EVENTS);
	return 0;
}
