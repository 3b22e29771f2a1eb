/* What the API does to the real VMM (api_vmm_ops) and the reports it reads
 * from the running VM. Called on the main thread from api.c's handlers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/api_int.h"
#include "devices/i8042.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/setup.h"
#include "core/log.h"
#include "api/metrics.h"
#include "pmu/pmu.h"
#include "pmu/probe.h"
#include "builder/vmm.h"

static int instance_start(struct vmm *v, char *err, size_t errlen)
{
	if (vmm_build(v, err, errlen))
		return -1;
	return vmm_start(v, err, errlen) ? -1 : 0;
}

static int state_error(int rc, char *err, size_t errlen)
{
	if (rc == -ESHUTDOWN)
		snprintf(err, errlen, "the microVM is shutting down");
	else if (rc == -EIO)
		snprintf(err, errlen, "a device could not complete its in-flight I/O (see the log); "
				      "the microVM keeps running");
	else
		snprintf(err, errlen, "the microVM is not running (%s)", strerror(-rc));
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
	if (!v->i8042) {
		snprintf(err, errlen, "the microVM has no i8042 keyboard controller");
		return -1;
	}
	int rc = i8042_send_ctrl_alt_del(v->i8042);
	if (rc) {
		snprintf(err, errlen, "the keyboard buffer is full (%s); the guest is not reading "
				      "its keyboard, try again later", strerror(-rc));
		return -1;
	}
	return 0;
}

static int set_logger(struct vmm *v, const struct cfg_logger *l, char *err, size_t errlen)
{
	int rc = log_set_path(l->log_path);
	if (rc) {
		snprintf(err, errlen, "logger.log_path: cannot open %s: %s", l->log_path, strerror(-rc));
		return -1;
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
	if (!v->pmu) {
		snprintf(err, errlen, "this microVM has no PMU module attached");
		return -1;
	}
	return pmu_set_filter(v->pmu, filter, err, errlen);
}

static void stop(struct vmm *v)
{
	if (v->started) {
		vm_request_exit(&v->vm, 0, "stopped through the API (StopVmm)");
	} else {
		v->vm.exit_status = 0;
		ev_stop(v->loop);
	}
}

static int update_drive(struct vmm *v, const struct cfg_drive *d, char *err, size_t errlen)
{
	struct virtio_dev *dev = virtio_find_drive(v->virtio, d->drive_id);
	if (!dev) {
		snprintf(err, errlen, "drive %s: no such block device in the running VM", d->drive_id);
		return -1;
	}
	return virtio_blk_update(dev, d->path_on_host, &d->rate_limiter, err, errlen);
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
	.stop = stop,
};

static const char *vcpu_state(const struct vm *vm, const struct vcpu *c)
{
	if (!atomic_load(&c->started))
		return "not started";
	if (atomic_load(&vm->exit_requested))
		return "exiting";
	return atomic_load(&c->parked) ? "paused" : "running";
}

char *api_vcpus_json(struct vmm *v)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "vcpus");
	for (uint32_t i = 0; arr && v->started && i < v->vm.nvcpus; i++) {
		struct vcpu *c = &v->vm.vcpus[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o))
			break;
		cJSON_AddNumberToObject(o, "id", c->id);
		int tid = atomic_load(&c->tid);
		if (tid > 0) /* null until the thread has started */
			cJSON_AddNumberToObject(o, "thread_id", tid);
		else
			cJSON_AddNullToObject(o, "thread_id");
		cJSON_AddStringToObject(o, "state", vcpu_state(&v->vm, c));
		cJSON *ex = cJSON_AddObjectToObject(o, "exits");
		for (int s = 0; ex && s < VSTAT_COUNT; s++)
			cJSON_AddNumberToObject(ex, vcpu_stat_names[s],
						(double)atomic_load(&c->stats[s]));
	}
	char *s = arr ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	return s;
}

int api_pmu_json(struct vmm *v, enum api_pmu_report which, char **json, char *err,
		 size_t errlen)
{
	*json = NULL;
	if (which == API_PMU_HOST && v->pmu_host) {
		/* The probe the PMU mode was decided on. */
		*json = pmu_host_json(v->pmu_host);
	} else if (which == API_PMU_HOST) {
		/* Before InstanceStart: what the VM would get if started now. */
		struct pmu_host *h = malloc(sizeof(*h));
		if (h) {
			pmu_probe(h, NULL);
			*json = pmu_host_json(h);
			free(h);
		}
	} else if (!v->pmu) {
		snprintf(err, errlen, v->started
			 ? "this microVM has no PMU module attached"
			 : "the guest PMU is set up by InstanceStart; until then GET /vm/config shows "
			   "the configured \"pmu\" section and GET /pmu/host what this host offers");
		return 400;
	} else {
		*json = which == API_PMU_STATE ? pmu_report_json(v->pmu) : pmu_counters_json(v->pmu);
	}
	if (!*json) {
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	return 200;
}
