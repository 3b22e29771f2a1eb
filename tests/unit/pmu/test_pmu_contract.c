/* The in-kernel PMU modes against a stand-in of the kernel's mediated-PMU
 * contract (docs/pmu.md; pmu_standin.h), not the real
 * kernel: this machine has no PMU, so the exact ioctl sequence mpvm issues
 * is checked here. Every test name starts with "standin_kernel_". */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pmu/pmu.h"
#include "pmu_standin.h"
#include "pmu_test_hosts.h"

static struct fake_host fh;
static struct pmu_host host;
static struct standin k;
static struct si_vm sv;
static struct pmu *p;
static char err[1024];

static void setup(void)
{
	memset(&k, 0, sizeof(k));
	k.perf_caps_supported = 0x2000 | 0x4 | (1u << 15);
	p = NULL;
	err[0] = 0;
}

static void teardown(void)
{
	if (p) {
		if (sv.vm.hooks.destroy)
			sv.vm.hooks.destroy(sv.vm.hooks.opaque, &sv.vm);
		pmu_free(p);
	}
	fh_cleanup(&fh);
}

/* The stand-in's log must equal `exp` (NULL-terminated). */
static void expect_log(const char *const *exp)
{
	int i = 0;
	for (; exp[i]; i++) {
		ck_assert_msg(i < k.nlog, "log ends after %d calls; expected \"%s\"", i, exp[i]);
		ck_assert_msg(!strcmp(k.log[i], exp[i]), "call %d: got \"%s\", expected \"%s\"", i, k.log[i],
			      exp[i]);
	}
	ck_assert_msg(i == k.nlog, "unexpected extra call %d: \"%s\"", i, i < k.nlog ? k.log[i] : "");
}

static struct pmu *new_pmu(struct cfg_pmu c)
{
	fh_probe(&fh, &host);
	return pmu_new(&c, &host, err, sizeof(err));
}

static void mediated_host(int nmi_watchdog, bool guest_counting_event)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "Y", nmi_watchdog);
	k.host = SI_MEDIATED;
	k.host_event_counts_guests = guest_counting_event;
}

START_TEST(standin_kernel_mediated_success_follows_the_contract_order)
{
	mediated_host(0, false);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	expect_log((const char *const[]){
		"CREATE_IRQCHIP",
		"CHECK_EXTENSION(PMU_CAPABILITY)",
		"CREATE_VCPU 0",
		"vcpu0 SET_CPUID2",
		"vcpu0 GET_LAPIC",
		"vcpu0 SET_MSRS(0x345=0x2000)",
		"vcpu0 RUN",
		NULL });
	ck_assert_int_eq(k.vpmu, VPMU_MEDIATED);
	ck_assert_uint_eq(k.leaf_a[0].eax, 2u | 8u << 8 | 48u << 16 | 7u << 24);
	ck_assert_uint_eq(k.leaf_a[0].edx, 3u | 48u << 5);
	ck_assert(k.leaf1[0].ecx & (1u << 15));
	ck_assert_ptr_null(sv.vm.hooks.msr); /* nothing trapped: no MSR exits */
}
END_TEST

/* The tests above drive the hooks in vm.c's order (si_boot); these run
 * vm.c itself on the stand-in, so a change of order in vm.c shows here. */
static struct vm real_vm;

static int build_with_vm_c(int ncpus)
{
	struct vm_params prm = { .ncpus = (uint32_t)ncpus, .mem_bytes = 2 << 20, .ops = si_ops(&k) };
	if (vm_create(&real_vm, -1, &prm, err, sizeof(err)))
		return -1;
	pmu_attach(p, &real_vm);
	return vm_setup_vcpus(&real_vm, err, sizeof(err));
}

static void destroy_vm_c(void)
{
	vm_destroy(&real_vm); /* runs the PMU's destroy hook */
	pmu_free(p);
	p = NULL;
}

START_TEST(standin_kernel_vm_c_builds_in_the_contract_order)
{
	mediated_host(0, false);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_msg(p, "%s", err);
	ck_assert_msg(build_with_vm_c(2) == 0, "%s", err);
	expect_log((const char *const[]){
		"CREATE_VM",
		"CREATE_IRQCHIP", /* before any vCPU: else no PMU */
		"CHECK_EXTENSION(PMU_CAPABILITY)", /* the PMU's before_vcpus */
		"CREATE_VCPU 0", /* all vCPUs first: CPUID describes the whole VM */
		"CREATE_VCPU 1",
		"vcpu0 SET_CPUID2",
		"vcpu0 GET_LAPIC", /* the PMU checks the in-kernel LAPIC */
		"vcpu0 SET_MSRS(0x345=0x2000)", /* PERF_CAPABILITIES before the first run */
		"vcpu0 SET_MSRS(0x1a0=0x1)", /* then the boot MSRs and LINTs */
		"vcpu0 SET_MSRS(0x2ff=0x806)",
		"vcpu0 SET_MSRS(0x174=0x0)",
		"vcpu0 GET_LAPIC",
		"vcpu1 SET_CPUID2",
		"vcpu1 GET_LAPIC",
		"vcpu1 SET_MSRS(0x345=0x2000)",
		"vcpu1 SET_MSRS(0x1a0=0x1)",
		"vcpu1 SET_MSRS(0x2ff=0x806)",
		"vcpu1 SET_MSRS(0x174=0x0)",
		"vcpu1 GET_LAPIC",
		NULL });
	ck_assert_int_eq(k.vpmu, VPMU_MEDIATED);
	ck_assert_uint_eq(k.leaf_a[1].eax, 2u | 8u << 8 | 48u << 16 | 7u << 24);
	destroy_vm_c();
}
END_TEST

START_TEST(standin_kernel_vm_c_retries_the_first_vcpu_after_ebusy_in_auto)
{
	mediated_host(0, true);
	p = new_pmu(cfg_mode(CFG_PMU_AUTO));
	ck_assert_msg(p, "%s", err);
	ck_assert_msg(build_with_vm_c(1) == 0, "%s", err);
	ck_assert_int_lt(si_find(&k, "CREATE_VCPU 0 -> EBUSY"),
			 si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"));
	ck_assert_int_lt(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"),
			 si_find(&k, "CREATE_VCPU 0"));
	ck_assert_int_lt(si_find(&k, "CREATE_VCPU 0"), si_find(&k, "vcpu0 SET_CPUID2"));
	ck_assert_int_eq(k.nvcpus, 1);
	ck_assert_int_eq(pmu_mode(p), PMU_MODE_OFF);
	ck_assert_int_eq(k.vpmu, VPMU_NONE);
	destroy_vm_c();
}
END_TEST

START_TEST(standin_kernel_vm_c_ebusy_in_mediated_fails_the_build)
{
	mediated_host(0, true);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(build_with_vm_c(2), -1);
	ck_assert_ptr_nonnull(strstr(err, "KVM_CREATE_VCPU 0: EBUSY"));
	ck_assert_int_eq(k.nvcpus, 0);
	destroy_vm_c();
}
END_TEST

START_TEST(standin_kernel_mediated_ebusy_is_a_precise_error)
{
	mediated_host(0, true); /* e.g. `perf stat -a` counting guests */
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 2, true, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "EBUSY"));
	ck_assert_ptr_nonnull(strstr(err, "counts guests (exclude_guest=0)"));
	ck_assert_ptr_nonnull(strstr(err, "nmi_watchdog=0"));
	ck_assert_ptr_nonnull(strstr(err, "fix: stop it"));
	expect_log((const char *const[]){
		"CREATE_IRQCHIP",
		"CHECK_EXTENSION(PMU_CAPABILITY)",
		"CREATE_VCPU 0 -> EBUSY",
		NULL });
	ck_assert_int_eq(k.nvcpus, 0); /* nothing was created, nothing retried */
}
END_TEST

START_TEST(standin_kernel_mediated_refused_up_front_when_nmi_watchdog_is_on)
{
	mediated_host(1, true);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(err, "pmu.mode \"mediated\""));
	ck_assert_ptr_nonnull(strstr(err, "nmi_watchdog=1"));
	ck_assert_ptr_nonnull(strstr(err, "echo 0 > /proc/sys/kernel/nmi_watchdog"));
	ck_assert_int_eq(k.nlog, 0); /* refused before touching KVM */
}
END_TEST

START_TEST(standin_kernel_mediated_ebusy_falls_back_in_auto)
{
	mediated_host(0, true);
	p = new_pmu(cfg_mode(CFG_PMU_AUTO));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(pmu_mode(p), PMU_MODE_MEDIATED);
	ck_assert_msg(si_boot(&k, &sv, p, 1, true, err, sizeof(err)) == 0, "%s", err);
	expect_log((const char *const[]){
		"CREATE_IRQCHIP",
		"CHECK_EXTENSION(PMU_CAPABILITY)",
		"CREATE_VCPU 0 -> EBUSY",
		"ENABLE_CAP(PMU_CAPABILITY,DISABLE)",
		"CREATE_VCPU 0",
		"vcpu0 SET_CPUID2",
		"vcpu0 RUN",
		NULL });
	ck_assert_int_eq(pmu_mode(p), PMU_MODE_OFF);
	ck_assert_int_eq(k.vpmu, VPMU_NONE);
	ck_assert_uint_eq(k.leaf_a[0].eax, 0);
	ck_assert(!(k.leaf1[0].ecx & (1u << 15)));

	char *r = pmu_report_json(p);
	cJSON *j = cJSON_Parse(r);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "off");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "requested")->valuestring, "auto");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "fell_back")));
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(j, "why")->valuestring,
				     "fell back to off because the first KVM_CREATE_VCPU failed with EBUSY"));
	cJSON_Delete(j);
	free(r);
}
END_TEST

START_TEST(standin_kernel_off_opts_out_before_first_vcpu)
{
	mediated_host(1, true); /* would be EBUSY without the opt-out */
	p = new_pmu(cfg_mode(CFG_PMU_OFF));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	ck_assert_int_lt(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"), si_find(&k, "CREATE_VCPU 0"));
	ck_assert_int_ge(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"), 0);
	ck_assert_int_eq(k.vpmu, VPMU_NONE);
	ck_assert_uint_eq(k.leaf_a[0].eax, 0);
	ck_assert_int_eq(si_find(&k, "vcpu0 SET_MSRS(0x345=0x2000)"), -1);
}
END_TEST

START_TEST(standin_kernel_opt_out_after_first_vcpu_is_einval)
{
	mediated_host(0, false);
	p = new_pmu(cfg_mode(CFG_PMU_OFF));
	ck_assert_msg(p, "%s", err);
	memset(&sv, 0, sizeof(sv));
	sv.vm.kvm = si_ops(&k);
	sv.vm.vcpus = sv.vcpus;
	pmu_attach(p, &sv.vm);
	si_vm_ioctl(&k, &sv.vm, KVM_CREATE_IRQCHIP, NULL);
	si_create_vcpu(&k, 0); /* a VMM that gets the order wrong */
	ck_assert_int_eq(sv.vm.hooks.before_vcpus(p, &sv.vm, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "KVM_PMU_CAP_DISABLE"));
	ck_assert_ptr_nonnull(strstr(err, "before the first KVM_CREATE_VCPU"));
	ck_assert_int_ge(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE) -> EINVAL"), 0);
}
END_TEST

START_TEST(standin_kernel_legacy_keeps_kvm_pmu_and_sets_perf_capabilities)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "N", 1);
	k.host = SI_LEGACY;
	k.host_event_counts_guests = true; /* irrelevant without the mediated PMU */
	p = new_pmu(cfg_mode(CFG_PMU_AUTO));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(pmu_mode(p), PMU_MODE_LEGACY);
	ck_assert_int_eq(si_boot(&k, &sv, p, 2, true, err, sizeof(err)), 0);
	expect_log((const char *const[]){
		"CREATE_IRQCHIP",
		"CHECK_EXTENSION(PMU_CAPABILITY)",
		"CREATE_VCPU 0",
		"CREATE_VCPU 1",
		"vcpu0 SET_CPUID2",
		"vcpu0 GET_LAPIC",
		"vcpu0 SET_MSRS(0x345=0x2000)",
		"vcpu1 SET_CPUID2",
		"vcpu1 GET_LAPIC",
		"vcpu1 SET_MSRS(0x345=0x2000)",
		"vcpu0 RUN",
		"vcpu1 RUN",
		NULL });
	ck_assert_int_eq(k.vpmu, VPMU_LEGACY);
	ck_assert_uint_eq(k.leaf_a[1].eax & 0xff, 2);
}
END_TEST

START_TEST(standin_kernel_filter_set_before_boot_and_replaced_at_run_time)
{
	mediated_host(0, false);
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.filter.set = true;
	c.filter.action = CFG_FILTER_DENY;
	c.filter.nevents = 1;
	c.filter.events[0] = (struct cfg_pmu_event){ .event_select = 0x3c };
	p = new_pmu(c);
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	ck_assert_int_lt(si_find(&k, "SET_PMU_EVENT_FILTER(deny,1)"), si_find(&k, "CREATE_VCPU 0"));
	ck_assert_int_ge(si_find(&k, "SET_PMU_EVENT_FILTER(deny,1)"), 0);
	ck_assert_uint_eq(k.filter.ev[0], 0x3c);

	/* While the VM runs: an allow list of two events and fixed counter 1. */
	struct cfg_pmu_filter *f = calloc(1, sizeof(*f));
	f->set = true;
	f->action = CFG_FILTER_ALLOW;
	f->fixed_counter_bitmap = 2;
	f->events[f->nevents++] = (struct cfg_pmu_event){ .event_select = 0xc0 };
	f->events[f->nevents++] = (struct cfg_pmu_event){ .event_select = 0x2e, .unit_mask = 0x41 };
	ck_assert_msg(pmu_set_filter(p, f, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(k.log[k.nlog - 1], "SET_PMU_EVENT_FILTER(allow,2)");
	ck_assert_uint_eq(k.filter.ev[1], 0x412e);
	ck_assert_uint_eq(k.filter.fixed, 2);

	/* Over KVM's limit: refused before the kernel sees it; the old one stays. */
	int before = k.nlog;
	f->nevents = 301;
	ck_assert_int_eq(pmu_set_filter(p, f, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at most 300"));
	ck_assert_int_eq(k.nlog, before);
	ck_assert_int_eq(k.filter_sets, 2);
	char *r = pmu_report_json(p);
	ck_assert_ptr_nonnull(strstr(r, "\"action\":\t\"allow\""));
	free(r);
	free(f);
}
END_TEST

START_TEST(standin_kernel_cpuid_is_set_before_first_run_and_frozen_after)
{
	mediated_host(0, false);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_int_eq(si_boot(&k, &sv, p, 2, true, err, sizeof(err)), 0);
	for (int v = 0; v < 2; v++) {
		char set[40], run[40];
		snprintf(set, sizeof(set), "vcpu%d SET_CPUID2", v);
		snprintf(run, sizeof(run), "vcpu%d RUN", v);
		ck_assert_int_ge(si_find(&k, set), 0);
		ck_assert_int_lt(si_find(&k, set), si_find(&k, run));
	}
	/* The stand-in, like KVM (kvm_set_cpuid()), takes the same table again
	 * after the first run and refuses any change with EINVAL. */
	struct kvm_cpuid2 *c = si_cpuid_table();
	c->nent = k.cpuid_nent[0];
	memcpy(c->entries, k.cpuid[0], c->nent * sizeof(c->entries[0]));
	ck_assert_int_eq(si_vcpu_ioctl(&k, &sv.vcpus[0], KVM_SET_CPUID2, c), 0);
	c->entries[2].eax ^= 1u << 8; /* one GP counter more or less */
	ck_assert_int_eq(si_vcpu_ioctl(&k, &sv.vcpus[0], KVM_SET_CPUID2, c), -EINVAL);
	free(c);
}
END_TEST

START_TEST(standin_kernel_without_irqchip_means_no_pmu_and_mpvm_says_so)
{
	mediated_host(0, false);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, false, err, sizeof(err)), -1);
	ck_assert_int_eq(k.vpmu, VPMU_NONE);
	ck_assert_ptr_nonnull(strstr(err, "no in-kernel LAPIC, so the mediated host gave it no PMU"));
}
END_TEST

/* A legacy host keeps a perf-based vPMU without an in-kernel LAPIC; it
 * just cannot deliver PMIs. mpvm says so, not "no PMU". */
START_TEST(standin_kernel_legacy_without_irqchip_is_a_degraded_vpmu_and_mpvm_says_so)
{
	fh_intel(&fh, 5, 8, 48, 3, 48, "N", 0);
	k.host = SI_LEGACY;
	p = new_pmu(cfg_mode(CFG_PMU_LEGACY));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, false, err, sizeof(err)), -1);
	ck_assert_int_eq(k.vpmu, VPMU_LEGACY_NO_PMI);
	ck_assert_ptr_nonnull(strstr(err, "no in-kernel LAPIC, so KVM gave it only a degraded perf-based vPMU (no PMIs)"));
	ck_assert_ptr_null(strstr(err, "no PMU"));
}
END_TEST

/* perf_create_mediated_pmu() refuses any event that counts guests, not
 * only system-wide ones: a `perf stat -p PID` is enough, and mpvm's error
 * says so. */
START_TEST(standin_kernel_per_task_guest_counting_event_is_ebusy_too)
{
	mediated_host(0, true); /* e.g. `perf stat -e cycles -p 1234` */
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "EBUSY"));
	ck_assert_ptr_nonnull(strstr(err, "system-wide or per-task"));
	ck_assert_ptr_nonnull(strstr(err, "of any process without :H"));
}
END_TEST

/* While a mediated VM lives, new host events that count guests fail with
 * EOPNOTSUPP (host-only ones, exclude_guest=1, are fine); GET /pmu says so. */
START_TEST(standin_kernel_new_guest_counting_host_event_is_eopnotsupp_while_mediated_vm_lives)
{
	mediated_host(0, false);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	ck_assert_int_eq(si_host_perf_event_open(&k, false), -EOPNOTSUPP);
	ck_assert_int_eq(si_host_perf_event_open(&k, true), 0);
	char *r = pmu_report_json(p);
	ck_assert_ptr_nonnull(strstr(r, "new host perf events that count guests (exclude_guest=0) fail with EOPNOTSUPP"));
	ck_assert_ptr_nonnull(strstr(r, "no PEBS and no LBR"));
	free(r);
}
END_TEST

/* The opt-out is refused once a mediated PMU exists, even if no vCPU does
 * (creation failed after perf_create_mediated_pmu()). So mpvm's auto mode
 * opts out only after EBUSY, when nothing was created, and passes any
 * other failure on instead of trying an opt-out that cannot work. */
START_TEST(standin_kernel_opt_out_is_refused_once_a_mediated_pmu_exists)
{
	mediated_host(0, false);
	k.fail_vcpu_after_precreate = ENOMEM;
	p = new_pmu(cfg_mode(CFG_PMU_AUTO));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "KVM_CREATE_VCPU 0: Cannot allocate memory"));
	ck_assert_int_eq(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"), -1);
	ck_assert_int_eq(pmu_mode(p), PMU_MODE_MEDIATED);
	struct kvm_enable_cap cap = { .cap = KVM_CAP_PMU_CAPABILITY, .args[0] = KVM_PMU_CAP_DISABLE };
	ck_assert_int_eq(si_vm_ioctl(&k, &sv.vm, KVM_ENABLE_CAP, &cap), -EINVAL);
	ck_assert_int_eq(k.nvcpus, 0);
}
END_TEST

static struct cfg_pmu trap_cfg(void)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.trap_event_selects = true;
	c.filter.set = true;
	c.filter.action = CFG_FILTER_DENY;
	c.filter.nevents = 1;
	c.filter.events[0] = (struct cfg_pmu_event){ .event_select = 0xc0 };
	return c;
}

START_TEST(standin_kernel_trap_event_selects_counts_checks_and_forwards)
{
	mediated_host(0, false);
	p = new_pmu(trap_cfg());
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	expect_log((const char *const[]){
		"CREATE_IRQCHIP",
		"CHECK_EXTENSION(PMU_CAPABILITY)",
		"SET_PMU_EVENT_FILTER(deny,1)",
		"ENABLE_CAP(X86_USER_SPACE_MSR,FILTER)",
		"SET_MSR_FILTER(2 ranges)",
		"CREATE_VCPU 0",
		"vcpu0 SET_CPUID2",
		"vcpu0 GET_LAPIC",
		"vcpu0 SET_MSRS(0x345=0x2000)",
		"vcpu0 RUN",
		NULL });
	/* Only the control plane: event selects and FIXED_CTR_CTRL, all denied. */
	ck_assert_uint_eq(k.ranges[0].base, 0x186);
	ck_assert_uint_eq(k.ranges[0].n, 8);
	ck_assert_uint_eq(k.ranges[0].bits, 0);
	ck_assert_uint_eq(k.ranges[1].base, 0x38d);
	ck_assert_uint_eq(k.ranges[1].n, 1);

	uint64_t v = 0x43003c; /* EN|OS|USR, core cycles: allowed */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x186, true, &v), 0);
	ck_assert_str_eq(k.log[k.nlog - 1], "vcpu0 SET_MSRS(0x186=0x43003c)");
	v = 0x4300c0; /* instructions: denied, forwarded all the same */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x187, true, &v), 0);
	ck_assert_uint_eq(*si_msr(&k, 0, 0x187, false), 0x4300c0);
	v = 0;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x187, false, &v), 0);
	ck_assert_uint_eq(v, 0x4300c0);
	v = 1ULL << 40; /* reserved: KVM refuses, the guest gets #GP */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x186, true, &v), -1);
	v = 0x30; /* fixed counter 1 on */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x38d, true, &v), 0);

	struct pmu_metrics m;
	pmu_get_metrics(p, &m);
	ck_assert_uint_eq(m.msr_exits, 5);
	ck_assert_uint_eq(m.msr_exits_gp, 1);
	ck_assert_uint_eq(m.denied_programs, 1);
	char *r = pmu_report_json(p);
	cJSON *j = cJSON_Parse(r);
	cJSON *st = cJSON_GetObjectItem(j, "stats");
	cJSON *ev = cJSON_GetObjectItem(st, "by_event");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "0xc0/0x00"), "denied")->valueint, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "0x3c/0x00"), "name")->valuestring,
			 "core_cycles");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "fixed1"), "programs")->valueint, 1);
	cJSON *bm = cJSON_GetObjectItem(st, "by_msr");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(bm, "0x187"), "writes")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(bm, "0x187"), "reads")->valueint, 1);
	cJSON_Delete(j);
	free(r);
}
END_TEST

START_TEST(standin_kernel_amd_trap_leaves_counters_direct)
{
	fh_amd_zen4(&fh, "Y", 0);
	k.host = SI_MEDIATED;
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.trap_event_selects = true;
	p = new_pmu(c);
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	ck_assert_int_eq(k.msr_nranges, 2);
	ck_assert_uint_eq(k.ranges[0].base, 0xc0010000);
	ck_assert_uint_eq(k.ranges[1].base, 0xc0010200);
	ck_assert_uint_eq(k.ranges[1].bits, 0xaaa); /* PERF_CTRn (odd) allowed */
	ck_assert_int_eq(si_find(&k, "vcpu0 SET_MSRS(0x345=0x2000)"), -1); /* no PDCM on AMD */
	uint64_t v = 0x1004300c0ULL; /* EventSelect 0x1c0 */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0xc0010202, true, &v), 0);
	char *r = pmu_report_json(p);
	ck_assert_ptr_nonnull(strstr(r, "0x1c0/0x00"));
	free(r);
}
END_TEST

/* Trapped event selects are forwarded host-initiated, and KVM lets a host
 * read a counter the vCPU does not have (0) or write 0 to it: mpvm checks
 * the guest's shape first, so the guest gets the #GP hardware gives. */
START_TEST(standin_kernel_trap_gps_on_counters_the_guest_does_not_have)
{
	mediated_host(0, false); /* 8 GP, 3 fixed on the host */
	struct cfg_pmu c = trap_cfg();
	c.gp_counters = 2;
	c.fixed_counters = 1;
	p = new_pmu(c);
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	int calls = k.nlog;

	uint64_t v = 0x1234;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x188, false, &v), -1); /* PERFEVTSEL2 */
	v = 0;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x188, true, &v), -1);
	v = 0x43003c;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x18d, true, &v), -1); /* PERFEVTSEL7 */
	ck_assert_int_eq(k.nlog, calls); /* none of them reached KVM */

	v = 0x43003c; /* the guest's own counters still work */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x187, true, &v), 0);
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x187, false, &v), 0);
	ck_assert_uint_eq(v, 0x43003c);

	/* FIXED_CTR_CTRL: only fixed counter 0's four bits exist. */
	v = 0x30;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x38d, true, &v), -1);
	ck_assert_int_eq(si_find(&k, "vcpu0 SET_MSRS(0x38d=0x30)"), -1);
	v = 0xb;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x38d, true, &v), 0);
	ck_assert_str_eq(k.log[k.nlog - 1], "vcpu0 SET_MSRS(0x38d=0xb)");

	struct pmu_metrics m;
	pmu_get_metrics(p, &m);
	ck_assert_uint_eq(m.msr_exits, 7);
	ck_assert_uint_eq(m.msr_exits_gp, 4);
	ck_assert_uint_eq(m.denied_programs, 0);
}
END_TEST

START_TEST(standin_kernel_trap_version_1_has_no_fixed_ctr_ctrl)
{
	mediated_host(0, false);
	struct cfg_pmu c = trap_cfg();
	c.version = 1;
	p = new_pmu(c);
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	int calls = k.nlog;
	uint64_t v = 0;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x38d, false, &v), -1);
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0x38d, true, &v), -1);
	ck_assert_int_eq(k.nlog, calls);
}
END_TEST

START_TEST(standin_kernel_amd_trap_gps_beyond_the_guest_counters)
{
	fh_amd_zen4(&fh, "Y", 0);
	k.host = SI_MEDIATED;
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	c.trap_event_selects = true;
	c.gp_counters = 2;
	p = new_pmu(c);
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	uint64_t v = 0;
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0xc0010001, false, &v), 0);  /* K7_EVNTSEL1 */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0xc0010002, false, &v), -1); /* K7_EVNTSEL2 */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0xc0010202, true, &v), 0);   /* PERF_CTL1 */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0xc0010204, true, &v), -1);  /* PERF_CTL2 */
	ck_assert_int_eq(si_guest_msr(&sv, 0, 0xc001020a, false, &v), -1); /* PERF_CTL5 */
}
END_TEST

START_TEST(standin_kernel_report_shows_pass_through_and_its_cost)
{
	fh_intel(&fh, 5, 8, 48, 4, 48, "Y", 0); /* 4 fixed counters */
	k.host = SI_MEDIATED;
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	char *r = pmu_report_json(p);
	cJSON *j = cJSON_Parse(r);
	cJSON *msrs = cJSON_GetObjectItem(j, "msrs"), *it;
	bool pmc_direct = false, globals_kvm = false;
	cJSON_ArrayForEach(it, msrs) {
		const char *name = cJSON_GetObjectItem(it, "name")->valuestring;
		const char *goes = cJSON_GetObjectItem(it, "goes")->valuestring;
		if (!strcmp(name, "IA32_PMCx"))
			pmc_direct = !strcmp(goes, "direct");
		if (strstr(name, "GLOBAL"))
			globals_kvm = !strcmp(goes, "kvm") &&
				      strstr(cJSON_GetObjectItem(it, "why")->valuestring,
					     "the guest has 3 fixed counters, the host 4");
	}
	ck_assert(pmc_direct);
	ck_assert(globals_kvm);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "rdpmc"), "goes")->valuestring, "kvm");
	cJSON_Delete(j);
	free(r);
}
END_TEST

START_TEST(standin_kernel_counters_are_read_from_a_paused_vm)
{
	mediated_host(0, false);
	p = new_pmu(cfg_mode(CFG_PMU_MEDIATED));
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	*si_msr(&k, 0, 0xc1, true) = 12345;
	char *s = pmu_counters_json(p);
	ck_assert_ptr_nonnull(strstr(s, "pause the VM first"));
	free(s);
	atomic_store(&sv.vm.state, VM_PAUSED);
	s = pmu_counters_json(p);
	cJSON *j = cJSON_Parse(s);
	cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vcpus"), 0), "msrs");
	ck_assert_str_eq(cJSON_GetObjectItem(m, "IA32_PMC0")->valuestring, "0x3039");
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(m, "IA32_PERF_GLOBAL_CTRL"));
	cJSON_Delete(j);
	free(s);
}
END_TEST

START_TEST(standin_kernel_auto_on_a_host_without_pmu_is_off_and_says_why)
{
	fh_no_pmu(&fh);
	k.host = SI_NO_PMU;
	p = new_pmu(cfg_mode(CFG_PMU_AUTO));
	ck_assert_msg(p, "%s", err);
	ck_assert_int_eq(pmu_mode(p), PMU_MODE_OFF);
	ck_assert_int_eq(si_boot(&k, &sv, p, 1, true, err, sizeof(err)), 0);
	/* Nothing to opt out of (KVM_CAP_PMU_CAPABILITY = 0), and no note either. */
	ck_assert_int_eq(si_find(&k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"), -1);
	char *r = pmu_report_json(p);
	ck_assert_ptr_nonnull(strstr(r, "kvm.enable_pmu=N"));
	ck_assert_ptr_nonnull(strstr(r, "\\\"mode\\\": \\\"soft\\\" would give a userspace PMU"));
	free(r);
	ck_assert_int_eq(pmu_set_filter(p, &(struct cfg_pmu_filter){ .set = true }, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the PMU is off"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_contract");
	TCase *t = tcase_create("standin_kernel");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, standin_kernel_mediated_success_follows_the_contract_order);
	tcase_add_test(t, standin_kernel_mediated_ebusy_is_a_precise_error);
	tcase_add_test(t, standin_kernel_vm_c_builds_in_the_contract_order);
	tcase_add_test(t, standin_kernel_vm_c_retries_the_first_vcpu_after_ebusy_in_auto);
	tcase_add_test(t, standin_kernel_vm_c_ebusy_in_mediated_fails_the_build);
	tcase_add_test(t, standin_kernel_mediated_refused_up_front_when_nmi_watchdog_is_on);
	tcase_add_test(t, standin_kernel_mediated_ebusy_falls_back_in_auto);
	tcase_add_test(t, standin_kernel_off_opts_out_before_first_vcpu);
	tcase_add_test(t, standin_kernel_opt_out_after_first_vcpu_is_einval);
	tcase_add_test(t, standin_kernel_legacy_keeps_kvm_pmu_and_sets_perf_capabilities);
	tcase_add_test(t, standin_kernel_filter_set_before_boot_and_replaced_at_run_time);
	tcase_add_test(t, standin_kernel_cpuid_is_set_before_first_run_and_frozen_after);
	tcase_add_test(t, standin_kernel_without_irqchip_means_no_pmu_and_mpvm_says_so);
	tcase_add_test(t, standin_kernel_legacy_without_irqchip_is_a_degraded_vpmu_and_mpvm_says_so);
	tcase_add_test(t, standin_kernel_per_task_guest_counting_event_is_ebusy_too);
	tcase_add_test(t, standin_kernel_new_guest_counting_host_event_is_eopnotsupp_while_mediated_vm_lives);
	tcase_add_test(t, standin_kernel_opt_out_is_refused_once_a_mediated_pmu_exists);
	tcase_add_test(t, standin_kernel_trap_event_selects_counts_checks_and_forwards);
	tcase_add_test(t, standin_kernel_amd_trap_leaves_counters_direct);
	tcase_add_test(t, standin_kernel_trap_gps_on_counters_the_guest_does_not_have);
	tcase_add_test(t, standin_kernel_trap_version_1_has_no_fixed_ctr_ctrl);
	tcase_add_test(t, standin_kernel_amd_trap_gps_beyond_the_guest_counters);
	tcase_add_test(t, standin_kernel_report_shows_pass_through_and_its_cost);
	tcase_add_test(t, standin_kernel_counters_are_read_from_a_paused_vm);
	tcase_add_test(t, standin_kernel_auto_on_a_host_without_pmu_is_off_and_says_why);
	suite_add_tcase(su, t);
	return run_suite(su);
}
