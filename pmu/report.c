/* GET /pmu, GET /pmu/counters and the metrics object, as JSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmu/pmu_int.h"

static void add_hex(cJSON *o, const char *k, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
	cJSON_AddStringToObject(o, k, b);
}

/* The architectural events' encodings, in leaf 0xA EBX order; their names
 * are config's (cfg_pmu_arch_event_name). */
static const struct {
	uint16_t event;
	uint8_t umask;
} arch_events[] = {
	{ 0x3c, 0x00 }, { 0xc0, 0x00 }, { 0x3c, 0x01 }, { 0x2e, 0x4f },
	{ 0x2e, 0x41 }, { 0xc4, 0x00 }, { 0xc5, 0x00 },
};
#define N_ARCH_EVENTS (sizeof(arch_events) / sizeof(arch_events[0]))
_Static_assert(N_ARCH_EVENTS == CFG_PMU_NUM_ARCH_EVENTS, "an encoding for every named event");

static const char *event_name(uint32_t key)
{
	static const char *const fixed[] = { "fixed0_instructions", "fixed1_core_cycles",
					     "fixed2_reference_cycles", "fixed3_topdown_slots" };
	if ((key & 0xf0000000u) == 0xf0000000u)
		return (key & 0xf) < 4 ? fixed[key & 0xf] : "fixed";
	for (size_t i = 0; i < N_ARCH_EVENTS; i++)
		if (key == ((uint32_t)arch_events[i].event << 8 | arch_events[i].umask))
			return cfg_pmu_arch_event_name((unsigned)i);
	return NULL;
}

static cJSON *cpuid_json(const struct pmu *p)
{
	const struct pmu_shape *s = &p->shape;
	uint32_t a[4];
	cJSON *o = cJSON_CreateObject();
	pmu_shape_leaf_a(s, a);
	cJSON *la = cJSON_AddObjectToObject(o, "leaf_0xa");
	add_hex(la, "eax", a[0]);
	add_hex(la, "ebx", a[1]);
	add_hex(la, "ecx", a[2]);
	add_hex(la, "edx", a[3]);
	cJSON_AddBoolToObject(o, "pdcm", s->pdcm);
	if (s->pdcm)
		add_hex(o, "perf_capabilities", s->perf_caps);
	cJSON_AddBoolToObject(o, "amd_perfctr_core", s->amd_perfctr_core);
	cJSON_AddBoolToObject(o, "amd_perfmon_v2", s->amd_perfmon_v2);
	if (p->cpuid_missing)
		add_hex(o, "missing_leaves_mask", p->cpuid_missing);
	return o;
}

static cJSON *guest_pmu_json(const struct pmu_shape *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "flavour", s->mode == PMU_MODE_OFF ? "none" : pmu_vendor_name(s->flavour));
	cJSON_AddNumberToObject(o, "version", s->version);
	cJSON_AddNumberToObject(o, "gp_counters", s->gp);
	cJSON_AddNumberToObject(o, "gp_width", s->gp_width);
	cJSON_AddNumberToObject(o, "fixed_counters", s->fixed);
	cJSON_AddNumberToObject(o, "fixed_width", s->fixed_width);
	cJSON *ev = cJSON_AddArrayToObject(o, "events_available");
	if (s->flavour == PMU_VENDOR_INTEL && s->version)
		for (int i = 0; i < (int)N_ARCH_EVENTS && i < s->ebx_len; i++)
			if (!(s->unavail & (1u << i)))
				cJSON_AddItemToArray(ev, cJSON_CreateString(cfg_pmu_arch_event_name((unsigned)i)));
	return o;
}

/* A VM restored from a snapshot: the PMU it had there, what changed here
 * (a fallback the user accepted) and what became of the counters. */
static cJSON *restored_json(const struct pmu_restore *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "mode", pmu_mode_name(r->snap.mode));
	cJSON_AddStringToObject(o, "requested", cfg_pmu_mode_name(r->snap.requested));
	cJSON_AddStringToObject(o, "why", r->snap.why);
	cJSON_AddItemToObject(o, "guest_pmu", guest_pmu_json(&r->snap.shape));
	if (r->snap.filter.set) {
		cJSON *f = cJSON_AddObjectToObject(o, "filter");
		cJSON_AddStringToObject(f, "action", r->snap.filter.action == CFG_FILTER_DENY ? "deny" : "allow");
		cJSON_AddNumberToObject(f, "events", r->snap.filter.nevents);
	} else {
		cJSON_AddNullToObject(o, "filter");
	}
	cJSON_AddBoolToObject(o, "fallback", r->fallback);
	cJSON *c = cJSON_AddArrayToObject(o, "changes");
	for (int i = 0; i < r->nchanges; i++)
		cJSON_AddItemToArray(c, cJSON_CreateString(r->changes[i]));
	cJSON_AddStringToObject(o, "counters", r->counters);
	cJSON_AddBoolToObject(o, "state_restored", r->restored);
	return o;
}

static void route(cJSON *arr, const char *msrs, const char *name, const char *goes, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "msrs", msrs);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "goes", goes);
	cJSON_AddStringToObject(o, "why", why);
	cJSON_AddItemToArray(arr, o);
}

/* `direct_text`, or "intercepted by KVM: <each reason>", from the
 * kernel's rules (intercept.h). */
static void why_text(char *b, size_t len, bool direct, const char *direct_text, const struct pmu_why *w)
{
	size_t o = (size_t)snprintf(b, len, "%s", direct ? direct_text : "intercepted by KVM: ");
	for (int i = 0; !direct && i < w->n && o < len; i++)
		o += (size_t)snprintf(b + o, len - o, "%s%s", i ? "; " : "", w->line[i]);
}

/* Where each PMU MSR goes (docs/pmu.md §4). */
static void routes_json(const struct pmu *p, cJSON *o)
{
	const struct pmu_shape *s = &p->shape;
	cJSON *a = cJSON_AddArrayToObject(o, "msrs");
	const char *ctl_goes = p->trap ? "mpvm" : "kvm";
	const char *ctl_why = p->trap ? "trap_event_selects: mpvm checks the filter, counts the event and forwards it with KVM_SET_MSRS"
				      : "always intercepted by KVM (filter, reserved bits)";
	const char *rdpmc_goes, *rdpmc_why;
	bool med = p->mode == PMU_MODE_MEDIATED;
	char globals_why[400], rdpmc_text[400];

	switch (p->mode) {
	case PMU_MODE_OFF:
		route(a, "all", "PMU MSRs", "kvm", p->opted_out ? "no PMU (opted out): KVM answers" : "no PMU in CPUID: KVM answers");
		rdpmc_goes = "kvm";
		rdpmc_why = "#GP: the guest has no PMU";
		break;
	case PMU_MODE_SOFT:
		route(a, "0xc1-0xc8, 0x4c1-0x4c8", "IA32_PMCx, IA32_A_PMCx", "mpvm", "soft model (MSR filter exit)");
		route(a, "0x186-0x18d", "IA32_PERFEVTSELx", "mpvm", "soft model (MSR filter exit)");
		route(a, "0x309-0x30b, 0x38d", "IA32_FIXED_CTRx, FIXED_CTR_CTRL", "mpvm", "soft model (MSR filter exit)");
		route(a, "0x38e-0x390", "PERF_GLOBAL_STATUS/CTRL/OVF_CTRL", "mpvm", "soft model (MSR filter exit)");
		route(a, "0x345", "IA32_PERF_CAPABILITIES", "mpvm", "soft model, read-only");
		rdpmc_goes = "kvm";
		rdpmc_why = "#GP: KVM gives userspace no RDPMC exit; read counters with RDMSR";
		break;
	default:
		if (med)
			why_text(globals_why, sizeof(globals_why), s->globals_direct,
				 "passed through: the guest's counter counts equal the host's and it has global control",
				 &s->globals_why);
		else
			snprintf(globals_why, sizeof(globals_why), "legacy vPMU: KVM emulates them");
		const char *cnt_goes = med ? "direct" : "kvm";
		const char *cnt_why = med ? "passed through (mediated vPMU)" : "legacy vPMU: each counter is a host perf event";
		if (s->flavour == PMU_VENDOR_AMD) {
			route(a, s->amd_perfctr_core ? "0xc0010201+2n" : "0xc0010004-0xc0010007", "PERF_CTRn", cnt_goes, cnt_why);
			route(a, s->amd_perfctr_core ? "0xc0010200+2n" : "0xc0010000-0xc0010003", "PERF_CTLn", ctl_goes, ctl_why);
			if (s->amd_perfmon_v2)
				route(a, "0xc0000300-0xc0000303", "PERF_CNTR_GLOBAL_*",
				      s->globals_direct ? "direct" : "kvm", globals_why);
		} else {
			route(a, "0xc1+i", "IA32_PMCx", cnt_goes, cnt_why);
			if (s->perf_caps & PMU_PERF_CAP_FW_WRITES)
				route(a, "0x4c1+i", "IA32_A_PMCx", cnt_goes, cnt_why);
			route(a, "0x309+i", "IA32_FIXED_CTRx", cnt_goes, cnt_why);
			route(a, "0x186+i", "IA32_PERFEVTSELx", ctl_goes, ctl_why);
			route(a, "0x38d", "IA32_FIXED_CTR_CTRL", ctl_goes, ctl_why);
			if (s->version >= 2)
				route(a, "0x38e-0x390", "PERF_GLOBAL_STATUS/CTRL/OVF_CTRL",
				      s->globals_direct ? "direct" : "kvm", globals_why);
			if (s->pdcm)
				route(a, "0x345", "IA32_PERF_CAPABILITIES", "kvm", "read-only to the guest");
		}
		rdpmc_goes = s->rdpmc_direct ? "direct" : "kvm";
		if (med)
			why_text(rdpmc_text, sizeof(rdpmc_text), s->rdpmc_direct,
				 "not intercepted: counter counts and widths equal the host's, kvm.enable_vmware_backdoor is off",
				 &s->rdpmc_why);
		rdpmc_why = med ? rdpmc_text : "legacy vPMU: KVM emulates RDPMC";
	}
	cJSON *r = cJSON_AddObjectToObject(o, "rdpmc");
	cJSON_AddStringToObject(r, "goes", rdpmc_goes);
	cJSON_AddStringToObject(r, "why", rdpmc_why);
}

static cJSON *filter_json(const struct pmu_filter *f)
{
	if (!f)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "action", f->cfg.action == CFG_FILTER_DENY ? "deny" : "allow");
	cJSON_AddBoolToObject(o, "masked_events", f->cfg.masked_events);
	add_hex(o, "fixed_counter_bitmap", f->cfg.fixed_counter_bitmap);
	cJSON *ev = cJSON_AddArrayToObject(o, "events");
	for (uint32_t i = 0; i < f->cfg.nevents; i++) {
		const struct cfg_pmu_event *e = &f->cfg.events[i];
		cJSON *j = cJSON_CreateObject();
		add_hex(j, "event_select", e->event_select);
		add_hex(j, "unit_mask", e->unit_mask);
		if (f->cfg.masked_events) {
			add_hex(j, "mask", e->mask);
			cJSON_AddBoolToObject(j, "exclude", e->exclude);
		}
		add_hex(j, "kvm_encoding", f->kvm->events[i]);
		cJSON_AddItemToArray(ev, j);
	}
	return o;
}

static cJSON *metrics_obj(struct pmu *p)
{
	struct pmu_metrics m;
	pmu_get_metrics(p, &m);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "pmis_injected", (double)m.pmis_injected);
	cJSON_AddNumberToObject(o, "pmis_masked", (double)m.pmis_masked);
	cJSON_AddNumberToObject(o, "pmis_dropped", (double)atomic_load(&p->pmis_dropped));
	cJSON_AddNumberToObject(o, "overflow_timer_wakeups", (double)atomic_load(&p->timer_wakeups));
	cJSON_AddNumberToObject(o, "msr_exits", (double)m.msr_exits);
	cJSON_AddNumberToObject(o, "msr_exits_gp", (double)m.msr_exits_gp);
	cJSON_AddNumberToObject(o, "denied_programs", (double)m.denied_programs);
	return o;
}

static cJSON *stats_json(struct pmu *p)
{
	cJSON *o = metrics_obj(p);
	char k[24], name[40];
	pthread_mutex_lock(&p->stats_lock);
	cJSON *bm = cJSON_AddObjectToObject(o, "by_msr");
	for (int i = 0; i < p->by_msr.n; i++) {
		const struct pmu_count *c = &p->by_msr.e[i];
		snprintf(k, sizeof(k), "0x%x", c->key);
		cJSON *j = cJSON_AddObjectToObject(bm, k);
		cJSON_AddStringToObject(j, "name", pmu_msr_name(c->key, name, sizeof(name)));
		cJSON_AddNumberToObject(j, "reads", (double)c->reads);
		cJSON_AddNumberToObject(j, "writes", (double)c->writes);
	}
	cJSON *be = cJSON_AddObjectToObject(o, "by_event");
	for (int i = 0; i < p->by_event.n; i++) {
		const struct pmu_count *c = &p->by_event.e[i];
		const char *n = event_name(c->key);
		if ((c->key & 0xf0000000u) == 0xf0000000u)
			snprintf(k, sizeof(k), "fixed%u", c->key & 0xf);
		else
			snprintf(k, sizeof(k), "0x%x/0x%02x", c->key >> 8, c->key & 0xff);
		cJSON *j = cJSON_AddObjectToObject(be, k);
		if (n)
			cJSON_AddStringToObject(j, "name", n);
		cJSON_AddNumberToObject(j, "programs", (double)c->writes);
		cJSON_AddNumberToObject(j, "denied", (double)c->denied);
	}
	if (p->by_msr.other || p->by_event.other) {
		cJSON_AddNumberToObject(o, "msrs_not_tabled", (double)p->by_msr.other);
		cJSON_AddNumberToObject(o, "events_not_tabled", (double)p->by_event.other);
	}
	pthread_mutex_unlock(&p->stats_lock);
	return o;
}

/* What the mediated vPMU in force means, said here (not as notes made at
 * pmu_new()) because auto may still fall back to off. */
static void mediated_notes(const struct pmu *p, cJSON *notes)
{
	const struct pmu_shape *s = &p->shape;
	char b[200];
	if (p->mode != PMU_MODE_MEDIATED)
		return;
	if (!s->globals_direct || !s->rdpmc_direct) {
		snprintf(b, sizeof(b), "%s%s%s exit to KVM (pass_through_costs says why)",
			 s->globals_direct ? "" : "PERF_GLOBAL_CTRL/STATUS/OVF_CTRL",
			 !s->globals_direct && !s->rdpmc_direct ? " and " : "", s->rdpmc_direct ? "" : "RDPMC");
		cJSON_AddItemToArray(notes, cJSON_CreateString(b));
	}
	cJSON_AddItemToArray(notes, cJSON_CreateString("the mediated vPMU gives the guest no PEBS and no LBR"));
	cJSON_AddItemToArray(notes, cJSON_CreateString(
		"while this VM lives, new host perf events that count guests (exclude_guest=0) fail with EOPNOTSUPP"));
}

char *pmu_report_json(struct pmu *p)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "requested", cfg_pmu_mode_name(p->cfg.mode));
	cJSON_AddStringToObject(o, "mode", pmu_mode_name(p->mode));
	cJSON_AddStringToObject(o, "why", p->why);
	cJSON_AddBoolToObject(o, "fell_back", p->fell_back);
	if (p->restore)
		cJSON_AddItemToObject(o, "restored_from", restored_json(p->restore));
	cJSON *oo = cJSON_AddObjectToObject(o, "opt_out");
	cJSON_AddBoolToObject(oo, "possible", p->opt_out_possible);
	cJSON_AddBoolToObject(oo, "done", p->opted_out);
	cJSON_AddItemToObject(o, "guest_pmu", guest_pmu_json(&p->shape));
	cJSON_AddItemToObject(o, "cpuid", cpuid_json(p));
	routes_json(p, o);
	cJSON *costs = cJSON_AddArrayToObject(o, "pass_through_costs");
	char c[200];
	for (int i = 0; p->mode == PMU_MODE_MEDIATED && i < p->shape.globals_why.n; i++) {
		snprintf(c, sizeof(c), "PERF_GLOBAL_* intercepted: %s", p->shape.globals_why.line[i]);
		cJSON_AddItemToArray(costs, cJSON_CreateString(c));
	}
	for (int i = 0; p->mode == PMU_MODE_MEDIATED && i < p->shape.rdpmc_why.n; i++) {
		snprintf(c, sizeof(c), "RDPMC intercepted: %s", p->shape.rdpmc_why.line[i]);
		cJSON_AddItemToArray(costs, cJSON_CreateString(c));
	}
	if (p->mode == PMU_MODE_MEDIATED && p->shape.kvm_limit[0])
		cJSON_AddItemToArray(costs, cJSON_CreateString(p->shape.kvm_limit));
	cJSON_AddBoolToObject(o, "trap_event_selects", p->trap);
	pthread_rwlock_rdlock(&p->filter_lock);
	cJSON_AddItemToObject(o, "filter", filter_json(p->filter));
	pthread_rwlock_unlock(&p->filter_lock);
	cJSON_AddItemToObject(o, "stats", stats_json(p));
	cJSON *notes = cJSON_AddArrayToObject(o, "notes");
	for (int i = 0; i < p->nnotes; i++)
		cJSON_AddItemToArray(notes, cJSON_CreateString(p->notes[i]));
	mediated_notes(p, notes);
	char *s = cJSON_Print(o);
	cJSON_Delete(o);
	return s;
}

char *pmu_metrics_json(struct pmu *p)
{
	cJSON *o = metrics_obj(p);
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

static void add_soft_vcpu(cJSON *v, const struct soft_pmu *m)
{
	cJSON *es = cJSON_AddArrayToObject(v, "event_selects");
	cJSON *cs = cJSON_AddArrayToObject(v, "counters");
	char b[24];
	for (int i = 0; i < m->ngp; i++) {
		snprintf(b, sizeof(b), "0x%llx", (unsigned long long)m->evtsel[i]);
		cJSON_AddItemToArray(es, cJSON_CreateString(b));
		snprintf(b, sizeof(b), "0x%llx", (unsigned long long)m->pmc[i]);
		cJSON_AddItemToArray(cs, cJSON_CreateString(b));
	}
	cJSON *fs = cJSON_AddArrayToObject(v, "fixed_counters");
	for (int i = 0; i < m->nfixed; i++) {
		snprintf(b, sizeof(b), "0x%llx", (unsigned long long)m->fixed[i]);
		cJSON_AddItemToArray(fs, cJSON_CreateString(b));
	}
	if (m->version >= 2) {
		add_hex(v, "fixed_ctr_ctrl", m->fixed_ctrl);
		add_hex(v, "global_ctrl", m->global_ctrl);
		add_hex(v, "global_status", m->global_status);
	}
}

static int add_kernel_vcpu(struct pmu *p, struct vcpu *vc, cJSON *v)
{
	uint32_t idx[40];
	int n = kernel_counter_msrs(p, idx, 40);
	PMU_MSRS(40) m = { .nmsrs = (uint32_t)n };
	for (int i = 0; i < n; i++)
		m.e[i].index = idx[i];
	int rc = n ? kvm_vcpu_ioctl(vc, KVM_GET_MSRS, &m) : 0;
	if (rc < 0) {
		cJSON_AddStringToObject(v, "error", strerror(-rc));
		return -1;
	}
	cJSON *msrs = cJSON_AddObjectToObject(v, "msrs");
	char name[40];
	/* KVM_GET_MSRS stops at the first MSR it refuses: rc were read. */
	for (int i = 0; i < rc && i < n; i++)
		add_hex(msrs, pmu_msr_name(idx[i], name, sizeof(name)), m.e[i].data);
	return 0;
}

char *pmu_counters_json(struct pmu *p)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "mode", pmu_mode_name(p->mode));
	cJSON *arr = cJSON_AddArrayToObject(o, "vcpus");
	struct vm *vm = p->vm;
	bool kernel = p->mode == PMU_MODE_MEDIATED || p->mode == PMU_MODE_LEGACY;
	int st = vm ? atomic_load(&vm->state) : VM_NOT_STARTED;

	if (kernel && st != VM_PAUSED && st != VM_NOT_STARTED) {
		cJSON_AddStringToObject(o, "error",
					"the in-kernel counters are read from stopped vCPUs: pause the VM first (PATCH /vm {\"state\": \"Paused\"})");
	} else if (p->mode != PMU_MODE_OFF) {
		for (uint32_t i = 0; vm && i < vm->nvcpus; i++) {
			struct vcpu *vc = &vm->vcpus[i];
			cJSON *v = cJSON_CreateObject();
			cJSON_AddNumberToObject(v, "id", vc->id);
			if (p->mode == PMU_MODE_SOFT) {
				struct soft_pmu m;
				if (soft_vcpu_snapshot(p, vc, &m) == 0)
					add_soft_vcpu(v, &m);
			} else {
				add_kernel_vcpu(p, vc, v);
			}
			cJSON_AddItemToArray(arr, v);
		}
	}
	char *s = cJSON_Print(o);
	cJSON_Delete(o);
	return s;
}

/* One line for the log at VM exit: what the PMU did, in a form a test can
 * compare with what the guest says it did. MSRs come sorted by index as
 * "0xMSR:rRwW" tokens. */
static int cmp_key(const void *a, const void *b)
{
	uint32_t x = ((const struct pmu_count *)a)->key, y = ((const struct pmu_count *)b)->key;
	return x < y ? -1 : x > y;
}

void pmu_summary(struct pmu *p, char *buf, size_t len)
{
	struct pmu_metrics m;
	struct pmu_counts by_msr, by_event; /* copies: sorted outside stats_lock */
	size_t o = 0;

#define PUT(...) do { if (o < len) o += (size_t)snprintf(buf + o, len - o, __VA_ARGS__); } while (0)
	pmu_get_metrics(p, &m);
	PUT("mode %s (%s); %llu PMU MSR exits to mpvm (%llu answered #GP); PMIs injected %llu, masked %llu, dropped %llu; denied programs %llu; overflow-timer wake-ups %llu",
	    pmu_mode_name(p->mode), p->why, (unsigned long long)m.msr_exits,
	    (unsigned long long)m.msr_exits_gp, (unsigned long long)m.pmis_injected,
	    (unsigned long long)m.pmis_masked, (unsigned long long)atomic_load(&p->pmis_dropped),
	    (unsigned long long)m.denied_programs, (unsigned long long)atomic_load(&p->timer_wakeups));
	pthread_mutex_lock(&p->stats_lock);
	by_msr = p->by_msr;
	by_event = p->by_event;
	pthread_mutex_unlock(&p->stats_lock);
	qsort(by_msr.e, (size_t)by_msr.n, sizeof(by_msr.e[0]), cmp_key);
	qsort(by_event.e, (size_t)by_event.n, sizeof(by_event.e[0]), cmp_key);
	PUT("; by MSR:");
	if (!by_msr.n)
		PUT(" none");
	for (int i = 0; i < by_msr.n; i++)
		PUT(" 0x%x:r%lluw%llu", by_msr.e[i].key, (unsigned long long)by_msr.e[i].reads,
		    (unsigned long long)by_msr.e[i].writes);
	if (by_msr.other)
		PUT(" (+%llu not tabled)", (unsigned long long)by_msr.other);
	PUT("; events programmed:");
	if (!by_event.n)
		PUT(" none");
	for (int i = 0; i < by_event.n; i++) {
		const struct pmu_count *c = &by_event.e[i];
		const char *n = event_name(c->key);
		if ((c->key & 0xf0000000u) == 0xf0000000u)
			PUT(" fixed%u", c->key & 0xf);
		else
			PUT(" 0x%x:%02x", c->key >> 8, c->key & 0xff);
		if (n && (c->key & 0xf0000000u) != 0xf0000000u)
			PUT("(%s)", n);
		PUT("=%llu", (unsigned long long)c->writes);
		if (c->denied)
			PUT("(%llu denied)", (unsigned long long)c->denied);
	}
#undef PUT
}
