/* Made-up hosts for the PMU tests: a CPUID table, what KVM answers, and a
 * prepared sysfs/procfs tree in a temporary directory, fed to pmu_probe().
 * Header-only so each test_pmu_*.c stays a standalone program. */
#ifndef PMU_TEST_HOSTS_H
#define PMU_TEST_HOSTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "pmu/probe.h"

struct fake_host {
	char root[64];
	struct pmu_cpuid_set cpuid;
	struct pmu_kvm_info kvm;
};

static inline void fh_file(struct fake_host *h, const char *rel, const char *content)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", h->root, rel);
	/* mkdir -p of the parent */
	for (char *s = path + strlen(h->root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(path, 0755);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fprintf(f, "%s\n", content);
	fclose(f);
}

static inline void fh_init(struct fake_host *h)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->root, sizeof(h->root), "/tmp/mpvm-pmu-test-XXXXXX");
	if (!mkdtemp(h->root))
		abort();
	h->kvm.present = true;
	h->kvm.cap_pmu_event_filter = 1;
	h->kvm.cap_masked_events = 1;
	h->kvm.cap_user_space_msr = 1;
	h->kvm.cap_msr_filter = 1;
}

static inline void fh_cleanup(struct fake_host *h)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", h->root);
}

static inline void fh_vendor(struct fake_host *h, const char *id)
{
	uint32_t r[3];
	memcpy(r, id, 12);
	/* vendor string order: EBX, EDX, ECX */
	pmu_cpuid_put(&h->cpuid, 0, 0, 0x20, r[0], r[2], r[1]);
}

/* Intel host with an architectural PMU; KVM advertises version <= 2 and at
 * most 3 fixed counters, as Linux 7.0 does (fh_kvm_fixed_cap() models a
 * kernel with another limit). Module params: enable_pmu=Y,
 * enable_vmware_backdoor=N, kvm_intel.enable_mediated_pmu=`mediated`
 * (NULL: parameter absent). */
static inline void fh_intel(struct fake_host *h, int version, int gp, int gpw, int fixed, int fixedw,
			    const char *mediated, int nmi_watchdog)
{
	char b[8];
	fh_init(h);
	fh_vendor(h, "GenuineIntel");
	uint32_t eax = (uint32_t)version | (uint32_t)gp << 8 | (uint32_t)gpw << 16 | 7u << 24;
	uint32_t edx = (uint32_t)fixed | (uint32_t)fixedw << 5;
	pmu_cpuid_put(&h->cpuid, 1, 0, 0x906ea, 0, 1u << 15, 0);
	/* From version 5 hardware also enumerates the fixed counters as a
	 * bitmap in ECX (perf counts those). */
	uint32_t ecx = version >= 5 ? (1u << fixed) - 1 : 0;
	pmu_cpuid_put(&h->cpuid, 0xa, 0, eax, 0, ecx, edx);
	int kv = version > 2 ? 2 : version, kf = fixed > 3 ? 3 : fixed;
	pmu_cpuid_put(&h->kvm.supported, 1, 0, 0x906ea, 0, 1u << 15, 0);
	pmu_cpuid_put(&h->kvm.supported, 0xa, 0,
		      (uint32_t)kv | (uint32_t)gp << 8 | (uint32_t)gpw << 16 | 7u << 24, 0, 0,
		      (uint32_t)kf | (uint32_t)fixedw << 5);
	h->kvm.cap_pmu_capability = 1;
	h->kvm.perf_caps_known = true;
	h->kvm.perf_caps = 0x2000 | 0x4 | (1u << 15); /* FW_WRITES, LBR fmt, PEBS baseline */
	fh_file(h, "sys/module/kvm/parameters/enable_pmu", "Y");
	fh_file(h, "sys/module/kvm/parameters/enable_vmware_backdoor", "N");
	fh_file(h, "sys/module/kvm_intel/parameters/nested", "Y");
	if (mediated)
		fh_file(h, "sys/module/kvm_intel/parameters/enable_mediated_pmu", mediated);
	snprintf(b, sizeof(b), "%d", nmi_watchdog);
	fh_file(h, "proc/sys/kernel/nmi_watchdog", b);
	fh_file(h, "proc/sys/kernel/perf_event_paranoid", "2");
}

/* AMD Zen 4: PerfCtrExtCore + PerfMonV2 with 6 core counters. */
static inline void fh_amd_zen4(struct fake_host *h, const char *mediated, int nmi_watchdog)
{
	char b[8];
	fh_init(h);
	fh_vendor(h, "AuthenticAMD");
	pmu_cpuid_put(&h->cpuid, 0x80000001, 0, 0, 0, 1u << 23, 0);
	pmu_cpuid_put(&h->cpuid, 0x80000022, 0, 1, 6, 0, 0);
	h->kvm.supported = h->cpuid;
	h->kvm.cap_pmu_capability = 1;
	fh_file(h, "sys/module/kvm/parameters/enable_pmu", "Y");
	fh_file(h, "sys/module/kvm/parameters/enable_vmware_backdoor", "N");
	fh_file(h, "sys/module/kvm_amd/parameters/npt", "Y");
	if (mediated)
		fh_file(h, "sys/module/kvm_amd/parameters/enable_mediated_pmu", mediated);
	snprintf(b, sizeof(b), "%d", nmi_watchdog);
	fh_file(h, "proc/sys/kernel/nmi_watchdog", b);
}

/* KVM's fixed-counter limit as KVM_GET_SUPPORTED_CPUID applies it: `cap`
 * of the host's (Linux 7.0: 3; a pending patch: 4 for mediated VMs). */
static inline void fh_kvm_fixed_cap(struct fake_host *h, int cap)
{
	const struct pmu_cpuid_leaf *hw = pmu_cpuid_get(&h->cpuid, 0xa, 0);
	const struct pmu_cpuid_leaf *kv = pmu_cpuid_get(&h->kvm.supported, 0xa, 0);
	int fixed = (int)(hw->edx & 0x1f);
	uint32_t n = (uint32_t)(fixed < cap ? fixed : cap);
	pmu_cpuid_put(&h->kvm.supported, 0xa, 0, kv->eax, kv->ebx, kv->ecx, (hw->edx & ~0x1fu) | n);
}

/* A kvm module parameter (enable_vmware_backdoor, ...): "Y", "N", or NULL
 * for unreadable. */
static inline void fh_kvm_param(struct fake_host *h, const char *name, const char *val)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "sys/module/kvm/parameters/%s", name);
	if (val) {
		fh_file(h, rel, val);
	} else {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", h->root, rel);
		unlink(path);
	}
}

/* The development machine: AMD, a software-nested KVM backend, no PMU. */
static inline void fh_no_pmu(struct fake_host *h)
{
	fh_init(h);
	fh_vendor(h, "AuthenticAMD");
	pmu_cpuid_put(&h->cpuid, 1, 0, 0xa00f11, 0, 1u << 31, 0);
	h->kvm.cap_pmu_capability = 0;
	fh_file(h, "sys/module/kvm/parameters/enable_pmu", "N");
	fh_file(h, "sys/module/kvm_pvm/parameters/force", "N");
	fh_file(h, "proc/sys/kernel/nmi_watchdog", "0");
	fh_file(h, "proc/sys/kernel/perf_event_paranoid", "2");
}

/* Hybrid Intel (Alder Lake): KVM turns its vPMU off. */
static inline void fh_hybrid(struct fake_host *h)
{
	fh_intel(h, 5, 8, 48, 3, 48, "N", 0);
	pmu_cpuid_put(&h->cpuid, 7, 0, 0, 0, 0, 1u << 15);
	pmu_cpuid_put(&h->kvm.supported, 0xa, 0, 0, 0, 0, 0);
	h->kvm.cap_pmu_capability = 0;
	fh_file(h, "sys/module/kvm/parameters/enable_pmu", "N");
}

static inline void fh_probe(struct fake_host *h, struct pmu_host *out)
{
	struct pmu_probe_src src = { .root = h->root, .cpuid = &h->cpuid, .kvm = &h->kvm };
	pmu_probe(out, &src);
}

static inline bool verdict_says(const struct pmu_verdict *v, const char *why, const char *fix)
{
	for (int i = 0; i < v->nreasons; i++)
		if ((!why || strstr(v->r[i].why, why)) && (!fix || strstr(v->r[i].fix, fix)))
			return true;
	return false;
}

static inline struct cfg_pmu cfg_mode(enum cfg_pmu_mode m)
{
	struct cfg_pmu c;
	memset(&c, 0, sizeof(c));
	c.mode = m;
	c.version = c.gp_counters = c.fixed_counters = c.gp_width = c.fixed_width = -1;
	return c;
}

#endif
