#include "builder/vmm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/err.h"
#include "boot/acpi.h"
#include "boot/boot.h"
#include "builder/sandbox.h"
#include "core/kvm.h"
#include "core/log.h"
#include "core/vm_snap.h"
#include "devices/acpi_pm.h"
#include "devices/debug_port.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "devices/term.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/setup.h"
#include "pmu/pmu.h"

/* Used when the config gives no boot_args: a serial console, reset through
 * the i8042 (which mpvm turns into a clean exit), no PCI probing. */
#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.dumbkbd"

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct vmm *v = opaque;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (!v->started) {
		/* Nothing running yet (API waiting for InstanceStart): stop now. */
		v->vm.exit_status = MPVM_EXIT_SIGNAL((int)si.ssi_signo);
		ev_stop(v->loop);
		return;
	}
	vm_request_exit(&v->vm, MPVM_EXIT_SIGNAL((int)si.ssi_signo), "received signal %s",
			strsignal((int)si.ssi_signo));
}

static void on_vm_exit(void *opaque, int fd, uint32_t events)
{
	struct vmm *v = opaque;
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
	ev_stop(v->loop);
}

static void on_poweroff(void *opaque)
{
	struct vmm *v = opaque;
	vm_request_exit(&v->vm, MPVM_EXIT_POWEROFF, "guest powered off (ACPI S5)");
}

/* A crash must not leave the user's terminal in raw mode: restore it, put
 * back whatever handled the signal before (default, or ASan's reporter),
 * and let the fault happen again (synchronous faults re-execute; abort()
 * raises again). */
static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
static struct sigaction crash_old[sizeof(crash_signals) / sizeof(crash_signals[0])];

static void on_crash(int sig)
{
	term_restore();
	for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
		if (crash_signals[i] == sig)
			sigaction(sig, &crash_old[i], NULL);
}

static void install_crash_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_crash };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
		sigaction(crash_signals[i], &sa, &crash_old[i]);
}

int vmm_init(struct vmm *v, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	v->kvm_fd = -1;
	v->signal_fd = -1;
	vm_config_init(&v->cfg);
	v->loop = ev_new();
	if (!v->loop)
		FAIL("event loop: %s", strerror(errno));
	/* Signals are handled on the main thread's loop; every thread created
	 * later inherits the blocked mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed serial/API peer is an error code, not death */
	install_crash_handlers();
	v->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (v->signal_fd < 0 || ev_add(v->loop, v->signal_fd, EPOLLIN, on_signal, v))
		FAIL("signalfd: %s", strerror(errno));
	return 0;
}

void vmm_apply_logger(const struct cfg_logger *l)
{
	/* Firecracker's Off silences everything; Trace is as verbose as we get. */
	switch (l->level) {
	case CFG_LOG_OFF: log_set_level(LOG_OFF); break;
	case CFG_LOG_ERROR: log_set_level(LOG_ERROR); break;
	case CFG_LOG_WARNING: log_set_level(LOG_WARNING); break;
	case CFG_LOG_INFO: log_set_level(LOG_INFO); break;
	default: log_set_level(LOG_DEBUG); break;
	}
	log_set_format(l->show_level, l->show_log_origin);
	if (l->log_path && log_set_path(l->log_path))
		log_err("logger: cannot open %s: %s (logging to stderr)", l->log_path, strerror(errno));
}

static int setup_devices(struct vmm *v, char *err, size_t errlen)
{
	struct vm *vm = &v->vm;
	v->serial = serial_setup_from_config(vm, vm->bus, v->loop, &v->cfg.serial, err, errlen);
	if (!v->serial && v->cfg.serial.kind != CFG_SERIAL_NONE)
		return -1;
	v->i8042 = i8042_setup(vm, vm->bus, err, errlen);
	if (!v->i8042)
		return -1;
	if (debug_port_setup(vm, vm->bus, &v->cfg.debug, err, errlen))
		return -1;
	v->acpi_pm = malloc(sizeof(*v->acpi_pm));
	if (!v->acpi_pm)
		FAIL("ACPI power-off device: out of memory");
	acpi_pm_init(v->acpi_pm, on_poweroff, v);
	if (io_register(vm->bus, IO_SPACE_PIO, ACPI_PM_PORT, ACPI_PM_PORT_LEN, acpi_pm_io,
			v->acpi_pm, "acpi-pm"))
		FAIL("ACPI power-off device at port 0x%x: already taken", ACPI_PM_PORT);
	return 0;
}

static int setup_acpi(struct vmm *v, uint64_t *rsdp, char *err, size_t errlen)
{
	struct acpi_config ac = {
		.ncpus = v->vm.params.ncpus,
		.ioapic_addr = VM_IOAPIC_ADDR,
		.lapic_addr = VM_LAPIC_ADDR,
		.com1 = v->cfg.serial.kind != CFG_SERIAL_NONE,
		.i8042 = true,
		.pm_port = ACPI_PM_PORT,
	};
	for (uint32_t i = 0; i < ac.ncpus; i++)
		ac.apic_ids[i] = i;
	/* Each virtio-mmio window, as the DSDT device Linux's virtio_mmio binds. */
	struct acpi_mmio_dev mmio[VIRTIO_MAX_DEVICES];
	for (unsigned i = 0; i < v->virtio->n; i++)
		mmio[i] = (struct acpi_mmio_dev){ .base = v->virtio->slot[i].base,
						  .size = VIRTIO_MMIO_WINDOW,
						  .gsi = v->virtio->slot[i].gsi,
						  .hid = ACPI_HID_VIRTIO_MMIO };
	ac.mmio = mmio;
	ac.nmmio = v->virtio->n;
	return acpi_build(&v->vm.mem, &ac, rsdp, err, errlen);
}

/* Everything vmm_build() creates, undone: after a failed build the vmm is
 * as vmm_init() left it (config kept), so InstanceStart can be retried. */
static void vmm_teardown(struct vmm *v)
{
	if (v->serial)
		serial_free(v->serial);
	v->serial = NULL;
	/* Device I/O threads write guest memory: stop them before it goes. */
	virtio_free_all(v->virtio);
	v->virtio = NULL;
	if (v->i8042)
		i8042_free(v->i8042);
	v->i8042 = NULL;
	if (v->vm_created)
		vm_destroy(&v->vm);
	v->vm_created = false;
	free(v->acpi_pm); /* the bus that pointed to it is gone */
	v->acpi_pm = NULL;
	if (v->pmu)
		pmu_free(v->pmu);
	v->pmu = NULL;
	free(v->pmu_host);
	v->pmu_host = NULL;
	if (v->kvm_fd >= 0)
		close(v->kvm_fd);
	v->kvm_fd = -1;
}

/* rs: building from a snapshot (vmm_build_restore), NULL for a boot. */
static int build(struct vmm *v, const struct vmm_restore_in *rs, char *err, size_t errlen)
{
	struct vm_config *c = &v->cfg;
	vmm_apply_logger(&c->logger);
	if (vm_config_validate(c, err, errlen))
		return -MPVM_EXIT_CONFIG;
	/* Before the first device worker or PMU timer thread: each confines
	 * itself as it starts (builder/sandbox.h). */
	if (!v->no_seccomp && sandbox_prepare(err, errlen))
		return -MPVM_EXIT_ERROR;
	v->kvm_fd = kvm_open("/dev/kvm", err, errlen);
	if (v->kvm_fd < 0)
		return -MPVM_EXIT_ERROR;
	struct vm_params p = {
		.ncpus = c->machine.vcpu_count,
		.mem_bytes = c->machine.mem_size_mib << 20,
		.hugepages = c->machine.huge_pages != CFG_HUGE_NONE,
		.restore = rs != NULL,
		.mem_fd = rs ? rs->mem_fd : -1,
		.mem_path = rs ? rs->mem_path : NULL,
		.track_dirty = rs ? rs->track_dirty : c->machine.track_dirty_pages,
	};
	/* The PMU decision comes first: a config the host cannot honour is
	 * refused before anything is created. */
	v->pmu_host = calloc(1, sizeof(*v->pmu_host));
	if (!v->pmu_host)
		FAIL("out of memory");
	pmu_probe(v->pmu_host, NULL);
	/* From a snapshot: the PMU its guest had, or a refusal saying why this
	 * host cannot give it (pmu.h, "Snapshots"), unless the user accepts a
	 * fallback (pmu_fallback). */
	v->pmu = rs ? pmu_new_for_snapshot(&c->pmu, v->pmu_host, rs->state, rs->state_len,
					   rs->pmu_fallback, err, errlen)
		    : pmu_new(&c->pmu, v->pmu_host, err, errlen);
	if (!v->pmu)
		return -MPVM_EXIT_CONFIG;
	/* vm_create() leaves a partly built VM that vm_destroy() can undo. */
	v->vm_created = true;
	if (vm_create(&v->vm, v->kvm_fd, &p, err, errlen))
		return -MPVM_EXIT_ERROR;
	if (rs && vm_snap_check_caps(&v->vm, rs->caps, err, errlen))
		return -MPVM_EXIT_CONFIG;
	/* After the irqchip, before the first vCPU (pmu.h). */
	pmu_attach(v->pmu, &v->vm);
	if (setup_devices(v, err, errlen))
		return -MPVM_EXIT_CONFIG;
	v->virtio = virtio_setup_all(&v->vm, c, err, errlen);
	if (!v->virtio)
		return -MPVM_EXIT_CONFIG;
	if (rs) {
		/* The snapshot's memory holds the kernel, ACPI tables and all the
		 * guest made of them; the vCPUs get their state from it too. */
		if (vm_setup_vcpus(&v->vm, err, errlen) ||
		    vm_snap_restore(&v->vm, rs->state, rs->state_len, err, errlen) ||
		    /* After the vCPUs' state (their TSC rate), before they run. */
		    pmu_snap_restore(v->pmu, rs->state, rs->state_len, err, errlen))
			return -MPVM_EXIT_ERROR;
		/* Devices just built from the same config take their state;
		 * virtio ones stay paused until the VM resumes. */
		if ((v->serial && serial_snap_restore(v->serial, rs->state, rs->state_len, err, errlen)) ||
		    i8042_snap_restore(v->i8042, rs->state, rs->state_len, err, errlen) ||
		    virtio_snap_restore(v->virtio, rs->state, rs->state_len, err, errlen))
			return -MPVM_EXIT_CONFIG;
		v->restored = true;
		return 0;
	}
	uint64_t rsdp = 0;
	if (setup_acpi(v, &rsdp, err, errlen))
		return -MPVM_EXIT_ERROR;
	/* Devices are also on the command line, for kernels without ACPI. */
	char *cmdline = virtio_cmdline(v->virtio, c->boot.boot_args ? c->boot.boot_args : DEFAULT_CMDLINE);
	if (!cmdline)
		FAIL("kernel command line: out of memory");
	struct boot_params_in bp = {
		.kernel_path = c->boot.kernel_image_path,
		.initrd_path = c->boot.initrd_path,
		.cmdline = cmdline,
		.rsdp_addr = rsdp,
	};
	int r = boot_load(&v->vm.mem, &bp, &v->vm.entry, err, errlen);
	free(cmdline);
	if (r)
		return -MPVM_EXIT_CONFIG;
	log_info("kernel %s: entered through %s at 0x%llx", bp.kernel_path,
		 boot_protocol_name(v->vm.entry.proto), (unsigned long long)v->vm.entry.rip);
	if (vm_setup_vcpus(&v->vm, err, errlen))
		return -MPVM_EXIT_ERROR;
	return 0;
}

int vmm_build(struct vmm *v, char *err, size_t errlen)
{
	int rc = build(v, NULL, err, errlen);
	if (rc)
		vmm_teardown(v);
	return rc;
}

int vmm_build_restore(struct vmm *v, const struct vmm_restore_in *rs, char *err, size_t errlen)
{
	int rc = build(v, rs, err, errlen);
	if (rc) {
		vmm_teardown(v);
		v->restored = false;
	}
	return rc;
}

int vmm_start(struct vmm *v, char *err, size_t errlen)
{
	if (ev_add(v->loop, v->vm.exit_evfd, EPOLLIN, on_vm_exit, v))
		FAIL("event loop: cannot watch the VM exit");
	/* Each vCPU confines itself before its first KVM_RUN; the main thread
	 * comes last, once it has created every thread (a new thread inherits
	 * its creator's filter) and before its loop handles anything the guest
	 * or an API client sends (the API's InstanceStart comes through here). */
	/* A restored VM starts Paused (Firecracker's resume_vm decides the
	 * rest): its vCPUs park before their first KVM_RUN. */
	int rc = v->restored ? vm_start_paused(&v->vm, err, errlen) : vm_start(&v->vm, err, errlen);
	if (!rc && !v->no_seccomp && sandbox_lock_main(err, errlen)) {
		vm_request_exit(&v->vm, MPVM_EXIT_ERROR, "%s", err);
		vm_join(&v->vm);
		rc = -1;
	}
	if (rc) {
		/* Whatever was started is joined: undo the build too, so nothing
		 * half-started lingers and a retry starts clean. */
		ev_del(v->loop, v->vm.exit_evfd);
		vmm_teardown(v);
		return -1;
	}
	v->started = true;
	if (v->restored) {
		/* Paused as vmm_pause() leaves a VM, devices included, so that
		 * vmm_resume() is the one way on. */
		if (v->serial)
			serial_pause(v->serial);
		/* virtio_snap_restore() left the virtio devices paused. */
	}
	log_info("%s %u vCPU(s), %llu MiB", v->restored ? "restored (paused)" : "started",
		 v->vm.nvcpus, (unsigned long long)v->cfg.machine.mem_size_mib);
	return 0;
}

int vmm_run_loop(struct vmm *v)
{
	ev_run(v->loop);
	if (!v->started)
		return v->vm.exit_status;
	int status = vm_join(&v->vm);
	/* A guest crash is worth a warning; an orderly end is informational. */
	if (status == MPVM_EXIT_CRASH || status == MPVM_EXIT_ERROR)
		log_err("%s", v->vm.exit_reason);
	else
		log_info("%s (exit status %d)", v->vm.exit_reason, status);
	return status;
}

void vmm_free(struct vmm *v)
{
	term_restore();
	vmm_teardown(v);
	if (v->signal_fd >= 0)
		close(v->signal_fd);
	ev_free(v->loop);
	vm_config_free(&v->cfg);
}

int vmm_pause(struct vmm *v)
{
	/* vCPUs first: once they are parked no new kick, MMIO or UART access
	 * arrives while the devices settle. */
	int rc = vm_pause(&v->vm);
	if (rc)
		return rc;
	if (v->serial)
		serial_pause(v->serial);
	if (virtio_pause_all(v->virtio)) {
		/* A device lost track of in-flight I/O: do not claim a pause
		 * whose guest memory may still change; run on instead. */
		vmm_resume(v);
		return -EIO;
	}
	return 0;
}

int vmm_resume(struct vmm *v)
{
	/* Devices first: what waited (kicks, input, interrupts) is delivered
	 * before the vCPUs look. */
	virtio_resume_all(v->virtio);
	if (v->serial)
		serial_resume(v->serial);
	return vm_resume(&v->vm);
}
