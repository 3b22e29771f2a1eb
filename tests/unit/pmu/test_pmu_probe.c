/* The host probe on prepared sysfs/procfs trees: for each kind of host,
 * which PMU modes a VM can have and, for each it cannot, the reason and
 * what an administrator would change. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pmu/probe.h"
#include "pmu_test_hosts.h"

static struct fake_host fh;
static struct pmu_host h;

static void teardown(void)
{
	fh_cleanup(&fh);
}

START_TEST(mediated_host_offers_mediated_and_not_legacy)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 0);
	fh_probe(&fh, &h);
	ck_assert_int_eq(h.vendor, PMU_VENDOR_INTEL);
	ck_assert_int_eq(h.cpu.version, 5);
	ck_assert_int_eq(h.cpu.gp, 8);
	ck_assert_int_eq(h.kvm.version, 2);
	ck_assert_int_eq(h.enable_pmu, 1);
	ck_assert_int_eq(h.enable_mediated_pmu, 1);
	ck_assert_str_eq(h.kvm_backend, "kvm_intel");
	ck_assert(h.verdict[PMU_MODE_MEDIATED].available);
	ck_assert_int_eq(h.enable_vmware_backdoor, 0);
	/* Every host event that counts guests blocks it, per-task ones too; a
	 * live mediated VM makes new ones fail; PEBS and LBR are off. */
	const char *note = h.verdict[PMU_MODE_MEDIATED].note;
	ck_assert_ptr_nonnull(strstr(note, "EBUSY"));
	ck_assert_ptr_nonnull(strstr(note, "system-wide or per-task"));
	ck_assert_ptr_nonnull(strstr(note, "new such events fail with EOPNOTSUPP"));
	ck_assert_ptr_nonnull(strstr(note, "no PEBS and no LBR"));
	/* No per-VM choice on a mediated host: legacy is not on offer. */
	ck_assert(!h.verdict[PMU_MODE_LEGACY].available);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_LEGACY], "kvm_intel.enable_mediated_pmu=Y",
			       "enable_mediated_pmu=0"));
	ck_assert(h.verdict[PMU_MODE_SOFT].available);
	ck_assert(h.verdict[PMU_MODE_OFF].available);
}
END_TEST

START_TEST(mediated_param_off_says_how_to_turn_it_on)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "N", 0);
	fh_probe(&fh, &h);
	ck_assert(!h.verdict[PMU_MODE_MEDIATED].available);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED],
			       "kvm_intel.enable_mediated_pmu=N (the kernel's default: an administrator must turn it on)",
			       "reload kvm_intel with enable_mediated_pmu=1 (needs Linux 7.0+ and PMU v4 with full-width writes)"));
	ck_assert(h.verdict[PMU_MODE_LEGACY].available);
}
END_TEST

START_TEST(nmi_watchdog_blocks_mediated_with_ebusy)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 1);
	fh_probe(&fh, &h);
	ck_assert(!h.verdict[PMU_MODE_MEDIATED].available);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "nmi_watchdog=1",
			       "echo 0 > /proc/sys/kernel/nmi_watchdog"));
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "EBUSY", NULL));
}
END_TEST

START_TEST(kernel_before_7_0_has_no_mediated_parameter)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, NULL, 0);
	fh_probe(&fh, &h);
	ck_assert_int_eq(h.enable_mediated_pmu, -1);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "predates the mediated vPMU", "Linux 7.0"));
	ck_assert(h.verdict[PMU_MODE_LEGACY].available);
}
END_TEST

START_TEST(old_intel_pmu_cannot_be_mediated)
{
	fh_intel(&fh, 3, 4, 48, 3, 48, "N", 0);
	fh_probe(&fh, &h);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "version 3", "Skylake"));
}
END_TEST

START_TEST(amd_zen4_mediated_host)
{
	fh_amd_zen4(&fh, "Y", 0);
	fh_probe(&fh, &h);
	ck_assert_int_eq(h.vendor, PMU_VENDOR_AMD);
	ck_assert(h.cpu.amd_perfmon_v2);
	ck_assert_int_eq(h.cpu.gp, 6);
	ck_assert_str_eq(h.mediated_param, "kvm_amd.enable_mediated_pmu");
	ck_assert(h.verdict[PMU_MODE_MEDIATED].available);
}
END_TEST

START_TEST(amd_mediated_off_names_kvm_amd_and_zen4)
{
	fh_amd_zen4(&fh, "N", 0);
	fh_probe(&fh, &h);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "kvm_amd.enable_mediated_pmu=N",
			       "PerfMonV2, Zen 4 or later"));
}
END_TEST

START_TEST(no_pmu_host_offers_only_soft_and_off)
{
	fh_no_pmu(&fh);
	fh_probe(&fh, &h);
	ck_assert_int_eq(h.enable_pmu, 0);
	ck_assert(h.host_is_vm);
	ck_assert_str_eq(h.kvm_backend, "kvm_pvm");
	ck_assert_int_eq(h.kvm.gp, 0); /* enable_pmu=N: KVM offers nothing */
	ck_assert(!h.verdict[PMU_MODE_MEDIATED].available);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "kvm.enable_pmu=N", "enable_pmu=1"));
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "kvm_amd is not loaded (KVM backend: kvm_pvm)", NULL));
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "PerfMonV2", NULL));
	ck_assert(!h.verdict[PMU_MODE_LEGACY].available);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_LEGACY], "kvm.enable_pmu=N", NULL));
	ck_assert(h.verdict[PMU_MODE_SOFT].available);
	ck_assert(h.verdict[PMU_MODE_OFF].available);
	ck_assert_str_eq(h.verdict[PMU_MODE_OFF].note, ""); /* nothing to opt out of */
}
END_TEST

START_TEST(hybrid_intel_has_no_kernel_vpmu)
{
	fh_hybrid(&fh);
	fh_probe(&fh, &h);
	ck_assert(h.hybrid);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_MEDIATED], "hybrid", "soft"));
	ck_assert(verdict_says(&h.verdict[PMU_MODE_LEGACY], "hybrid", NULL));
	ck_assert(h.verdict[PMU_MODE_SOFT].available);
}
END_TEST

START_TEST(soft_needs_user_space_msr_and_msr_filter)
{
	fh_no_pmu(&fh);
	fh.kvm.cap_msr_filter = 0;
	fh_probe(&fh, &h);
	ck_assert(!h.verdict[PMU_MODE_SOFT].available);
	ck_assert(verdict_says(&h.verdict[PMU_MODE_SOFT], "KVM_CAP_X86_MSR_FILTER", "Linux 5.10+"));
}
END_TEST

START_TEST(missing_kvm_makes_every_mode_unavailable)
{
	fh_no_pmu(&fh);
	fh.kvm.present = false;
	snprintf(fh.kvm.error, sizeof(fh.kvm.error), "/dev/kvm: No such file");
	fh_probe(&fh, &h);
	for (int m = 0; m < PMU_MODE_COUNT; m++)
		ck_assert(verdict_says(&h.verdict[m], "KVM unavailable: /dev/kvm: No such file", "kvm_intel or kvm_amd"));
}
END_TEST

START_TEST(unreadable_files_are_unknown_not_guessed)
{
	fh_init(&fh);
	fh_vendor(&fh, "GenuineIntel");
	fh_probe(&fh, &h);
	ck_assert_int_eq(h.enable_pmu, -1);
	ck_assert_int_eq(h.enable_mediated_pmu, -1);
	ck_assert_int_eq(h.nmi_watchdog, -1);
	ck_assert_int_eq(h.perf_event_paranoid, -100);
}
END_TEST

START_TEST(json_names_modes_reasons_and_fixes)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "N", 1);
	fh_probe(&fh, &h);
	char *s = pmu_host_json(&h);
	cJSON *j = cJSON_Parse(s);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cpu"), "vendor")->valuestring, "intel");
	cJSON *k = cJSON_GetObjectItem(j, "kvm");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(k, "enable_mediated_pmu")));
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(k, "caps"), "PMU_CAPABILITY")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "nmi_watchdog")->valueint, 1);
	cJSON *med = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "modes"), "mediated");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(med, "available")));
	cJSON *reasons = cJSON_GetObjectItem(med, "reasons");
	ck_assert_int_eq(cJSON_GetArraySize(reasons), 2); /* param N, and the watchdog */
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetArrayItem(reasons, 0), "fix"));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "modes"), "legacy"),
						   "available")));
	cJSON_Delete(j);
	free(s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_probe");
	TCase *t = tcase_create("probe");
	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_add_test(t, mediated_host_offers_mediated_and_not_legacy);
	tcase_add_test(t, mediated_param_off_says_how_to_turn_it_on);
	tcase_add_test(t, nmi_watchdog_blocks_mediated_with_ebusy);
	tcase_add_test(t, kernel_before_7_0_has_no_mediated_parameter);
	tcase_add_test(t, old_intel_pmu_cannot_be_mediated);
	tcase_add_test(t, amd_zen4_mediated_host);
	tcase_add_test(t, amd_mediated_off_names_kvm_amd_and_zen4);
	tcase_add_test(t, no_pmu_host_offers_only_soft_and_off);
	tcase_add_test(t, hybrid_intel_has_no_kernel_vpmu);
	tcase_add_test(t, soft_needs_user_space_msr_and_msr_filter);
	tcase_add_test(t, missing_kvm_makes_every_mode_unavailable);
	tcase_add_test(t, unreadable_files_are_unknown_not_guessed);
	tcase_add_test(t, json_names_modes_reasons_and_fixes);
	suite_add_tcase(su, t);
	return run_suite(su);
}
