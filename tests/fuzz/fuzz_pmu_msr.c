/* libFuzzer: the soft PMU's guest-visible MSRs (pmu/soft.c), which a guest
 * reaches through RDMSR/WRMSR exits with any index and value, and its
 * counting arithmetic. Input: 4 bytes of shape (within what
 * pmu_shape_compute() gives the soft model: version 1-2, up to 8 GP and 3
 * fixed counters of 32-48 bits, FW_WRITES), a byte of filter (which
 * counters the event filter lets count), then 10-byte operations: RDMSR,
 * WRMSR, or time passing.
 *
 * Oracles: every register stays inside its valid bits (counters inside
 * their width, event selects free of reserved bits, the global registers
 * inside the counters that exist); a WRMSR that succeeds reads back
 * (counters through the legacy alias: sign-extended low 32 bits), one that
 * fails (#GP) changes nothing; soft_cycles_to_pmi() is exact: one cycle
 * fewer raises no PMI, that many raises one; a PMI only names counters whose
 * overflow bit is now set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmu/soft.h"
#include "fuzz_check.h"

/* The MSR indexes the model owns, plus neighbours of its ranges. */
static uint32_t msr_of(uint8_t b)
{
	static const uint32_t base[] = {
		MSR_IA32_PMC0, MSR_IA32_PERFEVTSEL0, MSR_CORE_PERF_FIXED_CTR0, MSR_IA32_PMC0_FULL,
		MSR_CORE_PERF_FIXED_CTR_CTRL, MSR_IA32_PERF_CAPABILITIES,
	};
	return base[(b >> 4) % 6] + (b & 15) - 2;
}

static bool allow(void *opaque, int bit, uint64_t eventsel)
{
	uint8_t mask = *(uint8_t *)opaque;
	return mask & (1u << (bit >= 32 ? 5 + (bit - 32) % 3 : bit % 5));
}

static void check_regs(const struct soft_pmu *s)
{
	for (int i = 0; i < s->ngp; i++) {
		CHECK(!(s->pmc[i] & ~soft_counter_mask(s, i)));
		CHECK(!(s->evtsel[i] & EVTSEL_RESERVED_V2));
	}
	for (int i = 0; i < s->nfixed; i++)
		CHECK(!(s->fixed[i] & ~soft_counter_mask(s, SOFT_FIXED_BIT(i))));
	CHECK(!(s->fixed_ctrl & ~soft_fixed_ctrl_mask(s)));
	CHECK(!(s->global_ctrl & ~soft_global_mask(s)) || s->version < 2);
	CHECK(!(s->global_status & ~soft_global_mask(s)));
}

static uint64_t rd64le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	struct pmu_shape sh = { 0 };
	sh.version = 1 + (data[0] & 1);
	sh.gp = (data[0] >> 1) % (SOFT_MAX_GP + 1);
	sh.fixed = sh.version < 2 ? 0 : (data[0] >> 5) % (SOFT_MAX_FIXED + 1);
	sh.gp_width = SOFT_MIN_WIDTH + data[1] % (SOFT_DEFAULT_WIDTH - SOFT_MIN_WIDTH + 1);
	sh.fixed_width = sh.fixed ? SOFT_MIN_WIDTH + data[2] % (SOFT_DEFAULT_WIDTH - SOFT_MIN_WIDTH + 1) : 0;
	sh.unavail = SOFT_UNAVAIL | (data[3] & 0x7f);
	sh.pdcm = true;
	sh.perf_caps = PMU_PERF_CAP_FW_WRITES;
	uint8_t filter = data[4];
	data += 5, size -= 5;

	struct soft_pmu s;
	soft_pmu_init(&s, &sh);
	check_regs(&s);
	for (size_t i = 0; i + 10 <= size; i += 10) {
		const uint8_t *op = data + i;
		uint32_t msr = msr_of(op[1]);
		uint64_t v = rd64le(op + 2), got;
		switch (op[0] % 3) {
		case 0:
			if (soft_rdmsr(&s, msr, &got) == 0)
				CHECK(soft_msr_owned(msr));
			break;
		case 1: {
			struct soft_pmu before = s;
			if (soft_wrmsr(&s, msr, v)) {
				CHECK(!memcmp(&before, &s, sizeof(s))); /* #GP: no effect */
				break;
			}
			CHECK(soft_msr_owned(msr));
			uint64_t back;
			if (msr == MSR_CORE_PERF_GLOBAL_OVF_CTRL || soft_rdmsr(&s, msr, &back))
				break;
			if (msr >= MSR_IA32_PMC0 && msr < MSR_IA32_PMC0 + SOFT_MAX_GP)
				v = (uint64_t)(int64_t)(int32_t)v & soft_counter_mask(&s, (int)(msr - MSR_IA32_PMC0));
			CHECK(back == v);
			break;
		}
		case 2: {
			uint64_t cycles = v >> (op[1] & 63), to_pmi = soft_cycles_to_pmi(&s, allow, &filter);
			if (to_pmi != UINT64_MAX && to_pmi > 0) {
				struct soft_pmu t = s;
				CHECK(soft_advance(&t, to_pmi - 1, allow, &filter) == 0);
				CHECK(soft_advance(&t, 1, allow, &filter) != 0);
			}
			uint64_t pmi = soft_advance(&s, cycles, allow, &filter);
			CHECK(!(pmi & ~s.global_status));
			if (to_pmi != UINT64_MAX)
				CHECK((pmi != 0) == (cycles >= to_pmi));
			break;
		}
		}
		check_regs(&s);
	}
	return 0;
}
