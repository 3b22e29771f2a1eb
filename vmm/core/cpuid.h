/* CPUID normalisation per vCPU.
 *
 * Contract: cpuid_for_vcpu() copies KVM_GET_SUPPORTED_CPUID and fixes what
 * must differ per vCPU or describe the VM rather than the host: APIC IDs
 * (leaf 1 EBX, 0xB/0x1F x2APIC IDs, 0x8000001E), topology (one socket of
 * `ncpus` cores, one thread each), cache-sharing counts in leaves 4 and
 * 0x8000001D, the hypervisor bit, the TSC-deadline bit when KVM has the
 * timer (`tsc_deadline`), and KVM signature leaves. The PMU module shapes the PMU
 * leaves afterwards. Pure function (no KVM calls): unit-tested on host
 * tables. Caller frees.
 */
#ifndef MPVM_CPUID_H
#define MPVM_CPUID_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, uint32_t vcpu_id,
				  uint32_t ncpus, bool tsc_deadline);
/* Find an entry (NULL if absent). */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index);

#endif
