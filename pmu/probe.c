/* Host probe: decode what the host reports and decide, per mode, whether a
 * guest PMU is possible and what an administrator would change if not.
 * The facts behind each rule are in docs/pmu.md §1-2. */
#include "pmu/probe.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const mode_names[PMU_MODE_COUNT] = { "off", "soft", "legacy", "mediated" };

const char *pmu_mode_name(enum pmu_mode m)
{
	return (unsigned)m < PMU_MODE_COUNT ? mode_names[m] : "?";
}

const char *pmu_vendor_name(enum pmu_vendor v)
{
	return v == PMU_VENDOR_INTEL ? "intel" : v == PMU_VENDOR_AMD ? "amd" : "other";
}

const struct pmu_cpuid_leaf *pmu_cpuid_get(const struct pmu_cpuid_set *s, uint32_t fn, uint32_t idx)
{
	static const struct pmu_cpuid_leaf zero;
	for (int i = 0; s && i < s->n; i++)
		if (s->l[i].fn == fn && s->l[i].idx == idx)
			return &s->l[i];
	return &zero;
}

void pmu_cpuid_put(struct pmu_cpuid_set *s, uint32_t fn, uint32_t idx, uint32_t eax, uint32_t ebx,
		   uint32_t ecx, uint32_t edx)
{
	for (int i = 0; i < s->n; i++)
		if (s->l[i].fn == fn && s->l[i].idx == idx) {
			s->l[i] = (struct pmu_cpuid_leaf){ fn, idx, eax, ebx, ecx, edx };
			return;
		}
	if (s->n < PMU_CPUID_MAX)
		s->l[s->n++] = (struct pmu_cpuid_leaf){ fn, idx, eax, ebx, ecx, edx };
}

void pmu_arch_decode(struct pmu_arch *a, enum pmu_vendor v, const struct pmu_cpuid_set *s)
{
	const struct pmu_cpuid_leaf *l1 = pmu_cpuid_get(s, 1, 0);
	const struct pmu_cpuid_leaf *la = pmu_cpuid_get(s, 0xa, 0);
	const struct pmu_cpuid_leaf *e1 = pmu_cpuid_get(s, 0x80000001, 0);
	const struct pmu_cpuid_leaf *e22 = pmu_cpuid_get(s, 0x80000022, 0);

	memset(a, 0, sizeof(*a));
	a->pdcm = l1->ecx & (1u << 15);
	if (v == PMU_VENDOR_AMD) {
		/* AMD has no leaf 0xA: K7 counters (4), PerfCtrExtCore (6 at
		 * 0xC0010200+2n), PerfMonV2 (count in 0x80000022 EBX[3:0]). */
		a->amd_perfctr_core = e1->ecx & (1u << 23);
		a->amd_perfmon_v2 = e22->eax & 1;
		a->gp = a->amd_perfmon_v2 ? (int)(e22->ebx & 0xf) : a->amd_perfctr_core ? 6 : 4;
		a->gp_width = 48;
		a->version = a->amd_perfmon_v2 ? 2 : 1;
		return;
	}
	a->version = la->eax & 0xff;
	if (!a->version)
		return;
	a->gp = (la->eax >> 8) & 0xff;
	a->gp_width = (la->eax >> 16) & 0xff;
	a->ebx_len = (la->eax >> 24) & 0xff;
	a->unavail = la->ebx;
	/* Fixed counters are described from version 2 on. */
	if (a->version > 1) {
		a->fixed = la->edx & 0x1f;
		a->fixed_width = (la->edx >> 5) & 0xff;
		a->fixed_bitmap = la->ecx;
	}
}

/* Read a one-line file under root; -1 if absent. */
static int read_line(const char *root, const char *rel, char *buf, size_t len)
{
	char path[512];
	size_t rl = strlen(root);
	snprintf(path, sizeof(path), "%s%s%s", root, rl && root[rl - 1] == '/' ? "" : "/", rel);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *r = fgets(buf, (int)len, f);
	fclose(f);
	if (!r)
		return -1;
	size_t n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return 0;
}

static bool exists(const char *root, const char *rel)
{
	char path[512];
	struct stat st;
	size_t rl = strlen(root);
	snprintf(path, sizeof(path), "%s%s%s", root, rl && root[rl - 1] == '/' ? "" : "/", rel);
	return stat(path, &st) == 0;
}

/* Module parameter booleans read "Y"/"N" (or 1/0). */
static int read_bool_param(const char *root, const char *rel)
{
	char b[32];
	if (read_line(root, rel, b, sizeof(b)))
		return -1;
	if (b[0] == 'Y' || b[0] == 'y' || b[0] == '1')
		return 1;
	if (b[0] == 'N' || b[0] == 'n' || b[0] == '0')
		return 0;
	return -1;
}

static int read_int(const char *root, const char *rel, int dflt)
{
	char b[32], *end;
	if (read_line(root, rel, b, sizeof(b)))
		return dflt;
	long v = strtol(b, &end, 10);
	return end == b ? dflt : (int)v;
}

__attribute__((format(printf, 3, 4)))
static void add_reason(struct pmu_verdict *v, const char *fix, const char *fmt, ...)
{
	v->available = false;
	if (v->nreasons >= PMU_MAX_REASONS)
		return;
	struct pmu_reason *r = &v->r[v->nreasons++];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	snprintf(r->fix, sizeof(r->fix), "%s", fix);
}

static void read_vendor(struct pmu_host *h, const struct pmu_cpuid_set *c)
{
	const struct pmu_cpuid_leaf *l0 = pmu_cpuid_get(c, 0, 0);
	memcpy(h->vendor_id, &l0->ebx, 4);
	memcpy(h->vendor_id + 4, &l0->edx, 4);
	memcpy(h->vendor_id + 8, &l0->ecx, 4);
	h->vendor_id[12] = 0;
	if (!strcmp(h->vendor_id, "GenuineIntel"))
		h->vendor = PMU_VENDOR_INTEL;
	else if (!strcmp(h->vendor_id, "AuthenticAMD") || !strcmp(h->vendor_id, "HygonGenuine"))
		h->vendor = PMU_VENDOR_AMD;
	else
		h->vendor = PMU_VENDOR_OTHER;
	/* CPUID.7.0:EDX[15] Hybrid: KVM offers no vPMU on such CPUs. */
	h->host_is_vm = pmu_cpuid_get(c, 1, 0)->ecx & (1u << 31);
	h->hybrid = h->vendor == PMU_VENDOR_INTEL && (pmu_cpuid_get(c, 7, 0)->edx & (1u << 15));
}

static void read_sysfs(struct pmu_host *h, const char *root)
{
	const char *vmod = h->vendor == PMU_VENDOR_AMD ? "kvm_amd" : "kvm_intel";
	char rel[128];

	h->enable_pmu = read_bool_param(root, "sys/module/kvm/parameters/enable_pmu");
	h->enable_vmware_backdoor = read_bool_param(root, "sys/module/kvm/parameters/enable_vmware_backdoor");
	snprintf(h->mediated_param, sizeof(h->mediated_param), "%s.enable_mediated_pmu", vmod);
	snprintf(rel, sizeof(rel), "sys/module/%s/parameters/enable_mediated_pmu", vmod);
	h->enable_mediated_pmu = read_bool_param(root, rel);
	h->nmi_watchdog = read_int(root, "proc/sys/kernel/nmi_watchdog", -1);
	h->perf_event_paranoid = read_int(root, "proc/sys/kernel/perf_event_paranoid", -100);

	static const char *const backends[] = { "kvm_intel", "kvm_amd", "kvm_pvm", NULL };
	h->kvm_backend[0] = 0;
	for (int i = 0; backends[i]; i++) {
		snprintf(rel, sizeof(rel), "sys/module/%s", backends[i]);
		if (exists(root, rel)) {
			snprintf(h->kvm_backend, sizeof(h->kvm_backend), "%s", backends[i]);
			break;
		}
	}
}

/* Reasons the in-kernel vPMU (legacy or mediated) cannot exist at all. */
static void no_kernel_pmu_reasons(struct pmu_host *h, struct pmu_verdict *v)
{
	if (h->hybrid)
		add_reason(v, "none on this CPU: use mode soft",
			   "hybrid Intel CPU (CPUID.7:EDX[15]): KVM offers no vPMU on hybrid CPUs");
	if (h->enable_pmu == 0)
		add_reason(v, "reload kvm with enable_pmu=1 (or boot with kvm.enable_pmu=1)",
			   "kvm.enable_pmu=N: KVM has no vPMU");
	if (h->enable_pmu != 0 && h->vendor == PMU_VENDOR_INTEL && !h->hybrid && !h->kvm.version)
		add_reason(v, "none: the host CPU or its perf driver has no usable architectural PMU",
			   "KVM_GET_SUPPORTED_CPUID leaf 0xA is zero: KVM cannot virtualise this host's PMU");
	if (h->vendor == PMU_VENDOR_OTHER)
		add_reason(v, "none: use mode soft", "CPU vendor \"%s\": KVM's vPMU supports Intel and AMD only",
			   h->vendor_id);
}

static void verdict_mediated(struct pmu_host *h)
{
	struct pmu_verdict *v = &h->verdict[PMU_MODE_MEDIATED];
	const bool intel = h->vendor == PMU_VENDOR_INTEL;
	const char *vmod = intel ? "kvm_intel" : "kvm_amd";

	v->available = true;
	/* Every reason, not just the first: the administrator needs them all. */
	no_kernel_pmu_reasons(h, v);
	if (h->enable_mediated_pmu < 0) {
		char rel[64];
		snprintf(rel, sizeof(rel), "sys/module/%s", vmod);
		if (!exists(h->root, rel))
			add_reason(v, "run on a host where KVM uses kvm_intel or kvm_amd directly",
				   "%s is not loaded (KVM backend: %s): the mediated vPMU lives there",
				   vmod, h->kvm_backend[0] ? h->kvm_backend : "unknown");
		else
			add_reason(v, "upgrade the host kernel to Linux 7.0 or later",
				   "%s has no enable_mediated_pmu parameter: this kernel predates the mediated vPMU",
				   vmod);
	} else if (h->enable_mediated_pmu == 0) {
		char fix[200];
		snprintf(fix, sizeof(fix), "reload %s with enable_mediated_pmu=1 (needs Linux 7.0+ and %s)",
			 vmod, intel ? "PMU v4 with full-width writes" : "PerfMonV2, Zen 4 or later");
		add_reason(v, fix, "%s=N (the kernel's default: an administrator must turn it on)",
			   h->mediated_param);
	}
	/* The sysfs value is the effective one, but say which hardware
	 * requirement is missing when the CPU shows it. */
	if (intel && h->cpu.version && h->cpu.version < 4)
		add_reason(v, "none on this CPU (Skylake or later has it)",
			   "host PMU is version %d: the mediated vPMU needs version 4 with full-width writes",
			   h->cpu.version);
	if (!intel && !h->cpu.amd_perfmon_v2)
		add_reason(v, "none on this CPU (Zen 4 or later has it)",
			   "host has no PerfMonV2 (CPUID 0x80000022 EAX[0]): the mediated vPMU needs it");
	if (h->nmi_watchdog == 1)
		add_reason(v, "echo 0 > /proc/sys/kernel/nmi_watchdog (or boot with nmi_watchdog=0)",
			   "nmi_watchdog=1: its perf event counts guests, so the first KVM_CREATE_VCPU would fail with EBUSY");
	if (v->available)
		snprintf(v->note, sizeof(v->note),
			 "any host perf event that counts guests (exclude_guest=0), system-wide or per-task (a perf stat of any process), makes the first KVM_CREATE_VCPU fail with EBUSY; the probe cannot see those. "
			 "While a mediated VM lives, new such events fail with EOPNOTSUPP. The guest gets no PEBS and no LBR");
}

static void verdict_legacy(struct pmu_host *h)
{
	struct pmu_verdict *v = &h->verdict[PMU_MODE_LEGACY];
	const char *vmod = h->vendor == PMU_VENDOR_AMD ? "kvm_amd" : "kvm_intel";

	v->available = true;
	/* Every reason, as for mediated: an administrator who fixes the first
	 * must not discover the next one only afterwards. */
	no_kernel_pmu_reasons(h, v);
	if (h->enable_mediated_pmu == 1) {
		char fix[200];
		snprintf(fix, sizeof(fix), "use mode mediated, or reload %s with enable_mediated_pmu=0", vmod);
		add_reason(v, fix, "%s=Y: every VM with an in-kernel LAPIC gets the mediated vPMU; there is no per-VM choice",
			   h->mediated_param);
	}
	if (v->available && h->enable_pmu < 0)
		snprintf(v->note, sizeof(v->note),
			 "kvm.enable_pmu is not readable (kernel before 5.17?): assuming the vPMU is on");
}

static void verdict_soft(struct pmu_host *h)
{
	struct pmu_verdict *v = &h->verdict[PMU_MODE_SOFT];
	v->available = true;
	if (h->kvm_info.cap_user_space_msr <= 0)
		add_reason(v, "use a host kernel with KVM_CAP_X86_USER_SPACE_MSR (Linux 5.10+)",
			   "KVM lacks KVM_CAP_X86_USER_SPACE_MSR: PMU MSR accesses cannot reach mpvm");
	if (h->kvm_info.cap_msr_filter <= 0)
		add_reason(v, "use a host kernel with KVM_CAP_X86_MSR_FILTER (Linux 5.10+)",
			   "KVM lacks KVM_CAP_X86_MSR_FILTER: mpvm cannot claim the PMU MSRs");
	if (v->available)
		snprintf(v->note, sizeof(v->note),
			 "counts only core and reference cycles (vCPU thread CPU time at the TSC rate); RDPMC faults, so Linux perf cannot use it");
}

static void verdict_off(struct pmu_host *h)
{
	struct pmu_verdict *v = &h->verdict[PMU_MODE_OFF];
	v->available = true;
	if (h->kvm_info.cap_pmu_capability <= 0 && h->enable_pmu != 0)
		snprintf(v->note, sizeof(v->note),
			 "KVM cannot opt a VM out of its vPMU (no KVM_CAP_PMU_CAPABILITY, Linux < 5.18): the guest sees no PMU in CPUID, but KVM keeps one");
}

void pmu_probe(struct pmu_host *h, const struct pmu_probe_src *src)
{
	static const struct pmu_probe_src none;
	struct pmu_cpuid_set host_cpuid;

	if (!src)
		src = &none;
	memset(h, 0, sizeof(*h));
	snprintf(h->root, sizeof(h->root), "%s", src->root ? src->root : "/");
	if (src->cpuid) {
		host_cpuid = *src->cpuid;
	} else {
		memset(&host_cpuid, 0, sizeof(host_cpuid));
		pmu_cpuid_read_host(&host_cpuid);
	}
	if (src->kvm)
		h->kvm_info = *src->kvm;
	else
		pmu_kvm_info_read(&h->kvm_info, src->kvm_path ? src->kvm_path : "/dev/kvm");

	read_vendor(h, &host_cpuid);
	pmu_arch_decode(&h->cpu, h->vendor, &host_cpuid);
	if (h->kvm_info.present)
		pmu_arch_decode(&h->kvm, h->vendor, &h->kvm_info.supported);
	read_sysfs(h, h->root);
	/* With enable_pmu=N KVM offers no PMU whatever CPUID says (on AMD the
	 * K7 counters have no CPUID bit at all). */
	if (h->enable_pmu == 0)
		memset(&h->kvm, 0, sizeof(h->kvm));

	if (!h->kvm_info.present) {
		for (int m = 0; m < PMU_MODE_COUNT; m++)
			add_reason(&h->verdict[m],
				   "load kvm_intel or kvm_amd and make /dev/kvm accessible",
				   "KVM unavailable: %s", h->kvm_info.error);
		return;
	}
	verdict_mediated(h);
	verdict_legacy(h);
	verdict_soft(h);
	verdict_off(h);
}
