/* Host PMU probe: what this host can give a guest PMU, and why not.
 *
 * Contract: pmu_probe() reads sysfs/procfs under `root` (kvm.enable_pmu,
 * kvm.enable_vmware_backdoor, kvm_intel/kvm_amd.enable_mediated_pmu,
 * nmi_watchdog, perf_event_paranoid),
 * the host CPUID (vendor, hybrid, architectural PMU) and KVM (capabilities,
 * KVM_GET_SUPPORTED_CPUID PMU leaves, the PERF_CAPABILITIES feature MSR),
 * then decides, per mode, whether it is available and, when not, the reasons
 * and what an administrator would change. It never fails: what it cannot read
 * is reported as unknown (-1) and taken into account. Every input is
 * injectable (struct pmu_probe_src) so tests run it on prepared trees and
 * made-up CPUs; NULL sources mean "this machine". Pure data, no KVM state.
 */
#ifndef MPVM_PMU_PROBE_H
#define MPVM_PMU_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Modes in force (cfg "auto" resolves to one of these). */
enum pmu_mode { PMU_MODE_OFF, PMU_MODE_SOFT, PMU_MODE_LEGACY, PMU_MODE_MEDIATED, PMU_MODE_COUNT };
const char *pmu_mode_name(enum pmu_mode m);

enum pmu_vendor { PMU_VENDOR_OTHER, PMU_VENDOR_INTEL, PMU_VENDOR_AMD };
const char *pmu_vendor_name(enum pmu_vendor v);

/* A few CPUID leaves, as a table (host CPUID or KVM's supported CPUID). */
struct pmu_cpuid_leaf {
	uint32_t fn, idx;
	uint32_t eax, ebx, ecx, edx;
};
#define PMU_CPUID_MAX 16
struct pmu_cpuid_set {
	int n;
	struct pmu_cpuid_leaf l[PMU_CPUID_MAX];
};
/* Missing leaves read as zero. */
const struct pmu_cpuid_leaf *pmu_cpuid_get(const struct pmu_cpuid_set *s, uint32_t fn, uint32_t idx);
void pmu_cpuid_put(struct pmu_cpuid_set *s, uint32_t fn, uint32_t idx, uint32_t eax, uint32_t ebx,
		   uint32_t ecx, uint32_t edx);
/* This CPU (the cpuid instruction): leaves 0, 1, 7, 0xA, 0x80000000/1/22. */
void pmu_cpuid_read_host(struct pmu_cpuid_set *s);

/* What KVM answers (real: /dev/kvm; tests fill it by hand). */
struct pmu_kvm_info {
	bool present;            /* /dev/kvm usable */
	char error[256];         /* why not, when !present */
	int cap_pmu_capability;  /* KVM_CAP_PMU_CAPABILITY (212): 1 = can opt out */
	int cap_pmu_event_filter;  /* 173 */
	int cap_masked_events;     /* 226 */
	int cap_user_space_msr;    /* 188 */
	int cap_msr_filter;        /* 189 */
	struct pmu_cpuid_set supported; /* KVM_GET_SUPPORTED_CPUID: 1, 0xA, 0x80000001, 0x80000022 */
	bool perf_caps_known;    /* KVM's IA32_PERF_CAPABILITIES feature MSR */
	uint64_t perf_caps;
};
int pmu_kvm_info_read(struct pmu_kvm_info *k, const char *kvm_path);

/* An architectural PMU, decoded (the host CPU's or what KVM supports).
 * AMD: version 2 means PerfMonV2, 1 the legacy counters; no fixed counters. */
struct pmu_arch {
	int version;
	int gp, gp_width;
	int fixed, fixed_width;
	uint32_t fixed_bitmap; /* leaf 0xA ECX: fixed counters enumerated one by one (v5+) */
	int ebx_len;       /* leaf 0xA EAX[31:24]: valid bits in EBX */
	uint32_t unavail;  /* leaf 0xA EBX: 1 = architectural event not available */
	bool pdcm;         /* CPUID.1:ECX[15] */
	bool amd_perfctr_core; /* 0x80000001 ECX[23] */
	bool amd_perfmon_v2;   /* 0x80000022 EAX[0] */
};
void pmu_arch_decode(struct pmu_arch *a, enum pmu_vendor v, const struct pmu_cpuid_set *s);

struct pmu_reason {
	char why[200];
	char fix[200];
};
#define PMU_MAX_REASONS 4
struct pmu_verdict {
	bool available;
	int nreasons;  /* why not (available: 0) */
	struct pmu_reason r[PMU_MAX_REASONS];
	char note[400]; /* a caveat even when available */
};

struct pmu_host {
	char root[200];
	enum pmu_vendor vendor;
	char vendor_id[13];
	bool hybrid;
	bool host_is_vm;          /* CPUID.1:ECX[31]: the host is itself a guest */
	struct pmu_arch cpu;      /* host CPUID */
	struct pmu_arch kvm;      /* KVM_GET_SUPPORTED_CPUID (zero if KVM absent) */
	char kvm_backend[24];     /* "kvm_intel", "kvm_amd", other kvm_* module or "" */
	int enable_pmu;           /* kvm.enable_pmu: 1/0, -1 unreadable */
	char mediated_param[48];  /* "kvm_intel.enable_mediated_pmu" */
	int enable_mediated_pmu;  /* 1/0, -1 absent; the kernel's default is 0 */
	int enable_vmware_backdoor; /* kvm.enable_vmware_backdoor: 1/0, -1 unreadable */
	int nmi_watchdog;         /* -1 unreadable */
	int perf_event_paranoid;  /* -100 unreadable */
	struct pmu_kvm_info kvm_info;
	struct pmu_verdict verdict[PMU_MODE_COUNT];
};

/* Injectable inputs; any NULL member means the real one. */
struct pmu_probe_src {
	const char *root;                 /* default "/" */
	const struct pmu_cpuid_set *cpuid; /* default: this CPU */
	const struct pmu_kvm_info *kvm;    /* default: read kvm_path */
	const char *kvm_path;             /* default "/dev/kvm" */
};

void pmu_probe(struct pmu_host *h, const struct pmu_probe_src *src);

/* The probe as JSON (GET /pmu/host, `mpvm pmu probe --json`). Caller frees. */
char *pmu_host_json(const struct pmu_host *h);

#endif
