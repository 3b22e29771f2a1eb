/* Every KVM call on a VM goes through one table, and the wrappers that name
 * what failed (after the KVM selftests library).
 *
 * Contract: a VM is created with a struct kvm_ops (vm_params.ops; NULL means
 * kvm_ops_real: ioctl(2) and mmap(2) on the real file descriptors) and every
 * KVM call on it and its vCPUs goes through that table, the core's (vm.c,
 * cpu_setup.c, vcpu.c) and the PMU's alike. Tests put a stand-in of the
 * kernel underneath (tests/unit/pmu/pmu_standin.h) and so check the exact
 * sequence of calls mpvm makes. Each op returns what the ioctl returns
 * (>= 0) or -errno; the ops are thread-safe as ioctl(2) is.
 *
 * The raw calls (kvm_vm_ioctl() ...) return -errno and say nothing. The
 * named ones (vm_ioctl(), vcpu_ioctl(), sys_ioctl(), or kvm_*_named() with
 * a description of the call) also write what failed into err (base/err.h):
 * "KVM_CREATE_IRQCHIP: Invalid argument (EINVAL)", and for a vCPU
 * "vCPU 2: KVM_SET_SREGS: ...". Callers append what the user can do.
 */
#ifndef MPVM_KVM_OPS_H
#define MPVM_KVM_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct vm;
struct vcpu;

struct kvm_ops {
	void *ctx;
	/* On /dev/kvm (the VM's kvm_fd), on the VM fd, on a vCPU fd. */
	int (*sys)(void *ctx, int kvm_fd, unsigned long req, void *arg);
	int (*vm)(void *ctx, struct vm *vm, unsigned long req, void *arg);
	int (*vcpu)(void *ctx, struct vcpu *vcpu, unsigned long req, void *arg);
	/* The vCPU's shared kvm_run area (mmap of its fd); NULL with errno set. */
	struct kvm_run *(*map_run)(void *ctx, struct vcpu *vcpu, size_t size);
	void (*unmap_run)(void *ctx, struct vcpu *vcpu, size_t size);
	/* Make the vCPU leave KVM_RUN soon (vcpu_kick()). */
	void (*kick)(void *ctx, struct vcpu *vcpu);
	/* CPU time the vCPU's thread has used, ns (0 before it starts). */
	uint64_t (*cpu_time_ns)(void *ctx, struct vcpu *vcpu);
};
/* The real kernel. */
extern const struct kvm_ops kvm_ops_real;

/* Integer arguments (KVM_CREATE_VCPU's id, KVM_CHECK_EXTENSION's cap) travel
 * as the pointer argument, as ioctl(2) takes them. */
#define KVM_ARG(n) ((void *)(uintptr_t)(n))

int kvm_sys_ioctl(struct vm *vm, unsigned long req, void *arg);
int kvm_vm_ioctl(struct vm *vm, unsigned long req, void *arg);
int kvm_vcpu_ioctl(struct vcpu *v, unsigned long req, void *arg);
/* KVM_CHECK_EXTENSION on the VM fd: the capability's value, 0 when absent
 * or on error. */
int kvm_vm_check_extension(struct vm *vm, long cap);
void kvm_vcpu_kick(struct vcpu *v);
uint64_t kvm_vcpu_cpu_time_ns(struct vcpu *v);

/* As the raw calls, and on failure "<what>: <strerror> (<ERRNO>)" into err
 * ("vCPU n: " in front for a vCPU). `what` names the call, with detail where
 * it helps ("KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE)"). */
int kvm_sys_ioctl_named(struct vm *vm, unsigned long req, const char *what, void *arg,
			char *err, size_t errlen);
int kvm_vm_ioctl_named(struct vm *vm, unsigned long req, const char *what, void *arg,
		       char *err, size_t errlen);
int kvm_vcpu_ioctl_named(struct vcpu *v, unsigned long req, const char *what, void *arg,
			 char *err, size_t errlen);
#define sys_ioctl(vm, req, arg, err, errlen) kvm_sys_ioctl_named(vm, req, #req, arg, err, errlen)
#define vm_ioctl(vm, req, arg, err, errlen) kvm_vm_ioctl_named(vm, req, #req, arg, err, errlen)
#define vcpu_ioctl(v, req, arg, err, errlen) kvm_vcpu_ioctl_named(v, req, #req, arg, err, errlen)

#endif
