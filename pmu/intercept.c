/* KVM's PMU intercept rules, mirrored (intercept.h). The kernel functions
 * are quoted by name so a reader can put the two side by side. */
#include "pmu/intercept.h"

#include <stdarg.h>
#include <stdio.h>

#include "pmu/shape.h"

__attribute__((format(printf, 2, 3)))
static void because(struct pmu_why *w, const char *fmt, ...)
{
	if (!w || w->n >= PMU_WHY_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->line[w->n++], sizeof(w->line[0]), fmt, ap);
	va_end(ap);
}

static int min_int(int a, int b)
{
	return a < b ? a : b;
}

/* kvm_need_any_pmc_intercept(): "Check *host* PMU capabilities, not KVM's":
 * counts only. */
bool pmu_kvm_need_any_pmc_intercept(const struct pmu_kvm_vcpu_pmu *g, const struct pmu_host_perf *h,
				    struct pmu_why *why)
{
	if (!g->mediated) {
		because(why, "no mediated vPMU");
		return true;
	}
	bool gp = g->nr_gp != h->nr_gp, fixed = g->nr_fixed != h->nr_fixed;
	if (gp)
		because(why, "the guest has %d GP counters, the host %d", g->nr_gp, h->nr_gp);
	if (fixed)
		because(why, "the guest has %d fixed counters, the host %d", g->nr_fixed, h->nr_fixed);
	return gp || fixed;
}

/* kvm_need_perf_global_ctrl_intercept(): kvm_pmu_has_perf_global_ctrl() is
 * "pmu->version > 1" on both vendors (AMD's version 2 is PerfMonV2). */
bool pmu_kvm_need_perf_global_ctrl_intercept(const struct pmu_kvm_vcpu_pmu *g,
					     const struct pmu_host_perf *h, struct pmu_why *why)
{
	bool any = pmu_kvm_need_any_pmc_intercept(g, h, why);
	bool no_global = g->mediated && g->version < 2;
	if (no_global)
		because(why, "the guest has no PERF_GLOBAL_CTRL (PMU version %d; AMD: no PerfMonV2)",
			g->version);
	return any || no_global;
}

/* kvm_need_rdpmc_intercept(): the backdoor first (VMware's pseudo-PMCs
 * must be readable with RDPMC), then counts, then counter_bitmask[] against
 * perf's widths. */
bool pmu_kvm_need_rdpmc_intercept(const struct pmu_kvm_vcpu_pmu *g, const struct pmu_host_perf *h,
				  int enable_vmware_backdoor, struct pmu_why *why)
{
	bool backdoor = enable_vmware_backdoor != 0;
	if (enable_vmware_backdoor > 0)
		because(why, "kvm.enable_vmware_backdoor=Y");
	else if (backdoor)
		because(why, "kvm.enable_vmware_backdoor is unreadable (assumed Y)");
	bool any = pmu_kvm_need_any_pmc_intercept(g, h, why);
	if (!g->mediated)
		return true;
	bool gpw = g->gp_width != h->gp_width, fw = g->fixed_width != h->fixed_width;
	if (gpw)
		because(why, "GP counter width %d differs from the host's %d", g->gp_width, h->gp_width);
	if (fw)
		because(why, "fixed counter width %d differs from the host's %d", g->fixed_width,
			h->fixed_width);
	return backdoor || any || gpw || fw;
}

static int popcount32(uint32_t x)
{
	int n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}

void pmu_host_perf_of(struct pmu_host_perf *o, const struct pmu_host *h)
{
	const struct pmu_arch *c = &h->cpu;
	*o = (struct pmu_host_perf){ 0 };
	if (h->hybrid) /* perf_get_x86_pmu_capability() reports nothing */
		return;
	o->nr_gp = c->gp;
	if (h->vendor == PMU_VENDOR_AMD) {
		o->gp_width = o->nr_gp ? 48 : 0;
		return;
	}
	/* intel_pmu_init(): version 2-4 assume 3 fixed counters on bare metal
	 * (the "v2 perfmon does not report fixed-purpose events" quirk);
	 * from version 5 fixed_cntr_mask64 is leaf 0xA ECX as it is, and perf
	 * counts its bits. */
	if (c->version >= 5)
		o->nr_fixed = popcount32(c->fixed_bitmap);
	else if (c->version > 1)
		o->nr_fixed = c->fixed > (h->host_is_vm ? 0 : 3) ? c->fixed : (h->host_is_vm ? 0 : 3);
	/* perf has one counter width, cntval_bits (leaf 0xA EAX[23:16]), and
	 * reports it for fixed counters too. */
	o->gp_width = o->nr_gp ? c->gp_width : 0;
	o->fixed_width = o->nr_fixed ? c->gp_width : 0;
}

void pmu_vcpu_pmu_of_shape(struct pmu_kvm_vcpu_pmu *o, const struct pmu_shape *s,
			   const struct pmu_host *h)
{
	const struct pmu_arch *kv = &h->kvm;
	*o = (struct pmu_kvm_vcpu_pmu){ 0 };
	if ((s->mode != PMU_MODE_MEDIATED && s->mode != PMU_MODE_LEGACY) || !s->version)
		return;
	o->mediated = s->mode == PMU_MODE_MEDIATED;
	if (s->flavour == PMU_VENDOR_AMD) {
		/* amd_pmu_refresh(): 48-bit counters, no fixed ones. */
		o->version = s->amd_perfmon_v2 ? 2 : 1;
		o->nr_gp = s->gp;
		o->gp_width = 48;
		return;
	}
	/* intel_pmu_refresh(): everything capped by kvm_pmu_cap, which is what
	 * KVM_GET_SUPPORTED_CPUID reports; fixed counters from version 2. */
	o->version = min_int(s->version, kv->version);
	o->nr_gp = min_int(s->gp, kv->gp);
	o->gp_width = min_int(s->gp_width, kv->gp_width);
	if (o->version > 1) {
		o->nr_fixed = min_int(s->fixed, kv->fixed);
		o->fixed_width = min_int(s->fixed_width, kv->fixed_width);
	}
}
