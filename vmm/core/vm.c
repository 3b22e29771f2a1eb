#include "core/vm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "core/cpu_setup.h"
#include "core/cpuid.h"
#include "core/kvm.h"
#include "core/kvm_ops.h"
#include "core/log.h"

const char *const vcpu_stat_names[VSTAT_COUNT] = {
	"io", "mmio", "hlt", "msr_read", "msr_write", "shutdown", "intr",
	"system_event", "other", "unhandled_io",
};

static uint64_t process_start_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Runs before main(): the boot marker measures from process start. */
__attribute__((constructor)) static void record_start(void)
{
	process_start_ns = now_ns();
}

uint64_t mpvm_uptime_us(void)
{
	return (now_ns() - process_start_ns) / 1000;
}

static int set_memory(struct vm *vm, char *err, size_t errlen)
{
	for (int i = 0; i < vm->mem.nregions; i++) {
		struct gm_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region reg = {
			.slot = i,
			.flags = vm->params.track_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};
		if (vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg, err, errlen) < 0)
			return err_append(err, errlen, " (slot %d: %llu MiB at 0x%llx)", i,
					  (unsigned long long)(r->size >> 20),
					  (unsigned long long)r->gpa);
	}
	return 0;
}

int vm_create(struct vm *vm, int kvm_fd, const struct vm_params *p, char *err, size_t errlen)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm = p->ops ? p->ops : &kvm_ops_real;
	vm->fd = -1;
	vm->exit_evfd = -1;
	vm->kvm_fd = kvm_fd;
	vm->params = *p;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->thread_lock, NULL);
	pthread_cond_init(&vm->cond, NULL);

	vm->fd = sys_ioctl(vm, KVM_CREATE_VM, NULL, err, errlen);
	if (vm->fd < 0) {
		vm->fd = -1;
		return -1;
	}
	vm->exit_evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->bus = io_bus_new();
	if (vm->exit_evfd < 0 || !vm->bus)
		FAIL("eventfd/io bus: %s", strerror(errno));
	vm->run_size = sys_ioctl(vm, KVM_GET_VCPU_MMAP_SIZE, NULL, err, errlen);
	if (vm->run_size < 0)
		return -1;
	vm->supported_cpuid = kvm_vm_supported_cpuid(vm, err, errlen);
	if (!vm->supported_cpuid)
		return -1;

	uint64_t idmap = VM_IDENTITY_ADDR;
	if (vm_ioctl(vm, KVM_SET_TSS_ADDR, KVM_ARG(VM_TSS_ADDR), err, errlen) < 0 ||
	    vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap, err, errlen) < 0)
		return -1;
	if (p->restore ? gm_create_from_file(&vm->mem, p->mem_bytes, p->mem_fd, p->mem_path, err,
					     errlen)
		       : gm_create(&vm->mem, p->mem_bytes, p->hugepages, err, errlen))
		return -1;
	/* Diff snapshots: KVM logs the vCPUs' writes, guest_mem the VMM's. */
	if (p->track_dirty && gm_track_dirty(&vm->mem))
		FAIL("out of memory for the dirty page bitmaps");
	if (set_memory(vm, err, errlen))
		return -1;
	/* The irqchip must exist before any vCPU: without an in-kernel LAPIC
	 * KVM silently gives the VM no PMU (docs/pmu.md). */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL, err, errlen) < 0 ||
	    vm_ioctl(vm, KVM_CREATE_PIT2, &pit, err, errlen) < 0)
		return -1;
	atomic_store(&vm->state, VM_NOT_STARTED);
	return 0;
}

static int create_vcpu(struct vm *vm, int id, char *err, size_t errlen)
{
	struct vcpu *v = &vm->vcpus[id];
	v->vm = vm;
	v->id = id;
	for (;;) {
		v->fd = kvm_vm_ioctl(vm, KVM_CREATE_VCPU, KVM_ARG(id));
		if (v->fd >= 0)
			break;
		int e = -v->fd;
		v->fd = -1;
		/* The first vCPU is where a mediated PMU is created; the PMU module
		 * decides whether a failure there can be retried. */
		if (id == 0 && vm->hooks.vcpu_create_failed) {
			int retry = vm->hooks.vcpu_create_failed(vm->hooks.opaque, vm, e, err, errlen);
			if (retry == 1)
				continue;
			return -1;
		}
		char en[96];
		FAIL("vCPU %d: KVM_CREATE_VCPU: %s", id, err_errno(e, en, sizeof(en)));
	}
	v->run = vm->kvm->map_run(vm->kvm->ctx, v, (size_t)vm->run_size);
	if (!v->run)
		FAIL("vCPU %d: mmap of the kvm_run area: %s", id, strerror(errno));
	return 0;
}

static int init_vcpu(struct vm *vm, struct vcpu *v, char *err, size_t errlen)
{
	bool tsc_deadline = kvm_sys_ioctl(vm, KVM_CHECK_EXTENSION,
					  KVM_ARG(KVM_CAP_TSC_DEADLINE_TIMER)) > 0;
	struct kvm_cpuid2 *c = cpuid_for_vcpu(vm->supported_cpuid, v->id, vm->nvcpus, tsc_deadline);
	if (!c)
		FAIL("vCPU %d: out of memory for CPUID", v->id);
	if (vm->hooks.shape_cpuid)
		vm->hooks.shape_cpuid(vm->hooks.opaque, v, c);
	int rc = vcpu_ioctl(v, KVM_SET_CPUID2, c, err, errlen);
	free(c);
	if (rc < 0)
		return -1;
	if (vm->hooks.vcpu_init && vm->hooks.vcpu_init(vm->hooks.opaque, v, err, errlen))
		return -1;
	/* A restored vCPU gets its whole state from the snapshot instead. */
	return vm->params.restore ? 0 : cpu_setup_vcpu(vm, v, err, errlen);
}

int vm_setup_vcpus(struct vm *vm, char *err, size_t errlen)
{
	uint32_t n = vm->params.ncpus;
	vm->vcpus = calloc(n, sizeof(struct vcpu));
	if (!vm->vcpus)
		FAIL("out of memory for %u vCPUs", n);
	for (uint32_t i = 0; i < n; i++)
		vm->vcpus[i].fd = -1;
	if (vm->hooks.before_vcpus && vm->hooks.before_vcpus(vm->hooks.opaque, vm, err, errlen))
		return -1;
	/* A snapshot's memory already holds what the guest made of it. */
	if (!vm->params.restore && cpu_setup_boot_memory(vm, err, errlen))
		return -1;
	/* Create them all first: CPUID topology describes the whole VM. */
	for (uint32_t i = 0; i < n; i++) {
		if (create_vcpu(vm, i, err, errlen))
			return -1;
		vm->nvcpus = i + 1;
	}
	for (uint32_t i = 0; i < n; i++)
		if (init_vcpu(vm, &vm->vcpus[i], err, errlen))
			return -1;
	return 0;
}

void vm_request_exit(struct vm *vm, int status, const char *fmt, ...)
{
	pthread_mutex_lock(&vm->lock);
	if (!atomic_load(&vm->exit_requested)) {
		vm->exit_status = status;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
		va_end(ap);
		atomic_store(&vm->exit_requested, true);
		atomic_store(&vm->state, VM_EXITING);
		/* Parked vCPUs must wake up to exit. */
		vm->pause_requested = false;
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	uint64_t one = 1;
	ssize_t r = write(vm->exit_evfd, &one, sizeof(one));
	(void)r;
}

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	int st = atomic_load(&vm->state);
	if (st != VM_RUNNING) {
		pthread_mutex_unlock(&vm->lock);
		return st == VM_PAUSED ? 0 : -EINVAL;
	}
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->lock);
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->lock);
	while (vm->nparked < vm->nvcpus && !atomic_load(&vm->exit_requested))
		pthread_cond_wait(&vm->cond, &vm->lock);
	int rc = atomic_load(&vm->exit_requested) ? -ESHUTDOWN : 0;
	if (!rc)
		atomic_store(&vm->state, VM_PAUSED);
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	int st = atomic_load(&vm->state);
	int rc = 0;
	if (st == VM_PAUSED) {
		vm->pause_requested = false;
		atomic_store(&vm->state, VM_RUNNING);
		pthread_cond_broadcast(&vm->cond);
	} else if (st != VM_RUNNING) {
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

int vm_dirty_log(struct vm *vm, int slot, uint64_t *bitmap, char *err, size_t errlen)
{
	struct kvm_dirty_log log = { .slot = (uint32_t)slot, .dirty_bitmap = bitmap };
	if (vm_ioctl(vm, KVM_GET_DIRTY_LOG, &log, err, errlen) < 0)
		return err_append(err, errlen, " (memory slot %d)", slot);
	return 0;
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	int r = kvm_vm_ioctl(vm, KVM_IRQ_LINE, &irq);
	return r < 0 ? r : 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->hooks.destroy)
		vm->hooks.destroy(vm->hooks.opaque, vm);
	for (uint32_t i = 0; vm->vcpus && i < vm->params.ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			vm->kvm->unmap_run(vm->kvm->ctx, v, (size_t)vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	free(vm->supported_cpuid);
	vm->supported_cpuid = NULL;
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->exit_evfd >= 0)
		close(vm->exit_evfd);
	gm_destroy(&vm->mem);
	io_bus_free(vm->bus);
	vm->bus = NULL;
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->thread_lock);
	pthread_cond_destroy(&vm->cond);
	vm->fd = vm->exit_evfd = -1;
}
