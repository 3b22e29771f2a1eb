/* Internal to the API (api.c routes, api_vmm.c reads the VM): the reports
 * that come from the running VM rather than from the config.
 */
#ifndef MPVM_API_INT_H
#define MPVM_API_INT_H

#include <stddef.h>

struct vmm;

enum api_pmu_report { API_PMU_STATE, API_PMU_COUNTERS, API_PMU_HOST };

/* GET /vcpus: {"vcpus": [{"id", "thread_id", "state", "exits": {...}}]}.
 * malloc'd; NULL if out of memory. */
char *api_vcpus_json(struct vmm *v);
/* GET /pmu, /pmu/counters, /pmu/host. Returns an HTTP status: 200 with
 * *json set (malloc'd), or an error status with `err` set. */
int api_pmu_json(struct vmm *v, enum api_pmu_report which, char **json, char *err,
		 size_t errlen);

#endif
