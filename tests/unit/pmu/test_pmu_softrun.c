/* The soft PMU at run time, on a stand-in of the kernel (pmu_standin.h):
 * which MSRs it claims, cycles from the vCPU thread's CPU time, PMIs by
 * LVTPC (fixed vector, NMI, masked), the filter, the overflow timer. The
 * same model runs for real on /dev/kvm in the integration tests. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "pmu/pmu.h"
#include "pmu/soft.h"
#include "pmu_standin.h"
#include "pmu_test_hosts.h"

#define CYCLES (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | 0x3c)
#define KHZ 2000000 /* the stand-in's TSC: 2 GHz, 2 cycles per ns */

static struct fake_host fh;
static struct pmu_host host;
static struct standin k;
static struct si_vm sv;
static struct pmu *p;
static char err[1024];

static void teardown(void)
{
	if (p) {
		sv.vm.hooks.destroy(sv.vm.hooks.opaque, &sv.vm);
		pmu_free(p);
	}
	fh_cleanup(&fh);
}

static void boot_soft(const struct cfg_pmu *c, int ncpus)
{
	memset(&k, 0, sizeof(k));
	fh_no_pmu(&fh);
	fh_probe(&fh, &host);
	p = pmu_new(c, &host, err, sizeof(err));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(pmu_mode(p), PMU_MODE_SOFT);
	ck_assert_msg(si_boot(&k, &sv, p, ncpus, true, err, sizeof(err)) == 0, "%s", err);
}

static void boot_default(void)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	boot_soft(&c, 2);
}

static void wr(int v, uint32_t msr, uint64_t val)
{
	ck_assert_msg(si_guest_msr(&sv, v, msr, true, &val) == 0, "wrmsr 0x%x", msr);
}

static uint64_t rd(int v, uint32_t msr)
{
	uint64_t val = 0;
	ck_assert_msg(si_guest_msr(&sv, v, msr, false, &val) == 0, "rdmsr 0x%x", msr);
	return val;
}

/* The guest runs for `ns` of CPU time, then re-enters KVM_RUN. */
static void guest_runs(int v, uint64_t ns)
{
	k.cpu_ns[v] += ns;
	sv.vm.hooks.before_run(sv.vm.hooks.opaque, &sv.vcpus[v]);
}

START_TEST(standin_kernel_soft_mode_claims_exactly_the_pmu_msrs)
{
	boot_default();
	const char *const exp[] = {
		"CREATE_IRQCHIP", "CHECK_EXTENSION(PMU_CAPABILITY)", "ENABLE_CAP(X86_USER_SPACE_MSR,FILTER)",
		"SET_MSR_FILTER(6 ranges)", "CREATE_VCPU 0", "CREATE_VCPU 1",
		"vcpu0 SET_CPUID2", "vcpu0 GET_LAPIC", "vcpu0 GET_TSC_KHZ",
		"vcpu1 SET_CPUID2", "vcpu1 GET_LAPIC", "vcpu1 GET_TSC_KHZ", "vcpu0 RUN", "vcpu1 RUN",
	};
	ck_assert_int_eq(k.nlog, (int)(sizeof(exp) / sizeof(exp[0])));
	for (int i = 0; i < k.nlog; i++)
		ck_assert_str_eq(k.log[i], exp[i]);
	ck_assert_uint_eq(k.user_space_msr, KVM_MSR_EXIT_REASON_FILTER);
	/* Every MSR the filter denies is one the model owns, and back. */
	for (uint32_t msr = 0; msr < 0x600; msr++) {
		bool denied = false;
		for (int r = 0; r < k.msr_nranges; r++)
			if (msr >= k.ranges[r].base && msr < k.ranges[r].base + k.ranges[r].n)
				denied = !(k.ranges[r].bits & (1u << (msr - k.ranges[r].base))) &&
					 k.ranges[r].flags == (KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE);
		ck_assert_msg(denied == soft_msr_owned(msr), "MSR 0x%x", msr);
	}
	ck_assert_uint_eq(k.leaf_a[0].ebx, 0x7a);
	ck_assert_int_eq(k.vpmu, VPMU_NONE);
}
END_TEST

START_TEST(standin_kernel_soft_mode_opts_out_of_the_kernel_pmu)
{
	memset(&k, 0, sizeof(k));
	k.host = SI_MEDIATED;
	k.host_event_counts_guests = true; /* no EBUSY: the opt-out comes first */
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", 1);
	fh_probe(&fh, &host);
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	p = pmu_new(&c, &host, err, sizeof(err));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	ck_assert_int_ge(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"), 0);
	ck_assert_int_lt(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"), si_find(&k, "CREATE_VCPU 0"));
	ck_assert_int_eq(k.vpmu, VPMU_NONE);
}
END_TEST

START_TEST(standin_kernel_soft_counts_cycles_from_vcpu_cpu_time)
{
	boot_default();
	wr(0, MSR_IA32_PERFEVTSEL0, CYCLES);
	wr(0, MSR_IA32_PERFEVTSEL0 + 1, CYCLES | 0x100); /* reference cycles */
	wr(0, MSR_IA32_PERFEVTSEL0 + 2, EVTSEL_EN | EVTSEL_OS | 0xc0); /* instructions: unavailable */
	wr(0, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x333);
	guest_runs(0, 1000000); /* 1 ms of CPU time */
	ck_assert_uint_eq(rd(0, MSR_IA32_PMC0), 2000000);
	ck_assert_uint_eq(rd(0, MSR_IA32_PMC0 + 1), 2000000);
	ck_assert_uint_eq(rd(0, MSR_IA32_PMC0 + 2), 0);
	ck_assert_uint_eq(rd(0, MSR_CORE_PERF_FIXED_CTR0), 0);
	ck_assert_uint_eq(rd(0, MSR_CORE_PERF_FIXED_CTR0 + 1), 2000000);
	/* Each vCPU has its own clock and its own model. */
	ck_assert_uint_eq(rd(1, MSR_IA32_PMC0), 0);
	/* The API reads the same state without stopping the VM. */
	k.cpu_ns[0] += 500;
	char *s = pmu_counters_json(p);
	cJSON *j = cJSON_Parse(s);
	cJSON *v0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vcpus"), 0);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(v0, "counters"), 0)->valuestring, "0x1e8868");
	ck_assert_str_eq(cJSON_GetObjectItem(v0, "global_ctrl")->valuestring, "0x70000000f");
	cJSON_Delete(j);
	free(s);
}
END_TEST

/* Preset PMC0 `cycles` before overflow, counting core cycles with INT. */
static void arm_pmc0(int v, uint64_t cycles)
{
	wr(v, MSR_IA32_PMC0, (uint64_t)-(int64_t)cycles); /* legacy write: sign-extended */
	wr(v, MSR_IA32_PERFEVTSEL0, CYCLES | EVTSEL_INT);
}

START_TEST(standin_kernel_soft_pmi_goes_to_the_lvtpc_fixed_vector)
{
	boot_default();
	k.lvtpc = 0xf0;
	arm_pmc0(1, 1000);
	guest_runs(1, 400); /* 800 cycles: not yet */
	ck_assert_int_eq(k.nmsi, 0);
	guest_runs(1, 150); /* 1100: wrapped */
	ck_assert_int_eq(k.nmsi, 1);
	ck_assert_uint_eq(k.msi.address_lo, 0xfee01000); /* vCPU 1's APIC ID */
	ck_assert_uint_eq(k.msi.data, 0xf0);
	ck_assert_uint_eq(rd(1, MSR_CORE_PERF_GLOBAL_STATUS), 1);
	ck_assert_uint_eq(rd(1, MSR_IA32_PMC0), 100);
	wr(1, MSR_CORE_PERF_GLOBAL_OVF_CTRL, 1);
	ck_assert_uint_eq(rd(1, MSR_CORE_PERF_GLOBAL_STATUS), 0);
	guest_runs(1, 10);
	ck_assert_int_eq(k.nmsi, 1); /* one overflow, one PMI */
	struct pmu_metrics m;
	pmu_get_metrics(p, &m);
	ck_assert_uint_eq(m.pmis_injected, 1);
}
END_TEST

START_TEST(standin_kernel_soft_pmi_by_nmi_and_not_when_masked)
{
	boot_default();
	k.lvtpc = 0x400; /* NMI delivery */
	arm_pmc0(0, 10);
	guest_runs(0, 10);
	ck_assert_int_eq(k.nnmi, 1);
	ck_assert_int_eq(k.nmsi, 0);
	k.lvtpc = 0x100f0; /* masked */
	arm_pmc0(0, 10);
	guest_runs(0, 10);
	ck_assert_int_eq(k.nnmi, 1);
	ck_assert_int_eq(k.nmsi, 0);
	struct pmu_metrics m;
	pmu_get_metrics(p, &m);
	ck_assert_uint_eq(m.pmis_injected, 1);
	ck_assert_uint_eq(m.pmis_masked, 1);
	ck_assert_uint_eq(rd(0, MSR_CORE_PERF_GLOBAL_STATUS), 1); /* status says it anyway */
}
END_TEST

START_TEST(standin_kernel_soft_gp_on_reserved_bits_and_foreign_msrs)
{
	boot_default();
	uint64_t v = 1ULL << 32;
	ck_assert_int_eq(si_guest_msr(&sv, 0, MSR_IA32_PERFEVTSEL0, true, &v), -1);
	v = 0;
	ck_assert_int_eq(si_guest_msr(&sv, 0, MSR_CORE_PERF_GLOBAL_STATUS, true, &v), -1);
	ck_assert_int_eq(si_guest_msr(&sv, 0, MSR_IA32_PMC0 + 5, false, &v), -1); /* 4 GP counters */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x10, false, &v), -1);              /* not a PMU MSR */
	struct pmu_metrics m;
	pmu_get_metrics(p, &m);
	ck_assert_uint_eq(m.msr_exits, 4);
	ck_assert_uint_eq(m.msr_exits_gp, 4);
}
END_TEST

/* The line logged at VM exit: what was trapped, by MSR in index order, and
 * which events were programmed, in the form the integration test compares
 * with the guest's own count. */
START_TEST(standin_kernel_soft_summary_lists_trapped_accesses_by_msr)
{
	char line[2048];

	boot_default();
	k.lvtpc = 0xf0;
	wr(0, MSR_CORE_PERF_GLOBAL_CTRL, 0);
	wr(0, MSR_IA32_PERFEVTSEL0, CYCLES);
	wr(0, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x30);
	rd(0, MSR_IA32_PMC0);
	rd(1, MSR_IA32_PMC0);
	uint64_t v = 1;
	ck_assert_int_eq(si_guest_msr(&sv, 0, MSR_CORE_PERF_GLOBAL_STATUS, true, &v), -1);
	pmu_summary(p, line, sizeof(line));
	ck_assert_msg(strstr(line, "mode soft (configured: soft); 6 PMU MSR exits to mpvm (1 answered #GP); "
				   "PMIs injected 0, masked 0, dropped 0; denied programs 0; "
				   "overflow-timer wake-ups 0; by MSR: 0xc1:r2w0 0x186:r0w1 0x38d:r0w1 0x38e:r0w1 0x38f:r0w1; "
				   "events programmed: 0x3c:00(core_cycles)=1 fixed1=1"), "%s", line);
	/* Truncates, never overflows. */
	char small[16];
	pmu_summary(p, small, sizeof(small));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

START_TEST(standin_kernel_soft_denied_event_does_not_count_and_filter_is_replaceable)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	c.filter.set = true;
	c.filter.action = CFG_FILTER_DENY;
	c.filter.nevents = 1;
	c.filter.events[0] = (struct cfg_pmu_event){ .event_select = 0x3c, .unit_mask = 0 };
	boot_soft(&c, 1);
	wr(0, MSR_IA32_PERFEVTSEL0, CYCLES);
	wr(0, MSR_IA32_PERFEVTSEL0 + 1, CYCLES | 0x100);
	guest_runs(0, 1000);
	ck_assert_uint_eq(rd(0, MSR_IA32_PMC0), 0);
	ck_assert_uint_eq(rd(0, MSR_IA32_PMC0 + 1), 2000);
	ck_assert_uint_eq(rd(0, MSR_IA32_PERFEVTSEL0), CYCLES); /* the written value stays */

	/* Lifting the filter counts from then on, not retroactively. */
	struct cfg_pmu_filter none = { 0 };
	ck_assert_msg(pmu_set_filter(p, &none, err, sizeof(err)) == 0, "%s", err);
	guest_runs(0, 1000);
	ck_assert_uint_eq(rd(0, MSR_IA32_PMC0), 2000);
	ck_assert_uint_eq(rd(0, MSR_IA32_PMC0 + 1), 4000);

	char *r = pmu_report_json(p);
	cJSON *j = cJSON_Parse(r);
	cJSON *ev = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "by_event");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "0x3c/0x00"), "denied")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "0x3c/0x01"), "denied")->valueint, 0);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "filter")));
	cJSON_Delete(j);
	free(r);
}
END_TEST

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };
	nanosleep(&ts, NULL);
}

START_TEST(standin_kernel_soft_overflow_timer_kicks_the_vcpu)
{
	boot_default();
	k.lvtpc = 0xf0;
	arm_pmc0(0, 2000); /* 1 us of guest time away */
	guest_runs(0, 0);  /* before_run arms the timer */
	for (int i = 0; i < 200 && !atomic_load(&k.kicks); i++)
		sleep_ms(1);
	ck_assert_int_ge(atomic_load(&k.kicks), 1);
	/* The kicked vCPU's before_run finds the wrap and injects the PMI. */
	guest_runs(0, 1000);
	ck_assert_int_eq(k.nmsi, 1);
	/* No counter with INT left near overflow: the timer stays quiet. */
	wr(0, MSR_IA32_PERFEVTSEL0, CYCLES);
	guest_runs(0, 0);
	int kicks = atomic_load(&k.kicks);
	sleep_ms(20);
	ck_assert_int_eq(atomic_load(&k.kicks), kicks);
}
END_TEST

START_TEST(standin_kernel_soft_timer_rearms_while_the_guest_does_not_run)
{
	boot_default();
	arm_pmc0(0, 2000);
	guest_runs(0, 0);
	for (int i = 0; i < 200 && atomic_load(&k.kicks) < 1; i++)
		sleep_ms(1);
	/* Halted guest: no CPU time, no wrap, so before_run re-arms. */
	guest_runs(0, 0);
	ck_assert_int_eq(k.nmsi + k.nnmi, 0);
	for (int i = 0; i < 200 && atomic_load(&k.kicks) < 2; i++)
		sleep_ms(1);
	ck_assert_int_ge(atomic_load(&k.kicks), 2);
}
END_TEST

START_TEST(standin_kernel_soft_report_says_what_goes_where)
{
	boot_default();
	char *r = pmu_report_json(p);
	cJSON *j = cJSON_Parse(r);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "soft");
	cJSON *g = cJSON_GetObjectItem(j, "guest_pmu");
	ck_assert_int_eq(cJSON_GetObjectItem(g, "gp_counters")->valueint, 4);
	cJSON *ev = cJSON_GetObjectItem(g, "events_available");
	ck_assert_int_eq(cJSON_GetArraySize(ev), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(ev, 0)->valuestring, "core_cycles");
	ck_assert_str_eq(cJSON_GetArrayItem(ev, 1)->valuestring, "reference_cycles");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cpuid"), "perf_capabilities")->valuestring,
			 "0x2000");
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "rdpmc"), "why")->valuestring,
				     "no RDPMC exit"));
	cJSON_Delete(j);
	free(r);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_softrun");
	TCase *t = tcase_create("standin_kernel_soft");
	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_set_timeout(t, 20);
	tcase_add_test(t, standin_kernel_soft_mode_claims_exactly_the_pmu_msrs);
	tcase_add_test(t, standin_kernel_soft_mode_opts_out_of_the_kernel_pmu);
	tcase_add_test(t, standin_kernel_soft_counts_cycles_from_vcpu_cpu_time);
	tcase_add_test(t, standin_kernel_soft_pmi_goes_to_the_lvtpc_fixed_vector);
	tcase_add_test(t, standin_kernel_soft_pmi_by_nmi_and_not_when_masked);
	tcase_add_test(t, standin_kernel_soft_gp_on_reserved_bits_and_foreign_msrs);
	tcase_add_test(t, standin_kernel_soft_summary_lists_trapped_accesses_by_msr);
	tcase_add_test(t, standin_kernel_soft_denied_event_does_not_count_and_filter_is_replaceable);
	tcase_add_test(t, standin_kernel_soft_overflow_timer_kicks_the_vcpu);
	tcase_add_test(t, standin_kernel_soft_timer_rearms_while_the_guest_does_not_run);
	tcase_add_test(t, standin_kernel_soft_report_says_what_goes_where);
	suite_add_tcase(su, t);
	return run_suite(su);
}
