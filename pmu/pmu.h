/* The guest PMU module: one per VM.
 *
 * Contract (the kernel's side is docs/pmu.md; read it first):
 *  - pmu_probe() (probe.h) describes the host; pmu_new() checks the "pmu"
 *    config against it and decides the mode in force. It fails, with `err`
 *    saying why and what to change, when the config asks for what the host
 *    cannot give (mode mediated/legacy/soft unavailable, more counters or a
 *    higher version than the host has, a filter the kernel cannot apply).
 *    `auto` means mediated, else legacy, else off; the choice and its reason
 *    are logged and reported.
 *  - pmu_attach() installs the VM hooks (vm.h). It must run after
 *    vm_create() (the in-kernel irqchip exists) and before
 *    vm_setup_vcpus(): the opt-out (KVM_PMU_CAP_DISABLE), the event filter
 *    and the MSR filter go in before the first KVM_CREATE_VCPU; EBUSY from
 *    that vCPU is an error in mode mediated and a fallback to off in auto;
 *    CPUID is shaped and PERF_CAPABILITIES set before each vCPU's first run.
 *  - The JSON functions serve the control API (GET /pmu, GET /pmu/counters,
 *    GET /pmu/host) and may be called from any thread once attached. For
 *    the in-kernel modes, pmu_counters_json() reads the vCPUs with
 *    KVM_GET_MSRS and so needs the VM paused (or not yet started); it says
 *    so in the JSON otherwise. The soft model answers at any time.
 *  - pmu_set_filter() replaces the event filter while the VM runs.
 *  - pmu_free() after vm_destroy() (which runs the destroy hook).
 * Every KVM call goes through the VM's struct kvm_ops (core/kvm_ops.h), so
 * that tests can put a stand-in of the kernel contract underneath.
 */
#ifndef MPVM_PMU_H
#define MPVM_PMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "pmu/probe.h"

struct pmu;
struct vm;
struct vcpu;

struct pmu *pmu_new(const struct cfg_pmu *cfg, const struct pmu_host *host, char *err,
		    size_t errlen);
void pmu_attach(struct pmu *p, struct vm *vm);
void pmu_free(struct pmu *p);

/* The mode in force (may change once: auto falls back to off on EBUSY). */
enum pmu_mode pmu_mode(const struct pmu *p);

/* GET /pmu: mode and why, the CPUID the guest sees, where each PMU MSR
 * goes (direct / KVM / mpvm) and why, the filter, trapped-access counts.
 * Caller frees; NULL only when out of memory. */
char *pmu_report_json(struct pmu *p);
/* GET /pmu/counters: per vCPU event selects, counters, global state. */
char *pmu_counters_json(struct pmu *p);
/* PUT /pmu/filter: validate and apply (KVM_SET_PMU_EVENT_FILTER in the
 * in-kernel modes, the model's matcher in soft). 0, or -1 with `err`
 * naming what was wrong; the old filter stays in force on error. */
int pmu_set_filter(struct pmu *p, const struct cfg_pmu_filter *f, char *err, size_t errlen);

struct pmu_metrics {
	uint64_t pmis_injected;   /* soft: PMIs delivered through the LAPIC */
	uint64_t pmis_masked;     /* soft: overflow with LVTPC masked (dropped) */
	uint64_t msr_exits;       /* PMU MSR exits handled by mpvm */
	uint64_t msr_exits_gp;    /* ... answered with #GP */
	uint64_t denied_programs; /* event-select writes of events the filter denies */
};
void pmu_get_metrics(struct pmu *p, struct pmu_metrics *m);
/* The same as a JSON object, for the metrics flush. Caller frees. */
char *pmu_metrics_json(struct pmu *p);

/* One line for the log at VM exit ("PMU summary: ..."): mode and why,
 * MSR exits (#GP), PMIs injected/masked/dropped, denied programs, accesses
 * by MSR as sorted "0xMSR:rRwW" tokens, events programmed. */
void pmu_summary(struct pmu *p, char *buf, size_t len);

/* Snapshots (issue 14; docs/snapshot-pmu.md has the sections' layout).
 *
 * Contract. pmu_snap_save(): the VM is paused; writes section "PMU_" (mode
 * in force and why, the shape the guest sees through CPUID, the filter in
 * force) and one "PMUV" per vCPU, in vCPU order: the soft model (registers,
 * pending PMI; counters synced to the vCPU's CPU-time clock at the save) or,
 * for legacy/mediated, the guest PMU MSRs of the shape read with
 * KVM_GET_MSRS. 0, or -1 with err naming the vCPU and MSR.
 *
 * pmu_snap_check(): before building, on the pmu that pmu_new() made from
 * the snapshot's config on this host: can it take the snapshot's PMU
 * state? Compares mode, shape and filter; installs the snapshot's filter
 * (the one in force at the save, maybe replaced at run time) when this
 * host can apply it. A mismatch is refused with the probe's reason and
 * PMU_SNAP_FALLBACK_HINT, unless allow_fallback: then it is recorded and
 * GET /pmu says what changed ("restored_from"). Counters move only between
 * like PMUs: soft to soft (same shape), legacy/mediated to legacy/mediated
 * of the same vendor (the MSRs both shapes have); otherwise they are
 * dropped and the guest's PMU starts at power-on state.
 *
 * pmu_new_for_snapshot(): what a restore should use instead of pmu_new():
 * pins the mode and shape the snapshot's guest saw (a config saying
 * "auto" or host defaults may resolve otherwise here), makes the pmu, and
 * runs pmu_snap_check(). When this host cannot give that PMU it is
 * refused with the reason, or, with allow_fallback, built as "auto" (else
 * "off") would be here. NULL with err set.
 *
 * pmu_snap_restore(): after vm_setup_vcpus() (vCPUs exist, CPUID set),
 * before the first KVM_RUN; runs the check first if nobody did. Soft: the
 * model continues from the saved counters and re-arms its overflow timer;
 * KVM modes: KVM_SET_MSRS of the saved MSRs (counters stopped first, the
 * controls that start them last), every one checked. Hostile or corrupt
 * sections are refused with an error naming the section, never used. */
struct snap_w;
int pmu_snap_save(struct pmu *p, struct snap_w *w, char *err, size_t errlen);
int pmu_snap_check(struct pmu *p, const void *state, size_t len, bool allow_fallback, char *err,
		   size_t errlen);
struct pmu *pmu_new_for_snapshot(const struct cfg_pmu *cfg, const struct pmu_host *host,
				 const void *state, size_t len, bool allow_fallback, char *err,
				 size_t errlen);
int pmu_snap_restore(struct pmu *p, const void *state, size_t len, char *err, size_t errlen);
/* How a user accepts a PMU fallback on load (the end of a refusal). */
#define PMU_SNAP_FALLBACK_HINT \
	"load with --pmu-fallback (PUT /snapshot/load: \"pmu_fallback\": true) to accept"

/* `mpvm pmu probe [--json] [--root DIR] [--kvm PATH]`; argv[0] is "probe".
 * Returns the process exit status. */
int pmu_probe_main(int argc, char **argv);

#endif
