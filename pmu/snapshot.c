/* The PMU's part of a snapshot (pmu.h, "Snapshots"; the layout is in
 * docs/snapshot-pmu.md). Section "PMU_" says which PMU the guest had: the
 * mode in force and why, the shape it saw through CPUID, the filter in
 * force. One "PMUV" per vCPU holds that vCPU's PMU state: the soft model, or
 * the guest PMU MSRs KVM keeps for the in-kernel modes. Everything read
 * back is checked against the snapshot's own shape before any of it is
 * used, and against this host's PMU before it is applied. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/snap.h"
#include "base/utf8.h"
#include "core/log.h"
#include "pmu/pmu_int.h"

/* A refusal ends with the way out (PMU_SNAP_FALLBACK_HINT); the reasons
 * before it are cut so that it fits even after the callers put their
 * context in front ("snapshot/load PATH: "), which err_prefix() makes room
 * for by cutting the end. A full-size buffer keeps 160 bytes for that; a
 * small one (a unit test's) an eighth of itself. */
static size_t prefix_room(size_t errlen)
{
	return errlen >= 512 ? 160 : errlen / 8;
}

#define SEC_HEAD "PMU_"
#define SEC_VCPU "PMUV"
#define HEAD_VERSION 1
#define VCPU_VERSION 1

/* KVM_MAX_VCPUS is far below. */
#define SNAP_MAX_VCPUS 4096

enum { KIND_NONE, KIND_SOFT, KIND_MSRS };

static bool kernel_mode(enum pmu_mode m)
{
	return m == PMU_MODE_LEGACY || m == PMU_MODE_MEDIATED;
}

static int kind_of(enum pmu_mode m)
{
	return m == PMU_MODE_SOFT ? KIND_SOFT : kernel_mode(m) ? KIND_MSRS : KIND_NONE;
}

/* Written as 0 before the saved values, so that no counter counts while
 * the others are still being set (a legacy vPMU would count host time). */
static int stop_list(const struct pmu_shape *s, uint32_t m[2])
{
	if (s->flavour == PMU_VENDOR_AMD)
		return s->amd_perfmon_v2 ? (m[0] = MSR_AMD_GLOBAL_CTL, 1) : 0;
	if (s->version < 2)
		return 0;
	m[0] = MSR_CORE_PERF_FIXED_CTR_CTRL;
	m[1] = MSR_CORE_PERF_GLOBAL_CTRL;
	return 2;
}

/* ---- PMU_: mode, shape, filter ---- */

static void put_shape(struct snap_w *w, const struct pmu_shape *s)
{
	snap_put_u8(w, (uint8_t)s->flavour);
	snap_put_u8(w, (uint8_t)s->version);
	snap_put_u8(w, (uint8_t)s->gp);
	snap_put_u8(w, (uint8_t)s->gp_width);
	snap_put_u8(w, (uint8_t)s->fixed);
	snap_put_u8(w, (uint8_t)s->fixed_width);
	snap_put_u8(w, (uint8_t)s->ebx_len);
	snap_put_u32(w, s->unavail);
	snap_put_bool(w, s->pdcm);
	snap_put_u64(w, s->perf_caps);
	snap_put_bool(w, s->amd_perfctr_core);
	snap_put_bool(w, s->amd_perfmon_v2);
}

/* A u8 that must be at most `max`. */
static int get_small(struct snap_r *r, int max, const char *why)
{
	uint8_t v = snap_get_u8(r);
	if (v > max)
		snap_r_fail(r, why);
	return v;
}

static void get_shape(struct snap_r *r, enum pmu_mode mode, struct pmu_shape *s)
{
	const char *bad = "a PMU shape beyond what any host or the soft model gives";
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->flavour = (enum pmu_vendor)get_small(r, PMU_VENDOR_AMD, "a CPU vendor out of range");
	s->version = get_small(r, CFG_PMU_MAX_VERSION, bad);
	s->gp = get_small(r, CFG_PMU_MAX_COUNTERS, bad);
	s->gp_width = get_small(r, CFG_PMU_MAX_WIDTH, bad);
	s->fixed = get_small(r, CFG_PMU_MAX_COUNTERS, bad);
	s->fixed_width = get_small(r, CFG_PMU_MAX_WIDTH, bad);
	s->ebx_len = get_small(r, 32, bad);
	s->unavail = snap_get_u32(r);
	s->pdcm = snap_get_bool(r);
	s->perf_caps = snap_get_u64(r);
	s->amd_perfctr_core = snap_get_bool(r);
	s->amd_perfmon_v2 = snap_get_bool(r);
	/* The model's registers are laid out by its shape (soft_pmu_init). */
	if (mode == PMU_MODE_SOFT &&
	    (s->version < 1 || s->version > 2 || s->gp > SOFT_MAX_GP || s->fixed > SOFT_MAX_FIXED ||
	     s->gp_width < SOFT_MIN_WIDTH || s->gp_width > SOFT_DEFAULT_WIDTH ||
	     (s->fixed && (s->fixed_width < SOFT_MIN_WIDTH || s->fixed_width > SOFT_DEFAULT_WIDTH))))
		snap_r_fail(r, "a soft PMU shape the model cannot have");
}

static void put_filter(struct snap_w *w, const struct cfg_pmu_filter *f)
{
	snap_put_bool(w, f && f->set);
	if (!f || !f->set)
		return;
	snap_put_u8(w, (uint8_t)f->action);
	snap_put_bool(w, f->masked_events);
	snap_put_u32(w, f->fixed_counter_bitmap);
	snap_put_u32(w, f->nevents);
	for (uint32_t i = 0; i < f->nevents; i++) {
		const struct cfg_pmu_event *e = &f->events[i];
		snap_put_u16(w, e->event_select);
		snap_put_u8(w, e->unit_mask);
		snap_put_bool(w, e->masked);
		snap_put_u8(w, e->mask);
		snap_put_bool(w, e->exclude);
	}
}

static void get_filter(struct snap_r *r, struct cfg_pmu_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->set = snap_get_bool(r);
	if (!f->set)
		return;
	f->action = (enum cfg_filter_action)get_small(r, CFG_FILTER_DENY, "a filter action out of range");
	f->masked_events = snap_get_bool(r);
	f->fixed_counter_bitmap = snap_get_u32(r);
	f->nevents = snap_get_u32(r);
	if (f->nevents > CFG_PMU_MAX_FILTER_EVENTS) {
		snap_r_fail(r, "a filter with more events than KVM takes");
		f->nevents = 0;
		return;
	}
	for (uint32_t i = 0; i < f->nevents; i++) {
		struct cfg_pmu_event *e = &f->events[i];
		e->event_select = snap_get_u16(r);
		if (e->event_select > CFG_PMU_MAX_EVENT_SELECT)
			snap_r_fail(r, "a filter event select wider than 12 bits");
		e->unit_mask = snap_get_u8(r);
		e->masked = snap_get_bool(r);
		e->mask = snap_get_u8(r);
		e->exclude = snap_get_bool(r);
	}
}

static bool filters_equal(const struct cfg_pmu_filter *a, const struct cfg_pmu_filter *b)
{
	if (a->set != b->set)
		return false;
	if (!a->set)
		return true;
	if (a->action != b->action || a->masked_events != b->masked_events ||
	    a->fixed_counter_bitmap != b->fixed_counter_bitmap || a->nevents != b->nevents)
		return false;
	for (uint32_t i = 0; i < a->nevents; i++) {
		const struct cfg_pmu_event *x = &a->events[i], *y = &b->events[i];
		if (x->event_select != y->event_select || x->unit_mask != y->unit_mask ||
		    x->masked != y->masked || x->mask != y->mask || x->exclude != y->exclude)
			return false;
	}
	return true;
}

/* The "PMU_" section, read and checked (the stream's structure too). */
static int read_head(const void *state, size_t len, struct pmu_snap_head *h, char *err, size_t errlen)
{
	struct snap_r r;
	if (snap_stream_check(state, len, err, errlen) ||
	    snap_section_open(state, len, SEC_HEAD, 0, HEAD_VERSION, &r, err, errlen))
		return -1;
	memset(h, 0, sizeof(*h));
	h->mode = (enum pmu_mode)get_small(&r, PMU_MODE_COUNT - 1, "a PMU mode out of range");
	h->requested = (enum cfg_pmu_mode)get_small(&r, CFG_PMU_SOFT, "a configured PMU mode out of range");
	snap_get_str(&r, h->why, sizeof(h->why));
	/* GET /pmu quotes it back: text only. */
	if (!r.bad && utf8_check(h->why, strlen(h->why), NULL, 0))
		snap_r_fail(&r, "a mode reason that is not UTF-8 text");
	h->fell_back = snap_get_bool(&r);
	get_shape(&r, h->mode, &h->shape);
	get_filter(&r, &h->filter);
	h->nvcpus = snap_get_u32(&r);
	if (h->nvcpus > SNAP_MAX_VCPUS)
		snap_r_fail(&r, "a vCPU count out of range");
	if (snap_r_done(&r, err, errlen))
		return -1;
	unsigned nv = snap_section_count(state, len, SEC_VCPU);
	if (nv != h->nvcpus)
		FAIL("snapshot section %s speaks of %u vCPUs but the snapshot holds %u %s sections; it is corrupt",
		     SEC_HEAD, h->nvcpus, nv, SEC_VCPU);
	return 0;
}

/* ---- PMUV: one vCPU ---- */

struct vcpu_state {
	int kind;
	struct soft_vcpu_saved soft;
	uint32_t n;
	uint32_t idx[PMU_MAX_MSRS];
	uint64_t val[PMU_MAX_MSRS];
};

static void put_soft(struct snap_w *w, const struct soft_vcpu_saved *s)
{
	const struct soft_pmu *m = &s->m;
	snap_put_u64(w, s->tsc_khz);
	snap_put_bool(w, s->pmi_pending);
	snap_put_u8(w, (uint8_t)m->ngp);
	snap_put_u8(w, (uint8_t)m->nfixed);
	for (int i = 0; i < m->ngp; i++) {
		snap_put_u64(w, m->evtsel[i]);
		snap_put_u64(w, m->pmc[i]);
	}
	for (int i = 0; i < m->nfixed; i++)
		snap_put_u64(w, m->fixed[i]);
	snap_put_u64(w, m->fixed_ctrl);
	snap_put_u64(w, m->global_ctrl);
	snap_put_u64(w, m->global_status);
}

/* Into a model laid out by the snapshot's shape; every register must fit
 * its valid bits, as soft_wrmsr() would have kept it. */
static void get_soft(struct snap_r *r, const struct pmu_shape *shape, struct soft_vcpu_saved *s)
{
	struct soft_pmu *m = &s->m;
	soft_pmu_init(m, shape);
	s->tsc_khz = snap_get_u64(r);
	s->pmi_pending = snap_get_bool(r);
	int ngp = snap_get_u8(r), nfixed = snap_get_u8(r);
	if (r->bad)
		return;
	if (ngp != m->ngp || nfixed != m->nfixed) {
		snap_r_fail(r, "counter counts that differ from the PMU's shape");
		return;
	}
	for (int i = 0; i < ngp; i++) {
		m->evtsel[i] = snap_get_u64(r);
		m->pmc[i] = snap_get_u64(r);
		if (m->evtsel[i] & EVTSEL_RESERVED_V2)
			snap_r_fail(r, "an event select with reserved bits set");
		if (m->pmc[i] & ~soft_counter_mask(m, i))
			snap_r_fail(r, "a counter value wider than the counter");
	}
	for (int i = 0; i < nfixed; i++) {
		m->fixed[i] = snap_get_u64(r);
		if (m->fixed[i] & ~soft_counter_mask(m, SOFT_FIXED_BIT(i)))
			snap_r_fail(r, "a fixed counter value wider than the counter");
	}
	m->fixed_ctrl = snap_get_u64(r);
	m->global_ctrl = snap_get_u64(r);
	m->global_status = snap_get_u64(r);
	if (m->fixed_ctrl & ~soft_fixed_ctrl_mask(m))
		snap_r_fail(r, "FIXED_CTR_CTRL with bits of counters the PMU lacks");
	if ((m->global_ctrl & ~soft_global_mask(m)) || (m->version < 2 && m->global_ctrl))
		snap_r_fail(r, "PERF_GLOBAL_CTRL with bits of counters the PMU lacks");
	if (m->global_status & ~soft_global_mask(m))
		snap_r_fail(r, "PERF_GLOBAL_STATUS with bits of counters the PMU lacks");
}

static int save_vcpu(struct pmu *p, struct vcpu *v, struct snap_w *w, char *err, size_t errlen)
{
	size_t mark = snap_section_begin(w, SEC_VCPU, VCPU_VERSION);
	snap_put_u32(w, (uint32_t)v->id);
	snap_put_u8(w, (uint8_t)kind_of(p->mode));
	if (p->mode == PMU_MODE_SOFT) {
		struct soft_vcpu_saved s;
		if (soft_vcpu_save(p, v, &s))
			FAIL("vCPU %d: the soft PMU has no state for it (was the VM built?)", v->id);
		put_soft(w, &s);
	} else if (kernel_mode(p->mode)) {
		uint32_t idx[PMU_MAX_MSRS];
		int n = kernel_pmu_msrs(&p->shape, idx, PMU_MAX_MSRS);
		PMU_MSRS(PMU_MAX_MSRS) m = { .nmsrs = (uint32_t)n };
		char name[40], e[64];
		for (int i = 0; i < n; i++)
			m.e[i].index = idx[i];
		int rc = n ? kvm_vcpu_ioctl(v, KVM_GET_MSRS, &m) : 0;
		if (rc < 0)
			FAIL("vCPU %d: KVM_GET_MSRS of its %d PMU MSRs: %s", v->id, n, err_errno(-rc, e, sizeof(e)));
		if (rc < n)
			FAIL("vCPU %d: KVM_GET_MSRS stopped at %s (0x%x), %d of %d PMU MSRs read: KVM's PMU for the vCPU is not the %s one its CPUID describes",
			     v->id, pmu_msr_name(idx[rc], name, sizeof(name)), idx[rc], rc, n,
			     pmu_mode_name(p->mode));
		snap_put_u32(w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			snap_put_u32(w, idx[i]);
			snap_put_u64(w, m.e[i].data);
		}
	}
	snap_section_end(w, mark);
	return 0;
}

/* vCPU i's section, checked against the snapshot's PMU (not yet this
 * host's: what is carried over is decided by the caller). */
static int read_vcpu(const void *state, size_t len, const struct pmu_snap_head *h, uint32_t i,
		     struct vcpu_state *s, char *err, size_t errlen)
{
	struct snap_r r;
	if (snap_section_open(state, len, SEC_VCPU, i, VCPU_VERSION, &r, err, errlen))
		return -1;
	memset(s, 0, sizeof(*s));
	if (snap_get_u32(&r) != i)
		snap_r_fail(&r, "vCPU sections out of order");
	s->kind = snap_get_u8(&r);
	if (!r.bad && s->kind != kind_of(h->mode))
		snap_r_fail(&r, "vCPU state of another PMU mode than section PMU_ says");
	if (!r.bad && s->kind == KIND_SOFT) {
		get_soft(&r, &h->shape, &s->soft);
	} else if (!r.bad && s->kind == KIND_MSRS) {
		uint32_t want[PMU_MAX_MSRS];
		uint32_t nwant = (uint32_t)kernel_pmu_msrs(&h->shape, want, PMU_MAX_MSRS);
		s->n = snap_get_u32(&r);
		if (!r.bad && s->n != nwant)
			snap_r_fail(&r, "a PMU MSR count that differs from the PMU's shape");
		for (uint32_t k = 0; !r.bad && k < s->n; k++) {
			s->idx[k] = snap_get_u32(&r);
			s->val[k] = snap_get_u64(&r);
			if (!r.bad && s->idx[k] != want[k])
				snap_r_fail(&r, "a PMU MSR the shape does not have, or out of order");
		}
	}
	if (snap_r_done(&r, err, errlen))
		return err_prefix(err, errlen, "vCPU %u: ", i);
	return 0;
}

/* ---- save ---- */

int pmu_snap_save(struct pmu *p, struct snap_w *w, char *err, size_t errlen)
{
	uint32_t n = p->vm ? p->vm->nvcpus : 0;
	size_t mark = snap_section_begin(w, SEC_HEAD, HEAD_VERSION);
	snap_put_u8(w, (uint8_t)p->mode);
	snap_put_u8(w, (uint8_t)p->cfg.mode);
	snap_put_str(w, p->why);
	snap_put_bool(w, p->fell_back);
	put_shape(w, &p->shape);
	pthread_rwlock_rdlock(&p->filter_lock);
	put_filter(w, p->filter ? &p->filter->cfg : NULL);
	pthread_rwlock_unlock(&p->filter_lock);
	snap_put_u32(w, n);
	snap_section_end(w, mark);
	for (uint32_t i = 0; i < n; i++)
		if (save_vcpu(p, &p->vm->vcpus[i], w, err, errlen))
			return -1;
	if (w->oom)
		FAIL("PMU snapshot: out of memory");
	return 0;
}

/* ---- check: this host's PMU against the snapshot's ---- */

static void add_change(struct pmu_restore *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_change(struct pmu_restore *r, const char *fmt, ...)
{
	if (r->nchanges >= PMU_SNAP_MAX_CHANGES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->changes[r->nchanges++], sizeof(r->changes[0]), fmt, ap);
	va_end(ap);
}

/* The guest-visible fields that differ, as "gp_counters 8 -> 6, ...". */
static int shape_diff(const struct pmu_shape *a, const struct pmu_shape *b, char *buf, size_t len)
{
	size_t o = 0;
	int n = 0;
	buf[0] = 0;
#define DIFF(field, name, fmt, cast) \
	do { \
		if (a->field != b->field && o < len) { \
			o += (size_t)snprintf(buf + o, len - o, "%s" name " " fmt " -> " fmt, n ? ", " : "", \
					      (cast)a->field, (cast)b->field); \
			n++; \
		} \
	} while (0)
	DIFF(flavour, "flavour", "%d", int);
	DIFF(version, "version", "%d", int);
	DIFF(gp, "gp_counters", "%d", int);
	DIFF(gp_width, "gp_width", "%d", int);
	DIFF(fixed, "fixed_counters", "%d", int);
	DIFF(fixed_width, "fixed_width", "%d", int);
	DIFF(ebx_len, "leaf 0xA EBX length", "%d", int);
	DIFF(unavail, "unavailable events", "0x%x", unsigned);
	DIFF(pdcm, "PDCM", "%d", int);
	DIFF(perf_caps, "PERF_CAPABILITIES", "0x%llx", unsigned long long);
	DIFF(amd_perfctr_core, "PerfCtrExtCore", "%d", int);
	DIFF(amd_perfmon_v2, "PerfMonV2", "%d", int);
#undef DIFF
	return n;
}

/* Which counters can move from the snapshot's PMU to this one, and why
 * (the report's "counters" line until the restore says more). */
static enum pmu_carry carry_of(const struct pmu *p, const struct pmu_snap_head *h, bool shape_same,
			       char *why, size_t len)
{
	if (h->mode == PMU_MODE_OFF) {
		snprintf(why, len, "none: the snapshot's PMU was off");
		return PMU_CARRY_NONE;
	}
	if (p->mode == PMU_MODE_OFF) {
		snprintf(why, len, "dropped: the PMU is off here");
		return PMU_CARRY_NONE;
	}
	if (h->mode == PMU_MODE_SOFT && p->mode == PMU_MODE_SOFT) {
		snprintf(why, len, shape_same ? "to be restored" : "dropped: the soft model's shape differs");
		return shape_same ? PMU_CARRY_SOFT : PMU_CARRY_NONE;
	}
	if (kernel_mode(h->mode) && kernel_mode(p->mode) && h->shape.flavour == p->shape.flavour) {
		snprintf(why, len, "to be restored");
		return PMU_CARRY_MSRS;
	}
	snprintf(why, len, "dropped: %s %s counters cannot become %s %s ones; the guest's PMU starts at power-on state",
		 pmu_mode_name(h->mode), pmu_vendor_name(h->shape.flavour), pmu_mode_name(p->mode),
		 pmu_vendor_name(p->shape.flavour));
	return PMU_CARRY_NONE;
}

/* `why_not`: why this host could not build the snapshot's PMU, when the
 * caller had to build another (pmu_new_for_snapshot). */
static int check_against(struct pmu *p, const struct pmu_snap_head *h, bool allow_fallback,
			 const char *why_not, char *err, size_t errlen)
{
	struct pmu_restore *r = calloc(1, sizeof(*r));
	char text[1200], e[600];
	if (!r)
		FAIL("PMU snapshot: out of memory");
	r->snap = *h;
	if (p->mode != h->mode) {
		if (why_not)
			snprintf(text, sizeof(text), "this host cannot give it: %.1000s", why_not);
		else if (!p->host.verdict[h->mode].available) {
			pmu_verdict_text(&p->host.verdict[h->mode], e, sizeof(e), true);
			snprintf(text, sizeof(text), "this host cannot give it: %s", e);
		} else
			snprintf(text, sizeof(text), "this VM's PMU config gives %s here (%.900s)",
				 pmu_mode_name(p->mode), p->why);
		add_change(r, "mode %s -> %s: %s", pmu_mode_name(h->mode), pmu_mode_name(p->mode), text);
	}
	bool shape_same = !shape_diff(&h->shape, &p->shape, text, sizeof(text));
	if (p->mode == h->mode && p->mode != PMU_MODE_OFF && !shape_same)
		add_change(r, "the guest's %s PMU: %.250s%s%.120s", pmu_mode_name(h->mode), text,
			   why_not ? ": " : "", why_not ? why_not : "");
	/* The filter in force at the save (PUT /pmu/filter may have replaced
	 * the config's) is the one the guest ran under: bring it back. */
	if (p->mode != PMU_MODE_OFF) {
		struct cfg_pmu_filter none = { 0 };
		pthread_rwlock_rdlock(&p->filter_lock);
		bool same = filters_equal(&h->filter, p->filter ? &p->filter->cfg : &none);
		pthread_rwlock_unlock(&p->filter_lock);
		if (!same && pmu_set_filter(p, &h->filter, e, sizeof(e)))
			add_change(r, "the event filter in force at the save cannot be applied here: %s", e);
	}
	if (r->nchanges && !allow_fallback) {
		/* The changes, cut where they must be so that the way out, at
		 * the end, always fits the caller's buffer. */
		char hint[160];
		int hl = snprintf(hint, sizeof(hint), "; %s mode %s", PMU_SNAP_FALLBACK_HINT,
				  pmu_mode_name(p->mode));
		size_t reserve = (size_t)hl + prefix_room(errlen);
		size_t room = errlen > reserve ? errlen - reserve : 0, o = 0;
		if (room)
			o = (size_t)snprintf(err, room, "snapshot has PMU mode %s", pmu_mode_name(h->mode));
		for (int i = 0; i < r->nchanges && o < room; i++)
			o += (size_t)snprintf(err + o, room - o, "; %s", r->changes[i]);
		o = o < room ? o : room ? room - 1 : 0;
		if (errlen)
			snprintf(err + o, errlen - o, "%s", hint);
		free(r);
		return -1;
	}
	r->fallback = r->nchanges > 0;
	r->carry = carry_of(p, h, shape_same, r->counters, sizeof(r->counters));
	if (r->fallback) {
		snprintf(p->why, sizeof(p->why), "restored from a snapshot whose PMU was %s; fallback accepted: %.1200s",
			 pmu_mode_name(h->mode), r->changes[0]);
		for (int i = 0; i < r->nchanges; i++)
			log_warn("PMU: snapshot restore, fallback accepted: %s", r->changes[i]);
	} else {
		snprintf(p->why, sizeof(p->why), "restored from a snapshot (%.1300s)", h->why);
	}
	free(p->restore);
	p->restore = r;
	return 0;
}

int pmu_snap_check(struct pmu *p, const void *state, size_t len, bool allow_fallback, char *err,
		   size_t errlen)
{
	struct pmu_snap_head *h = malloc(sizeof(*h));
	if (!h)
		FAIL("PMU snapshot: out of memory");
	int rc = read_head(state, len, h, err, errlen);
	if (!rc)
		rc = check_against(p, h, allow_fallback, NULL, err, errlen);
	free(h);
	return rc;
}

/* The config as the snapshot's guest saw it: its mode, and its shape where
 * the config may leave it to the host ("auto", counts and widths -1). */
static void pin(struct cfg_pmu *c, const struct pmu_snap_head *h)
{
	static const enum cfg_pmu_mode as_cfg[PMU_MODE_COUNT] = {
		[PMU_MODE_OFF] = CFG_PMU_OFF, [PMU_MODE_SOFT] = CFG_PMU_SOFT,
		[PMU_MODE_LEGACY] = CFG_PMU_LEGACY, [PMU_MODE_MEDIATED] = CFG_PMU_MEDIATED,
	};
	const struct pmu_shape *s = &h->shape;
	c->mode = as_cfg[h->mode];
	if (h->mode == PMU_MODE_OFF)
		return;
	c->version = s->version;
	c->gp_counters = s->gp;
	if (s->flavour == PMU_VENDOR_AMD && h->mode != PMU_MODE_SOFT) {
		c->fixed_counters = c->gp_width = c->fixed_width = -1;
		c->unavailable_events = 0;
		return;
	}
	c->fixed_counters = s->version >= 2 ? s->fixed : -1;
	c->gp_width = s->gp_width;
	c->fixed_width = s->fixed ? s->fixed_width : -1;
	c->unavailable_events = s->unavail & CFG_PMU_ARCH_EVENTS_MASK;
}

struct pmu *pmu_new_for_snapshot(const struct cfg_pmu *cfg, const struct pmu_host *host,
				 const void *state, size_t len, bool allow_fallback, char *err,
				 size_t errlen)
{
	struct pmu_snap_head *h = malloc(sizeof(*h));
	struct cfg_pmu *c = malloc(sizeof(*c));
	struct pmu *p = NULL;
	char why_not[1000], e[1000];
	if (!h || !c) {
		err_set(err, errlen, "PMU snapshot: out of memory");
		goto out;
	}
	if (read_head(state, len, h, err, errlen))
		goto out;
	*c = *cfg;
	pin(c, h);
	p = pmu_new(c, host, why_not, sizeof(why_not));
	if (!p) {
		/* The mode itself missing: the probe's reasons and fixes, alone. */
		if (!host->verdict[h->mode].available)
			pmu_verdict_text(&host->verdict[h->mode], why_not, sizeof(why_not), true);
		/* What this host gives instead: what "auto" picks with the
		 * host's own shape, else no PMU. */
		*c = *cfg;
		c->mode = CFG_PMU_AUTO;
		c->version = c->gp_counters = c->fixed_counters = c->gp_width = c->fixed_width = -1;
		p = pmu_new(c, host, e, sizeof(e));
		if (!p) {
			c->mode = CFG_PMU_OFF;
			p = pmu_new(c, host, e, sizeof(e));
		}
		if (!p || !allow_fallback) {
			/* The reason cut where it must be for the way out to fit. */
			char hint[160] = "";
			if (p)
				snprintf(hint, sizeof(hint), "; %s mode %s", PMU_SNAP_FALLBACK_HINT,
					 pmu_mode_name(p->mode));
			/* Room for the fixed words below and the caller's prefix. */
			size_t reserve = strlen(hint) + 64 + prefix_room(errlen);
			size_t keep = errlen > reserve ? errlen - reserve : 0;
			err_set(err, errlen, "snapshot has PMU mode %s, which this host cannot give: %.*s%s",
				pmu_mode_name(h->mode), (int)(keep < sizeof(why_not) ? keep : sizeof(why_not)),
				why_not, hint);
			pmu_free(p);
			p = NULL;
			goto out;
		}
		if (check_against(p, h, true, why_not, err, errlen)) {
			pmu_free(p);
			p = NULL;
		}
		goto out;
	}
	if (check_against(p, h, allow_fallback, NULL, err, errlen)) {
		pmu_free(p);
		p = NULL;
	}
out:
	free(h);
	free(c);
	return p;
}

/* ---- restore ---- */

static bool in_list(const uint32_t *l, int n, uint32_t idx)
{
	for (int i = 0; i < n; i++)
		if (l[i] == idx)
			return true;
	return false;
}

/* KVM_SET_MSRS of the saved MSRs this vCPU's PMU has, counters stopped
 * first. KVM stops at the first MSR it refuses: that is an error naming
 * it, or, after an accepted fallback (another shape), the MSR is dropped
 * and the rest written. Counts what was dropped in *dropped. */
static int set_msrs(struct pmu *p, struct vcpu *v, const struct vcpu_state *s, int *dropped, char *err,
		    size_t errlen)
{
	uint32_t ours[PMU_MAX_MSRS], stop[2];
	int nours = kernel_pmu_msrs(&p->shape, ours, PMU_MAX_MSRS), nstop = stop_list(&p->shape, stop);
	PMU_MSRS(PMU_MAX_MSRS + 2) m = { 0 };
	char name[40], e[64];

	for (int i = 0; i < nstop; i++)
		m.e[m.nmsrs++] = (struct kvm_msr_entry){ .index = stop[i] };
	for (uint32_t k = 0; k < s->n; k++) {
		if (in_list(ours, nours, s->idx[k]))
			m.e[m.nmsrs++] = (struct kvm_msr_entry){ .index = s->idx[k], .data = s->val[k] };
		else
			(*dropped)++;
	}
	uint32_t total = m.nmsrs, done = 0;
	while (m.nmsrs) {
		int rc = kvm_vcpu_ioctl(v, KVM_SET_MSRS, &m);
		if (rc < 0)
			FAIL("vCPU %d: KVM_SET_MSRS of the PMU MSRs: %s", v->id, err_errno(-rc, e, sizeof(e)));
		done += (uint32_t)rc;
		if ((uint32_t)rc >= m.nmsrs)
			break;
		const struct kvm_msr_entry *bad = &m.e[rc];
		if (!p->restore->fallback)
			FAIL("vCPU %d: KVM_SET_MSRS refused %s (0x%x) = 0x%llx (%u of %u PMU MSRs written): this host's %s PMU does not take the snapshot's value",
			     v->id, pmu_msr_name(bad->index, name, sizeof(name)), bad->index,
			     (unsigned long long)bad->data, done, total, pmu_mode_name(p->mode));
		log_warn("vCPU %d: PMU restore: KVM refused %s = 0x%llx; dropped (fallback accepted)", v->id,
			 pmu_msr_name(bad->index, name, sizeof(name)), (unsigned long long)bad->data);
		(*dropped)++;
		done++;
		uint32_t left = m.nmsrs - (uint32_t)rc - 1;
		memmove(m.e, m.e + rc + 1, left * sizeof(m.e[0]));
		m.nmsrs = left;
	}
	return 0;
}

int pmu_snap_restore(struct pmu *p, const void *state, size_t len, char *err, size_t errlen)
{
	if (!p->restore && pmu_snap_check(p, state, len, false, err, errlen))
		return -1;
	struct pmu_restore *r = p->restore;
	uint32_t n = p->vm ? p->vm->nvcpus : 0;
	if (r->snap.nvcpus != n)
		FAIL("snapshot: the PMU state is of %u vCPUs, this VM has %u", r->snap.nvcpus, n);
	struct vcpu_state *s = malloc(sizeof(*s));
	if (!s)
		FAIL("PMU snapshot: out of memory");
	int rc = 0, dropped = 0;
	/* Every vCPU's section is checked before any is applied. */
	for (uint32_t i = 0; !rc && i < n; i++)
		rc = read_vcpu(state, len, &r->snap, i, s, err, errlen);
	for (uint32_t i = 0; !rc && i < n; i++) {
		struct vcpu *v = &p->vm->vcpus[i];
		rc = read_vcpu(state, len, &r->snap, i, s, err, errlen);
		if (rc)
			break;
		if (r->carry == PMU_CARRY_SOFT)
			soft_vcpu_load(p, v, &s->soft);
		else if (r->carry == PMU_CARRY_MSRS)
			rc = set_msrs(p, v, s, &dropped, err, errlen);
	}
	free(s);
	if (rc)
		return -1;
	if (r->carry != PMU_CARRY_NONE) {
		if (dropped)
			snprintf(r->counters, sizeof(r->counters),
				 "restored, except %d MSR values this host's PMU does not have or refused", dropped);
		else
			snprintf(r->counters, sizeof(r->counters), "restored");
	}
	r->restored = true;
	log_info("PMU: %s state from the snapshot: counters %s", pmu_mode_name(p->mode), r->counters);
	return 0;
}
