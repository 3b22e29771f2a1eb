/* KVM's intercept rules under the mediated vPMU (pmu/intercept.h), host
 * shapes x guest shapes x module parameters. Each test is named after the
 * kernel function whose rule it pins (arch/x86/kvm/pmu.c, Linux 7.0):
 *  - kvm_need_any_pmc_intercept(): counter counts against the host's;
 *  - kvm_need_perf_global_ctrl_intercept(): that, or no global control;
 *  - kvm_need_rdpmc_intercept(): enable_vmware_backdoor, that, or widths.
 * The last tests check that GET /pmu's routing table says what the rules
 * say. Pure: no KVM, no stand-in. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pmu/intercept.h"
#include "pmu/pmu.h"
#include "pmu/shape.h"
#include "pmu_test_hosts.h"

static struct fake_host fh;
static struct pmu_host h;
static struct pmu_shape s;
static char err[512];

static void report_teardown(void);

static void teardown(void)
{
	report_teardown();
	fh_cleanup(&fh);
}

/* Probe the fake host and shape a mediated guest from `c`. */
static void mediated_guest(struct cfg_pmu c)
{
	fh_probe(&fh, &h);
	ck_assert_msg(pmu_shape_compute(&s, PMU_MODE_MEDIATED, &c, &h, err, sizeof(err)) == 0, "%s", err);
}

static bool why_has(const struct pmu_why *w, const char *text)
{
	for (int i = 0; i < w->n; i++)
		if (strstr(w->line[i], text))
			return true;
	return false;
}

/* ---- the rules on their own ---- */

static const struct pmu_host_perf intel_host = { .nr_gp = 8, .nr_fixed = 3, .gp_width = 48, .fixed_width = 48 };

START_TEST(test_kvm_need_any_pmc_intercept_counts_only_not_widths)
{
	struct pmu_kvm_vcpu_pmu g = { .mediated = true, .version = 2, .nr_gp = 8, .nr_fixed = 3,
				      .gp_width = 32, .fixed_width = 40 };
	ck_assert(!pmu_kvm_need_any_pmc_intercept(&g, &intel_host, NULL));
	ck_assert(!pmu_kvm_need_perf_global_ctrl_intercept(&g, &intel_host, NULL));
	ck_assert(pmu_kvm_need_rdpmc_intercept(&g, &intel_host, 0, NULL)); /* widths matter here only */
}
END_TEST

START_TEST(test_kvm_need_any_pmc_intercept_when_a_count_differs)
{
	struct pmu_why w = { 0 };
	struct pmu_kvm_vcpu_pmu g = { .mediated = true, .version = 2, .nr_gp = 4, .nr_fixed = 3,
				      .gp_width = 48, .fixed_width = 48 };
	ck_assert(pmu_kvm_need_any_pmc_intercept(&g, &intel_host, &w));
	ck_assert_int_eq(w.n, 1);
	ck_assert_str_eq(w.line[0], "the guest has 4 GP counters, the host 8");
	g.nr_gp = 8;
	g.nr_fixed = 2;
	memset(&w, 0, sizeof(w));
	ck_assert(pmu_kvm_need_any_pmc_intercept(&g, &intel_host, &w));
	ck_assert_str_eq(w.line[0], "the guest has 2 fixed counters, the host 3");
}
END_TEST

START_TEST(test_kvm_need_any_pmc_intercept_without_a_mediated_pmu)
{
	struct pmu_kvm_vcpu_pmu g = { .mediated = false, .version = 2, .nr_gp = 8, .nr_fixed = 3,
				      .gp_width = 48, .fixed_width = 48 };
	ck_assert(pmu_kvm_need_any_pmc_intercept(&g, &intel_host, NULL));
	ck_assert(pmu_kvm_need_perf_global_ctrl_intercept(&g, &intel_host, NULL));
	ck_assert(pmu_kvm_need_rdpmc_intercept(&g, &intel_host, 0, NULL));
}
END_TEST

/* AMD Zen 4 host (6 counters, PerfMonV2); a guest without PerfMonV2 but
 * with PerfCtrExtCore's 6 counters has no global control, yet every count
 * and width matches: KVM passes RDPMC through. The version plays no part
 * in RDPMC, only in the globals. */
START_TEST(test_kvm_need_perf_global_ctrl_intercept_amd_without_perfmon_v2)
{
	const struct pmu_host_perf zen4 = { .nr_gp = 6, .gp_width = 48 };
	struct pmu_why w = { 0 };
	struct pmu_kvm_vcpu_pmu g = { .mediated = true, .version = 1, .nr_gp = 6, .gp_width = 48 };
	ck_assert(!pmu_kvm_need_any_pmc_intercept(&g, &zen4, NULL));
	ck_assert(pmu_kvm_need_perf_global_ctrl_intercept(&g, &zen4, &w));
	ck_assert(why_has(&w, "no PERF_GLOBAL_CTRL"));
	ck_assert(!pmu_kvm_need_rdpmc_intercept(&g, &zen4, 0, NULL));
}
END_TEST

START_TEST(test_kvm_need_rdpmc_intercept_vmware_backdoor_alone)
{
	struct pmu_why w = { 0 };
	struct pmu_kvm_vcpu_pmu g = { .mediated = true, .version = 2, .nr_gp = 8, .nr_fixed = 3,
				      .gp_width = 48, .fixed_width = 48 };
	ck_assert(!pmu_kvm_need_rdpmc_intercept(&g, &intel_host, 0, NULL));
	ck_assert(pmu_kvm_need_rdpmc_intercept(&g, &intel_host, 1, &w));
	ck_assert_int_eq(w.n, 1);
	ck_assert_str_eq(w.line[0], "kvm.enable_vmware_backdoor=Y");
	/* The backdoor has nothing to do with the global MSRs. */
	ck_assert(!pmu_kvm_need_perf_global_ctrl_intercept(&g, &intel_host, NULL));
}
END_TEST

START_TEST(test_kvm_need_rdpmc_intercept_unreadable_backdoor_is_assumed_set)
{
	struct pmu_why w = { 0 };
	struct pmu_kvm_vcpu_pmu g = { .mediated = true, .version = 2, .nr_gp = 8, .nr_fixed = 3,
				      .gp_width = 48, .fixed_width = 48 };
	ck_assert(pmu_kvm_need_rdpmc_intercept(&g, &intel_host, -1, &w));
	ck_assert(why_has(&w, "unreadable (assumed Y)"));
}
END_TEST

START_TEST(test_kvm_need_rdpmc_intercept_when_a_width_differs)
{
	struct pmu_why w = { 0 };
	struct pmu_kvm_vcpu_pmu g = { .mediated = true, .version = 2, .nr_gp = 8, .nr_fixed = 3,
				      .gp_width = 48, .fixed_width = 32 };
	ck_assert(pmu_kvm_need_rdpmc_intercept(&g, &intel_host, 0, &w));
	ck_assert_int_eq(w.n, 1);
	ck_assert_str_eq(w.line[0], "fixed counter width 32 differs from the host's 48");
}
END_TEST

/* ---- perf's view of the host (kvm_host_pmu) ---- */

/* perf reports one width, cntval_bits (the GP width), for fixed counters
 * too; and assumes 3 fixed counters on bare-metal PMU versions 2-4. */
START_TEST(test_perf_get_x86_pmu_capability_view_of_intel_hosts)
{
	struct pmu_host_perf hp;
	fh_intel(&fh, 4, 4, 48, 0, 40, "Y", 0); /* v4 reporting no fixed counters */
	fh_probe(&fh, &h);
	pmu_host_perf_of(&hp, &h);
	ck_assert_int_eq(hp.nr_gp, 4);
	ck_assert_int_eq(hp.nr_fixed, 3);
	ck_assert_int_eq(hp.fixed_width, 48);
	fh_cleanup(&fh);

	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	pmu_cpuid_put(&fh.cpuid, 0xa, 0, 5u | 8u << 8 | 48u << 16 | 7u << 24, 0, 0xf, 3u | 48u << 5);
	fh_probe(&fh, &h);
	pmu_host_perf_of(&hp, &h);
	ck_assert_int_eq(hp.nr_fixed, 4); /* version 5: the ECX bitmap counts */
	pmu_cpuid_put(&fh.cpuid, 0xa, 0, 5u | 8u << 8 | 48u << 16 | 7u << 24, 0, 0, 3u | 48u << 5);
	fh_probe(&fh, &h);
	pmu_host_perf_of(&hp, &h);
	ck_assert_int_eq(hp.nr_fixed, 0); /* ... and only it, as perf takes it */
}
END_TEST

/* ---- shapes on fake hosts: what mpvm computes for GET /pmu ---- */

START_TEST(test_kvm_need_any_pmc_intercept_intel_narrower_guest_keeps_globals_direct)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.gp_width = 32;
	mediated_guest(c);
	ck_assert(s.globals_direct);
	ck_assert(!s.rdpmc_direct);
	ck_assert(why_has(&s.rdpmc_why, "GP counter width 32 differs from the host's 48"));
}
END_TEST

START_TEST(test_kvm_need_rdpmc_intercept_intel_host_with_vmware_backdoor)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	fh_kvm_param(&fh, "enable_vmware_backdoor", "Y");
	mediated_guest(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_int_eq(h.enable_vmware_backdoor, 1);
	ck_assert(s.globals_direct);
	ck_assert(!s.rdpmc_direct);
	ck_assert_str_eq(s.rdpmc_why.line[0], "kvm.enable_vmware_backdoor=Y");
}
END_TEST

START_TEST(test_kvm_need_rdpmc_intercept_amd_zen4_guest_without_perfmon_v2)
{
	fh_amd_zen4(&fh, "Y", 0);
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.version = 1;
	c.gp_counters = 6; /* PerfCtrExtCore */
	mediated_guest(c);
	ck_assert(!s.amd_perfmon_v2);
	ck_assert(!s.globals_direct);
	ck_assert(s.rdpmc_direct);
	c.gp_counters = 4; /* K7 counters only: now a count differs */
	mediated_guest(c);
	ck_assert(!s.rdpmc_direct);
}
END_TEST

START_TEST(test_kvm_need_perf_global_ctrl_intercept_legacy_mode_has_no_pass_through)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "N", 0);
	fh_probe(&fh, &h);
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	ck_assert_int_eq(pmu_shape_compute(&s, PMU_MODE_LEGACY, &c, &h, err, sizeof(err)), 0);
	ck_assert(!s.globals_direct);
	ck_assert(!s.rdpmc_direct);
}
END_TEST

/* GET /pmu's routing table, from a pmu built on the probed fake host. */
static cJSON *report;
static char *report_text;

static void get_pmu(struct cfg_pmu c)
{
	fh_probe(&fh, &h);
	struct pmu *p = pmu_new(&c, &h, err, sizeof(err));
	ck_assert_msg(p, "%s", err);
	report_text = pmu_report_json(p);
	report = cJSON_Parse(report_text);
	pmu_free(p);
}

static void report_teardown(void)
{
	cJSON_Delete(report);
	free(report_text);
	report = NULL;
	report_text = NULL;
}

static const char *route_of(const char *name_part)
{
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(report, "msrs"))
		if (strstr(cJSON_GetObjectItem(it, "name")->valuestring, name_part))
			return cJSON_GetObjectItem(it, "goes")->valuestring;
	return NULL;
}

static const char *rdpmc(const char *key)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(report, "rdpmc"), key)->valuestring;
}

START_TEST(test_kvm_need_rdpmc_intercept_drives_get_pmu_routing)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	fh_kvm_param(&fh, "enable_vmware_backdoor", "Y");
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.gp_width = 40;
	get_pmu(c);
	ck_assert_str_eq(route_of("PERF_GLOBAL"), "direct");
	ck_assert_str_eq(rdpmc("goes"), "kvm");
	ck_assert_ptr_nonnull(strstr(rdpmc("why"), "kvm.enable_vmware_backdoor=Y"));
	ck_assert_ptr_nonnull(strstr(rdpmc("why"), "GP counter width 40 differs from the host's 48"));
	ck_assert_ptr_nonnull(strstr(report_text, "RDPMC intercepted: kvm.enable_vmware_backdoor=Y"));
}
END_TEST

/* The full pass-through shape says why on both lines. */
START_TEST(test_kvm_need_perf_global_ctrl_intercept_full_shape_routes_direct)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	get_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_str_eq(route_of("PERF_GLOBAL"), "direct");
	ck_assert_str_eq(rdpmc("goes"), "direct");
	ck_assert_ptr_nonnull(strstr(rdpmc("why"), "kvm.enable_vmware_backdoor is off"));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(report, "pass_through_costs")), 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_intercept");
	TCase *t = tcase_create("kvm_rules");
	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_add_test(t, test_kvm_need_any_pmc_intercept_counts_only_not_widths);
	tcase_add_test(t, test_kvm_need_any_pmc_intercept_when_a_count_differs);
	tcase_add_test(t, test_kvm_need_any_pmc_intercept_without_a_mediated_pmu);
	tcase_add_test(t, test_kvm_need_perf_global_ctrl_intercept_amd_without_perfmon_v2);
	tcase_add_test(t, test_kvm_need_rdpmc_intercept_vmware_backdoor_alone);
	tcase_add_test(t, test_kvm_need_rdpmc_intercept_unreadable_backdoor_is_assumed_set);
	tcase_add_test(t, test_kvm_need_rdpmc_intercept_when_a_width_differs);
	tcase_add_test(t, test_perf_get_x86_pmu_capability_view_of_intel_hosts);
	tcase_add_test(t, test_kvm_need_any_pmc_intercept_intel_narrower_guest_keeps_globals_direct);
	tcase_add_test(t, test_kvm_need_rdpmc_intercept_intel_host_with_vmware_backdoor);
	tcase_add_test(t, test_kvm_need_rdpmc_intercept_amd_zen4_guest_without_perfmon_v2);
	tcase_add_test(t, test_kvm_need_perf_global_ctrl_intercept_legacy_mode_has_no_pass_through);
	tcase_add_test(t, test_kvm_need_rdpmc_intercept_drives_get_pmu_routing);
	tcase_add_test(t, test_kvm_need_perf_global_ctrl_intercept_full_shape_routes_direct);
	suite_add_tcase(su, t);
	return run_suite(su);
}
