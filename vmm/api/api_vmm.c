/* What the API does to the real VMM (api_vmm_ops): each action is a call
 * of the VMM interface (builder/vmm.h); tests and fuzzers fake this table.
 * Called on the main thread from api.c's handlers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/metrics.h"
#include "base/err.h"
#include "builder/vmm.h"
#include "core/log.h"

static int instance_start(struct vmm *v, char *err, size_t errlen)
{
	if (vmm_build(v, err, errlen))
		return -1;
	return vmm_start(v, err, errlen) ? -1 : 0;
}

static int state_error(int rc, char *err, size_t errlen)
{
	if (rc == -ESHUTDOWN)
		err_set(err, errlen, "the microVM is shutting down");
	else if (rc == -EIO)
		err_set(err, errlen, "a device could not complete its in-flight I/O (see the log); "
				      "the microVM keeps running");
	else
		err_set(err, errlen, "the microVM is not running (%s)", strerror(-rc));
	return -1;
}

static int pause_vm(struct vmm *v, char *err, size_t errlen)
{
	int rc = vmm_pause(v);
	if (rc)
		return state_error(rc, err, errlen);
	log_info("paused (API)");
	return 0;
}

static int resume_vm(struct vmm *v, char *err, size_t errlen)
{
	int rc = vmm_resume(v);
	if (rc)
		return state_error(rc, err, errlen);
	log_info("resumed (API)");
	return 0;
}

static int ctrl_alt_del(struct vmm *v, char *err, size_t errlen)
{
	return vmm_ctrl_alt_del(v, err, errlen);
}

static int set_logger(struct vmm *v, const struct cfg_logger *l, char *err, size_t errlen)
{
	int rc = log_set_path(l->log_path);
	if (rc) {
		return err_set(err, errlen, "logger.log_path: cannot open %s: %s", l->log_path, strerror(-rc));
	}
	log_set_level((enum log_level)l->level);
	log_set_format(l->show_level, l->show_log_origin);
	return 0;
}

static int set_metrics(struct vmm *v, const char *path, char *err, size_t errlen)
{
	return metrics_open(v, path, err, errlen);
}

static int set_pmu_filter(struct vmm *v, const void *filter, char *err, size_t errlen)
{
	return vmm_set_pmu_filter(v, filter, err, errlen);
}

static void stop(struct vmm *v)
{
	vmm_stop(v);
}

static int update_drive(struct vmm *v, const struct cfg_drive *d, char *err, size_t errlen)
{
	return vmm_update_drive(v, d, err, errlen);
}

static int balloon_target(struct vmm *v, uint32_t mib, char *err, size_t errlen)
{
	return vmm_balloon_target(v, mib, err, errlen);
}

static int balloon_interval(struct vmm *v, uint32_t seconds, char *err, size_t errlen)
{
	return vmm_balloon_interval(v, seconds, err, errlen);
}

static char *balloon_stats(struct vmm *v, char *err, size_t errlen)
{
	return vmm_balloon_stats_json(v, err, errlen);
}

static int snapshot_create(struct vmm *v, const struct cfg_snapshot_req *s, char *err,
			   size_t errlen)
{
	return vmm_snapshot_create(v, s, err, errlen);
}

static int snapshot_load(struct vmm *v, const struct cfg_snapshot_req *s, char *err,
			 size_t errlen)
{
	return vmm_snapshot_load(v, s, err, errlen) ? -1 : 0;
}

const struct api_ops api_vmm_ops = {
	.instance_start = instance_start,
	.pause = pause_vm,
	.resume = resume_vm,
	.ctrl_alt_del = ctrl_alt_del,
	.set_logger = set_logger,
	.set_metrics = set_metrics,
	.set_pmu_filter = set_pmu_filter,
	.update_drive = update_drive,
	.balloon_target = balloon_target,
	.balloon_interval = balloon_interval,
	.balloon_stats = balloon_stats,
	.snapshot_create = snapshot_create,
	.snapshot_load = snapshot_load,
	.stop = stop,
};
