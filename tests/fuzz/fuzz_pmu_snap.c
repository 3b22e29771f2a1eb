/* libFuzzer: the PMU's snapshot sections (pmu/snapshot.c), which a restore
 * reads from a snapshot file anyone may have edited. Input: one byte of
 * setup (bits 1:0 the restoring PMU: soft on a host without a PMU, legacy
 * Intel, mediated AMD, off; bit 2 allow_fallback; bits 4:3 vCPUs - 1), then
 * a state stream (sections PMU_ and PMUV, tests/fuzz/gen_seeds.py writes
 * valid ones), into pmu_new_for_snapshot() and pmu_snap_restore() on the
 * stand-in kernel of the unit tests (tests/unit/pmu/pmu_standin.h).
 *
 * Oracles: a refusal has a message in valid UTF-8; an accepted state gives a
 * GET /pmu and GET /pmu/counters that parse as JSON in valid UTF-8; saving
 * the restored PMU and restoring that into a fresh one (same host, no
 * fallback) is accepted and saves the same per-vCPU state byte for byte.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/snap.h"
#include "base/utf8.h"
#include "fuzz_check.h"
#include "pmu/pmu.h"
#include "../unit/pmu/pmu_standin.h"
#include "../unit/pmu/pmu_test_hosts.h"

enum { H_SOFT, H_LEGACY, H_MEDIATED_AMD, H_OFF, H_COUNT };

static struct fake_host fh[H_COUNT];
static struct pmu_host hosts[H_COUNT];

static void cleanup(void)
{
	for (int i = 0; i < H_COUNT; i++)
		fh_cleanup(&fh[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fh_no_pmu(&fh[H_SOFT]);
	fh_intel(&fh[H_LEGACY], 5, 8, 48, 3, 48, "N", 0);
	fh_amd_zen4(&fh[H_MEDIATED_AMD], "Y", 0);
	fh_intel(&fh[H_OFF], 5, 8, 48, 3, 48, "Y", 0);
	for (int i = 0; i < H_COUNT; i++)
		fh_probe(&fh[i], &hosts[i]);
	atexit(cleanup);
	return 0;
}

static const enum cfg_pmu_mode cfg_of[H_COUNT] = { CFG_PMU_SOFT, CFG_PMU_LEGACY, CFG_PMU_MEDIATED,
						   CFG_PMU_OFF };
static const enum si_host si_of[H_COUNT] = { SI_NO_PMU, SI_LEGACY, SI_MEDIATED, SI_MEDIATED };

struct side {
	struct standin k;
	struct si_vm sv;
	struct pmu *p;
};

static void side_free(struct side *s)
{
	if (!s->p)
		return;
	if (s->sv.vm.hooks.destroy)
		s->sv.vm.hooks.destroy(s->sv.vm.hooks.opaque, &s->sv.vm);
	pmu_free(s->p);
	s->p = NULL;
}

static void check_text(const char *s)
{
	CHECK(s && s[0] && utf8_check(s, strlen(s), NULL, 0) == 0);
}

static void check_json(char *s)
{
	CHECK(s);
	check_text(s);
	cJSON *j = cJSON_Parse(s);
	CHECK(j);
	cJSON_Delete(j);
	free(s);
}

/* A new process on host h restores `state`: 0, or -1 with err set. */
static int restore(struct side *s, int h, int ncpus, bool fallback, const void *state, size_t len,
		   char *err, size_t errlen)
{
	struct cfg_pmu c;
	memset(&c, 0, sizeof(c));
	c.mode = cfg_of[h];
	c.version = c.gp_counters = c.fixed_counters = c.gp_width = c.fixed_width = -1;
	memset(s, 0, sizeof(*s));
	s->k.host = si_of[h];
	s->k.perf_caps_supported = 0x2000 | 0x4 | (1u << 15);
	s->p = pmu_new_for_snapshot(&c, &hosts[h], state, len, fallback, err, errlen);
	if (!s->p)
		return -1;
	/* The host took the snapshot's PMU: building the VM cannot fail. */
	CHECK(si_build(&s->k, &s->sv, s->p, ncpus, true, err, errlen) == 0);
	return pmu_snap_restore(s->p, state, len, err, errlen);
}

/* The PMUV sections of two streams are equal. */
static bool same_vcpus(const struct snap_w *a, const struct snap_w *b, int ncpus)
{
	for (int i = 0; i < ncpus; i++) {
		struct snap_r x, y;
		if (snap_section_find(a->buf, a->len, "PMUV", (unsigned)i, &x, NULL, 0) ||
		    snap_section_find(b->buf, b->len, "PMUV", (unsigned)i, &y, NULL, 0))
			return false;
		if (x.len != y.len || memcmp(x.p, y.p, x.len))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int h = data[0] & 3, ncpus = 1 + ((data[0] >> 3) & 3);
	bool fallback = data[0] & 4;
	data++, size--;

	static struct side a, b;
	char err[2048] = "";
	int rc = restore(&a, h, ncpus, fallback, data, size, err, sizeof(err));
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", rc ? err : "restored");
	if (rc) {
		check_text(err);
		side_free(&a);
		return 0;
	}
	check_json(pmu_report_json(a.p));
	atomic_store(&a.sv.vm.state, VM_PAUSED);
	check_json(pmu_counters_json(a.p));

	struct snap_w w1, w2;
	snap_w_init(&w1);
	snap_w_init(&w2);
	CHECK(pmu_snap_save(a.p, &w1, err, sizeof(err)) == 0);
	CHECK(restore(&b, h, ncpus, false, w1.buf, w1.len, err, sizeof(err)) == 0);
	atomic_store(&b.sv.vm.state, VM_PAUSED);
	CHECK(pmu_snap_save(b.p, &w2, err, sizeof(err)) == 0);
	CHECK(same_vcpus(&w1, &w2, ncpus));
	snap_w_free(&w1);
	snap_w_free(&w2);
	side_free(&a);
	side_free(&b);
	return 0;
}
