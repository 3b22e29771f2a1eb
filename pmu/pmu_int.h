/* Inside the PMU module: struct pmu and how its files share it.
 *
 * Files: pmu.c (new, attach, hook dispatch, mode choice), kernel.c (the
 * in-kernel modes and the opt-out: before_vcpus, EBUSY, PERF_CAPABILITIES,
 * trapped event selects), soft_vcpu.c (the soft model at run time: clocks,
 * overflow timer, PMI delivery), msrs.c (MSR names, the MSR filter),
 * report.c (JSON). Locks: filter_lock (rwlock) guards `filter`;
 * stats_lock guards the count tables; each soft vCPU has its own lock,
 * taken before filter_lock, never the other way round.
 */
#ifndef MPVM_PMU_INT_H
#define MPVM_PMU_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/kvm_ops.h"
#include "core/vm.h"
#include "pmu/filter.h"
#include "pmu/pmu.h"
#include "pmu/shape.h"
#include "pmu/soft.h"

/* AMD PMU MSRs. */
#define MSR_K7_EVNTSEL0 0xc0010000
#define MSR_K7_PERFCTR0 0xc0010004
#define MSR_F15H_PERF_CTL0 0xc0010200 /* CTLn at +2n, CTRn at +2n+1 */
#define MSR_AMD_GLOBAL_STATUS 0xc0000300
#define MSR_AMD_GLOBAL_CTL 0xc0000301
#define MSR_AMD_GLOBAL_STATUS_CLR 0xc0000302 /* writing 1s clears status bits; reads 0 */

/* Small count tables: which MSRs the guest touched, which events it
 * programmed. Keys beyond the table land in `other`. */
#define PMU_COUNT_SLOTS 64
struct pmu_count {
	uint32_t key;
	uint64_t reads, writes, denied;
};
struct pmu_counts {
	int n;
	struct pmu_count e[PMU_COUNT_SLOTS];
	uint64_t other;
};
/* Event key of fixed counter i (GP events use pmu_event_key()). */
#define PMU_EVENT_KEY_FIXED(i) (0xf0000000u | (uint32_t)(i))

struct soft_timer;

/* A struct kvm_msrs with room for n entries (kvm_msrs itself ends in a
 * flexible array, which may not sit inside another struct). */
#define PMU_MSRS(n) struct { __u32 nmsrs, pad; struct kvm_msr_entry e[n]; }

#define PMU_MAX_NOTES 8

/* What a snapshot's "PMU_" section says (snapshot.c reads it). */
struct pmu_snap_head {
	enum pmu_mode mode;
	enum cfg_pmu_mode requested;
	char why[1400];
	bool fell_back;
	struct pmu_shape shape; /* the guest-visible fields only */
	struct cfg_pmu_filter filter;
	uint32_t nvcpus;
};

/* A PMU built to take a snapshot's state: what the snapshot had, what
 * changed here (accepted with allow_fallback) and what became of the
 * counters. Set by pmu_snap_check(), reported by GET /pmu. */
#define PMU_SNAP_MAX_CHANGES 8
enum pmu_carry { PMU_CARRY_NONE, PMU_CARRY_SOFT, PMU_CARRY_MSRS };
struct pmu_restore {
	struct pmu_snap_head snap;
	bool fallback;          /* a mismatch was accepted */
	int nchanges;
	char changes[PMU_SNAP_MAX_CHANGES][400];
	enum pmu_carry carry;
	char counters[320];     /* what the restore did with the counters */
	bool restored;          /* pmu_snap_restore() done */
};

struct pmu {
	struct cfg_pmu cfg;
	struct pmu_host host;
	struct vm *vm;

	enum pmu_mode mode;      /* in force */
	char why[1400];          /* why this mode */
	bool fell_back;          /* auto: EBUSY, opted out, now off */
	struct pmu_shape shape;
	bool trap;               /* trap_event_selects in force */
	bool opt_out_possible;   /* KVM_CHECK_EXTENSION(PMU_CAPABILITY) & DISABLE */
	bool opted_out;
	bool msr_filter_set;
	unsigned cpuid_missing;  /* PMU_SHAPE_MISSING_* seen while shaping */

	pthread_rwlock_t filter_lock;
	struct pmu_filter *filter; /* NULL: none */
	bool kernel_filter_live;   /* past before_vcpus: changes go to KVM at once */

	pthread_mutex_t stats_lock;
	struct pmu_counts by_msr, by_event;
	_Atomic uint64_t pmis, pmis_masked, pmis_dropped, msr_exits, msr_gp, denied;
	_Atomic uint64_t timer_wakeups; /* soft: overflow-timer kicks of a vCPU */

	int nnotes;
	char notes[PMU_MAX_NOTES][240];

	struct soft_timer *timer;
	struct pmu_restore *restore; /* NULL unless built from a snapshot */
};

/* The verdict's reasons as one line ("a; b"), with each fix if asked. */
void pmu_verdict_text(const struct pmu_verdict *v, char *buf, size_t len, bool with_fix);

void pmu_note(struct pmu *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Count tables (stats_lock taken inside). */
void pmu_count_msr(struct pmu *p, uint32_t msr, bool is_write);
void pmu_count_event(struct pmu *p, uint32_t key, bool denied);

/* msrs.c */
const char *pmu_msr_name(uint32_t msr, char *buf, size_t len);
struct pmu_msr_range {
	uint32_t base, n;
	uint32_t allow; /* bit i set: base+i stays with KVM */
};
/* Enable KVM_MSR_EXIT_REASON_FILTER exits and deny these ranges (n = 0
 * removes mpvm's filter). */
int pmu_msr_filter_apply(struct pmu *p, const struct pmu_msr_range *r, int n, char *err, size_t errlen);
int pmu_soft_ranges(const struct pmu_msr_range **r);
int pmu_trap_ranges(enum pmu_vendor v, const struct pmu_msr_range **r);
bool pmu_is_event_select(enum pmu_vendor v, uint32_t msr);

/* kernel.c */
int kernel_before_vcpus(struct pmu *p, struct vm *vm, char *err, size_t errlen);
int kernel_vcpu_create_failed(struct pmu *p, struct vm *vm, int e, char *err, size_t errlen);
int kernel_vcpu_init(struct pmu *p, struct vcpu *v, char *err, size_t errlen);
int kernel_trap_msr(struct pmu *p, struct vcpu *v, uint32_t msr, bool is_write, uint64_t *data);
/* The guest PMU MSRs KVM keeps for an in-kernel shape, and nothing more
 * (KVM answers a host read of a counter the vCPU lacks with 0), in the
 * order a snapshot restore writes them: each counter before the select
 * that may start it, the global status before the global controls. */
#define PMU_MAX_MSRS 100 /* 32 GP and 32 fixed counters, the config's limits */
int kernel_pmu_msrs(const struct pmu_shape *s, uint32_t *msrs, int max);
/* MSRs to show in GET /pmu/counters for the in-kernel modes: those, less
 * the write-only ones. */
int kernel_counter_msrs(const struct pmu *p, uint32_t *msrs, int max);

/* soft_vcpu.c */
int soft_vcpu_init(struct pmu *p, struct vcpu *v, char *err, size_t errlen);
int soft_vcpu_msr(struct pmu *p, struct vcpu *v, uint32_t msr, bool is_write, uint64_t *data);
void soft_vcpu_before_run(struct pmu *p, struct vcpu *v);
/* Bring the model up to date and copy it (any thread). */
int soft_vcpu_snapshot(struct pmu *p, struct vcpu *v, struct soft_pmu *out);
/* Snapshots (snapshot.c): one vCPU's model, its pending PMI and the TSC
 * rate its cycles were counted at. save syncs first (the VM is paused);
 * load takes this process's clock of the vCPU as the new base and arms
 * the overflow timer at the next before_run. */
struct soft_vcpu_saved {
	struct soft_pmu m;
	bool pmi_pending;
	uint64_t tsc_khz;
};
int soft_vcpu_save(struct pmu *p, struct vcpu *v, struct soft_vcpu_saved *out);
void soft_vcpu_load(struct pmu *p, struct vcpu *v, const struct soft_vcpu_saved *in);
/* Count everything up to now under the old filter (before a swap). */
void soft_sync_all(struct pmu *p);
void soft_rearm_all(struct pmu *p);
void soft_destroy(struct pmu *p, struct vm *vm);

#endif
