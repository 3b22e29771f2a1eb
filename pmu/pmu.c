/* The PMU module's entry points: mode choice, config checks, the VM hooks
 * and the run-time filter. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/log.h"
#include "pmu/pmu_int.h"

void pmu_note(struct pmu *p, const char *fmt, ...)
{
	if (p->nnotes >= PMU_MAX_NOTES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->notes[p->nnotes++], sizeof(p->notes[0]), fmt, ap);
	va_end(ap);
}

void pmu_verdict_text(const struct pmu_verdict *v, char *b, size_t len, bool with_fix)
{
	size_t o = 0;
	b[0] = 0;
	for (int i = 0; i < v->nreasons && o < len; i++)
		o += (size_t)snprintf(b + o, len - o, "%s%s%s%s%s", i ? "; " : "", v->r[i].why,
				      with_fix ? " (fix: " : "", with_fix ? v->r[i].fix : "",
				      with_fix ? ")" : "");
}

/* The mode in force for the configured one, or -1 with `err` set. */
static int choose_mode(struct pmu *p, char *err, size_t errlen)
{
	const struct pmu_host *h = &p->host;
	char r1[640], r2[640];
	enum pmu_mode want;

	switch (p->cfg.mode) {
	case CFG_PMU_OFF:
		snprintf(p->why, sizeof(p->why), "configured: off");
		return PMU_MODE_OFF;
	case CFG_PMU_MEDIATED: want = PMU_MODE_MEDIATED; break;
	case CFG_PMU_LEGACY: want = PMU_MODE_LEGACY; break;
	case CFG_PMU_SOFT: want = PMU_MODE_SOFT; break;
	case CFG_PMU_AUTO:
		if (h->verdict[PMU_MODE_MEDIATED].available) {
			snprintf(p->why, sizeof(p->why), "auto: the host offers the mediated vPMU");
			return PMU_MODE_MEDIATED;
		}
		pmu_verdict_text(&h->verdict[PMU_MODE_MEDIATED], r1, sizeof(r1), false);
		if (h->verdict[PMU_MODE_LEGACY].available) {
			snprintf(p->why, sizeof(p->why), "auto: legacy, because mediated is unavailable: %s", r1);
			return PMU_MODE_LEGACY;
		}
		pmu_verdict_text(&h->verdict[PMU_MODE_LEGACY], r2, sizeof(r2), false);
		snprintf(p->why, sizeof(p->why),
			 "auto: off, because mediated is unavailable (%s) and legacy too (%s)%s", r1, r2,
			 h->verdict[PMU_MODE_SOFT].available ? "; \"mode\": \"soft\" would give a userspace PMU" : "");
		return PMU_MODE_OFF;
	default:
		FAIL("pmu.mode: invalid value %d", (int)p->cfg.mode);
	}
	if (!h->verdict[want].available) {
		pmu_verdict_text(&h->verdict[want], r1, sizeof(r1), true);
		FAIL("pmu.mode \"%s\": this host cannot give it: %s (run `mpvm pmu probe` for details)",
		     pmu_mode_name(want), r1);
	}
	snprintf(p->why, sizeof(p->why), "configured: %s", pmu_mode_name(want));
	return want;
}

/* Vendor whose event encoding a filter uses, and whether masked events
 * can be applied, for the mode in force. */
static int build_filter(struct pmu *p, const struct cfg_pmu_filter *f, struct pmu_filter **out,
			char *err, size_t errlen)
{
	const struct pmu_kvm_info *k = &p->host.kvm_info;
	bool kernel = p->mode == PMU_MODE_MEDIATED || p->mode == PMU_MODE_LEGACY;
	enum pmu_vendor v = p->mode == PMU_MODE_SOFT ? PMU_VENDOR_INTEL : p->host.vendor;

	if (kernel && k->cap_pmu_event_filter <= 0)
		FAIL("pmu.filter: this kernel lacks KVM_CAP_PMU_EVENT_FILTER (Linux 5.6+)");
	*out = pmu_filter_build(f, v, !kernel || k->cap_masked_events > 0, err, errlen);
	return *out ? 0 : -1;
}

struct pmu *pmu_new(const struct cfg_pmu *cfg, const struct pmu_host *host, char *err, size_t errlen)
{
	struct pmu *p = calloc(1, sizeof(*p));
	if (!p) {
		err_set(err, errlen, "PMU: out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	p->host = *host;
	pthread_rwlock_init(&p->filter_lock, NULL);
	pthread_mutex_init(&p->stats_lock, NULL);

	int m = choose_mode(p, err, errlen);
	if (m < 0)
		goto fail;
	p->mode = (enum pmu_mode)m;
	if (pmu_shape_compute(&p->shape, p->mode, cfg, host, err, errlen))
		goto fail;
	if (cfg->filter.set) {
		if (p->mode == PMU_MODE_OFF)
			pmu_note(p, "the PMU is off: the event filter has nothing to act on");
		else if (build_filter(p, &cfg->filter, &p->filter, err, errlen))
			goto fail;
	}
	if (cfg->unavailable_events) {
		if (p->mode == PMU_MODE_OFF)
			pmu_note(p, "the PMU is off: unavailable_events has nothing to hide");
		else if (p->mode != PMU_MODE_SOFT)
			pmu_note(p, "unavailable_events only changes CPUID leaf 0xA EBX: KVM may still count such an event if the guest programs it; add it to a deny filter to enforce");
	}
	if (cfg->trap_event_selects) {
		if (p->mode == PMU_MODE_MEDIATED || p->mode == PMU_MODE_LEGACY) {
			const struct pmu_kvm_info *k = &host->kvm_info;
			if (k->cap_user_space_msr <= 0 || k->cap_msr_filter <= 0) {
				err_set(err, errlen,
					"pmu.trap_event_selects: this kernel lacks KVM_CAP_X86_USER_SPACE_MSR or KVM_CAP_X86_MSR_FILTER (Linux 5.10+)");
				goto fail;
			}
			p->trap = true;
		} else {
			pmu_note(p, "trap_event_selects applies to mediated and legacy only (mode %s)",
				 pmu_mode_name(p->mode));
		}
	}
	if (cfg->mode == CFG_PMU_AUTO)
		log_info("PMU: %s", p->why);
	return p;
fail:
	pmu_free(p);
	return NULL;
}

void pmu_free(struct pmu *p)
{
	if (!p)
		return;
	if (p->timer)
		soft_destroy(p, NULL);
	pmu_filter_free(p->filter);
	free(p->restore);
	pthread_rwlock_destroy(&p->filter_lock);
	pthread_mutex_destroy(&p->stats_lock);
	free(p);
}

enum pmu_mode pmu_mode(const struct pmu *p)
{
	return p->mode;
}

/* ---- hooks ---- */

static int h_before_vcpus(void *o, struct vm *vm, char *err, size_t errlen)
{
	return kernel_before_vcpus(o, vm, err, errlen);
}

static int h_vcpu_create_failed(void *o, struct vm *vm, int e, char *err, size_t errlen)
{
	return kernel_vcpu_create_failed(o, vm, e, err, errlen);
}

static void h_shape_cpuid(void *o, struct vcpu *v, struct kvm_cpuid2 *c)
{
	struct pmu *p = o;
	unsigned missing = pmu_shape_apply(&p->shape, c);
	if (missing && !p->cpuid_missing)
		log_warn("PMU: vCPU %d: KVM's CPUID lacks leaves the %s PMU needs (%s%s%s%s); the guest may not see it",
			 v->id, pmu_mode_name(p->mode),
			 missing & PMU_SHAPE_MISSING_LEAF_A ? " 0xA" : "",
			 missing & PMU_SHAPE_MISSING_LEAF_1 ? " 0x1" : "",
			 missing & PMU_SHAPE_MISSING_EXT_1 ? " 0x80000001" : "",
			 missing & PMU_SHAPE_MISSING_EXT_22 ? " 0x80000022" : "");
	p->cpuid_missing |= missing;
}

static int h_vcpu_init(void *o, struct vcpu *v, char *err, size_t errlen)
{
	struct pmu *p = o;
	if (p->mode == PMU_MODE_SOFT)
		return soft_vcpu_init(p, v, err, errlen);
	return kernel_vcpu_init(p, v, err, errlen);
}

static int h_msr(void *o, struct vcpu *v, uint32_t index, bool is_write, uint64_t *data)
{
	struct pmu *p = o;
	int rc;

	atomic_fetch_add(&p->msr_exits, 1);
	if (p->mode == PMU_MODE_SOFT && soft_msr_owned(index))
		return soft_vcpu_msr(p, v, index, is_write, data);
	if (p->trap) {
		rc = kernel_trap_msr(p, v, index, is_write, data);
	} else {
		/* Not an MSR this module asked for: no filter of ours sent it. */
		pmu_count_msr(p, index, is_write);
		rc = -1;
	}
	if (rc)
		atomic_fetch_add(&p->msr_gp, 1);
	return rc;
}

static void h_before_run(void *o, struct vcpu *v)
{
	struct pmu *p = o;
	if (p->mode == PMU_MODE_SOFT)
		soft_vcpu_before_run(p, v);
}

static void h_destroy(void *o, struct vm *vm)
{
	char line[4096];

	pmu_summary(o, line, sizeof(line));
	log_info("PMU summary: %s", line);
	soft_destroy(o, vm);
}

void pmu_attach(struct pmu *p, struct vm *vm)
{
	p->vm = vm;
	vm->hooks = (struct vm_hooks){
		.opaque = p,
		.before_vcpus = h_before_vcpus,
		.vcpu_create_failed = h_vcpu_create_failed,
		.shape_cpuid = h_shape_cpuid,
		.vcpu_init = h_vcpu_init,
		/* Only the modes that filter MSRs get MSR exits. */
		.msr = p->mode == PMU_MODE_SOFT || p->trap ? h_msr : NULL,
		.before_run = p->mode == PMU_MODE_SOFT ? h_before_run : NULL,
		.destroy = h_destroy,
	};
}

/* ---- run time ---- */

int pmu_set_filter(struct pmu *p, const struct cfg_pmu_filter *f, char *err, size_t errlen)
{
	struct pmu_filter *nf = NULL, *old;

	if (p->mode == PMU_MODE_OFF)
		FAIL("pmu.filter: the PMU is off (%s): there are no events to filter", p->why);
	if (f->set && build_filter(p, f, &nf, err, errlen))
		return -1;
	if (p->mode == PMU_MODE_SOFT)
		soft_sync_all(p); /* counts so far belong to the old filter */
	pthread_rwlock_wrlock(&p->filter_lock);
	if (p->kernel_filter_live) {
		/* A DENY list of nothing is how KVM spells "no filter". */
		static struct kvm_pmu_event_filter none = { .action = KVM_PMU_EVENT_DENY };
		int rc = vm_ioctl(p->vm, KVM_SET_PMU_EVENT_FILTER, nf ? nf->kvm : &none, err, errlen);
		if (rc < 0) {
			pthread_rwlock_unlock(&p->filter_lock);
			pmu_filter_free(nf);
			return err_append(err, errlen, "%s; the previous filter stays",
					  rc == -E2BIG ? " (more events than the kernel accepts)" : "");
		}
	}
	old = p->filter;
	p->filter = nf;
	p->cfg.filter = *f;
	pthread_rwlock_unlock(&p->filter_lock);
	pmu_filter_free(old);
	if (p->mode == PMU_MODE_SOFT)
		soft_rearm_all(p);
	log_info("PMU: event filter replaced (%s, %u events)",
		 !f->set ? "none" : f->action == CFG_FILTER_DENY ? "deny" : "allow", f->set ? f->nevents : 0);
	return 0;
}

static void count(struct pmu_counts *t, uint32_t key, int what)
{
	struct pmu_count *c = NULL;
	for (int i = 0; i < t->n; i++)
		if (t->e[i].key == key) {
			c = &t->e[i];
			break;
		}
	if (!c && t->n < PMU_COUNT_SLOTS) {
		c = &t->e[t->n++];
		c->key = key;
	}
	if (!c) {
		t->other++;
		return;
	}
	if (what == 0)
		c->reads++;
	else if (what == 1)
		c->writes++;
	else
		c->denied++;
}

void pmu_count_msr(struct pmu *p, uint32_t msr, bool is_write)
{
	pthread_mutex_lock(&p->stats_lock);
	count(&p->by_msr, msr, is_write);
	pthread_mutex_unlock(&p->stats_lock);
}

void pmu_count_event(struct pmu *p, uint32_t key, bool denied)
{
	pthread_mutex_lock(&p->stats_lock);
	count(&p->by_event, key, 1);
	if (denied)
		count(&p->by_event, key, 2);
	pthread_mutex_unlock(&p->stats_lock);
	if (denied)
		atomic_fetch_add(&p->denied, 1);
}

void pmu_get_metrics(struct pmu *p, struct pmu_metrics *m)
{
	m->pmis_injected = atomic_load(&p->pmis);
	m->pmis_masked = atomic_load(&p->pmis_masked);
	m->msr_exits = atomic_load(&p->msr_exits);
	m->msr_exits_gp = atomic_load(&p->msr_gp);
	m->denied_programs = atomic_load(&p->denied);
}
