/* The "pmu" section and its event filter: shape and host-independent ranges.
 * Whether the host can give what is asked (counter counts, widths, masked
 * events) is pmu/'s decision, made after probing the host. */
#include "base/err.h"
#include "base/utf8.h"
#include "config/config_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const cfg_pmu_mode_names[] = {"auto", "off", "mediated", "legacy", "soft", NULL};
const char *const cfg_action_names[] = {"allow", "deny", NULL};
const char *const cfg_pmu_arch_event_names[] = {"core_cycles", "instructions",
						"reference_cycles", "llc_references",
						"llc_misses", "branches", "branch_misses", NULL};

const char *cfg_pmu_arch_event_name(unsigned bit)
{
	return bit < CFG_PMU_NUM_ARCH_EVENTS ? cfg_pmu_arch_event_names[bit] : NULL;
}

static int arch_event_bit(const char *name)
{
	for (int i = 0; cfg_pmu_arch_event_names[i]; i++)
		if (!strcasecmp(name, cfg_pmu_arch_event_names[i]))
			return i;
	return -1;
}

static void event_names_list(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; cfg_pmu_arch_event_names[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s\"%s\"", i ? ", " : "",
				      cfg_pmu_arch_event_names[i]);
}

int cfg_pmu_parse_event_list(const char *s, uint32_t *mask, char *err, size_t errlen)
{
	char names[160], tok[40];
	uint64_t v;

	*mask = 0;
	if (s[0] >= '0' && s[0] <= '9') {
		bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');

		if (!jg_parse_u64(s, hex ? 16 : 10, &v)) {
			return err_set(err, errlen, "expected event names or a bitmask, got \"%s\"",
				       UTF8_CLIP(s, 41));
		}
		if (v & ~(uint64_t)CFG_PMU_ARCH_EVENTS_MASK) {
			return err_set(err, errlen, "bitmask 0x%llx has bits beyond the %d architectural events (0x%x)",
				       (unsigned long long)v, CFG_PMU_NUM_ARCH_EVENTS, CFG_PMU_ARCH_EVENTS_MASK);
		}
		*mask = (uint32_t)v;
		return 0;
	}
	for (const char *p = s;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int bit;

		snprintf(tok, sizeof(tok), "%.*s", (int)(n < sizeof(tok) ? n : sizeof(tok) - 1), p);
		bit = n && n < sizeof(tok) ? arch_event_bit(tok) : -1;
		if (bit < 0) {
			event_names_list(names, sizeof(names));
			return err_set(err, errlen, "unknown architectural event \"%s\" (expected %s, or a hex bitmask like 0x12)",
				       utf8_clip_n((char[41]){0}, 41, p, n), names);
		}
		*mask |= 1u << bit;
		if (!end)
			return 0;
		p = end + 1;
	}
}

/* "unavailable_events": ["instructions", ...] or a bitmask (number or
 * "0x.." string) of leaf 0xA EBX bits. */
static int get_unavailable(const cJSON *j, const char *path, uint32_t *out, struct jerr *e)
{
	const cJSON *v = jg_get(j, "unavailable_events"), *arr;
	char ep[JG_PATH_LEN], ap[JG_PATH_LEN], names[160], got[64];
	uint64_t m;
	size_t i = 0;
	uint32_t mask = 0;

	if (!v)
		return 0;
	if (!cJSON_IsArray(v)) {
		if (jg_uint(j, path, "unavailable_events", JG_HEXSTR, 0, CFG_PMU_ARCH_EVENTS_MASK, &m,
			    e) < 0)
			return -1;
		*out = (uint32_t)m;
		return 0;
	}
	if (jg_array(j, path, "unavailable_events", 0, 32, "events", &arr, e) < 0)
		return -1;
	jg_subpath(ap, sizeof(ap), path, "unavailable_events");
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		int bit = cJSON_IsString(it) ? arch_event_bit(it->valuestring) : -1;

		if (bit < 0) {
			jg_index(ep, sizeof(ep), ap, i);
			event_names_list(names, sizeof(names));
			jg_describe(it, got, sizeof(got));
			return jg_fail(e, ep, NULL, "expected one of %s, got %s", names, got);
		}
		mask |= 1u << bit;
	}
	*out = mask;
	return 0;
}

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
	if (jg_uint(j, path, "event_select", JG_REQUIRED | JG_HEXSTR, 0, CFG_PMU_MAX_EVENT_SELECT, &v,
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
					   "unavailable_events", "filter", NULL};
	const cJSON *filter;
	char fp[JG_PATH_LEN];
	int r, mode;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	if ((r = jg_enum(j, path, "mode", 0, cfg_pmu_mode_names, &mode, e)) < 0)
		return -1;
	if (r)
		p->mode = (enum cfg_pmu_mode)mode;
	if (get_num(j, path, "version", 0, CFG_PMU_MAX_VERSION, &p->version, e) ||
	    get_num(j, path, "gp_counters", 0, CFG_PMU_MAX_COUNTERS, &p->gp_counters, e) ||
	    get_num(j, path, "fixed_counters", 0, CFG_PMU_MAX_COUNTERS, &p->fixed_counters, e) ||
	    get_num(j, path, "gp_width", 1, CFG_PMU_MAX_WIDTH, &p->gp_width, e) ||
	    get_num(j, path, "fixed_width", 1, CFG_PMU_MAX_WIDTH, &p->fixed_width, e) ||
	    jg_bool(j, path, "trap_event_selects", 0, &p->trap_event_selects, e) < 0 ||
	    get_unavailable(j, path, &p->unavailable_events, e))
		return -1;
	filter = jg_get(j, "filter");
	if (filter) {
		jg_subpath(fp, sizeof(fp), path, "filter");
		if (sec_pmu_filter(filter, fp, &p->filter, e))
			return -1;
	}
	return 0;
}
