/* The "pmu" section and its event filter: shape and host-independent ranges.
 * Whether the host can give what is asked (counter counts, widths, masked
 * events) is pmu/'s decision, made after probing the host. */
#include "config/config_int.h"

#include <string.h>

const char *const cfg_pmu_mode_names[] = {"auto", "off", "mediated", "legacy", "soft", NULL};
const char *const cfg_action_names[] = {"allow", "deny", NULL};

#define PMU_MAX_VERSION 5
#define PMU_MAX_COUNTERS 32
#define PMU_MAX_EVENT_SELECT 0xfff /* AMD's 12-bit event select */

void cfg_pmu_defaults(struct cfg_pmu *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = CFG_PMU_AUTO;
	p->version = p->gp_counters = p->fixed_counters = -1;
	p->gp_width = p->fixed_width = -1;
	p->filter.action = CFG_FILTER_ALLOW;
}

static int sec_event(const cJSON *j, const char *path, bool masked, struct cfg_pmu_event *ev,
		     struct jerr *e)
{
	static const char *const keys[] = {"event_select", "unit_mask", "mask", "exclude", NULL};
	uint64_t v;

	*ev = (struct cfg_pmu_event){.masked = masked};
	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	if (jg_uint(j, path, "event_select", JG_REQUIRED | JG_HEXSTR, 0, PMU_MAX_EVENT_SELECT, &v,
		    e) < 0)
		return -1;
	ev->event_select = (uint16_t)v;
	v = 0;
	if (jg_uint(j, path, "unit_mask", JG_HEXSTR, 0, 0xff, &v, e) < 0)
		return -1;
	ev->unit_mask = (uint8_t)v;
	/* mask/exclude only mean something in KVM's masked-event encoding. */
	if (!masked && jg_get(j, "mask"))
		return jg_fail(e, path, "mask", "only valid with \"masked_events\": true");
	if (!masked && jg_get(j, "exclude"))
		return jg_fail(e, path, "exclude", "only valid with \"masked_events\": true");
	v = 0;
	if (jg_uint(j, path, "mask", JG_HEXSTR, 0, 0xff, &v, e) < 0 ||
	    jg_bool(j, path, "exclude", 0, &ev->exclude, e) < 0)
		return -1;
	ev->mask = (uint8_t)v;
	return 0;
}

int sec_pmu_filter(const cJSON *j, const char *path, struct cfg_pmu_filter *f, struct jerr *e)
{
	static const char *const keys[] = {"action", "events", "masked_events",
					   "fixed_counter_bitmap", NULL};
	const cJSON *events = NULL;
	char p[JG_PATH_LEN], ep[JG_PATH_LEN];
	uint64_t v = 0;
	int action;
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	if (jg_enum(j, path, "action", JG_REQUIRED, cfg_action_names, &action, e) < 0 ||
	    jg_bool(j, path, "masked_events", 0, &f->masked_events, e) < 0 ||
	    jg_uint(j, path, "fixed_counter_bitmap", JG_HEXSTR, 0, UINT32_MAX, &v, e) < 0)
		return -1;
	f->action = (enum cfg_filter_action)action;
	f->fixed_counter_bitmap = (uint32_t)v;
	if (jg_array(j, path, "events", 0, CFG_PMU_MAX_FILTER_EVENTS,
		     "events (KVM_PMU_EVENT_FILTER limit)", &events, e) < 0)
		return -1;
	jg_subpath(p, sizeof(p), path, "events");
	for (const cJSON *it = events ? events->child : NULL; it; it = it->next, i++) {
		jg_index(ep, sizeof(ep), p, i);
		if (sec_event(it, ep, f->masked_events, &f->events[i], e))
			return -1;
	}
	f->nevents = (uint32_t)i;
	f->set = true;
	return 0;
}

/* Optional small integer that stays -1 ("the host's") when absent. */
static int get_num(const cJSON *j, const char *path, const char *key, uint64_t min, uint64_t max,
		   int *out, struct jerr *e)
{
	uint64_t v;
	int r = jg_uint(j, path, key, 0, min, max, &v, e);

	if (r > 0)
		*out = (int)v;
	return r < 0 ? -1 : 0;
}

int sec_pmu(const cJSON *j, const char *path, struct cfg_pmu *p, struct jerr *e)
{
	static const char *const keys[] = {"mode", "version", "gp_counters", "fixed_counters",
					   "gp_width", "fixed_width", "trap_event_selects",
					   "filter", NULL};
	const cJSON *filter;
	char fp[JG_PATH_LEN];
	int r, mode;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	if ((r = jg_enum(j, path, "mode", 0, cfg_pmu_mode_names, &mode, e)) < 0)
		return -1;
	if (r)
		p->mode = (enum cfg_pmu_mode)mode;
	if (get_num(j, path, "version", 0, PMU_MAX_VERSION, &p->version, e) ||
	    get_num(j, path, "gp_counters", 0, PMU_MAX_COUNTERS, &p->gp_counters, e) ||
	    get_num(j, path, "fixed_counters", 0, PMU_MAX_COUNTERS, &p->fixed_counters, e) ||
	    get_num(j, path, "gp_width", 1, 64, &p->gp_width, e) ||
	    get_num(j, path, "fixed_width", 1, 64, &p->fixed_width, e) ||
	    jg_bool(j, path, "trap_event_selects", 0, &p->trap_event_selects, e) < 0)
		return -1;
	filter = jg_get(j, "filter");
	if (filter) {
		jg_subpath(fp, sizeof(fp), path, "filter");
		if (sec_pmu_filter(filter, fp, &p->filter, e))
			return -1;
	}
	return 0;
}
