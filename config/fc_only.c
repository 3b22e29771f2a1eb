/* Firecracker's resources and fields that mpvm does not implement. Each is
 * checked as Firecracker's swagger defines it, so a typo is still named as
 * one, and then refused with the feature it needs; a value that asks for
 * nothing (null, [], a cpu-config without modifiers, the "None" template)
 * is accepted, so Firecracker's own example files load unchanged. The
 * words for every missing feature live here (cfg_fc_missing). */
#include "config/config_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const missing[] = {
	[CFG_FC_BALLOON_HINTING] = "free page hinting is not supported by mpvm yet (Firecracker "
				   "feature: virtio-balloon free page hinting; free_page_reporting "
				   "is supported)",
	[CFG_FC_CPU_CONFIG] = "custom CPU templates (cpuid, MSR, register or KVM capability "
			      "modifiers) are not supported by mpvm yet (Firecracker feature: "
			      "cpu-config)",
	[CFG_FC_CPU_TEMPLATE] = "static CPU templates are not supported by mpvm yet "
				"(Firecracker feature: machine-config.cpu_template); use \"None\"",
	[CFG_FC_PMEM] = "virtio-pmem devices are not supported by mpvm yet "
			"(Firecracker feature: pmem)",
	[CFG_FC_MEM_HOTPLUG] = "memory hotplug is not supported by mpvm yet "
			       "(Firecracker feature: virtio-mem, /hotplug/memory)",
	[CFG_FC_VHOST_USER_BLK] = "vhost-user block devices are not supported by mpvm yet "
				  "(Firecracker feature: drives[].socket)",
	[CFG_FC_NET_MTU] = "advertising an MTU to the guest is not supported by mpvm yet "
			   "(Firecracker feature: VIRTIO_NET_F_MTU)",
	[CFG_FC_LOG_MODULE] = "filtering the log by module is not supported by mpvm yet "
			      "(Firecracker feature: logger.module)",
	[CFG_FC_SERIAL_LIMITER] = "rate limiting the serial console is not supported by mpvm "
				  "yet (Firecracker feature: serial rate_limiter)",
	[CFG_FC_NET_UPDATE] = "updating a running network interface is not supported by mpvm "
			      "yet (Firecracker feature: PATCH /network-interfaces)",
};

const char *cfg_fc_missing(enum cfg_fc_feature f)
{
	return (unsigned)f < sizeof(missing) / sizeof(missing[0]) && missing[f] ? missing[f]
										 : "?";
}

int cfg_fail_missing(struct jerr *e, const char *path, const char *key, enum cfg_fc_feature f)
{
	return jg_fail(e, path, key, "%s", cfg_fc_missing(f));
}

/* The array `key` of modifiers: each a string (a KVM capability, "!121")
 * or an object (a cpuid, MSR or register modifier); *n is their count. */
static int entries(const cJSON *j, const char *path, const char *key, size_t *n, struct jerr *e)
{
	const cJSON *arr;
	char p[JG_PATH_LEN], got[64];
	size_t i = 0;
	int r = jg_array(j, path, key, 0, 4096, "entries", &arr, e);

	*n = 0;
	if (r <= 0)
		return r;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		jg_subpath(p, sizeof(p), path, key);
		if (!cJSON_IsString(it) && !cJSON_IsObject(it)) {
			jg_index(p + strlen(p), sizeof(p) - strlen(p), "", i);
			jg_describe(it, got, sizeof(got));
			return jg_fail(e, p, NULL, "expected a string or an object, got %s", got);
		}
	}
	*n = i;
	return 0;
}

/* cpu-config: accepted when it modifies nothing. */
static int sec_cpu_config(const cJSON *j, const char *path, struct jerr *e)
{
	static const char *const keys[] = {"kvm_capabilities", "cpuid_modifiers", "msr_modifiers",
					   "reg_modifiers", "vcpu_features", NULL};
	size_t total = 0;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	for (const char *const *k = keys; *k; k++) {
		size_t n;

		if (entries(j, path, *k, &n, e))
			return -1;
		total += n;
	}
	return total ? cfg_fail_missing(e, path, NULL, CFG_FC_CPU_CONFIG) : 0;
}

static int sec_pmem(const cJSON *j, const char *path, struct jerr *e)
{
	static const char *const keys[] = {"id", "path_on_host", "root_device", "read_only",
					   "rate_limiter", NULL};
	struct cfg_rate_limiter rl;
	char *s = NULL;
	bool b;
	int rc;

	rc = jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	     jg_str(j, path, "id", JG_REQUIRED | JG_NONEMPTY, &s, e) < 0 ||
	     jg_str(j, path, "path_on_host", JG_REQUIRED | JG_NONEMPTY, &s, e) < 0 ||
	     jg_bool(j, path, "root_device", 0, &b, e) < 0 ||
	     jg_bool(j, path, "read_only", 0, &b, e) < 0 ||
	     sec_rate_limiter(j, path, "rate_limiter", &rl, e);
	free(s);
	return rc ? -1 : cfg_fail_missing(e, path, NULL, CFG_FC_PMEM);
}

static int sec_memory_hotplug(const cJSON *j, const char *path, struct jerr *e)
{
	static const char *const keys[] = {"total_size_mib", "slot_size_mib", "block_size_mib",
					   NULL};
	uint64_t v;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    jg_uint(j, path, "total_size_mib", 0, 0, CFG_MAX_MEM_MIB, &v, e) < 0 ||
	    jg_uint(j, path, "slot_size_mib", 0, 128, CFG_MAX_MEM_MIB, &v, e) < 0 ||
	    jg_uint(j, path, "block_size_mib", 0, 2, CFG_MAX_MEM_MIB, &v, e) < 0)
		return -1;
	return cfg_fail_missing(e, path, NULL, CFG_FC_MEM_HOTPLUG);
}

/* The config file's "pmem": an array of devices, [] asks for none. */
static int sec_pmem_list(const cJSON *j, const char *path, struct jerr *e)
{
	char p[JG_PATH_LEN], got[64];

	if (!cJSON_IsArray(j)) {
		jg_describe(j, got, sizeof(got));
		return jg_fail(e, path, NULL, "expected an array, got %s", got);
	}
	if (!j->child)
		return 0;
	jg_index(p, sizeof(p), path, 0);
	return sec_pmem(j->child, p, e);
}

static const struct {
	const char *name;
	int (*fn)(const cJSON *j, const char *path, struct jerr *e);
	int (*file_fn)(const cJSON *j, const char *path, struct jerr *e); /* NULL: fn */
} fc_only[] = {
	{"cpu-config", sec_cpu_config, NULL},
	{"pmem", sec_pmem, sec_pmem_list},
	{"memory-hotplug", sec_memory_hotplug, NULL},
};
#define N_FC_ONLY (sizeof(fc_only) / sizeof(fc_only[0]))

int cfg_fc_only_sections(const cJSON *root, struct jerr *e)
{
	for (size_t i = 0; i < N_FC_ONLY; i++) {
		const cJSON *j = jg_get(root, fc_only[i].name);
		int (*fn)(const cJSON *, const char *, struct jerr *) =
			fc_only[i].file_fn ? fc_only[i].file_fn : fc_only[i].fn;

		if (j && fn(j, fc_only[i].name, e))
			return -1;
	}
	return 0;
}

int cfg_check_fc_only(const char *resource, const char *json, char *err, size_t errlen)
{
	struct jerr e = {err, errlen};
	cJSON *j;
	int rc = -1;

	for (size_t i = 0; i < N_FC_ONLY; i++) {
		if (strcmp(resource, fc_only[i].name))
			continue;
		if (jg_parse_object(json, resource, &j, &e))
			return -1;
		rc = fc_only[i].fn(j, resource, &e);
		cJSON_Delete(j);
		return rc;
	}
	return jg_fail(&e, resource, NULL, "not a Firecracker resource mpvm knows");
}
