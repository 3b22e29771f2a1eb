/* CPUID normalisation: each vCPU sees its own APIC ID and the VM's
 * topology, whatever the host's tables said. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/cpuid.h"

/* A host-like table: Intel-ish leaves 1, 4 (L1d, L3), 0xB (2 levels),
 * 0x80000008, and the KVM signature leaf. */
static struct kvm_cpuid2 *host_table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 32 * sizeof(struct kvm_cpuid_entry2));
	struct kvm_cpuid_entry2 *e = c->entries;
	int n = 0;
	e[n++] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x906ea, .ebx = 0x12340800 | 0x00ff0000,
					    .ecx = 0x7ffafbff, .edx = 0xbfebfbff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = (1 << 5) | 1 | (7u << 26) | (1 << 14) };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 3, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = (3 << 5) | 3 | (7u << 26) | (15 << 14) };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 99 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = 4, .ebx = 16, .ecx = 0x201, .edx = 99 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3027, .ecx = 0x700f };
	/* AMD cache leaf: L2 shared by 2 SMT threads on the host. */
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x8000001d, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = (2 << 5) | 3 | (1 << 14) };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x8000001d, .index = 3, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = (3 << 5) | 3 | (15 << 14) };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001 };
	c->nent = n;
	return c;
}

START_TEST(each_vcpu_gets_its_apic_id_in_leaf_1_and_0xb)
{
	struct kvm_cpuid2 *host = host_table();
	for (uint32_t id = 0; id < 4; id++) {
		struct kvm_cpuid2 *c = cpuid_for_vcpu(host, id, 4, false);
		struct kvm_cpuid_entry2 *l1 = cpuid_find(c, 1, 0);
		ck_assert_uint_eq(l1->ebx >> 24, id);
		ck_assert_uint_eq((l1->ebx >> 16) & 0xff, 4);
		ck_assert(l1->edx & (1u << 28));   /* HTT: count is valid */
		ck_assert(l1->ecx & (1u << 31));   /* hypervisor present */
		ck_assert_uint_eq(l1->ebx & 0xffff, 0x0800); /* brand/clflush kept */
		ck_assert_uint_eq(cpuid_find(c, 0xb, 0)->edx, id);
		ck_assert_uint_eq(cpuid_find(c, 0xb, 1)->edx, id);
		free(c);
	}
	free(host);
}
END_TEST

START_TEST(topology_is_one_package_of_n_single_thread_cores)
{
	struct kvm_cpuid2 *host = host_table();
	struct kvm_cpuid2 *c = cpuid_for_vcpu(host, 2, 3, false);
	struct kvm_cpuid_entry2 *smt = cpuid_find(c, 0xb, 0), *core = cpuid_find(c, 0xb, 1);
	ck_assert_uint_eq(smt->ebx, 1);
	ck_assert_uint_eq((smt->ecx >> 8) & 0xff, 1);     /* level type SMT */
	ck_assert_uint_eq(core->ebx, 3);
	ck_assert_uint_eq((core->ecx >> 8) & 0xff, 2);    /* level type core */
	ck_assert_uint_eq(core->eax, 2);                  /* 3 ids need 2 bits */
	/* Leaf 4: cores per package - 1; L1 private, L3 shared by all. */
	ck_assert_uint_eq(cpuid_find(c, 4, 0)->eax >> 26, 2);
	ck_assert_uint_eq((cpuid_find(c, 4, 0)->eax >> 14) & 0xfff, 0);
	ck_assert_uint_eq((cpuid_find(c, 4, 3)->eax >> 14) & 0xfff, 2);
	ck_assert_uint_eq(cpuid_find(c, 0x80000008, 0)->ecx & 0xff, 2);
	/* AMD's cache leaf follows the same rule: no host SMT sharing leaks in. */
	ck_assert_uint_eq((cpuid_find(c, 0x8000001d, 2)->eax >> 14) & 0xfff, 0);
	ck_assert_uint_eq((cpuid_find(c, 0x8000001d, 3)->eax >> 14) & 0xfff, 2);
	ck_assert_uint_eq(cpuid_find(c, 0x8000001d, 3)->eax & 0x1f, 3); /* type/level kept */
	/* No TSC-deadline bit unless KVM has the timer. */
	ck_assert(!(cpuid_find(c, 1, 0)->ecx & (1u << 24)));
	free(c);
	free(host);
}
END_TEST

START_TEST(single_vcpu_clears_htt_and_keeps_kvm_signature)
{
	struct kvm_cpuid2 *host = host_table();
	struct kvm_cpuid2 *c = cpuid_for_vcpu(host, 0, 1, true);
	ck_assert(!(cpuid_find(c, 1, 0)->edx & (1u << 28)));
	ck_assert(cpuid_find(c, 1, 0)->ecx & (1u << 24)); /* TSC deadline offered */
	struct kvm_cpuid_entry2 *sig = cpuid_find(c, 0x40000000, 0);
	char s[13] = { 0 };
	memcpy(s, &sig->ebx, 4);
	memcpy(s + 4, &sig->ecx, 4);
	memcpy(s + 8, &sig->edx, 4);
	ck_assert_str_eq(s, "KVMKVMKVM");
	/* The host table itself is untouched. */
	ck_assert_uint_eq(cpuid_find(host, 0xb, 0)->edx, 99);
	free(c);
	free(host);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpuid");
	TCase *t = tcase_create("normalise");
	tcase_add_test(t, each_vcpu_gets_its_apic_id_in_leaf_1_and_0xb);
	tcase_add_test(t, topology_is_one_package_of_n_single_thread_cores);
	tcase_add_test(t, single_vcpu_clears_htt_and_keeps_kvm_signature);
	suite_add_tcase(s, t);
	return run_suite(s);
}
