/* Event filter construction and the userspace matcher (mirrors KVM). */
#include "base/err.h"
#include "pmu/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MASKED_MASK_SHIFT 56
#define MASKED_MATCH 0xff00ULL
#define MASKED_EXCLUDE (1ULL << 55)

uint64_t pmu_filter_encode_event(uint16_t event_select, uint8_t unit_mask)
{
	return (event_select & 0xffULL) | ((event_select & 0xf00ULL) << 24) |
	       ((uint64_t)unit_mask << 8);
}

uint32_t pmu_event_key(uint64_t eventsel)
{
	uint32_t event = (uint32_t)(eventsel & 0xff) | (uint32_t)((eventsel >> 24) & 0xf00);
	return event << 8 | (uint32_t)((eventsel >> 8) & 0xff);
}

struct pmu_filter *pmu_filter_build(const struct cfg_pmu_filter *cf, enum pmu_vendor v,
				    bool masked_supported, char *err, size_t errlen)
{
	const uint16_t max_event = v == PMU_VENDOR_AMD ? 0xfff : 0xff;

	if (cf->nevents > PMU_FILTER_MAX_EVENTS) {
		err_set(err, errlen, "pmu.filter.events: %u entries, KVM accepts at most %d",
			cf->nevents, PMU_FILTER_MAX_EVENTS);
		return NULL;
	}
	if (cf->masked_events && !masked_supported) {
		err_set(err, errlen,
			"pmu.filter.masked_events: this kernel lacks KVM_CAP_PMU_EVENT_MASKED_EVENTS (Linux 6.3+); use plain events");
		return NULL;
	}
	for (uint32_t i = 0; i < cf->nevents; i++) {
		const struct cfg_pmu_event *e = &cf->events[i];
		if (e->event_select > max_event) {
			err_set(err, errlen,
				"pmu.filter.events[%u].event_select: 0x%x is wider than %s's %d-bit event select",
				i, e->event_select, v == PMU_VENDOR_AMD ? "AMD" : "Intel",
				v == PMU_VENDOR_AMD ? 12 : 8);
			return NULL;
		}
		if (e->masked != cf->masked_events) {
			err_set(err, errlen, "pmu.filter.events[%u]: %s entry in a filter with masked_events %s",
				i, e->masked ? "masked" : "plain", cf->masked_events ? "true" : "false");
			return NULL;
		}
	}

	struct pmu_filter *f = calloc(1, sizeof(*f));
	size_t n = cf->nevents;
	if (!f)
		goto oom;
	f->cfg = *cf;
	f->vendor = v;
	f->kvm_size = sizeof(*f->kvm) + n * sizeof(uint64_t);
	f->kvm = calloc(1, f->kvm_size);
	f->masked = calloc(n ? n : 1, sizeof(uint64_t));
	if (!f->kvm || !f->masked)
		goto oom;
	f->kvm->action = cf->action == CFG_FILTER_DENY ? KVM_PMU_EVENT_DENY : KVM_PMU_EVENT_ALLOW;
	f->kvm->fixed_counter_bitmap = cf->fixed_counter_bitmap;
	f->kvm->flags = cf->masked_events ? KVM_PMU_EVENT_FLAG_MASKED_EVENTS : 0;
	f->kvm->nevents = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_pmu_event *e = &cf->events[i];
		/* A plain entry is a masked one that must match the whole unit
		 * mask: that is how KVM converts it. */
		uint64_t m = KVM_PMU_ENCODE_MASKED_ENTRY(e->event_select, cf->masked_events ? e->mask : 0xff,
							 e->unit_mask, cf->masked_events && e->exclude);
		f->kvm->events[i] = cf->masked_events ? m : pmu_filter_encode_event(e->event_select, e->unit_mask);
		f->masked[f->nmasked++] = m;
	}
	return f;
oom:
	pmu_filter_free(f);
	err_set(err, errlen, "pmu.filter: out of memory");
	return NULL;
}

void pmu_filter_free(struct pmu_filter *f)
{
	if (!f)
		return;
	free(f->kvm);
	free(f->masked);
	free(f);
}

static bool contains_match(const struct pmu_filter *f, uint64_t eventsel, bool exclude)
{
	const uint64_t sel_mask = f->vendor == PMU_VENDOR_AMD ? PMU_EVENTSEL_EVENT_AMD : PMU_EVENTSEL_EVENT_INTEL;
	const uint64_t sel = eventsel & sel_mask, umask = eventsel & PMU_EVENTSEL_UMASK;

	for (uint32_t i = 0; i < f->nmasked; i++) {
		uint64_t e = f->masked[i];
		if (!!(e & MASKED_EXCLUDE) != exclude || (e & sel_mask) != sel)
			continue;
		uint64_t mask = (e >> (MASKED_MASK_SHIFT - 8)) & PMU_EVENTSEL_UMASK;
		if ((umask & mask) == (e & MASKED_MATCH))
			return true;
	}
	return false;
}

bool pmu_filter_allows_gp(const struct pmu_filter *f, uint64_t eventsel)
{
	if (!f)
		return true;
	bool included = contains_match(f, eventsel, false) && !contains_match(f, eventsel, true);
	return included == (f->cfg.action == CFG_FILTER_ALLOW);
}

bool pmu_filter_allows_fixed(const struct pmu_filter *f, int idx)
{
	if (!f)
		return true;
	bool listed = idx >= 0 && idx < 32 && (f->cfg.fixed_counter_bitmap & (1u << idx));
	return f->cfg.action == CFG_FILTER_ALLOW ? listed : !listed;
}
