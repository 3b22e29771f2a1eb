/* The microVM monitor: configuration + VM + devices + event loop, and the
 * one interface the front ends (api/, cli/) use.
 *
 * Contract (after Firecracker's resources/builder split): `cfg` is the
 * configuration, the only thing the CLI and the API edit before start (with
 * config/'s parsers). vmm_build() runs the one validator
 * (vm_config_validate()) and turns the config into a VM ready to run
 * (memory, irqchip, PMU, devices, ACPI, kernel, vCPUs), each of its threads
 * confined by its own seccomp list (builder/sandbox.h); vmm_start() starts
 * the vCPUs (each confined before it runs the guest) and then confines the
 * main thread. The event loop runs
 * on the main thread until the VM exits (vmm_run_loop()). A failed
 * vmm_build() undoes itself (config kept), so it may be retried. vmm_free()
 * tears everything down and restores the terminal.
 *
 * Front ends never reach a device, the PMU or the platform: everything they
 * do to a running VM, or read from it, is a vmm_* call declared here, all of
 * them on the main thread (the event loop's). The device pointers below are
 * opaque to them; this layer's library keeps the device headers private.
 */
#ifndef MPVM_VMM_H
#define MPVM_VMM_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/event_loop.h"
#include "core/vm.h"

struct serial;
struct i8042;
struct acpi_pm;
struct pmu;
struct pmu_host;
struct api_server;
struct virtio_set;
struct cJSON;

struct vmm {
	struct vm_config cfg;
	struct vm vm;
	bool vm_created;
	bool started;
	bool restored; /* built from a snapshot: starts Paused */
	bool no_seccomp; /* --no-seccomp: no per-thread seccomp filters (builder/sandbox.h) */
	int kvm_fd;
	struct ev_loop *loop;
	struct serial *serial;
	struct i8042 *i8042;
	struct acpi_pm *acpi_pm;
	struct virtio_set *virtio; /* block, net, entropy devices */
	struct pmu *pmu;
	struct pmu_host *pmu_host; /* the host probe, kept for GET /pmu/host */
	struct api_server *api;
	int signal_fd;
};

int vmm_init(struct vmm *v, char *err, size_t errlen);
int vmm_build(struct vmm *v, char *err, size_t errlen);
int vmm_start(struct vmm *v, char *err, size_t errlen);

/* ---- snapshots (builder/snapshot.c, docs/snapshot.md) */

/* What vmm_build_restore() builds from: v->cfg already holds the snapshot's
 * config; guest RAM is mapped MAP_PRIVATE from mem_fd; the state stream
 * (base/snap.h) is checked by the file loader. */
struct vmm_restore_in {
	int mem_fd;
	const char *mem_path;
	bool track_dirty;
	const void *state;
	size_t state_len;
	uint32_t caps; /* the KVM capabilities the state needs (core/vm_snap.h) */
	bool pmu_fallback; /* accept another PMU mode than the snapshot's (pmu.h) */
};
/* As vmm_build(), from a snapshot: no kernel is loaded, vCPU, VM, device
 * and PMU state come from rs. vmm_start() then starts the VM Paused. */
int vmm_build_restore(struct vmm *v, const struct vmm_restore_in *rs, char *err, size_t errlen);
/* PUT /snapshot/create: the VM must be paused. Writes the memory file (Full:
 * all RAM; Diff: the pages dirtied since the last snapshot), then the
 * snapshot file. -EINVAL when the VM is not paused / not started, -1 for
 * anything else; err set either way. */
struct cfg_snapshot_req;
int vmm_snapshot_create(struct vmm *v, const struct cfg_snapshot_req *req, char *err,
			size_t errlen);
/* PUT /snapshot/load, mpvm run --restore: on a vmm that has built nothing
 * yet. Checks and loads the snapshot, builds and starts the VM Paused, and
 * resumes it when req->resume_vm. 0, or an exit status (MPVM_EXIT_CONFIG
 * for a snapshot refused, MPVM_EXIT_ERROR otherwise) with err set and
 * nothing built. */
int vmm_snapshot_load(struct vmm *v, const struct cfg_snapshot_req *req, char *err,
		      size_t errlen);
/* Runs the event loop until the VM exits; returns the exit status. */
int vmm_run_loop(struct vmm *v);
void vmm_free(struct vmm *v);
/* PATCH /vm: pause parks every vCPU (vm_pause()), then quiesces the devices:
 * virtio devices complete their in-flight requests and then leave guest
 * memory alone, the UART holds host input back (no interrupt). Resume
 * releases the devices, then the vCPUs. Idempotent. 0 or -errno (vm_pause's,
 * or -EIO when a device could not complete its I/O: the VM keeps running). */
int vmm_pause(struct vmm *v);
int vmm_resume(struct vmm *v);
/* Apply the logger section (level, format, path) to core/log.h. */
void vmm_apply_logger(const struct cfg_logger *l);

/* ---- what front ends do to a VM and read from it (builder/vmm_control.c) */

enum vmm_state { VMM_NOT_STARTED, VMM_RUNNING, VMM_PAUSED };
enum vmm_state vmm_state(const struct vmm *v);

/* End the VMM with status 0: the VM if it runs, else the waiting loop. */
void vmm_stop(struct vmm *v);
/* Press Ctrl-Alt-Del on the guest's keyboard. 0, or -1 with `err` set. */
int vmm_ctrl_alt_del(struct vmm *v, char *err, size_t errlen);
/* Give the running drive d->drive_id the backing file and rate limiter of
 * `d` (the block device takes it first). 0, or -1 with `err` set. */
int vmm_update_drive(struct vmm *v, const struct cfg_drive *d, char *err, size_t errlen);
/* The running VM's balloon: a new target (MiB), a new statistics interval
 * (s), and GET /balloon/statistics as malloc'd JSON (Firecracker's shape).
 * 0 / JSON, or -1 / NULL with `err` set (no balloon, statistics off, ...). */
int vmm_balloon_target(struct vmm *v, uint32_t mib, char *err, size_t errlen);
int vmm_balloon_interval(struct vmm *v, uint32_t seconds, char *err, size_t errlen);
char *vmm_balloon_stats_json(struct vmm *v, char *err, size_t errlen);
/* Replace the running VM's PMU event filter (already validated). */
int vmm_set_pmu_filter(struct vmm *v, const struct cfg_pmu_filter *f, char *err, size_t errlen);

/* Reports as malloc'd JSON text (the API's shapes). */
enum vmm_pmu_report { VMM_PMU_STATE, VMM_PMU_COUNTERS, VMM_PMU_HOST };
/* GET /pmu, /pmu/counters, /pmu/host: 0 with *json set; -EINVAL with `err`
 * saying why there is nothing to report; -ENOMEM. */
int vmm_pmu_json(struct vmm *v, enum vmm_pmu_report which, char **json, char *err,
		 size_t errlen);
/* GET /vcpus: {"vcpus": [{"id", "thread_id", "state", "exits": {...}}]}.
 * NULL if out of memory. */
char *vmm_vcpus_json(struct vmm *v);
/* Metrics: adds the VM's objects to `root`: "vcpu" (exit counts summed over
 * vCPUs), "pmu", "uart" and one per virtio device ("block_<id>", ...). */
void vmm_metrics_add(struct vmm *v, struct cJSON *root);

/* `mpvm pmu probe ...` (argv[0] is "probe"): the host's PMU as the VMM
 * would see it. Returns the process exit status. */
int vmm_pmu_probe_main(int argc, char **argv);

#endif
