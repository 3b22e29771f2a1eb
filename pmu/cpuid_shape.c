/* CPUID shaping per mode (docs/pmu.md §3). */
#include "base/err.h"
#include "pmu/shape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Mediated: what KVM will intercept, by the kernel's rules (intercept.h). */
static void decide_intercepts(struct pmu_shape *s, const struct pmu_host *h)
{
	struct pmu_kvm_vcpu_pmu g;
	struct pmu_host_perf hp;

	pmu_vcpu_pmu_of_shape(&g, s, h);
	pmu_host_perf_of(&hp, h);
	s->globals_direct = !pmu_kvm_need_perf_global_ctrl_intercept(&g, &hp, &s->globals_why);
	s->rdpmc_direct = !pmu_kvm_need_rdpmc_intercept(&g, &hp, h->enable_vmware_backdoor, &s->rdpmc_why);
	if (h->kvm.gp < hp.nr_gp || h->kvm.fixed < hp.nr_fixed)
		snprintf(s->kvm_limit, sizeof(s->kvm_limit),
			 "KVM_GET_SUPPORTED_CPUID offers %d GP and %d fixed counters of the host's %d and %d",
			 h->kvm.gp, h->kvm.fixed, hp.nr_gp, hp.nr_fixed);
}

static int pick(int asked, int dflt)
{
	return asked < 0 ? dflt : asked;
}

/* Intel, in-kernel modes: defaults and limits from what KVM supports
 * (KVM_GET_SUPPORTED_CPUID already applies KVM's caps: no literal here). */
static int shape_intel_kernel(struct pmu_shape *s, const struct cfg_pmu *c, const struct pmu_host *h,
			      char *err, size_t errlen)
{
	const struct pmu_arch *kv = &h->kvm, *hw = &h->cpu;
	int kv_fixed = kv->fixed;

	if (c->version > 2)
		FAIL("pmu.version: %d asked, but KVM implements PMU version 2 at most", c->version);
	if (c->version > kv->version)
		FAIL("pmu.version: %d asked, but KVM on this host supports version %d", c->version,
		     kv->version);
	if (c->version == 0)
		FAIL("pmu.version: 0 means no PMU; use \"mode\": \"off\"");
	s->version = pick(c->version, kv->version > 2 ? 2 : kv->version);
	s->gp = pick(c->gp_counters, kv->gp);
	if (s->gp > kv->gp)
		FAIL("pmu.gp_counters: %d asked, but the host has %d (KVM supports %d)", s->gp, hw->gp,
		     kv->gp);
	if (s->version < 2 && c->fixed_counters > 0)
		FAIL("pmu.fixed_counters: PMU version 1 has no fixed counters (ask for version 2)");
	s->fixed = s->version < 2 ? 0 : pick(c->fixed_counters, kv_fixed);
	if (s->fixed > kv_fixed)
		FAIL("pmu.fixed_counters: %d asked, but the host has %d and KVM exposes %d (KVM_GET_SUPPORTED_CPUID)",
		     s->fixed, hw->fixed, kv_fixed);
	s->gp_width = pick(c->gp_width, kv->gp_width);
	if (s->gp_width > kv->gp_width)
		FAIL("pmu.gp_width: %d bits asked, but the host's counters are %d bits", s->gp_width,
		     kv->gp_width);
	s->fixed_width = s->fixed ? pick(c->fixed_width, kv->fixed_width) : 0;
	if (s->fixed_width > kv->fixed_width)
		FAIL("pmu.fixed_width: %d bits asked, but the host's fixed counters are %d bits",
		     s->fixed_width, kv->fixed_width);
	s->ebx_len = kv->ebx_len;
	/* Hiding is always possible; what the host lacks stays hidden. */
	s->unavail = kv->unavail | c->unavailable_events;
	s->pdcm = kv->pdcm;
	if (s->pdcm && h->kvm_info.perf_caps_known)
		s->perf_caps = h->kvm_info.perf_caps & PMU_PERF_CAP_FW_WRITES;

	if (s->mode == PMU_MODE_MEDIATED)
		decide_intercepts(s, h);
	return 0;
}

/* AMD, in-kernel modes: K7 (4 counters), PerfCtrExtCore (6), PerfMonV2 (n). */
static int shape_amd_kernel(struct pmu_shape *s, const struct cfg_pmu *c, const struct pmu_host *h,
			    char *err, size_t errlen)
{
	const struct pmu_arch *kv = &h->kvm, *hw = &h->cpu;

	if (c->version == 0)
		FAIL("pmu.version: 0 means no PMU; use \"mode\": \"off\"");
	if (c->version > kv->version)
		FAIL("pmu.version: %d asked, but KVM on this AMD host offers %s", c->version,
		     kv->amd_perfmon_v2 ? "PerfMonV2 (version 2) at most" : "no PerfMonV2 (version 1 only)");
	if (c->fixed_counters > 0)
		FAIL("pmu.fixed_counters: AMD CPUs have no fixed counters");
	if (c->gp_width >= 0 && c->gp_width != 48)
		FAIL("pmu.gp_width: AMD counters are 48 bits wide; the width cannot be changed");
	if (c->fixed_width >= 0)
		FAIL("pmu.fixed_width: AMD CPUs have no fixed counters");
	if (c->unavailable_events)
		FAIL("pmu.unavailable_events: AMD CPUs have no architectural event vector (CPUID leaf 0xA EBX) to mark events in");
	s->version = pick(c->version, kv->version);
	s->gp = pick(c->gp_counters, kv->gp);
	if (s->gp > kv->gp)
		FAIL("pmu.gp_counters: %d asked, but the host has %d (KVM supports %d)", s->gp, hw->gp,
		     kv->gp);
	s->gp_width = 48;
	s->amd_perfmon_v2 = s->version >= 2;
	if (s->amd_perfmon_v2) {
		s->amd_perfctr_core = true; /* KVM requires it with PerfMonV2 */
	} else if (s->gp == 6 && kv->amd_perfctr_core) {
		s->amd_perfctr_core = true;
	} else if (s->gp != 4) {
		FAIL("pmu.gp_counters: without PerfMonV2 an AMD guest has 4 counters%s, not %d",
		     kv->amd_perfctr_core ? " (K7) or 6 (PerfCtrExtCore)" : "", s->gp);
	}
	if (s->mode == PMU_MODE_MEDIATED)
		decide_intercepts(s, h);
	return 0;
}

static int shape_soft(struct pmu_shape *s, const struct cfg_pmu *c, char *err, size_t errlen)
{
	s->flavour = PMU_VENDOR_INTEL; /* the model is the Intel architectural PMU */
	s->version = pick(c->version, 2);
	if (s->version < 1 || s->version > 2)
		FAIL("pmu.version: the soft model implements versions 1 and 2, not %d", s->version);
	s->gp = pick(c->gp_counters, SOFT_DEFAULT_GP);
	if (s->gp > SOFT_MAX_GP)
		FAIL("pmu.gp_counters: the soft model has at most %d, %d asked", SOFT_MAX_GP, s->gp);
	if (s->version < 2 && c->fixed_counters > 0)
		FAIL("pmu.fixed_counters: PMU version 1 has no fixed counters (ask for version 2)");
	s->fixed = s->version < 2 ? 0 : pick(c->fixed_counters, SOFT_MAX_FIXED);
	if (s->fixed > SOFT_MAX_FIXED)
		FAIL("pmu.fixed_counters: the soft model has at most %d, %d asked", SOFT_MAX_FIXED,
		     s->fixed);
	s->gp_width = pick(c->gp_width, SOFT_DEFAULT_WIDTH);
	s->fixed_width = s->fixed ? pick(c->fixed_width, SOFT_DEFAULT_WIDTH) : 0;
	if (s->gp_width < SOFT_MIN_WIDTH || s->gp_width > SOFT_DEFAULT_WIDTH)
		FAIL("pmu.gp_width: the soft model takes %d..%d bits, %d asked", SOFT_MIN_WIDTH,
		     SOFT_DEFAULT_WIDTH, s->gp_width);
	if (s->fixed && (s->fixed_width < SOFT_MIN_WIDTH || s->fixed_width > SOFT_DEFAULT_WIDTH))
		FAIL("pmu.fixed_width: the soft model takes %d..%d bits, %d asked", SOFT_MIN_WIDTH,
		     SOFT_DEFAULT_WIDTH, s->fixed_width);
	s->ebx_len = SOFT_EBX_LEN;
	/* At least what the model cannot count; the model then does not count
	 * what the config hid either (soft.c). */
	s->unavail = SOFT_UNAVAIL | c->unavailable_events;
	s->pdcm = true;
	s->perf_caps = PMU_PERF_CAP_FW_WRITES;
	return 0;
}

int pmu_shape_compute(struct pmu_shape *s, enum pmu_mode m, const struct cfg_pmu *cfg,
		      const struct pmu_host *h, char *err, size_t errlen)
{
	struct pmu_shape tmp = { .mode = m, .flavour = h->vendor };
	int rc = 0;

	switch (m) {
	case PMU_MODE_OFF:
		break;
	case PMU_MODE_SOFT:
		rc = shape_soft(&tmp, cfg, err, errlen);
		break;
	case PMU_MODE_LEGACY:
	case PMU_MODE_MEDIATED:
		if (h->vendor == PMU_VENDOR_INTEL)
			rc = shape_intel_kernel(&tmp, cfg, h, err, errlen);
		else if (h->vendor == PMU_VENDOR_AMD)
			rc = shape_amd_kernel(&tmp, cfg, h, err, errlen);
		else
			FAIL("pmu.mode: KVM's vPMU supports Intel and AMD CPUs only");
		break;
	default:
		FAIL("pmu.mode: invalid mode %d", (int)m);
	}
	if (rc)
		return -1;
	*s = tmp;
	return 0;
}

void pmu_shape_leaf_a(const struct pmu_shape *s, uint32_t out[4])
{
	memset(out, 0, 4 * sizeof(uint32_t));
	if (s->mode == PMU_MODE_OFF || s->flavour != PMU_VENDOR_INTEL || !s->version)
		return;
	out[0] = (uint32_t)s->version | (uint32_t)s->gp << 8 | (uint32_t)s->gp_width << 16 |
		 (uint32_t)s->ebx_len << 24;
	out[1] = s->unavail;
	if (s->version > 1)
		out[3] = (uint32_t)s->fixed | (uint32_t)s->fixed_width << 5;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == 0)
			return &c->entries[i];
	return NULL;
}

static void set_bit32(uint32_t *r, int bit, bool on)
{
	if (on)
		*r |= 1u << bit;
	else
		*r &= ~(1u << bit);
}

unsigned pmu_shape_apply(const struct pmu_shape *s, struct kvm_cpuid2 *c)
{
	unsigned missing = 0;
	uint32_t a[4];
	struct kvm_cpuid_entry2 *e, *l0 = find(c, 0);

	pmu_shape_leaf_a(s, a);
	e = find(c, 0xa);
	if (e) {
		e->eax = a[0];
		e->ebx = a[1];
		e->ecx = a[2];
		e->edx = a[3];
	}
	if (a[0] && (!e || !l0 || l0->eax < 0xa))
		missing |= PMU_SHAPE_MISSING_LEAF_A;

	if ((e = find(c, 1)))
		set_bit32(&e->ecx, 15, s->pdcm);
	else if (s->pdcm)
		missing |= PMU_SHAPE_MISSING_LEAF_1;

	/* Cleared for every mode but AMD in-kernel ones: the soft model is the
	 * Intel architectural PMU whatever the host vendor. */
	if ((e = find(c, 0x80000001)))
		set_bit32(&e->ecx, 23, s->amd_perfctr_core);
	else if (s->amd_perfctr_core)
		missing |= PMU_SHAPE_MISSING_EXT_1;

	if ((e = find(c, 0x80000022))) {
		/* Only PerfMonV2 and its core counter count; LBR and northbridge
		 * counters are not part of what mpvm offers. */
		e->eax = s->amd_perfmon_v2 ? 1 : 0;
		e->ebx = s->amd_perfmon_v2 ? (uint32_t)s->gp & 0xf : 0;
		e->ecx = e->edx = 0;
	} else if (s->amd_perfmon_v2) {
		missing |= PMU_SHAPE_MISSING_EXT_22;
	}
	return missing;
}
