/* CPUID shaping: the PMU each kind of host gives a guest, per mode and
 * config, and the CPUID leaves that carry it (docs/pmu.md §3). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pmu/shape.h"
#include "pmu_test_hosts.h"

static struct fake_host fh;
static struct pmu_host h;
static struct pmu_shape s;
static char err[512];

static void teardown(void)
{
	fh_cleanup(&fh);
}

/* A KVM-like table with every PMU leaf present and dirty. */
static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(struct kvm_cpuid_entry2));
	struct kvm_cpuid_entry2 *e = c->entries;
	e[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x20 };
	e[1] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = 0xffffffff };
	e[2] = (struct kvm_cpuid_entry2){ .function = 0xa, .eax = 0x07300805, .ebx = 0x55, .edx = 0x603 };
	e[3] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0xffffffff };
	e[4] = (struct kvm_cpuid_entry2){ .function = 0x80000022, .eax = 7, .ebx = 0x3ff, .ecx = 1 };
	c->nent = 5;
	return c;
}

static struct kvm_cpuid_entry2 *leaf(struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

static int shape(enum pmu_mode m, struct cfg_pmu c)
{
	return pmu_shape_compute(&s, m, &c, &h, err, sizeof(err));
}

START_TEST(intel_8gp_3fixed_v5_mediated_is_full_pass_through)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, cfg_mode(CFG_PMU_MEDIATED)), 0);
	ck_assert_int_eq(s.version, 2);
	ck_assert_int_eq(s.gp, 8);
	ck_assert_int_eq(s.fixed, 3);
	ck_assert(s.globals_direct);
	ck_assert(s.rdpmc_direct);
	ck_assert_int_eq(s.globals_why.n + s.rdpmc_why.n, 0);
	ck_assert(s.pdcm);
	ck_assert_uint_eq(s.perf_caps, PMU_PERF_CAP_FW_WRITES); /* only what mpvm promises */

	struct kvm_cpuid2 *c = table();
	ck_assert_uint_eq(pmu_shape_apply(&s, c), 0);
	ck_assert_uint_eq(leaf(c, 0xa)->eax, 2u | 8u << 8 | 48u << 16 | 7u << 24);
	ck_assert_uint_eq(leaf(c, 0xa)->edx, 3u | 48u << 5);
	ck_assert(leaf(c, 1)->ecx & (1u << 15));
	ck_assert(!(leaf(c, 0x80000001)->ecx & (1u << 23)));
	ck_assert_uint_eq(leaf(c, 0x80000022)->eax, 0);
	free(c);
}
END_TEST

START_TEST(fewer_gp_counters_work_but_globals_and_rdpmc_exit_to_kvm)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	fh_probe(&fh, &h);
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.gp_counters = 4;
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, c), 0);
	ck_assert_int_eq(s.gp, 4);
	ck_assert(!s.globals_direct);
	ck_assert(!s.rdpmc_direct);
	ck_assert_int_eq(s.globals_why.n, 1);
	ck_assert_str_eq(s.globals_why.line[0], "the guest has 4 GP counters, the host 8");
}
END_TEST

START_TEST(more_counters_than_the_host_is_a_config_error)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	fh_probe(&fh, &h);
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.gp_counters = 12;
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "pmu.gp_counters: 12 asked, but the host has 8"));
	c = cfg_mode(CFG_PMU_LEGACY);
	c.gp_width = 64;
	ck_assert_int_eq(shape(PMU_MODE_LEGACY, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "pmu.gp_width"));
	c = cfg_mode(CFG_PMU_MEDIATED);
	c.version = 3;
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "version 2 at most"));
}
END_TEST

/* KVM 7.0 exposes 3 of a host's 4 fixed counters: the shape takes that
 * limit from KVM_GET_SUPPORTED_CPUID, so the globals stay intercepted. */
START_TEST(intel_with_4_fixed_counters_keeps_globals_intercepted)
{
	fh_intel(&fh, 5, 8, 48, 4, 48, "Y", 0);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, cfg_mode(CFG_PMU_MEDIATED)), 0);
	ck_assert_int_eq(s.fixed, 3);
	ck_assert(!s.globals_direct);
	ck_assert_str_eq(s.globals_why.line[0], "the guest has 3 fixed counters, the host 4");
	ck_assert_ptr_nonnull(strstr(s.kvm_limit, "KVM_GET_SUPPORTED_CPUID offers 8 GP and 3 fixed counters of the host's 8 and 4"));
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.fixed_counters = 4;
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "pmu.fixed_counters: 4 asked, but the host has 4 and KVM exposes 3"));
}
END_TEST

/* A kernel whose KVM offers all 4 (the pending patch for mediated VMs):
 * no literal 3 in mpvm stands in the way of full pass-through. */
START_TEST(kvm_fixed_counter_limit_comes_from_kvm_get_supported_cpuid)
{
	fh_intel(&fh, 5, 8, 48, 4, 48, "Y", 0);
	fh_kvm_fixed_cap(&fh, 4);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, cfg_mode(CFG_PMU_MEDIATED)), 0);
	ck_assert_int_eq(s.fixed, 4);
	ck_assert(s.globals_direct);
	ck_assert(s.rdpmc_direct);
	ck_assert_str_eq(s.kvm_limit, "");
}
END_TEST

START_TEST(version_1_has_no_fixed_counters_in_cpuid)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "N", 0);
	fh_probe(&fh, &h);
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	c.version = 1;
	ck_assert_int_eq(shape(PMU_MODE_LEGACY, c), 0);
	ck_assert_int_eq(s.fixed, 0);
	uint32_t a[4];
	pmu_shape_leaf_a(&s, a);
	ck_assert_uint_eq(a[0] & 0xff, 1);
	ck_assert_uint_eq(a[3], 0);
	c.fixed_counters = 2;
	ck_assert_int_eq(shape(PMU_MODE_LEGACY, c), -1);
}
END_TEST

START_TEST(amd_zen4_perfmon_v2_mediated)
{
	fh_amd_zen4(&fh, "Y", 0);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, cfg_mode(CFG_PMU_MEDIATED)), 0);
	ck_assert_int_eq(s.flavour, PMU_VENDOR_AMD);
	ck_assert(s.amd_perfctr_core);
	ck_assert(s.amd_perfmon_v2);
	ck_assert_int_eq(s.gp, 6);
	ck_assert(s.globals_direct);
	ck_assert(!s.pdcm);

	struct kvm_cpuid2 *c = table();
	ck_assert_uint_eq(pmu_shape_apply(&s, c), 0);
	ck_assert_uint_eq(leaf(c, 0xa)->eax, 0);   /* AMD: no leaf 0xA PMU */
	ck_assert(!(leaf(c, 1)->ecx & (1u << 15)));
	ck_assert(leaf(c, 0x80000001)->ecx & (1u << 23));
	ck_assert_uint_eq(leaf(c, 0x80000022)->eax, 1);
	ck_assert_uint_eq(leaf(c, 0x80000022)->ebx, 6);
	ck_assert_uint_eq(leaf(c, 0x80000022)->ecx, 0);
	free(c);
}
END_TEST

START_TEST(amd_counter_counts_follow_the_architecture)
{
	fh_amd_zen4(&fh, "N", 0);
	fh_probe(&fh, &h);
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	c.version = 1;
	c.gp_counters = 4; /* K7 counters only */
	ck_assert_int_eq(shape(PMU_MODE_LEGACY, c), 0);
	ck_assert(!s.amd_perfctr_core);
	ck_assert(!s.amd_perfmon_v2);
	c.gp_counters = 5;
	ck_assert_int_eq(shape(PMU_MODE_LEGACY, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "4 counters (K7) or 6 (PerfCtrExtCore)"));
	c = cfg_mode(CFG_PMU_LEGACY);
	c.fixed_counters = 1;
	ck_assert_int_eq(shape(PMU_MODE_LEGACY, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "no fixed counters"));
}
END_TEST

START_TEST(off_clears_every_pmu_bit_on_intel_and_amd)
{
	fh_amd_zen4(&fh, "Y", 0);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_OFF, cfg_mode(CFG_PMU_OFF)), 0);
	struct kvm_cpuid2 *c = table();
	ck_assert_uint_eq(pmu_shape_apply(&s, c), 0);
	ck_assert_uint_eq(leaf(c, 0xa)->eax | leaf(c, 0xa)->ebx | leaf(c, 0xa)->ecx | leaf(c, 0xa)->edx, 0);
	ck_assert(!(leaf(c, 1)->ecx & (1u << 15)));
	ck_assert_uint_eq(leaf(c, 1)->ecx, 0xffffffffu & ~(1u << 15)); /* other bits untouched */
	ck_assert(!(leaf(c, 0x80000001)->ecx & (1u << 23)));
	ck_assert_uint_eq(leaf(c, 0x80000022)->eax | leaf(c, 0x80000022)->ebx | leaf(c, 0x80000022)->ecx, 0);
	free(c);
}
END_TEST

START_TEST(hybrid_intel_offers_soft_with_the_architectural_pmu)
{
	fh_hybrid(&fh);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_SOFT, cfg_mode(CFG_PMU_SOFT)), 0);
	ck_assert_int_eq(s.flavour, PMU_VENDOR_INTEL);
	ck_assert_int_eq(s.gp, SOFT_DEFAULT_GP);
}
END_TEST

START_TEST(no_pmu_host_soft_defaults_mark_all_but_cycles_unavailable)
{
	fh_no_pmu(&fh);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_SOFT, cfg_mode(CFG_PMU_SOFT)), 0);
	struct kvm_cpuid2 *c = table();
	ck_assert_uint_eq(pmu_shape_apply(&s, c), 0);
	ck_assert_uint_eq(leaf(c, 0xa)->eax, 2u | 4u << 8 | 48u << 16 | 7u << 24);
	ck_assert_uint_eq(leaf(c, 0xa)->ebx, 0x7a); /* bits 0 and 2 clear: core and ref cycles */
	ck_assert_uint_eq(leaf(c, 0xa)->edx, 3u | 48u << 5);
	ck_assert(leaf(c, 1)->ecx & (1u << 15));
	ck_assert_uint_eq(s.perf_caps, PMU_PERF_CAP_FW_WRITES);
	/* The model is Intel's architectural PMU, also on this AMD host. */
	ck_assert(!(leaf(c, 0x80000001)->ecx & (1u << 23)));
	ck_assert_uint_eq(leaf(c, 0x80000022)->eax, 0);
	free(c);
	/* The in-kernel modes have nothing to shape from here. */
	ck_assert_int_eq(shape(PMU_MODE_LEGACY, cfg_mode(CFG_PMU_LEGACY)), -1);
}
END_TEST

START_TEST(soft_limits_are_config_errors)
{
	fh_no_pmu(&fh);
	fh_probe(&fh, &h);
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	c.gp_counters = 9;
	ck_assert_int_eq(shape(PMU_MODE_SOFT, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "pmu.gp_counters: the soft model has at most 8"));
	c = cfg_mode(CFG_PMU_SOFT);
	c.fixed_counters = 4;
	ck_assert_int_eq(shape(PMU_MODE_SOFT, c), -1);
	c = cfg_mode(CFG_PMU_SOFT);
	c.gp_width = 49;
	ck_assert_int_eq(shape(PMU_MODE_SOFT, c), -1);
	c = cfg_mode(CFG_PMU_SOFT);
	c.version = 3;
	ck_assert_int_eq(shape(PMU_MODE_SOFT, c), -1);
	c = cfg_mode(CFG_PMU_SOFT);
	c.version = 1;
	c.gp_counters = 8;
	c.gp_width = 32;
	ck_assert_int_eq(shape(PMU_MODE_SOFT, c), 0);
	uint32_t a[4];
	pmu_shape_leaf_a(&s, a);
	ck_assert_uint_eq(a[0], 1u | 8u << 8 | 32u << 16 | 7u << 24);
	ck_assert_uint_eq(a[3], 0);
}
END_TEST

/* unavailable_events can only hide: ORed into leaf 0xA EBX on top of what
 * the soft model or the host cannot count; AMD has nowhere to put it. */
START_TEST(unavailable_events_are_ored_into_leaf_a_ebx)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	uint32_t a[4];

	fh_no_pmu(&fh);
	fh_probe(&fh, &h);
	c.unavailable_events = 1u << CFG_PMU_EV_CORE_CYCLES | 1u << CFG_PMU_EV_LLC_MISSES;
	ck_assert_int_eq(shape(PMU_MODE_SOFT, c), 0);
	pmu_shape_leaf_a(&s, a);
	ck_assert_uint_eq(a[1], SOFT_UNAVAIL | 1u); /* llc_misses was unavailable already */
	ck_assert_uint_eq(a[0] >> 24, SOFT_EBX_LEN);
	fh_cleanup(&fh);

	/* Intel host whose KVM offers every architectural event. */
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	fh_probe(&fh, &h);
	c = cfg_mode(CFG_PMU_MEDIATED);
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, c), 0);
	ck_assert_uint_eq(s.unavail, 0);
	c.unavailable_events = 1u << CFG_PMU_EV_INSTRUCTIONS | 1u << CFG_PMU_EV_BRANCH_MISSES;
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, c), 0);
	struct kvm_cpuid2 *t = table();
	ck_assert_uint_eq(pmu_shape_apply(&s, t), 0);
	ck_assert_uint_eq(leaf(t, 0xa)->ebx, 0x42);
	ck_assert(s.globals_direct); /* hiding events costs no pass-through */
	free(t);
	fh_cleanup(&fh);

	fh_amd_zen4(&fh, "Y", 0);
	fh_probe(&fh, &h);
	c = cfg_mode(CFG_PMU_MEDIATED);
	c.unavailable_events = 2;
	ck_assert_int_eq(shape(PMU_MODE_MEDIATED, c), -1);
	ck_assert_ptr_nonnull(strstr(err, "pmu.unavailable_events: AMD CPUs have no architectural event vector"));
	/* Off has nothing to hide and nothing to refuse. */
	ck_assert_int_eq(shape(PMU_MODE_OFF, c), 0);
}
END_TEST

START_TEST(missing_leaves_are_reported_not_invented)
{
	fh_no_pmu(&fh);
	fh_probe(&fh, &h);
	ck_assert_int_eq(shape(PMU_MODE_SOFT, cfg_mode(CFG_PMU_SOFT)), 0);
	struct kvm_cpuid2 *c = table();
	c->entries[0].eax = 7; /* max basic leaf below 0xA */
	c->entries[1].function = 0x40000000; /* no leaf 1 */
	ck_assert_uint_eq(pmu_shape_apply(&s, c), PMU_SHAPE_MISSING_LEAF_A | PMU_SHAPE_MISSING_LEAF_1);
	ck_assert_uint_eq(c->nent, 5);
	free(c);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_shape");
	TCase *t = tcase_create("shape");
	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_add_test(t, intel_8gp_3fixed_v5_mediated_is_full_pass_through);
	tcase_add_test(t, fewer_gp_counters_work_but_globals_and_rdpmc_exit_to_kvm);
	tcase_add_test(t, more_counters_than_the_host_is_a_config_error);
	tcase_add_test(t, intel_with_4_fixed_counters_keeps_globals_intercepted);
	tcase_add_test(t, kvm_fixed_counter_limit_comes_from_kvm_get_supported_cpuid);
	tcase_add_test(t, version_1_has_no_fixed_counters_in_cpuid);
	tcase_add_test(t, amd_zen4_perfmon_v2_mediated);
	tcase_add_test(t, amd_counter_counts_follow_the_architecture);
	tcase_add_test(t, off_clears_every_pmu_bit_on_intel_and_amd);
	tcase_add_test(t, hybrid_intel_offers_soft_with_the_architectural_pmu);
	tcase_add_test(t, no_pmu_host_soft_defaults_mark_all_but_cycles_unavailable);
	tcase_add_test(t, soft_limits_are_config_errors);
	tcase_add_test(t, missing_leaves_are_reported_not_invented);
	tcase_add_test(t, unavailable_events_are_ored_into_leaf_a_ebx);
	suite_add_tcase(su, t);
	return run_suite(su);
}
