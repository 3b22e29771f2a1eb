/* PMU event filters: the encoding KVM_SET_PMU_EVENT_FILTER receives, the
 * limits, and the userspace matcher that must agree with KVM's. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pmu/filter.h"
#include "pmu/soft.h"

static char err[512];

#define EN_USR_OS (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS)

static struct cfg_pmu_filter *plain(enum cfg_filter_action a, int n, const uint16_t (*ev)[2])
{
	struct cfg_pmu_filter *f = calloc(1, sizeof(*f));
	f->set = true;
	f->action = a;
	for (int i = 0; i < n; i++)
		f->events[f->nevents++] = (struct cfg_pmu_event){ .event_select = ev[i][0],
								  .unit_mask = (uint8_t)ev[i][1] };
	return f;
}

START_TEST(intel_plain_entries_encode_umask_over_event)
{
	const uint16_t ev[][2] = { { 0x3c, 0x00 }, { 0x2e, 0x4f }, { 0xc5, 0x00 } };
	struct cfg_pmu_filter *c = plain(CFG_FILTER_DENY, 3, ev);
	c->fixed_counter_bitmap = 0x5;
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_INTEL, false, err, sizeof(err));
	ck_assert_msg(f, "%s", err);
	ck_assert_uint_eq(f->kvm->action, KVM_PMU_EVENT_DENY);
	ck_assert_uint_eq(f->kvm->nevents, 3);
	ck_assert_uint_eq(f->kvm->flags, 0);
	ck_assert_uint_eq(f->kvm->fixed_counter_bitmap, 0x5);
	ck_assert_uint_eq(f->kvm->events[0], 0x3c);
	ck_assert_uint_eq(f->kvm->events[1], 0x4f2e);
	ck_assert_uint_eq(f->kvm_size, sizeof(struct kvm_pmu_event_filter) + 3 * sizeof(uint64_t));
	pmu_filter_free(f);
	free(c);
}
END_TEST

START_TEST(amd_12_bit_event_select_goes_to_bits_35_32)
{
	const uint16_t ev[][2] = { { 0x1c0, 0x02 } };
	struct cfg_pmu_filter *c = plain(CFG_FILTER_ALLOW, 1, ev);
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_AMD, false, err, sizeof(err));
	ck_assert_msg(f, "%s", err);
	ck_assert_uint_eq(f->kvm->events[0], 0x1000002c0ULL);
	/* The AMD guest's PERF_CTL with EventSelect[11:8] = 1 matches it. */
	ck_assert(pmu_filter_allows_gp(f, EN_USR_OS | 0x1000002c0ULL));
	ck_assert(!pmu_filter_allows_gp(f, EN_USR_OS | 0x2c0));
	ck_assert_uint_eq(pmu_event_key(EN_USR_OS | 0x1000002c0ULL), 0x1c002);
	pmu_filter_free(f);
	free(c);
}
END_TEST

START_TEST(intel_rejects_event_selects_wider_than_8_bits)
{
	const uint16_t ev[][2] = { { 0x3c, 0 }, { 0x1c0, 0 } };
	struct cfg_pmu_filter *c = plain(CFG_FILTER_ALLOW, 2, ev);
	ck_assert_ptr_null(pmu_filter_build(c, PMU_VENDOR_INTEL, true, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "events[1].event_select"));
	free(c);
}
END_TEST

START_TEST(more_than_300_events_is_an_error)
{
	struct cfg_pmu_filter *c = plain(CFG_FILTER_DENY, 0, NULL);
	c->nevents = 300;
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_INTEL, false, err, sizeof(err));
	ck_assert_msg(f, "300 is KVM's limit and allowed: %s", err);
	pmu_filter_free(f);
	c->nevents = 301;
	ck_assert_ptr_null(pmu_filter_build(c, PMU_VENDOR_INTEL, false, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "at most 300"));
	free(c);
}
END_TEST

START_TEST(masked_events_need_the_kernel_capability)
{
	struct cfg_pmu_filter *c = plain(CFG_FILTER_ALLOW, 0, NULL);
	c->masked_events = true;
	c->events[c->nevents++] = (struct cfg_pmu_event){ .event_select = 0xd0, .unit_mask = 0x80,
							  .mask = 0xf0, .masked = true };
	ck_assert_ptr_null(pmu_filter_build(c, PMU_VENDOR_INTEL, false, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "KVM_CAP_PMU_EVENT_MASKED_EVENTS"));
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_INTEL, true, err, sizeof(err));
	ck_assert_msg(f, "%s", err);
	ck_assert_uint_eq(f->kvm->flags, KVM_PMU_EVENT_FLAG_MASKED_EVENTS);
	ck_assert_uint_eq(f->kvm->events[0], KVM_PMU_ENCODE_MASKED_ENTRY(0xd0, 0xf0, 0x80, 0));
	ck_assert_uint_eq(f->kvm->events[0], 0xf0000000000080d0ULL);
	pmu_filter_free(f);
	free(c);
}
END_TEST

START_TEST(plain_and_masked_entries_do_not_mix)
{
	struct cfg_pmu_filter *c = plain(CFG_FILTER_ALLOW, 0, NULL);
	c->events[c->nevents++] = (struct cfg_pmu_event){ .event_select = 0xd0, .masked = true };
	ck_assert_ptr_null(pmu_filter_build(c, PMU_VENDOR_INTEL, true, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "events[0]"));
	free(c);
}
END_TEST

START_TEST(deny_list_denies_exactly_the_listed_event_and_umask)
{
	const uint16_t ev[][2] = { { 0x3c, 0x00 } };
	struct cfg_pmu_filter *c = plain(CFG_FILTER_DENY, 1, ev);
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_INTEL, false, err, sizeof(err));
	ck_assert(!pmu_filter_allows_gp(f, EN_USR_OS | EVTSEL_INT | 0x3c));  /* core cycles */
	ck_assert(pmu_filter_allows_gp(f, EN_USR_OS | 0x13c));               /* reference cycles */
	ck_assert(pmu_filter_allows_gp(f, EN_USR_OS | 0xc0));
	/* Fixed counters obey only the bitmap (empty: none denied). */
	ck_assert(pmu_filter_allows_fixed(f, 1));
	pmu_filter_free(f);
	free(c);
}
END_TEST

START_TEST(allow_list_allows_only_the_listed_events)
{
	const uint16_t ev[][2] = { { 0x3c, 0x01 } };
	struct cfg_pmu_filter *c = plain(CFG_FILTER_ALLOW, 1, ev);
	c->fixed_counter_bitmap = 0x4;
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_INTEL, false, err, sizeof(err));
	ck_assert(pmu_filter_allows_gp(f, EN_USR_OS | 0x13c));
	ck_assert(!pmu_filter_allows_gp(f, EN_USR_OS | 0x3c));
	ck_assert(!pmu_filter_allows_fixed(f, 1));
	ck_assert(pmu_filter_allows_fixed(f, 2));
	pmu_filter_free(f);
	free(c);
}
END_TEST

START_TEST(deny_bitmap_denies_the_listed_fixed_counters)
{
	struct cfg_pmu_filter *c = plain(CFG_FILTER_DENY, 0, NULL);
	c->fixed_counter_bitmap = 0x2;
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_INTEL, false, err, sizeof(err));
	ck_assert(pmu_filter_allows_fixed(f, 0));
	ck_assert(!pmu_filter_allows_fixed(f, 1));
	ck_assert(pmu_filter_allows_gp(f, EN_USR_OS | 0x3c));
	pmu_filter_free(f);
	free(c);
}
END_TEST

START_TEST(masked_entries_match_under_the_mask_and_exclude_wins)
{
	struct cfg_pmu_filter *c = plain(CFG_FILTER_ALLOW, 0, NULL);
	c->masked_events = true;
	/* event 0xd0, any unit mask with the top nibble 8 ... */
	c->events[c->nevents++] = (struct cfg_pmu_event){ .event_select = 0xd0, .unit_mask = 0x80,
							  .mask = 0xf0, .masked = true };
	/* ... except exactly 0x83. */
	c->events[c->nevents++] = (struct cfg_pmu_event){ .event_select = 0xd0, .unit_mask = 0x83,
							  .mask = 0xff, .masked = true, .exclude = true };
	struct pmu_filter *f = pmu_filter_build(c, PMU_VENDOR_INTEL, true, err, sizeof(err));
	ck_assert_msg(f, "%s", err);
	ck_assert(pmu_filter_allows_gp(f, EN_USR_OS | 0x81d0));
	ck_assert(pmu_filter_allows_gp(f, EN_USR_OS | 0x8fd0));
	ck_assert(!pmu_filter_allows_gp(f, EN_USR_OS | 0x83d0));  /* excluded */
	ck_assert(!pmu_filter_allows_gp(f, EN_USR_OS | 0x01d0));  /* top nibble differs */
	ck_assert(!pmu_filter_allows_gp(f, EN_USR_OS | 0x81d1));  /* other event */
	pmu_filter_free(f);
	free(c);
}
END_TEST

START_TEST(no_filter_allows_everything)
{
	ck_assert(pmu_filter_allows_gp(NULL, EN_USR_OS | 0x3c));
	ck_assert(pmu_filter_allows_fixed(NULL, 0));
	ck_assert_uint_eq(pmu_filter_encode_event(0x3c, 0x01), 0x13c);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_filter");
	TCase *t = tcase_create("filter");
	tcase_add_test(t, intel_plain_entries_encode_umask_over_event);
	tcase_add_test(t, amd_12_bit_event_select_goes_to_bits_35_32);
	tcase_add_test(t, intel_rejects_event_selects_wider_than_8_bits);
	tcase_add_test(t, more_than_300_events_is_an_error);
	tcase_add_test(t, masked_events_need_the_kernel_capability);
	tcase_add_test(t, plain_and_masked_entries_do_not_mix);
	tcase_add_test(t, deny_list_denies_exactly_the_listed_event_and_umask);
	tcase_add_test(t, allow_list_allows_only_the_listed_events);
	tcase_add_test(t, deny_bitmap_denies_the_listed_fixed_counters);
	tcase_add_test(t, masked_entries_match_under_the_mask_and_exclude_wins);
	tcase_add_test(t, no_filter_allows_everything);
	suite_add_tcase(su, t);
	return run_suite(su);
}
