/* The real pmu_kvm_ops: raw ioctls, vcpu_kick() and the vCPU thread's CPU
 * clock. Kept apart from the module's logic so that unit tests, which put
 * a stand-in of the kernel underneath, never link vm.c through it. */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/vm.h"
#include "pmu/pmu.h"

static int real_check_extension(void *ctx, struct vm *vm, long cap)
{
	int r = ioctl(vm->fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? -errno : r;
}

static int real_vm_ioctl(void *ctx, struct vm *vm, unsigned long req, void *arg)
{
	int r = ioctl(vm->fd, req, arg);
	return r < 0 ? -errno : r;
}

static int real_vcpu_ioctl(void *ctx, struct vcpu *v, unsigned long req, void *arg)
{
	int r = ioctl(v->fd, req, arg);
	return r < 0 ? -errno : r;
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

const struct pmu_kvm_ops pmu_kvm_ops_real = {
	.check_extension = real_check_extension,
	.vm_ioctl = real_vm_ioctl,
	.vcpu_ioctl = real_vcpu_ioctl,
	.kick = real_kick,
	.cpu_time_ns = real_cpu_time_ns,
};

struct pmu *pmu_new(const struct cfg_pmu *cfg, const struct pmu_host *host, char *err, size_t errlen)
{
	return pmu_new_with_ops(cfg, host, &pmu_kvm_ops_real, err, errlen);
}
