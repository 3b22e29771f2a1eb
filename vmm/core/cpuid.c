#include "core/cpuid.h"

#include <stdlib.h>
#include <string.h>

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

/* Bits needed to encode values 0..n-1 (x2APIC ID shift widths). */
static uint32_t order(uint32_t n)
{
	uint32_t s = 0;
	while ((1u << s) < n)
		s++;
	return s;
}

static void set_topology_leaf(struct kvm_cpuid_entry2 *e, uint32_t id, uint32_t ncpus)
{
	/* Level 0: SMT (1 thread per core); level 1: core (ncpus per package);
	 * further levels invalid. EDX is always the x2APIC ID. */
	uint32_t shift = order(ncpus);
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1 << 8) | 0;
		break;
	case 1:
		e->eax = shift;
		e->ebx = ncpus;
		e->ecx = (2 << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
	e->edx = id;
}

/* EAX[25:14] of leaves 4 (Intel) and 0x8000001D (AMD): how many logical
 * CPUs share this cache, minus one. L1/L2 are private to a core; L3 is
 * shared by the whole package. */
static uint32_t cache_sharing(uint32_t eax, uint32_t ncpus)
{
	uint32_t level = (eax >> 5) & 7;
	uint32_t sharing = level >= 3 ? ncpus - 1 : 0;
	return (eax & ~(0xfffu << 14)) | (sharing << 14);
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, uint32_t id,
				  uint32_t ncpus, bool tsc_deadline)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return NULL;
	memcpy(c, supported, sz);

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			/* EBX[31:24] initial APIC ID, [23:16] logical processors per
			 * package; HTT says that count is valid. ECX[31]: running under a
			 * hypervisor. */
			e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((ncpus & 0xff) << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28;
			else
				e->edx &= ~(1u << 28);
			e->ecx |= 1u << 31;
			/* KVM emulates the TSC-deadline timer but KVM_GET_SUPPORTED_CPUID
			 * leaves the bit to the VMM (KVM_CAP_TSC_DEADLINE_TIMER). */
			if (tsc_deadline)
				e->ecx |= 1u << 24;
			else
				e->ecx &= ~(1u << 24);
			break;
		case 4:
			/* EAX[31:26] cores per package - 1. */
			e->eax = (cache_sharing(e->eax, ncpus) & 0x03ffffff) | ((ncpus - 1) << 26);
			break;
		case 0x8000001d:
			e->eax = cache_sharing(e->eax, ncpus);
			break;
		case 0xb:
		case 0x1f:
			set_topology_leaf(e, id, ncpus);
			break;
		case 0x80000008:
			/* AMD: ECX[7:0] cores - 1, [15:12] APIC ID size. */
			e->ecx = (e->ecx & ~0xf0ffu) | ((ncpus - 1) & 0xff) | (order(ncpus) << 12);
			break;
		case 0x8000001e:
			/* AMD extended APIC ID, compute unit = core, one node. */
			e->eax = id;
			e->ebx = (e->ebx & ~0xffffu) | (id & 0xff);
			e->ecx = 0;
			break;
		case 0x40000000:
			/* Signature "KVMKVMKVM\0\0\0": guests pick up kvm-clock etc. */
			e->ebx = 0x4b4d564b;
			e->ecx = 0x564b4d56;
			e->edx = 0x0000004d;
			break;
		default:
			break;
		}
	}
	return c;
}
