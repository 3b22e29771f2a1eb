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

/* `mpvm pmu probe [--json] [--root DIR] [--kvm PATH]`; argv[0] is "probe".
 * Returns the process exit status. */
int pmu_probe_main(int argc, char **argv);

#endif
