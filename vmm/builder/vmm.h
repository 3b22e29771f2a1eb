/* The microVM monitor: configuration + VM + devices + event loop.
 *
 * Contract (after Firecracker's resources/builder split): `cfg` is the
 * validated configuration, the only thing the CLI and the API edit before
 * start. vmm_build() turns it into a VM ready to run (memory, irqchip, PMU,
 * devices, ACPI, kernel, vCPUs); vmm_start() starts the vCPUs. The event
 * loop runs on the main thread until the VM exits (vmm_run_loop()). A
 * failed vmm_build() undoes itself (config kept), so it may be retried.
 * vmm_free() tears everything down and restores the terminal.
 */
#ifndef MPVM_VMM_H
#define MPVM_VMM_H

#include <stdbool.h>

#include "config/config.h"
#include "devices/acpi_pm.h"
#include "core/event_loop.h"
#include "core/vm.h"

struct serial;
struct i8042;
struct pmu;
struct pmu_host;
struct api_server;
struct virtio_set;

struct vmm {
	struct vm_config cfg;
	struct vm vm;
	bool vm_created;
	bool started;
	bool no_seccomp; /* --no-seccomp: skip sandbox_apply() at start */
	int kvm_fd;
	struct ev_loop *loop;
	struct serial *serial;
	struct i8042 *i8042;
	struct acpi_pm acpi_pm;
	struct virtio_set *virtio; /* block, net, entropy devices */
	struct pmu *pmu;
	struct pmu_host *pmu_host; /* the host probe, kept for GET /pmu/host */
	struct api_server *api;
	int signal_fd;
};

int vmm_init(struct vmm *v, char *err, size_t errlen);
int vmm_build(struct vmm *v, char *err, size_t errlen);
int vmm_start(struct vmm *v, char *err, size_t errlen);
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
/* Apply the logger section (level, format, path) to vmm/log.h. */
void vmm_apply_logger(const struct cfg_logger *l);

#endif
