/* A VMM without KVM for the API fuzzers: the router and the HTTP server run
 * for real, every effect on a VM or a file is a fake that only flips the
 * state the API reads back (started, paused). Reset before each input so
 * that an input's result does not depend on the ones before it.
 */
#ifndef MPVM_FUZZ_FAKES_H
#define MPVM_FUZZ_FAKES_H

#include <string.h>

#include "api/api.h"
#include "mmds/store.h"
#include "builder/vmm.h"

static struct vmm fz_vmm;

static int fz_start(struct vmm *v, char *err, size_t errlen)
{
	if (vm_config_validate(&v->cfg, err, errlen))
		return -1;
	v->started = true;
	atomic_store(&v->vm.state, VM_RUNNING);
	return 0;
}

static int fz_pause(struct vmm *v, char *err, size_t errlen)
{
	atomic_store(&v->vm.state, VM_PAUSED);
	return 0;
}

static int fz_resume(struct vmm *v, char *err, size_t errlen)
{
	atomic_store(&v->vm.state, VM_RUNNING);
	return 0;
}

static int fz_ok(struct vmm *v, char *err, size_t errlen) { return 0; }
static int fz_logger(struct vmm *v, const struct cfg_logger *l, char *err, size_t errlen)
{
	return 0;
}
static int fz_metrics(struct vmm *v, const char *path, char *err, size_t errlen) { return 0; }
static int fz_filter(struct vmm *v, const void *f, char *err, size_t errlen) { return 0; }
static void fz_stop(struct vmm *v) {}

static const struct api_ops fz_ops = {
	.instance_start = fz_start,
	.pause = fz_pause,
	.resume = fz_resume,
	.ctrl_alt_del = fz_ok,
	.set_logger = fz_logger,
	.set_metrics = fz_metrics,
	.set_pmu_filter = fz_filter,
	.stop = fz_stop,
};

static void fz_reset(void)
{
	static bool inited;
	if (inited)
		vm_config_free(&fz_vmm.cfg);
	memset(&fz_vmm, 0, sizeof(fz_vmm));
	vm_config_init(&fz_vmm.cfg);
	mmds_reset(); /* each input starts with no MMDS store */
	inited = true;
}

#endif
