/* What the front ends do to a VM and read from it (see builder/vmm.h): the
 * only place outside the build itself where the VMM reaches into a device or
 * the PMU on a front end's behalf. Main thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "builder/vmm.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/setup.h"
#include "pmu/pmu.h"
#include "pmu/probe.h"

enum vmm_state vmm_state(const struct vmm *v)
{
	if (!v->started)
		return VMM_NOT_STARTED;
	return atomic_load(&v->vm.state) == VM_PAUSED ? VMM_PAUSED : VMM_RUNNING;
}

void vmm_stop(struct vmm *v)
{
	if (v->started) {
		vm_request_exit(&v->vm, 0, "stopped through the API (StopVmm)");
	} else {
		v->vm.exit_status = 0;
		ev_stop(v->loop);
	}
}

int vmm_ctrl_alt_del(struct vmm *v, char *err, size_t errlen)
{
	if (!v->i8042) {
		return err_set(err, errlen, "the microVM has no i8042 keyboard controller");
	}
	int rc = i8042_send_ctrl_alt_del(v->i8042);
	if (rc) {
		return err_set(err, errlen, "the keyboard buffer is full (%s); the guest is not reading "
				      "its keyboard, try again later", strerror(-rc));
	}
	return 0;
}

int vmm_update_drive(struct vmm *v, const struct cfg_drive *d, char *err, size_t errlen)
{
	struct virtio_dev *dev = virtio_find_drive(v->virtio, d->drive_id);
	if (!dev) {
		return err_set(err, errlen, "drive %s: no such block device in the running VM", d->drive_id);
	}
	return virtio_blk_update(dev, d->path_on_host, &d->rate_limiter, err, errlen);
}

static struct virtio_dev *running_balloon(struct vmm *v, char *err, size_t errlen)
{
	struct virtio_dev *d = virtio_find_kind(v->virtio, VIRTIO_KIND_BALLOON);
	if (!d)
		err_set(err, errlen, "No balloon device is configured");
	return d;
}

int vmm_balloon_target(struct vmm *v, uint32_t mib, char *err, size_t errlen)
{
	struct virtio_dev *d = running_balloon(v, err, errlen);
	return d ? virtio_balloon_set_target(d, mib, err, errlen) : -1;
}

int vmm_balloon_interval(struct vmm *v, uint32_t seconds, char *err, size_t errlen)
{
	struct virtio_dev *d = running_balloon(v, err, errlen);
	return d ? virtio_balloon_set_interval(d, seconds, err, errlen) : -1;
}

char *vmm_balloon_stats_json(struct vmm *v, char *err, size_t errlen)
{
	struct virtio_dev *d = running_balloon(v, err, errlen);
	struct balloon_stats st;
	if (!d)
		return NULL;
	virtio_balloon_stats(d, &st);
	if (!st.stats_enabled) {
		err_set(err, errlen, "Statistics for the balloon device are not enabled "
			"(stats_polling_interval_s was 0 at start)");
		return NULL;
	}
	cJSON *o = cJSON_CreateObject();
	if (!o) {
		err_set(err, errlen, "out of memory");
		return NULL;
	}
	cJSON_AddNumberToObject(o, "target_pages", st.target_pages);
	cJSON_AddNumberToObject(o, "actual_pages", st.actual_pages);
	cJSON_AddNumberToObject(o, "target_mib", st.target_pages / 256);
	cJSON_AddNumberToObject(o, "actual_mib", st.actual_pages / 256);
	for (int i = 0; i < BALLOON_NSTATS; i++)
		if (st.stat[i] >= 0)
			cJSON_AddNumberToObject(o, balloon_stat_names[i], (double)st.stat[i]);
	/* mpvm's own: pages handed back to the host since start. */
	cJSON_AddNumberToObject(o, "mpvm_discarded_pages", (double)st.discarded_pages);
	cJSON_AddNumberToObject(o, "mpvm_reported_pages", (double)st.reported_pages);
	char *json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!json)
		err_set(err, errlen, "out of memory");
	return json;
}

int vmm_set_pmu_filter(struct vmm *v, const struct cfg_pmu_filter *f, char *err, size_t errlen)
{
	if (!v->pmu) {
		return err_set(err, errlen, "this microVM has no PMU module attached");
	}
	return pmu_set_filter(v->pmu, f, err, errlen);
}

int vmm_pmu_json(struct vmm *v, enum vmm_pmu_report which, char **json, char *err,
		 size_t errlen)
{
	*json = NULL;
	if (which == VMM_PMU_HOST && v->pmu_host) {
		/* The probe the PMU mode was decided on. */
		*json = pmu_host_json(v->pmu_host);
	} else if (which == VMM_PMU_HOST) {
		/* Before InstanceStart: what the VM would get if started now. */
		struct pmu_host *h = malloc(sizeof(*h));
		if (h) {
			pmu_probe(h, NULL);
			*json = pmu_host_json(h);
			free(h);
		}
	} else if (!v->pmu) {
		err_set(err, errlen, v->started
			? "this microVM has no PMU module attached"
			: "the guest PMU is set up by InstanceStart; until then GET /vm/config shows "
			   "the configured \"pmu\" section and GET /pmu/host what this host offers");
		return -EINVAL;
	} else {
		*json = which == VMM_PMU_STATE ? pmu_report_json(v->pmu) : pmu_counters_json(v->pmu);
	}
	if (!*json) {
		err_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static const char *vcpu_state(const struct vm *vm, const struct vcpu *c)
{
	if (!atomic_load(&c->started))
		return "not started";
	if (atomic_load(&vm->exit_requested))
		return "exiting";
	return atomic_load(&c->parked) ? "paused" : "running";
}

char *vmm_vcpus_json(struct vmm *v)
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

/* Exit counts summed over vCPUs (per-vCPU detail is GET /vcpus). */
static void add_vcpus(cJSON *root, struct vmm *v)
{
	cJSON *vc = cJSON_AddObjectToObject(root, "vcpu");
	if (!vc)
		return;
	uint32_t n = v->started ? v->vm.nvcpus : 0;
	cJSON_AddNumberToObject(vc, "count", n);
	cJSON *ex = cJSON_AddObjectToObject(vc, "exits");
	for (int s = 0; ex && s < VSTAT_COUNT; s++) {
		uint64_t sum = 0;
		for (uint32_t i = 0; i < n; i++)
			sum += atomic_load(&v->vm.vcpus[i].stats[s]);
		cJSON_AddNumberToObject(ex, vcpu_stat_names[s], (double)sum);
	}
}

void vmm_metrics_add(struct vmm *v, cJSON *root)
{
	add_vcpus(root, v);
	if (v->pmu) {
		char *pj = pmu_metrics_json(v->pmu);
		cJSON *p = pj ? cJSON_Parse(pj) : NULL;
		free(pj);
		if (p)
			cJSON_AddItemToObject(root, "pmu", p);
	}
	/* Device counters, Firecracker-style: "uart", "block_<id>", "net_<id>", "entropy". */
	if (v->serial) {
		cJSON *u = cJSON_AddObjectToObject(root, "uart");
		if (u)
			cJSON_AddNumberToObject(u, "output_dropped_bytes",
						(double)serial_output_dropped(v->serial));
	}
	if (v->virtio)
		virtio_metrics_add(v->virtio, root);
}

int vmm_pmu_probe_main(int argc, char **argv)
{
	return pmu_probe_main(argc, argv);
}
