/* The PMU's part of a snapshot (pmu/snapshot.c): a VM is built on one
 * stand-in kernel (pmu_standin.h, NOT the real kernel: this machine has no
 * PMU; test names start with "standin_kernel_"), its PMU saved, and the
 * state restored into a fresh struct pmu on a fresh stand-in whose vCPU
 * clocks start elsewhere: a new process on the same or another host. Also:
 * hosts that cannot give the snapshot's PMU (refused, or accepted as a
 * fallback that GET /pmu reports), and corrupt or hostile sections. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/snap.h"
#include "check_main.h"
#include "pmu/pmu.h"
#include "pmu/soft.h"
#include "pmu_standin.h"
#include "pmu_test_hosts.h"

#define CYCLES (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | 0x3c)

/* One mpvm process on one host. */
struct side {
	struct fake_host fh;
	struct pmu_host host;
	struct standin k;
	struct si_vm sv;
	struct pmu *p;
	bool has_fh, built;
};

static struct side A, B; /* A saves, B restores */
static struct snap_w w;
static char err[2048];

static void setup(void)
{
	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	snap_w_init(&w);
	err[0] = 0;
}

static void side_free(struct side *s)
{
	if (s->p) {
		if (s->built)
			s->sv.vm.hooks.destroy(s->sv.vm.hooks.opaque, &s->sv.vm);
		pmu_free(s->p);
	}
	if (s->has_fh)
		fh_cleanup(&s->fh);
	s->p = NULL;
}

static void teardown(void)
{
	side_free(&A);
	side_free(&B);
	snap_w_free(&w);
}

/* Hosts. */
static void host_no_pmu(struct side *s)
{
	fh_no_pmu(&s->fh);
	s->has_fh = true;
	s->k.host = SI_NO_PMU;
}

static void host_intel(struct side *s, int gp, const char *mediated)
{
	fh_intel(&s->fh, 5, gp, 48, 3, 48, mediated, 0);
	s->has_fh = true;
	s->k.host = !strcmp(mediated, "Y") ? SI_MEDIATED : SI_LEGACY;
	s->k.perf_caps_supported = 0x2000 | 0x4 | (1u << 15);
}

static void host_amd(struct side *s)
{
	fh_amd_zen4(&s->fh, "Y", 0);
	s->has_fh = true;
	s->k.host = SI_MEDIATED;
}

/* A VM on side s, started. */
static void boot(struct side *s, struct cfg_pmu c, int ncpus)
{
	fh_probe(&s->fh, &s->host);
	s->p = pmu_new(&c, &s->host, err, sizeof(err));
	ck_assert_msg(s->p, "%s", err);
	ck_assert_msg(si_boot(&s->k, &s->sv, s->p, ncpus, true, err, sizeof(err)) == 0, "%s", err);
	s->built = true;
}

/* Side A pauses and saves its PMU. */
static void save(void)
{
	atomic_store(&A.sv.vm.state, VM_PAUSED);
	ck_assert_msg(pmu_snap_save(A.p, &w, err, sizeof(err)) == 0, "%s", err);
	ck_assert(!w.oom);
}

/* Side B, a new process: the pmu for the snapshot, the VM built up to its
 * first KVM_RUN. Returns what pmu_new_for_snapshot() did (0 or -1). */
static int make_b(struct cfg_pmu c, int ncpus, bool fallback, const void *state, size_t len)
{
	fh_probe(&B.fh, &B.host);
	B.p = pmu_new_for_snapshot(&c, &B.host, state, len, fallback, err, sizeof(err));
	if (!B.p)
		return -1;
	ck_assert_msg(si_build(&B.k, &B.sv, B.p, ncpus, true, err, sizeof(err)) == 0, "%s", err);
	B.built = true;
	return 0;
}

static void restore_b(struct cfg_pmu c, int ncpus, bool fallback)
{
	ck_assert_msg(make_b(c, ncpus, fallback, w.buf, w.len) == 0, "%s", err);
	ck_assert_msg(pmu_snap_restore(B.p, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	si_start(&B.k, &B.sv);
}

static void wr(struct side *s, int v, uint32_t msr, uint64_t val)
{
	ck_assert_msg(si_guest_msr(&s->sv, v, msr, true, &val) == 0, "wrmsr 0x%x", msr);
}

static uint64_t rd(struct side *s, int v, uint32_t msr)
{
	uint64_t val = 0;
	ck_assert_msg(si_guest_msr(&s->sv, v, msr, false, &val) == 0, "rdmsr 0x%x", msr);
	return val;
}

/* The guest runs `ns` of CPU time on vCPU v, then re-enters KVM_RUN. */
static void guest_runs(struct side *s, int v, uint64_t ns)
{
	s->k.cpu_ns[v] += ns;
	s->sv.vm.hooks.before_run(s->sv.vm.hooks.opaque, &s->sv.vcpus[v]);
}

static cJSON *report(struct side *s)
{
	char *r = pmu_report_json(s->p);
	cJSON *j = cJSON_Parse(r);
	free(r);
	ck_assert_ptr_nonnull(j);
	return j;
}

static const char *counter_json(struct side *s, int v, const char *arr, int i, char *buf, size_t len)
{
	char *r = pmu_counters_json(s->p);
	cJSON *j = cJSON_Parse(r);
	cJSON *vc = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vcpus"), v);
	cJSON *x = cJSON_GetArrayItem(cJSON_GetObjectItem(vc, arr), i);
	snprintf(buf, len, "%s", x && cJSON_IsString(x) ? x->valuestring : "(none)");
	cJSON_Delete(j);
	free(r);
	return buf;
}

/* ---- soft ---- */

START_TEST(standin_kernel_soft_counters_continue_monotonically_in_a_new_process)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	host_no_pmu(&A);
	boot(&A, c, 2);
	wr(&A, 0, MSR_IA32_PERFEVTSEL0, CYCLES);
	wr(&A, 0, MSR_CORE_PERF_FIXED_CTR_CTRL, 0x30); /* fixed 1: core cycles */
	wr(&A, 1, MSR_IA32_PERFEVTSEL0 + 1, CYCLES | 0x100);
	guest_runs(&A, 0, 1000000); /* 1 ms at 2 GHz */
	guest_runs(&A, 1, 3000);
	A.k.cpu_ns[0] += 250; /* ran a little more, then was paused: counted at the save */
	save();
	ck_assert_uint_eq(rd(&A, 0, MSR_IA32_PMC0), 2000500);

	/* The new process's vCPU threads have their own clocks. */
	host_no_pmu(&B);
	B.k.cpu_ns[0] = 777;
	B.k.cpu_ns[1] = 5;
	ck_assert_msg(make_b(c, 2, false, w.buf, w.len) == 0, "%s", err);
	B.k.cpu_ns[0] += 5000; /* the clock need not stand still until the restore */
	ck_assert_msg(pmu_snap_restore(B.p, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	si_start(&B.k, &B.sv);
	ck_assert_uint_eq(rd(&B, 0, MSR_IA32_PMC0), 2000500);
	ck_assert_uint_eq(rd(&B, 0, MSR_CORE_PERF_FIXED_CTR0 + 1), 2000500);
	ck_assert_uint_eq(rd(&B, 0, MSR_IA32_PERFEVTSEL0), CYCLES);
	ck_assert_uint_eq(rd(&B, 1, MSR_IA32_PMC0 + 1), 6000);
	ck_assert_uint_eq(rd(&B, 0, MSR_CORE_PERF_GLOBAL_CTRL), 0x70000000fULL);
	/* From here on only the new clock counts. */
	guest_runs(&B, 0, 1000);
	ck_assert_uint_eq(rd(&B, 0, MSR_IA32_PMC0), 2002500);
	guest_runs(&B, 1, 10);
	ck_assert_uint_eq(rd(&B, 1, MSR_IA32_PMC0 + 1), 6020);
	/* GET /pmu/counters goes on from where it was. */
	char b[32];
	ck_assert_str_eq(counter_json(&B, 0, "counters", 0, b, sizeof(b)), "0x1e8e44");
	cJSON *j = report(&B);
	cJSON *rf = cJSON_GetObjectItem(j, "restored_from");
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "mode")->valuestring, "soft");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(rf, "fallback")));
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "counters")->valuestring, "restored");
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(j, "why")->valuestring, "restored from a snapshot"));
	cJSON_Delete(j);
}
END_TEST

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };
	nanosleep(&ts, NULL);
}

START_TEST(standin_kernel_soft_pmi_programmed_before_the_snapshot_arrives_after_restore)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	host_no_pmu(&A);
	boot(&A, c, 1);
	wr(&A, 0, MSR_IA32_PMC0, (uint64_t)-2000); /* 2000 cycles to overflow */
	wr(&A, 0, MSR_IA32_PERFEVTSEL0, CYCLES | EVTSEL_INT);
	guest_runs(&A, 0, 600); /* 1200 cycles: 800 to go */
	save();

	host_no_pmu(&B);
	B.k.lvtpc = 0xf0;
	restore_b(c, 1, false); /* before_run: the overflow timer is armed */
	ck_assert_int_eq(B.k.nmsi, 0);
	for (int i = 0; i < 200 && !atomic_load(&B.k.kicks); i++)
		sleep_ms(1);
	ck_assert_int_ge(atomic_load(&B.k.kicks), 1); /* the timer kicks the vCPU */
	guest_runs(&B, 0, 399); /* 798 cycles: not yet */
	ck_assert_int_eq(B.k.nmsi, 0);
	guest_runs(&B, 0, 1);
	ck_assert_int_eq(B.k.nmsi, 1);
	ck_assert_uint_eq(B.k.msi.data, 0xf0);
	ck_assert_uint_eq(rd(&B, 0, MSR_CORE_PERF_GLOBAL_STATUS), 1);
	ck_assert_uint_eq(rd(&B, 0, MSR_IA32_PMC0), 0);
}
END_TEST

START_TEST(standin_kernel_soft_overflow_pending_at_the_save_is_delivered_after_restore)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	host_no_pmu(&A);
	boot(&A, c, 1);
	wr(&A, 0, MSR_IA32_PMC0, (uint64_t)-100);
	wr(&A, 0, MSR_IA32_PERFEVTSEL0, CYCLES | EVTSEL_INT);
	A.k.cpu_ns[0] += 100; /* wrapped while the VM was being paused */
	save();

	host_no_pmu(&B);
	B.k.lvtpc = 0x400; /* NMI */
	restore_b(c, 1, false);
	ck_assert_int_eq(B.k.nnmi, 1);
	ck_assert_uint_eq(rd(&B, 0, MSR_CORE_PERF_GLOBAL_STATUS), 1);
}
END_TEST

/* PUT /pmu/filter replaced the config's filter before the save: the guest
 * ran under that one, and does again. */
START_TEST(standin_kernel_soft_filter_in_force_at_the_save_comes_back)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	host_no_pmu(&A);
	boot(&A, c, 1);
	struct cfg_pmu_filter deny = { .set = true, .action = CFG_FILTER_DENY, .nevents = 1 };
	deny.events[0] = (struct cfg_pmu_event){ .event_select = 0x3c, .unit_mask = 0 };
	ck_assert_msg(pmu_set_filter(A.p, &deny, err, sizeof(err)) == 0, "%s", err);
	wr(&A, 0, MSR_IA32_PERFEVTSEL0, CYCLES);
	wr(&A, 0, MSR_IA32_PERFEVTSEL0 + 1, CYCLES | 0x100);
	save();

	host_no_pmu(&B);
	restore_b(c, 1, false);
	guest_runs(&B, 0, 1000);
	ck_assert_uint_eq(rd(&B, 0, MSR_IA32_PMC0), 0); /* denied */
	ck_assert_uint_eq(rd(&B, 0, MSR_IA32_PMC0 + 1), 2000);
	cJSON *j = report(&B);
	cJSON *f = cJSON_GetObjectItem(j, "filter");
	ck_assert_str_eq(cJSON_GetObjectItem(f, "action")->valuestring, "deny");
	cJSON_Delete(j);
}
END_TEST

START_TEST(standin_kernel_soft_snapshot_on_a_host_without_soft_refused_or_falls_back_to_off)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	host_no_pmu(&A);
	boot(&A, c, 1);
	wr(&A, 0, MSR_IA32_PERFEVTSEL0, CYCLES);
	guest_runs(&A, 0, 1000);
	save();

	host_no_pmu(&B);
	B.fh.kvm.cap_msr_filter = 0; /* a kernel before 5.10 */
	ck_assert_int_eq(make_b(c, 1, false, w.buf, w.len), -1);
	ck_assert_msg(strstr(err, "snapshot has PMU mode soft, which this host cannot give:"), "%s", err);
	ck_assert_msg(strstr(err, "MSR_FILTER"), "the probe's reason: %s", err);
	ck_assert_msg(strstr(err, PMU_SNAP_FALLBACK_HINT " mode off"), "%s", err);

	ck_assert_msg(make_b(c, 1, true, w.buf, w.len) == 0, "%s", err);
	ck_assert_msg(pmu_snap_restore(B.p, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(pmu_mode(B.p), PMU_MODE_OFF);
	cJSON *j = report(&B);
	cJSON *rf = cJSON_GetObjectItem(j, "restored_from");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(rf, "fallback")));
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "mode")->valuestring, "soft");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(rf, "guest_pmu"), "gp_counters")->valueint, 4);
	const char *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(rf, "changes"), 0)->valuestring;
	ck_assert_msg(strstr(ch, "mode soft -> off: this host cannot give it"), "%s", ch);
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "counters")->valuestring, "dropped: the PMU is off here");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "off");
	cJSON_Delete(j);
}
END_TEST

/* ---- legacy and mediated: the MSRs KVM keeps ---- */

/* Guest state as KVM would hold it after the guest programmed its PMU. */
static void intel_guest_state(struct side *s, int v)
{
	*si_msr(&s->k, v, MSR_IA32_PMC0, true) = 0x123456789aULL;
	*si_msr(&s->k, v, MSR_IA32_PERFEVTSEL0, true) = CYCLES | EVTSEL_INT;
	*si_msr(&s->k, v, MSR_IA32_PMC0 + 7, true) = 77;
	*si_msr(&s->k, v, MSR_CORE_PERF_FIXED_CTR0 + 1, true) = 99;
	*si_msr(&s->k, v, MSR_CORE_PERF_FIXED_CTR_CTRL, true) = 0x30;
	*si_msr(&s->k, v, MSR_CORE_PERF_GLOBAL_CTRL, true) = 0x2000000ffULL;
	*si_msr(&s->k, v, MSR_CORE_PERF_GLOBAL_STATUS, true) = 1;
}

static uint64_t kmsr(struct side *s, int v, uint32_t idx)
{
	uint64_t *p = si_msr(&s->k, v, idx, false);
	return p ? *p : 0xdeadbeef;
}

START_TEST(standin_kernel_legacy_msrs_restored_counters_stopped_first_controls_last)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	host_intel(&A, 8, "N");
	boot(&A, c, 2);
	intel_guest_state(&A, 1);
	save();

	host_intel(&B, 8, "N");
	restore_b(c, 2, false);
	ck_assert_uint_eq(kmsr(&B, 1, MSR_IA32_PMC0), 0x123456789aULL);
	ck_assert_uint_eq(kmsr(&B, 1, MSR_IA32_PERFEVTSEL0), CYCLES | EVTSEL_INT);
	ck_assert_uint_eq(kmsr(&B, 1, MSR_IA32_PMC0 + 7), 77);
	ck_assert_uint_eq(kmsr(&B, 1, MSR_CORE_PERF_FIXED_CTR0 + 1), 99);
	ck_assert_uint_eq(kmsr(&B, 1, MSR_CORE_PERF_FIXED_CTR_CTRL), 0x30);
	ck_assert_uint_eq(kmsr(&B, 1, MSR_CORE_PERF_GLOBAL_CTRL), 0x2000000ffULL);
	ck_assert_uint_eq(kmsr(&B, 1, MSR_CORE_PERF_GLOBAL_STATUS), 1);
	ck_assert_uint_eq(kmsr(&B, 0, MSR_IA32_PMC0), 0);
	/* Stopped before anything is set, started after everything is. */
	int stop = si_find(&B.k, "vcpu1 SET_MSRS(0x38f=0x0)");
	int pmc = si_find(&B.k, "vcpu1 SET_MSRS(0xc1=0x123456789a)");
	int status = si_find(&B.k, "vcpu1 SET_MSRS(0x38e=0x1)");
	int start = si_find(&B.k, "vcpu1 SET_MSRS(0x38f=0x2000000ff)");
	ck_assert_int_ge(stop, 0);
	ck_assert_int_lt(stop, pmc);
	ck_assert_int_lt(pmc, status);
	ck_assert_int_lt(status, start);
	ck_assert_int_lt(si_find(&B.k, "vcpu1 SET_MSRS(0x38d=0x0)"), pmc);
	/* All before the first KVM_RUN. */
	ck_assert_int_lt(start, si_find(&B.k, "vcpu0 RUN"));
	/* GET /pmu/counters reads the same (the VM not yet running). */
	atomic_store(&B.sv.vm.state, VM_PAUSED);
	char *r = pmu_counters_json(B.p);
	cJSON *j = cJSON_Parse(r);
	cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vcpus"), 1), "msrs");
	ck_assert_str_eq(cJSON_GetObjectItem(m, "IA32_PMC0")->valuestring, "0x123456789a");
	cJSON_Delete(j);
	free(r);
}
END_TEST

START_TEST(standin_kernel_amd_mediated_msrs_round_trip)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	host_amd(&A);
	boot(&A, c, 1);
	*si_msr(&A.k, 0, 0xc0010201, true) = 0xfffffff0ULL; /* PERF_CTR0 */
	*si_msr(&A.k, 0, 0xc0010200, true) = 0x53003c;       /* PERF_CTL0 */
	*si_msr(&A.k, 0, 0xc001020b, true) = 5;              /* PERF_CTR5 */
	*si_msr(&A.k, 0, 0xc0000301, true) = 0x3f;           /* GLOBAL_CTL */
	*si_msr(&A.k, 0, 0xc0000300, true) = 0x2;            /* GLOBAL_STATUS */
	save();

	host_amd(&B);
	restore_b(c, 1, false);
	ck_assert_uint_eq(kmsr(&B, 0, 0xc0010201), 0xfffffff0ULL);
	ck_assert_uint_eq(kmsr(&B, 0, 0xc0010200), 0x53003c);
	ck_assert_uint_eq(kmsr(&B, 0, 0xc001020b), 5);
	ck_assert_uint_eq(kmsr(&B, 0, 0xc0000301), 0x3f);
	ck_assert_uint_eq(kmsr(&B, 0, 0xc0000300), 0x2);
	ck_assert_int_lt(si_find(&B.k, "vcpu0 SET_MSRS(0xc0000301=0x0)"),
			 si_find(&B.k, "vcpu0 SET_MSRS(0xc0010201=0xfffffff0)"));
	ck_assert_int_eq(si_find(&B.k, "vcpu0 SET_MSRS(0xc0010004=0x0)"), -1); /* F15h MSRs, not K7 */
}
END_TEST

START_TEST(standin_kernel_mediated_snapshot_on_a_legacy_host_refused_or_falls_back)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_AUTO);
	host_intel(&A, 8, "Y");
	boot(&A, c, 1);
	ck_assert_int_eq(pmu_mode(A.p), PMU_MODE_MEDIATED);
	intel_guest_state(&A, 0);
	save();

	/* "auto" would give legacy there: the snapshot pins mediated. */
	host_intel(&B, 8, "N");
	ck_assert_int_eq(make_b(c, 1, false, w.buf, w.len), -1);
	ck_assert_msg(strstr(err, "snapshot has PMU mode mediated, which this host cannot give:"), "%s", err);
	ck_assert_msg(strstr(err, "enable_mediated_pmu"), "the probe's reason: %s", err);
	ck_assert_msg(strstr(err, PMU_SNAP_FALLBACK_HINT " mode legacy"), "%s", err);

	ck_assert_msg(make_b(c, 1, true, w.buf, w.len) == 0, "%s", err);
	ck_assert_int_eq(pmu_mode(B.p), PMU_MODE_LEGACY);
	ck_assert_msg(pmu_snap_restore(B.p, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	/* Both are KVM's Intel PMU of the same shape: the counters move. */
	ck_assert_uint_eq(kmsr(&B, 0, MSR_IA32_PMC0), 0x123456789aULL);
	ck_assert_uint_eq(kmsr(&B, 0, MSR_CORE_PERF_GLOBAL_CTRL), 0x2000000ffULL);
	cJSON *j = report(&B);
	cJSON *rf = cJSON_GetObjectItem(j, "restored_from");
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "mode")->valuestring, "mediated");
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "requested")->valuestring, "auto");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(rf, "fallback")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(rf, "state_restored")));
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "counters")->valuestring, "restored");
	const char *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(rf, "changes"), 0)->valuestring;
	ck_assert_msg(strstr(ch, "mode mediated -> legacy"), "%s", ch);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "legacy");
	cJSON_Delete(j);
}
END_TEST

START_TEST(standin_kernel_fewer_counters_here_refused_or_the_rest_dropped)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	host_intel(&A, 8, "N");
	boot(&A, c, 1);
	intel_guest_state(&A, 0);
	save();

	host_intel(&B, 6, "N");
	ck_assert_int_eq(make_b(c, 1, false, w.buf, w.len), -1);
	ck_assert_msg(strstr(err, "pmu.gp_counters: 8 asked, but the host has 6"), "%s", err);
	ck_assert_msg(strstr(err, "mode legacy"), "%s", err);

	ck_assert_msg(make_b(c, 1, true, w.buf, w.len) == 0, "%s", err);
	ck_assert_msg(pmu_snap_restore(B.p, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(kmsr(&B, 0, MSR_IA32_PMC0), 0x123456789aULL);
	ck_assert_uint_eq(kmsr(&B, 0, MSR_IA32_PMC0 + 7), 0xdeadbeef); /* never written */
	cJSON *j = report(&B);
	cJSON *rf = cJSON_GetObjectItem(j, "restored_from");
	const char *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(rf, "changes"), 0)->valuestring;
	ck_assert_msg(strstr(ch, "gp_counters 8 -> 6"), "%s", ch);
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "counters")->valuestring,
			 "restored, except 4 MSR values this host's PMU does not have or refused");
	cJSON_Delete(j);
}
END_TEST

/* pmu_snap_check() on a pmu made by plain pmu_new(): the mode differs. */
START_TEST(standin_kernel_check_refuses_another_mode_with_the_probes_reason)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_MEDIATED);
	host_intel(&A, 8, "Y");
	boot(&A, c, 1);
	save();

	host_intel(&B, 8, "N");
	fh_probe(&B.fh, &B.host);
	struct cfg_pmu l = cfg_mode(CFG_PMU_LEGACY);
	B.p = pmu_new(&l, &B.host, err, sizeof(err));
	ck_assert_msg(B.p, "%s", err);
	ck_assert_int_eq(pmu_snap_check(B.p, w.buf, w.len, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "snapshot has PMU mode mediated; mode mediated -> legacy: this host cannot give it: "),
		      "%s", err);
	ck_assert_msg(strstr(err, "enable_mediated_pmu"), "%s", err);
	ck_assert_msg(strstr(err, "accept mode legacy"), "%s", err);
	/* However short the caller's buffer, the way out is in it. */
	char small[200];
	ck_assert_int_eq(pmu_snap_check(B.p, w.buf, w.len, false, small, sizeof(small)), -1);
	ck_assert_msg(strstr(small, "snapshot has PMU mode mediated; mode mediated -> legacy"), "%s", small);
	ck_assert_msg(strstr(small, "; " PMU_SNAP_FALLBACK_HINT " mode legacy"), "%s", small);
	ck_assert_msg(pmu_snap_check(B.p, w.buf, w.len, true, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(standin_kernel_restore_names_the_msr_kvm_refuses)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	host_intel(&A, 8, "N");
	boot(&A, c, 1);
	/* An event select with bits KVM reserves (the stand-in refuses it
	 * as KVM does): the snapshot's value, not this host's. */
	*si_msr(&A.k, 0, MSR_IA32_PERFEVTSEL0 + 2, true) = 1ULL << 40;
	save();

	host_intel(&B, 8, "N");
	ck_assert_msg(make_b(c, 1, false, w.buf, w.len) == 0, "%s", err);
	ck_assert_int_eq(pmu_snap_restore(B.p, w.buf, w.len, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "vCPU 0: KVM_SET_MSRS refused IA32_PERFEVTSEL2 (0x188) = 0x10000000000"), "%s", err);
}
END_TEST

/* KVM's PMU for the vCPU is not the one its CPUID describes (here: none):
 * the save fails naming where KVM_GET_MSRS stopped, rather than saving
 * made-up zeroes. */
START_TEST(standin_kernel_save_names_the_msr_kvm_does_not_have)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	host_intel(&A, 8, "N");
	boot(&A, c, 1);
	A.k.vpmu = VPMU_NONE;
	atomic_store(&A.sv.vm.state, VM_PAUSED);
	ck_assert_int_eq(pmu_snap_save(A.p, &w, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "vCPU 0: KVM_GET_MSRS stopped at IA32_PMC0 (0xc1), 0 of 23 PMU MSRs read"),
		      "%s", err);
}
END_TEST

START_TEST(standin_kernel_off_round_trip)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_OFF);
	host_intel(&A, 8, "Y");
	boot(&A, c, 2);
	save();
	host_intel(&B, 8, "Y");
	restore_b(c, 2, false);
	ck_assert_int_eq(pmu_mode(B.p), PMU_MODE_OFF);
	ck_assert_int_ge(si_find(&B.k, "ENABLE_CAP(PMU_CAPABILITY,DISABLE)"), 0);
	cJSON *j = report(&B);
	cJSON *rf = cJSON_GetObjectItem(j, "restored_from");
	ck_assert_str_eq(cJSON_GetObjectItem(rf, "counters")->valuestring, "none: the snapshot's PMU was off");
	cJSON_Delete(j);
}
END_TEST

/* ---- corrupt and hostile sections ---- */

/* Offset of the payload of the n-th section `tag`, and its length. */
static size_t payload(const struct snap_w *s, const char *tag, unsigned n, size_t *len)
{
	size_t off = 0;
	while (off + 16 <= s->len) {
		uint64_t sz;
		memcpy(&sz, s->buf + off + 8, 8);
		if (!memcmp(s->buf + off, tag, 4) && n-- == 0) {
			*len = (size_t)sz;
			return off + 16;
		}
		off += 16 + (size_t)sz;
	}
	ck_abort_msg("no section %s", tag);
	return 0;
}

/* The stream with section (tag, n) cut to `keep` bytes of payload. */
static uint8_t *cut(const struct snap_w *s, const char *tag, unsigned n, size_t keep, size_t *outlen)
{
	size_t plen, at = payload(s, tag, n, &plen);
	uint8_t *b = malloc(s->len);
	memcpy(b, s->buf, at + keep);
	uint64_t k = keep;
	memcpy(b + at - 8, &k, 8);
	memcpy(b + at + keep, s->buf + at + plen, s->len - at - plen);
	*outlen = s->len - (plen - keep);
	return b;
}

/* Side B as a new process again, on the same host. */
static void reset_b(void)
{
	if (B.p && B.built)
		B.sv.vm.hooks.destroy(B.sv.vm.hooks.opaque, &B.sv.vm);
	pmu_free(B.p);
	B.p = NULL;
	B.built = false;
	enum si_host h = B.k.host;
	uint64_t caps = B.k.perf_caps_supported;
	memset(&B.k, 0, sizeof(B.k));
	B.k.host = h;
	B.k.perf_caps_supported = caps;
}

/* Restoring a stream on side B (its host set up) must fail, naming `what`;
 * even a fallback does not take corrupt state. */
static void refused(const void *state, size_t len, struct cfg_pmu c, int ncpus, const char *what)
{
	reset_b();
	int rc = make_b(c, ncpus, true, state, len);
	if (rc == 0)
		rc = pmu_snap_restore(B.p, state, len, err, sizeof(err));
	ck_assert_msg(rc == -1, "accepted: %s", what);
	ck_assert_msg(strstr(err, what), "expected \"%s\" in: %s", what, err);
}

static void every_cut_refused(struct cfg_pmu c, int ncpus)
{
	const char *tags[] = { "PMU_", "PMUV" };
	for (int t = 0; t < 2; t++)
		for (unsigned n = 0; n < (t ? (unsigned)ncpus : 1); n++) {
			size_t plen;
			payload(&w, tags[t], n, &plen);
			for (size_t keep = 0; keep < plen; keep++) {
				size_t len;
				uint8_t *b = cut(&w, tags[t], n, keep, &len);
				refused(b, len, c, ncpus, tags[t]);
				free(b);
			}
		}
	/* The whole stream cut anywhere. */
	for (size_t len = 0; len < w.len; len++)
		refused(w.buf, len, c, ncpus, "snapshot");
}

START_TEST(standin_kernel_truncation_at_every_length_is_refused_soft)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	host_no_pmu(&A);
	boot(&A, c, 2);
	struct cfg_pmu_filter deny = { .set = true, .action = CFG_FILTER_DENY, .nevents = 2 };
	ck_assert_msg(pmu_set_filter(A.p, &deny, err, sizeof(err)) == 0, "%s", err);
	save();
	host_no_pmu(&B);
	every_cut_refused(c, 2);
}
END_TEST

START_TEST(standin_kernel_truncation_at_every_length_is_refused_legacy)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	host_intel(&A, 8, "N");
	boot(&A, c, 1);
	intel_guest_state(&A, 0);
	save();
	host_intel(&B, 8, "N");
	every_cut_refused(c, 1);
}
END_TEST

/* A copy of the saved stream with one byte (or u32) changed. */
static uint8_t *patched(const char *tag, unsigned n, size_t at, const void *val, size_t vlen)
{
	size_t plen, p = payload(&w, tag, n, &plen);
	ck_assert_uint_le(at + vlen, plen);
	uint8_t *b = malloc(w.len);
	memcpy(b, w.buf, w.len);
	memcpy(b + p + at, val, vlen);
	return b;
}

static void refused_patch(struct cfg_pmu c, int ncpus, const char *tag, unsigned n, size_t at,
			  uint32_t val, size_t vlen, const char *what)
{
	uint8_t *b = patched(tag, n, at, &val, vlen);
	refused(b, w.len, c, ncpus, what);
	free(b);
}

START_TEST(standin_kernel_hostile_soft_values_are_refused)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_SOFT);
	host_no_pmu(&A);
	boot(&A, c, 2);
	save();
	host_no_pmu(&B);
	/* PMU_: mode, mode requested, the why string's length. */
	refused_patch(c, 2, "PMU_", 0, 0, 9, 1, "a PMU mode out of range");
	refused_patch(c, 2, "PMU_", 0, 1, 200, 1, "a configured PMU mode out of range");
	refused_patch(c, 2, "PMU_", 0, 2, 0xfffffff0u, 4, "PMU_");
	refused_patch(c, 2, "PMU_", 0, 6, 0xff, 1, "a mode reason that is not UTF-8 text");
	/* PMUV of vCPU 1: its index, its kind, counter counts (at 14, 15). */
	refused_patch(c, 2, "PMUV", 1, 0, 7, 4, "vCPU sections out of order");
	refused_patch(c, 2, "PMUV", 1, 4, 2, 1, "vCPU state of another PMU mode");
	refused_patch(c, 2, "PMUV", 1, 14, 200, 1, "counter counts that differ from the PMU's shape");
	refused_patch(c, 2, "PMUV", 1, 15, 9, 1, "counter counts that differ from the PMU's shape");
	/* Event select 0 (at 16): reserved bit 32; PMC0 (at 24) beyond 48 bits. */
	refused_patch(c, 2, "PMUV", 0, 20, 1, 1, "an event select with reserved bits set");
	refused_patch(c, 2, "PMUV", 0, 31, 1, 1, "a counter value wider than the counter");
	/* vCPU 1's error is named after vCPU 1. */
	refused_patch(c, 2, "PMUV", 1, 31, 1, 1, "vCPU 1: snapshot section PMUV");
	/* The snapshot of a 2-vCPU VM into a 1-vCPU VM. */
	refused(w.buf, w.len, c, 1, "the PMU state is of 2 vCPUs, this VM has 1");
	/* The shape (after mode 1, requested 1, why 4 + len, fell_back 1): the
	 * soft model has at most 8 GP counters. */
	size_t plen, whylen;
	size_t p = payload(&w, "PMU_", 0, &plen);
	uint32_t wl;
	memcpy(&wl, w.buf + p + 2, 4);
	whylen = wl;
	refused_patch(c, 2, "PMU_", 0, 2 + 4 + whylen + 1 + 2, 9, 1, "a soft PMU shape the model cannot have");
	refused_patch(c, 2, "PMU_", 0, 2 + 4 + whylen + 1 + 0, 7, 1, "a CPU vendor out of range");
}
END_TEST

START_TEST(standin_kernel_hostile_msr_values_are_refused)
{
	struct cfg_pmu c = cfg_mode(CFG_PMU_LEGACY);
	host_intel(&A, 8, "N");
	boot(&A, c, 1);
	save();
	host_intel(&B, 8, "N");
	/* PMUV: index 4, kind 1, count 4 bytes at 5, then (u32 index, u64). */
	refused_patch(c, 1, "PMUV", 0, 5, 1000000000u, 4, "a PMU MSR count that differs from the PMU's shape");
	refused_patch(c, 1, "PMUV", 0, 5, 3, 4, "a PMU MSR count that differs");
	refused_patch(c, 1, "PMUV", 0, 9, 0x10, 4, "a PMU MSR the shape does not have");
	refused_patch(c, 1, "PMUV", 0, 4, 1, 1, "vCPU state of another PMU mode");
	/* More PMUV sections than PMU_ says. */
	struct snap_w two;
	snap_w_init(&two);
	snap_put_bytes(&two, w.buf, w.len);
	size_t plen, p = payload(&w, "PMUV", 0, &plen);
	snap_put_bytes(&two, w.buf + p - 16, plen + 16);
	refused(two.buf, two.len, c, 1, "speaks of 1 vCPUs but the snapshot holds 2 PMUV sections");
	snap_w_free(&two);
	/* A section version this mpvm does not know. */
	uint8_t *b = malloc(w.len);
	memcpy(b, w.buf, w.len);
	b[4] = 2;
	refused(b, w.len, c, 1, "snapshot section PMU_ is version 2");
	free(b);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pmu_snapshot");
	TCase *t = tcase_create("standin_kernel_snapshot");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, standin_kernel_soft_counters_continue_monotonically_in_a_new_process);
	tcase_add_test(t, standin_kernel_soft_pmi_programmed_before_the_snapshot_arrives_after_restore);
	tcase_add_test(t, standin_kernel_soft_overflow_pending_at_the_save_is_delivered_after_restore);
	tcase_add_test(t, standin_kernel_soft_filter_in_force_at_the_save_comes_back);
	tcase_add_test(t, standin_kernel_soft_snapshot_on_a_host_without_soft_refused_or_falls_back_to_off);
	tcase_add_test(t, standin_kernel_legacy_msrs_restored_counters_stopped_first_controls_last);
	tcase_add_test(t, standin_kernel_amd_mediated_msrs_round_trip);
	tcase_add_test(t, standin_kernel_mediated_snapshot_on_a_legacy_host_refused_or_falls_back);
	tcase_add_test(t, standin_kernel_fewer_counters_here_refused_or_the_rest_dropped);
	tcase_add_test(t, standin_kernel_check_refuses_another_mode_with_the_probes_reason);
	tcase_add_test(t, standin_kernel_restore_names_the_msr_kvm_refuses);
	tcase_add_test(t, standin_kernel_save_names_the_msr_kvm_does_not_have);
	tcase_add_test(t, standin_kernel_off_round_trip);
	tcase_add_test(t, standin_kernel_truncation_at_every_length_is_refused_soft);
	tcase_add_test(t, standin_kernel_truncation_at_every_length_is_refused_legacy);
	tcase_add_test(t, standin_kernel_hostile_soft_values_are_refused);
	tcase_add_test(t, standin_kernel_hostile_msr_values_are_refused);
	suite_add_tcase(su, t);
	return run_suite(su);
}
