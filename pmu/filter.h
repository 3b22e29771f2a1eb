/* PMU event filters: the config's allow/deny list, encoded for
 * KVM_SET_PMU_EVENT_FILTER and matched in userspace the way KVM matches.
 *
 * Contract: pmu_filter_build() validates a cfg_pmu_filter for a vendor
 * (Intel: 8-bit event select; AMD: 12-bit, bits 11:8 go to bits 35:32 of the
 * event select) and kernel support (masked events need
 * KVM_CAP_PMU_EVENT_MASKED_EVENTS; at most 300 entries, KVM's limit) and
 * returns an immutable filter holding both the kernel encoding and the
 * matcher's view, or NULL with `err` naming the field. The matchers follow
 * KVM (arch/x86/kvm/pmu.c): a GP event is "included" when an entry with the
 * same event select matches its unit mask ((umask & mask) == match) and no
 * exclude entry matches; ALLOW lets included events count, DENY the others.
 * Fixed counters obey only fixed_counter_bitmap. A NULL filter allows all.
 */
#ifndef MPVM_PMU_FILTER_H
#define MPVM_PMU_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "config/config.h"
#include "pmu/probe.h"

#define PMU_FILTER_MAX_EVENTS 300 /* KVM_PMU_EVENT_FILTER_MAX_EVENTS */

#ifndef KVM_PMU_EVENT_FLAG_MASKED_EVENTS
#define KVM_PMU_EVENT_FLAG_MASKED_EVENTS (1u << 0)
#endif
#ifndef KVM_PMU_ENCODE_MASKED_ENTRY
#define KVM_PMU_ENCODE_MASKED_ENTRY(event_select, mask, match, exclude) \
	(((event_select) & 0xFFULL) | (((event_select) & 0XF00ULL) << 24) | \
	 (((mask) & 0xFFULL) << 56) | (((match) & 0xFFULL) << 8) | ((__u64)(!!(exclude)) << 55))
#endif
#ifndef KVM_CAP_PMU_EVENT_MASKED_EVENTS
#define KVM_CAP_PMU_EVENT_MASKED_EVENTS 226
#endif

struct pmu_filter {
	struct cfg_pmu_filter cfg;          /* as configured (for reports) */
	enum pmu_vendor vendor;
	size_t kvm_size;                    /* bytes of *kvm */
	struct kvm_pmu_event_filter *kvm;   /* ready for KVM_SET_PMU_EVENT_FILTER */
	uint32_t nmasked;
	uint64_t *masked;                   /* every entry in masked form (matcher) */
};

/* Event select bits KVM compares (event select + unit mask). */
#define PMU_EVENTSEL_EVENT_INTEL 0xffULL
#define PMU_EVENTSEL_EVENT_AMD 0xf000000ffULL
#define PMU_EVENTSEL_UMASK 0xff00ULL

/* The kernel encoding of one plain (unmasked) entry. */
uint64_t pmu_filter_encode_event(uint16_t event_select, uint8_t unit_mask);

struct pmu_filter *pmu_filter_build(const struct cfg_pmu_filter *f, enum pmu_vendor v,
				    bool masked_supported, char *err, size_t errlen);
void pmu_filter_free(struct pmu_filter *f);

bool pmu_filter_allows_gp(const struct pmu_filter *f, uint64_t eventsel);
bool pmu_filter_allows_fixed(const struct pmu_filter *f, int idx);

/* The 12-bit event select and unit mask of an event-select MSR value, as
 * one key (event << 8 | umask) for counting which events guests program. */
uint32_t pmu_event_key(uint64_t eventsel);

#endif
