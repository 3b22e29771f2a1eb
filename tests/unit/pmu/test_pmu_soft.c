/* The soft PMU model's arithmetic and MSR semantics (Intel PMU v1/v2), with
 * no KVM: what a guest reads and writes, when counters wrap, what the
 * status and overflow-control registers do, which bits #GP. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "check_main.h"
#include "pmu/soft.h"

#define W48 ((1ULL << 48) - 1)
#define CYCLES_EVT (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | 0x3c)
#define REF_EVT (CYCLES_EVT | 0x100)

static struct soft_pmu s;

static void setup_shape(int version, int gp, int fixed, int width, bool pdcm)
{
	struct pmu_shape sh = { .mode = PMU_MODE_SOFT, .flavour = PMU_VENDOR_INTEL, .version = version,
				.gp = gp, .gp_width = width, .fixed = fixed, .fixed_width = width,
				.pdcm = pdcm, .perf_caps = PMU_PERF_CAP_FW_WRITES };
	soft_pmu_init(&s, &sh);
}

static void v2(void)
{
	setup_shape(2, 4, 3, 48, true);
}

static uint64_t rd(uint32_t msr)
{
	uint64_t v = 0xdeadbeef;
	ck_assert_int_eq(soft_rdmsr(&s, msr, &v), 0);
	return v;
}

START_TEST(power_on_state_enables_every_counter_in_global_ctrl)
{
	v2();
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_CTRL), 0xfULL | (0x7ULL << 32));
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_STATUS), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PERFEVTSEL0 + 3), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PERF_CAPABILITIES), PMU_PERF_CAP_FW_WRITES);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_OVF_CTRL), 0);
}
END_TEST

START_TEST(reserved_event_select_bits_gp)
{
	v2();
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, 1ULL << 32), -1);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, EVTSEL_ANY | CYCLES_EVT), -1); /* AnyThread is v3+ */
	ck_assert_uint_eq(rd(MSR_IA32_PERFEVTSEL0), 0); /* a refused write changes nothing */
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT | EVTSEL_INT | (0xffULL << 24)), 0);
}
END_TEST

START_TEST(msrs_beyond_the_shape_gp)
{
	v2();
	uint64_t v;
	ck_assert_int_eq(soft_rdmsr(&s, MSR_IA32_PMC0 + 4, &v), -1);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 4, 0), -1);
	ck_assert_int_eq(soft_rdmsr(&s, MSR_IA32_PMC0_FULL + 7, &v), -1);
	ck_assert(soft_msr_owned(MSR_IA32_PMC0 + 7));      /* owned, so KVM never answers it */
	ck_assert(!soft_msr_owned(MSR_IA32_PMC0 + 8));
	ck_assert(!soft_msr_owned(0x10));                 /* TSC is not ours */
}
END_TEST

START_TEST(read_only_msrs_gp_on_write)
{
	v2();
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_STATUS, 0), -1);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERF_CAPABILITIES, PMU_PERF_CAP_FW_WRITES), -1);
}
END_TEST

START_TEST(global_and_fixed_ctrl_reserved_bits_gp)
{
	v2();
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_CTRL, 1ULL << 4), -1);  /* 5th GP */
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_CTRL, 1ULL << 35), -1); /* 4th fixed */
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_CTRL, 0x3ULL | (1ULL << 34)), 0);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x4), -1);      /* AnyThread */
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x1000), -1);   /* fixed 3 */
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0xbbb), 0);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_OVF_CTRL, 1ULL << 5), -1);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_OVF_CTRL, 3ULL << 62), 0); /* accepted, no effect */
}
END_TEST

START_TEST(version_1_has_no_globals_and_no_fixed_counters)
{
	setup_shape(1, 2, 3, 40, false);
	uint64_t v;
	ck_assert_int_eq(s.nfixed, 0);
	ck_assert_int_eq(soft_rdmsr(&s, MSR_CORE_PERF_GLOBAL_CTRL, &v), -1);
	ck_assert_int_eq(soft_rdmsr(&s, MSR_CORE_PERF_GLOBAL_STATUS, &v), -1);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_OVF_CTRL, 1), -1);
	ck_assert_int_eq(soft_rdmsr(&s, MSR_CORE_PERF_FIXED_CTR0 + 1, &v), -1);
	ck_assert_int_eq(soft_rdmsr(&s, MSR_IA32_PERF_CAPABILITIES, &v), -1); /* no PDCM */
	/* v1 counters run on their EN bit alone. */
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT), 0);
	soft_advance(&s, 100, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 100);
}
END_TEST

START_TEST(legacy_pmc_write_sign_extends_from_bit_31)
{
	v2();
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0, 0x80000000ULL), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 0xffff80000000ULL);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0, 0x17fffffffULL), 0); /* bits 63:32 ignored */
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 0x7fffffffULL);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0, (uint64_t)-5), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), W48 - 4);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0_FULL), W48 - 4); /* same counter, full-width alias */
}
END_TEST

START_TEST(full_width_alias_writes_all_bits_and_gps_beyond_the_width)
{
	v2();
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0_FULL + 1, 0x123456789abcULL), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0 + 1), 0x123456789abcULL);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0_FULL + 1, 1ULL << 48), -1);
	/* Without PERF_CAPABILITIES.FW_WRITES the alias does not exist. */
	setup_shape(2, 4, 3, 48, false);
	uint64_t v;
	ck_assert_int_eq(soft_rdmsr(&s, MSR_IA32_PMC0_FULL, &v), -1);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0_FULL, 1), -1);
}
END_TEST

START_TEST(fixed_counter_writes_gp_beyond_the_width)
{
	setup_shape(2, 4, 3, 40, true);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR0 + 2, (1ULL << 40) - 1), 0);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR0 + 2, 1ULL << 40), -1);
}
END_TEST

START_TEST(counter_wraps_at_its_width_and_sets_status)
{
	v2();
	soft_wrmsr(&s, MSR_IA32_PMC0_FULL, W48 - 9);
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT); /* no INT bit */
	ck_assert_uint_eq(soft_advance(&s, 9, NULL, NULL), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), W48);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_STATUS), 0);
	ck_assert_uint_eq(soft_advance(&s, 6, NULL, NULL), 0); /* wraps, but no PMI wanted */
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 5);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_STATUS), 1);
}
END_TEST

START_TEST(wrap_with_int_bit_asks_for_a_pmi)
{
	setup_shape(2, 4, 3, 32, true);
	soft_wrmsr(&s, MSR_IA32_PMC0 + 2, (uint64_t)-100);
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 2, REF_EVT | EVTSEL_INT);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, NULL, NULL), 100);
	ck_assert_uint_eq(soft_advance(&s, 99, NULL, NULL), 0);
	ck_assert_uint_eq(soft_advance(&s, 1, NULL, NULL), 1ULL << 2);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0 + 2), 0);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_STATUS), 1ULL << 2);
}
END_TEST

START_TEST(huge_advance_wraps_modulo_the_width)
{
	setup_shape(2, 1, 0, 32, true);
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT);
	soft_advance(&s, (5ULL << 32) + 7, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 7);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_STATUS), 1);
}
END_TEST

START_TEST(ovf_ctrl_clears_only_the_bits_written)
{
	v2();
	for (int i = 0; i < 2; i++) {
		soft_wrmsr(&s, MSR_IA32_PMC0_FULL + i, W48);
		soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + i, CYCLES_EVT);
	}
	soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR0 + 1, W48);
	soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x30); /* fixed 1: OS|USR */
	soft_advance(&s, 1, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_STATUS), 0x3ULL | (1ULL << 33));
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_OVF_CTRL, 0x1ULL | (1ULL << 33)), 0);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_STATUS), 0x2);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_GLOBAL_OVF_CTRL), 0);
}
END_TEST

START_TEST(only_cycles_count_and_fixed_0_never_does)
{
	v2();
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, EVTSEL_EN | EVTSEL_OS | 0xc0);           /* instructions */
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 1, CYCLES_EVT | (1ULL << 24));          /* CMASK=1 */
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 2, EVTSEL_EN | 0x3c);                   /* no USR/OS */
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 3, EVTSEL_USR | 0x3c);                  /* EN clear */
	soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x333);
	soft_advance(&s, 1000, NULL, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(rd(MSR_IA32_PMC0 + i), 0);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_FIXED_CTR0), 0);       /* instructions retired */
	ck_assert_uint_eq(rd(MSR_CORE_PERF_FIXED_CTR0 + 1), 1000); /* core cycles */
	ck_assert_uint_eq(rd(MSR_CORE_PERF_FIXED_CTR0 + 2), 1000); /* reference cycles */
	/* USR alone counts: the model cannot tell CPL apart, so it counts always. */
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 3, EVTSEL_EN | EVTSEL_USR | 0x3c);
	soft_advance(&s, 10, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0 + 3), 10);
}
END_TEST

/* Events the config marked unavailable in leaf 0xA EBX do not count on GP
 * counters; the fixed counters are enumerated apart and still count. */
START_TEST(events_hidden_in_leaf_a_do_not_count_on_gp_counters)
{
	struct pmu_shape sh = { .mode = PMU_MODE_SOFT, .flavour = PMU_VENDOR_INTEL, .version = 2,
				.gp = 2, .gp_width = 48, .fixed = 3, .fixed_width = 48,
				.unavail = SOFT_UNAVAIL | 1u /* core cycles hidden */ };
	soft_pmu_init(&s, &sh);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT), 0);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 1, REF_EVT), 0);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x030), 0);
	ck_assert_int_eq(soft_counter_event(&s, 0), SOFT_EV_NONE);
	ck_assert_int_eq(soft_counter_event(&s, 1), SOFT_EV_REF_CYCLES);
	soft_advance(&s, 1000, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0 + 1), 1000);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_FIXED_CTR0 + 1), 1000);
	/* Hiding reference cycles too stops PMC1. */
	sh.unavail |= 4;
	soft_pmu_init(&s, &sh);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 1, REF_EVT), 0);
	ck_assert_int_eq(soft_counter_event(&s, 1), SOFT_EV_NONE);
}
END_TEST

START_TEST(global_ctrl_gates_counting)
{
	v2();
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT | EVTSEL_INT);
	soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_CTRL, 0);
	soft_advance(&s, 50, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 0);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, NULL, NULL), UINT64_MAX);
	soft_wrmsr(&s, MSR_CORE_PERF_GLOBAL_CTRL, 1);
	soft_advance(&s, 50, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 50);
}
END_TEST

START_TEST(writes_to_a_running_counter_take_effect_from_then_on)
{
	v2();
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT);
	soft_advance(&s, 500, NULL, NULL);
	soft_wrmsr(&s, MSR_IA32_PMC0, 7);
	soft_advance(&s, 3, NULL, NULL);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 10);
}
END_TEST

static bool deny_gp1_and_fixed2(void *opaque, int bit, uint64_t eventsel)
{
	(*(int *)opaque)++;
	return bit != 1 && bit != 32 + 2;
}

START_TEST(denied_counters_keep_their_value_and_do_not_count)
{
	int calls = 0;
	v2();
	soft_wrmsr(&s, MSR_IA32_PMC0 + 1, 42);
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT);
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 1, CYCLES_EVT | EVTSEL_INT);
	soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x330);
	soft_advance(&s, 100, deny_gp1_and_fixed2, &calls);
	ck_assert_int_gt(calls, 0);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0), 100);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0 + 1), 42);
	ck_assert_uint_eq(rd(MSR_IA32_PERFEVTSEL0 + 1), CYCLES_EVT | EVTSEL_INT); /* value kept */
	ck_assert_uint_eq(rd(MSR_CORE_PERF_FIXED_CTR0 + 1), 100);
	ck_assert_uint_eq(rd(MSR_CORE_PERF_FIXED_CTR0 + 2), 0);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, deny_gp1_and_fixed2, &calls), UINT64_MAX);
}
END_TEST

START_TEST(time_to_overflow_is_the_earliest_pmi_counter)
{
	v2();
	soft_wrmsr(&s, MSR_IA32_PMC0_FULL, W48 - 999);   /* 1000 to go, INT */
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT | EVTSEL_INT);
	soft_wrmsr(&s, MSR_IA32_PMC0_FULL + 1, W48 - 9); /* 10 to go, no INT: no PMI */
	soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0 + 1, CYCLES_EVT);
	soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR0 + 1, W48 - 499); /* 500 to go, PMI bit */
	soft_wrmsr(&s, MSR_CORE_PERF_FIXED_CTR_CTRL, 0xb0);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, NULL, NULL), 500);
	ck_assert_uint_eq(soft_advance(&s, 500, NULL, NULL), 1ULL << 33);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, NULL, NULL), 500); /* GP0 next */
}
END_TEST

/* Widths are capped at 48 today, but the arithmetic must be total: a 64-bit
 * counter at 0 is 2^64 cycles from its wrap, which does not fit in the
 * answer; it saturates (never 0, which would mean "a PMI now"). */
START_TEST(cycles_to_pmi_saturates_for_a_64_bit_counter_at_0)
{
	setup_shape(2, 1, 0, 64, true);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PERFEVTSEL0, CYCLES_EVT | EVTSEL_INT), 0);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0_FULL), 0);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, NULL, NULL), UINT64_MAX);
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0_FULL, 1), 0);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, NULL, NULL), UINT64_MAX); /* 2^64 - 1, exact */
	ck_assert_int_eq(soft_wrmsr(&s, MSR_IA32_PMC0_FULL, UINT64_MAX - 9), 0);
	ck_assert_uint_eq(soft_cycles_to_pmi(&s, NULL, NULL), 10);
	ck_assert_uint_eq(soft_advance(&s, 10, NULL, NULL), 1);
	ck_assert_uint_eq(rd(MSR_IA32_PMC0_FULL), 0);
}
END_TEST

START_TEST(tsc_rate_conversions_round_up_and_do_not_drift)
{
	ck_assert_uint_eq(soft_ns_to_cycles(1000000000ULL, 2000000), 2000000000ULL);
	ck_assert_uint_eq(soft_ns_to_cycles(1, 2500000), 2);            /* 2.5 -> 2 */
	ck_assert_uint_eq(soft_cycles_to_ns(5, 2000000), 3);             /* 2.5 ns -> 3 */
	ck_assert_uint_eq(soft_cycles_to_ns(1, 0), UINT64_MAX);
	/* Deltas from absolute times sum to the total. */
	uint64_t sum = 0, prev = 0;
	for (uint64_t t = 7; t < 100000; t += 7) {
		sum += soft_ns_to_cycles(t, 2999999) - soft_ns_to_cycles(prev, 2999999);
		prev = t;
	}
	ck_assert_uint_eq(sum, soft_ns_to_cycles(prev, 2999999));
	/* No overflow for a year of CPU time at 5 GHz. */
	ck_assert_uint_eq(soft_ns_to_cycles(365ULL * 86400 * 1000000000ULL, 5000000),
			  365ULL * 86400 * 5000000000ULL);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_soft");
	TCase *t = tcase_create("model");
	tcase_add_test(t, power_on_state_enables_every_counter_in_global_ctrl);
	tcase_add_test(t, reserved_event_select_bits_gp);
	tcase_add_test(t, msrs_beyond_the_shape_gp);
	tcase_add_test(t, read_only_msrs_gp_on_write);
	tcase_add_test(t, global_and_fixed_ctrl_reserved_bits_gp);
	tcase_add_test(t, version_1_has_no_globals_and_no_fixed_counters);
	tcase_add_test(t, legacy_pmc_write_sign_extends_from_bit_31);
	tcase_add_test(t, full_width_alias_writes_all_bits_and_gps_beyond_the_width);
	tcase_add_test(t, fixed_counter_writes_gp_beyond_the_width);
	tcase_add_test(t, counter_wraps_at_its_width_and_sets_status);
	tcase_add_test(t, wrap_with_int_bit_asks_for_a_pmi);
	tcase_add_test(t, huge_advance_wraps_modulo_the_width);
	tcase_add_test(t, ovf_ctrl_clears_only_the_bits_written);
	tcase_add_test(t, only_cycles_count_and_fixed_0_never_does);
	tcase_add_test(t, events_hidden_in_leaf_a_do_not_count_on_gp_counters);
	tcase_add_test(t, global_ctrl_gates_counting);
	tcase_add_test(t, writes_to_a_running_counter_take_effect_from_then_on);
	tcase_add_test(t, denied_counters_keep_their_value_and_do_not_count);
	tcase_add_test(t, time_to_overflow_is_the_earliest_pmi_counter);
	tcase_add_test(t, cycles_to_pmi_saturates_for_a_64_bit_counter_at_0);
	tcase_add_test(t, tsc_rate_conversions_round_up_and_do_not_drift);
	suite_add_tcase(su, t);
	return run_suite(su);
}
