/* The soft PMU's registers and arithmetic (no KVM, no clocks). Semantics
 * follow the Intel SDM (vol. 3B ch. 20, architectural performance
 * monitoring v1/v2) and, where the SDM leaves room, KVM's own vPMU so that
 * a guest sees what it would see under KVM. */
#include "pmu/soft.h"

#include <string.h>

void soft_pmu_init(struct soft_pmu *s, const struct pmu_shape *sh)
{
	memset(s, 0, sizeof(*s));
	s->version = sh->version;
	s->ngp = sh->gp > SOFT_MAX_GP ? SOFT_MAX_GP : sh->gp;
	s->nfixed = sh->version < 2 ? 0 : sh->fixed > SOFT_MAX_FIXED ? SOFT_MAX_FIXED : sh->fixed;
	s->gp_width = sh->gp_width;
	s->fixed_width = sh->fixed_width;
	s->unavail = sh->unavail;
	s->pdcm = sh->pdcm;
	s->perf_caps = sh->pdcm ? sh->perf_caps : 0;
	if (s->version >= 2)
		s->global_ctrl = soft_global_mask(s);
}

static uint64_t width_mask(int w)
{
	return w >= 64 ? ~0ULL : w <= 0 ? 0 : (1ULL << w) - 1;
}

uint64_t soft_counter_mask(const struct soft_pmu *s, int bit)
{
	return width_mask(bit >= 32 ? s->fixed_width : s->gp_width);
}

uint64_t soft_global_mask(const struct soft_pmu *s)
{
	return width_mask(s->ngp) | (width_mask(s->nfixed) << 32);
}

uint64_t soft_fixed_ctrl_mask(const struct soft_pmu *s)
{
	uint64_t m = 0;
	/* Per counter: bits 1:0 enable (OS/USR), bit 3 PMI; bit 2 AnyThread is v3+. */
	for (int i = 0; i < s->nfixed; i++)
		m |= 0xbULL << (4 * i);
	return m;
}

bool soft_msr_owned(uint32_t i)
{
	return (i >= MSR_IA32_PMC0 && i < MSR_IA32_PMC0 + SOFT_MAX_GP) ||
	       (i >= MSR_IA32_PERFEVTSEL0 && i < MSR_IA32_PERFEVTSEL0 + SOFT_MAX_GP) ||
	       (i >= MSR_CORE_PERF_FIXED_CTR0 && i < MSR_CORE_PERF_FIXED_CTR0 + SOFT_MAX_FIXED) ||
	       i == MSR_IA32_PERF_CAPABILITIES ||
	       (i >= MSR_CORE_PERF_FIXED_CTR_CTRL && i <= MSR_CORE_PERF_GLOBAL_OVF_CTRL) ||
	       (i >= MSR_IA32_PMC0_FULL && i < MSR_IA32_PMC0_FULL + SOFT_MAX_GP);
}

static bool fw_writes(const struct soft_pmu *s)
{
	return s->pdcm && (s->perf_caps & PMU_PERF_CAP_FW_WRITES);
}

/* Index of `msr` in [base, base + n) or -1. */
static int in_range(uint32_t msr, uint32_t base, int n)
{
	return msr >= base && msr < base + (uint32_t)n ? (int)(msr - base) : -1;
}

int soft_rdmsr(const struct soft_pmu *s, uint32_t msr, uint64_t *val)
{
	int i;
	const bool v2 = s->version >= 2;

	if ((i = in_range(msr, MSR_IA32_PMC0, s->ngp)) >= 0)
		*val = s->pmc[i];
	else if (fw_writes(s) && (i = in_range(msr, MSR_IA32_PMC0_FULL, s->ngp)) >= 0)
		*val = s->pmc[i];
	else if ((i = in_range(msr, MSR_IA32_PERFEVTSEL0, s->ngp)) >= 0)
		*val = s->evtsel[i];
	else if ((i = in_range(msr, MSR_CORE_PERF_FIXED_CTR0, s->nfixed)) >= 0)
		*val = s->fixed[i];
	else if (msr == MSR_IA32_PERF_CAPABILITIES && s->pdcm)
		*val = s->perf_caps;
	else if (v2 && msr == MSR_CORE_PERF_FIXED_CTR_CTRL)
		*val = s->fixed_ctrl;
	else if (v2 && msr == MSR_CORE_PERF_GLOBAL_STATUS)
		*val = s->global_status;
	else if (v2 && msr == MSR_CORE_PERF_GLOBAL_CTRL)
		*val = s->global_ctrl;
	else if (v2 && msr == MSR_CORE_PERF_GLOBAL_OVF_CTRL)
		*val = 0; /* write-only in effect: reads as zero, as under KVM */
	else
		return -1;
	return 0;
}

int soft_wrmsr(struct soft_pmu *s, uint32_t msr, uint64_t val)
{
	int i;
	const bool v2 = s->version >= 2;

	if ((i = in_range(msr, MSR_IA32_PMC0, s->ngp)) >= 0) {
		/* Legacy alias: bits 31:0 written, sign-extended to the width. */
		s->pmc[i] = (uint64_t)(int64_t)(int32_t)(uint32_t)val & soft_counter_mask(s, i);
	} else if (fw_writes(s) && (i = in_range(msr, MSR_IA32_PMC0_FULL, s->ngp)) >= 0) {
		if (val & ~soft_counter_mask(s, i))
			return -1;
		s->pmc[i] = val;
	} else if ((i = in_range(msr, MSR_IA32_PERFEVTSEL0, s->ngp)) >= 0) {
		if (val & EVTSEL_RESERVED_V2)
			return -1;
		s->evtsel[i] = val;
	} else if ((i = in_range(msr, MSR_CORE_PERF_FIXED_CTR0, s->nfixed)) >= 0) {
		if (val & ~soft_counter_mask(s, SOFT_FIXED_BIT(i)))
			return -1;
		s->fixed[i] = val;
	} else if (v2 && msr == MSR_CORE_PERF_FIXED_CTR_CTRL) {
		if (val & ~soft_fixed_ctrl_mask(s))
			return -1;
		s->fixed_ctrl = val;
	} else if (v2 && msr == MSR_CORE_PERF_GLOBAL_CTRL) {
		if (val & ~soft_global_mask(s))
			return -1;
		s->global_ctrl = val;
	} else if (v2 && msr == MSR_CORE_PERF_GLOBAL_OVF_CTRL) {
		if (val & ~(soft_global_mask(s) | SOFT_OVF_CTRL_EXTRA))
			return -1;
		s->global_status &= ~val;
	} else {
		/* GLOBAL_STATUS and PERF_CAPABILITIES are read-only; the rest
		 * does not exist for this shape. */
		return -1;
	}
	return 0;
}

/* Leaf 0xA EBX bits of the two events the model can count. */
#define UNAVAIL_CORE_CYCLES (1u << 0)
#define UNAVAIL_REF_CYCLES (1u << 2)

static enum soft_event gp_event(const struct soft_pmu *s, uint64_t e)
{
	if (!(e & (EVTSEL_USR | EVTSEL_OS)) || (e & (EVTSEL_EDGE | EVTSEL_INV | EVTSEL_CMASK)))
		return SOFT_EV_NONE;
	if ((e & 0xff) != 0x3c)
		return SOFT_EV_NONE;
	switch ((e >> 8) & 0xff) {
	case 0x00:
		return s->unavail & UNAVAIL_CORE_CYCLES ? SOFT_EV_NONE : SOFT_EV_CORE_CYCLES;
	case 0x01:
		return s->unavail & UNAVAIL_REF_CYCLES ? SOFT_EV_NONE : SOFT_EV_REF_CYCLES;
	default:
		return SOFT_EV_NONE;
	}
}

enum soft_event soft_counter_event(const struct soft_pmu *s, int bit)
{
	const bool v2 = s->version >= 2;

	if (bit >= 0 && bit < s->ngp) {
		uint64_t e = s->evtsel[bit];
		if (!(e & EVTSEL_EN) || (v2 && !(s->global_ctrl & (1ULL << bit))))
			return SOFT_EV_NONE;
		return gp_event(s, e);
	}
	int i = bit - 32;
	if (i < 0 || i >= s->nfixed || !(s->global_ctrl & (1ULL << bit)))
		return SOFT_EV_NONE;
	if (!((s->fixed_ctrl >> (4 * i)) & 3))
		return SOFT_EV_NONE;
	/* Fixed 0 counts instructions retired: nothing here can. */
	return i == 1 ? SOFT_EV_CORE_CYCLES : i == 2 ? SOFT_EV_REF_CYCLES : SOFT_EV_NONE;
}

bool soft_counter_int(const struct soft_pmu *s, int bit)
{
	if (bit >= 0 && bit < s->ngp)
		return s->evtsel[bit] & EVTSEL_INT;
	int i = bit - 32;
	return i >= 0 && i < s->nfixed && ((s->fixed_ctrl >> (4 * i)) & 8);
}

static uint64_t *counter(struct soft_pmu *s, int bit)
{
	return bit < 32 ? &s->pmc[bit] : &s->fixed[bit - 32];
}

static uint64_t evtsel_of(const struct soft_pmu *s, int bit)
{
	return bit < 32 ? s->evtsel[bit] : 0;
}

/* Counter bits in order: GP 0..ngp-1, then fixed 32..32+nfixed-1. */
static int counter_bits(const struct soft_pmu *s, int bits[SOFT_MAX_GP + SOFT_MAX_FIXED])
{
	int n = 0;
	for (int i = 0; i < s->ngp; i++)
		bits[n++] = i;
	for (int i = 0; i < s->nfixed; i++)
		bits[n++] = SOFT_FIXED_BIT(i);
	return n;
}

uint64_t soft_advance(struct soft_pmu *s, uint64_t cycles, soft_allow_fn allow, void *opaque)
{
	int bits[SOFT_MAX_GP + SOFT_MAX_FIXED], n = counter_bits(s, bits);
	uint64_t pmi = 0;
	if (!cycles)
		return 0;
	for (int k = 0; k < n; k++) {
		int bit = bits[k];
		if (soft_counter_event(s, bit) == SOFT_EV_NONE)
			continue;
		if (allow && !allow(opaque, bit, evtsel_of(s, bit)))
			continue;
		uint64_t mask = soft_counter_mask(s, bit), *c = counter(s, bit);
		bool wrapped = cycles > mask - *c;
		*c = (*c + cycles) & mask;
		if (wrapped) {
			s->global_status |= 1ULL << bit;
			if (soft_counter_int(s, bit))
				pmi |= 1ULL << bit;
		}
	}
	return pmi;
}

uint64_t soft_cycles_to_pmi(const struct soft_pmu *s, soft_allow_fn allow, void *opaque)
{
	int bits[SOFT_MAX_GP + SOFT_MAX_FIXED], n = counter_bits(s, bits);
	uint64_t best = UINT64_MAX;
	for (int k = 0; k < n; k++) {
		int bit = bits[k];
		if (!soft_counter_int(s, bit) || soft_counter_event(s, bit) == SOFT_EV_NONE)
			continue;
		if (allow && !allow(opaque, bit, evtsel_of(s, bit)))
			continue;
		uint64_t mask = soft_counter_mask(s, bit);
		uint64_t v = bit < 32 ? s->pmc[bit] : s->fixed[bit - 32];
		/* Cycles to the wrap: 2^width - v, which for a 64-bit counter
		 * at 0 does not fit; saturate (UINT64_MAX: not in reach). */
		uint64_t left = mask - (v & mask);
		left = left == UINT64_MAX ? UINT64_MAX : left + 1;
		if (left < best)
			best = left;
	}
	return best;
}

uint64_t soft_ns_to_cycles(uint64_t ns, uint64_t tsc_khz)
{
	return (uint64_t)((unsigned __int128)ns * tsc_khz / 1000000u);
}

uint64_t soft_cycles_to_ns(uint64_t cycles, uint64_t tsc_khz)
{
	if (!tsc_khz)
		return UINT64_MAX;
	unsigned __int128 ns = ((unsigned __int128)cycles * 1000000u + tsc_khz - 1) / tsc_khz;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}
