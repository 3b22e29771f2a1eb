/* Thin, honest wrappers over /dev/kvm (after the KVM selftests library).
 *
 * Contract: kvm_open() opens /dev/kvm, checks the API version and every
 * capability mpvm cannot run without; a failure returns -1 with a message
 * saying what is missing and what to do. kvm_check_cap() answers
 * KVM_CHECK_EXTENSION. kvm_supported_cpuid() returns a malloc'd
 * kvm_cpuid2 from KVM_GET_SUPPORTED_CPUID (kvm_vm_supported_cpuid(): the
 * same through a VM's struct kvm_ops). The fd is process-wide and read-only
 * after open.
 */
#ifndef MPVM_KVM_H
#define MPVM_KVM_H

#include <stddef.h>
#include <linux/kvm.h>

struct kvm_cpuid2;
struct vm;

int kvm_open(const char *path, char *err, size_t errlen);
int kvm_check_cap(int fd, long cap);
struct kvm_cpuid2 *kvm_supported_cpuid(int kvm_fd, char *err, size_t errlen);
struct kvm_cpuid2 *kvm_vm_supported_cpuid(struct vm *vm, char *err, size_t errlen);
int kvm_vcpu_mmap_size(int kvm_fd);

#endif
