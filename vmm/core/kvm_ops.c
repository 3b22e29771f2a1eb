/* The real struct kvm_ops, and the wrappers over whichever table a VM has
 * (core/kvm_ops.h). */
#include "core/kvm_ops.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "core/vm.h"

static int real_sys(void *ctx, int kvm_fd, unsigned long req, void *arg)
{
	int r = ioctl(kvm_fd, req, arg);
	return r < 0 ? -errno : r;
}

static int real_vm(void *ctx, struct vm *vm, unsigned long req, void *arg)
{
	int r = ioctl(vm->fd, req, arg);
	return r < 0 ? -errno : r;
}

static int real_vcpu(void *ctx, struct vcpu *v, unsigned long req, void *arg)
{
	int r = ioctl(v->fd, req, arg);
	return r < 0 ? -errno : r;
}

static struct kvm_run *real_map_run(void *ctx, struct vcpu *v, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void real_unmap_run(void *ctx, struct vcpu *v, size_t size)
{
	munmap(v->run, size);
}

static void real_kick(void *ctx, struct vcpu *v)
{
	vcpu_kick(v);
}

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

static uint64_t real_cpu_time_ns(void *ctx, struct vcpu *v)
{
	struct timespec ts;
	clockid_t cid;

	/* tid, not pthread_self() == v->thread: the thread may run before
	 * pthread_create() has stored v->thread. */
	if (atomic_load(&v->tid) == (int)syscall(SYS_gettid))
		return clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) ? 0 : ts_ns(&ts);
	if (!vcpu_cpu_clock(v, &cid))
		return 0; /* not running (yet or any more): no time to add */
	return clock_gettime(cid, &ts) ? 0 : ts_ns(&ts);
}

const struct kvm_ops kvm_ops_real = {
	.sys = real_sys,
	.vm = real_vm,
	.vcpu = real_vcpu,
	.map_run = real_map_run,
	.unmap_run = real_unmap_run,
	.kick = real_kick,
	.cpu_time_ns = real_cpu_time_ns,
};

int kvm_sys_ioctl(struct vm *vm, unsigned long req, void *arg)
{
	return vm->kvm->sys(vm->kvm->ctx, vm->kvm_fd, req, arg);
}

int kvm_vm_ioctl(struct vm *vm, unsigned long req, void *arg)
{
	return vm->kvm->vm(vm->kvm->ctx, vm, req, arg);
}

int kvm_vcpu_ioctl(struct vcpu *v, unsigned long req, void *arg)
{
	return v->vm->kvm->vcpu(v->vm->kvm->ctx, v, req, arg);
}

int kvm_vm_check_extension(struct vm *vm, long cap)
{
	int r = kvm_vm_ioctl(vm, KVM_CHECK_EXTENSION, KVM_ARG(cap));
	return r < 0 ? 0 : r;
}

void kvm_vcpu_kick(struct vcpu *v)
{
	v->vm->kvm->kick(v->vm->kvm->ctx, v);
}

uint64_t kvm_vcpu_cpu_time_ns(struct vcpu *v)
{
	return v->vm->kvm->cpu_time_ns(v->vm->kvm->ctx, v);
}

static int named(int r, const char *vcpu, int id, const char *what, char *err, size_t errlen)
{
	char e[96];
	if (r >= 0)
		return r;
	if (vcpu)
		err_set(err, errlen, "vCPU %d: %s: %s", id, what, err_errno(-r, e, sizeof(e)));
	else
		err_set(err, errlen, "%s: %s", what, err_errno(-r, e, sizeof(e)));
	return r;
}

int kvm_sys_ioctl_named(struct vm *vm, unsigned long req, const char *what, void *arg,
			char *err, size_t errlen)
{
	return named(kvm_sys_ioctl(vm, req, arg), NULL, 0, what, err, errlen);
}

int kvm_vm_ioctl_named(struct vm *vm, unsigned long req, const char *what, void *arg,
		       char *err, size_t errlen)
{
	return named(kvm_vm_ioctl(vm, req, arg), NULL, 0, what, err, errlen);
}

int kvm_vcpu_ioctl_named(struct vcpu *v, unsigned long req, const char *what, void *arg,
			 char *err, size_t errlen)
{
	return named(kvm_vcpu_ioctl(v, req, arg), "vCPU", v->id, what, err, errlen);
}
