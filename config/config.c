/* vm_config lifetime, the whole-file loader and the per-section entry points
 * the API uses. Every entry point parses into a private copy of the whole
 * config and commits only on success, so a failed parse leaves the config as
 * it was. */
#include "base/err.h"
#include "base/utf8.h"
#include "config/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_FILE_BYTES (4u << 20) /* far above any real config */

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	cfg_machine_defaults(&c->machine);
	cfg_logger_defaults(&c->logger);
	c->serial.kind = CFG_SERIAL_STDIO;
	cfg_pmu_defaults(&c->pmu);
	cfg_debug_defaults(&c->debug);
}

/* Calls fn on every owned string of c, so free and copy cannot miss one. */
static void for_each_string(struct vm_config *c, void (*fn)(char **s, bool *ok), bool *ok)
{
	fn(&c->boot.kernel_image_path, ok);
	fn(&c->boot.boot_args, ok);
	fn(&c->boot.initrd_path, ok);
	for (int i = 0; i < CFG_MAX_DRIVES; i++) {
		fn(&c->drives[i].drive_id, ok);
		fn(&c->drives[i].path_on_host, ok);
		fn(&c->drives[i].partuuid, ok);
	}
	for (int i = 0; i < CFG_MAX_NETS; i++) {
		fn(&c->nets[i].iface_id, ok);
		fn(&c->nets[i].host_dev_name, ok);
	}
	for (int i = 0; i < CFG_MAX_NETS; i++)
		fn(&c->mmds.ifaces[i], ok);
	fn(&c->vsock.uds_path, ok);
	fn(&c->vsock.vsock_id, ok);
	fn(&c->logger.log_path, ok);
	fn(&c->metrics.metrics_path, ok);
	fn(&c->serial.path, ok);
}

static void free_one(char **s, bool *ok)
{
	(void)ok;
	free(*s);
	*s = NULL;
}

static void dup_one(char **s, bool *ok)
{
	if (*s && !(*s = strdup(*s)))
		*ok = false; /* left NULL: the copy stays freeable */
}

void vm_config_free(struct vm_config *c)
{
	bool ok = true;

	for_each_string(c, free_one, &ok);
}

int vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	bool ok = true;

	*dst = *src;
	for_each_string(dst, dup_one, &ok);
	if (!ok) {
		vm_config_free(dst);
		return -1;
	}
	return 0;
}

/* Replace c's whole config by tmp's (tmp is consumed either way). */
static int commit(struct vm_config *c, struct vm_config *tmp, int rc)
{
	if (rc) {
		vm_config_free(tmp);
		return -1;
	}
	vm_config_free(c);
	*c = *tmp;
	return 0;
}

/* Each put_* resets one section of `t` (freeing its strings) to what a PUT
 * starts from, then parses j into it. `t` is always a scratch copy of the
 * config that commit() installs only when everything parsed: that is how a
 * failure changes nothing, for one section as for a whole file. */
static int put_boot(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	cfg_boot_free(&t->boot);
	return sec_boot(j, path, &t->boot, e);
}

static int put_machine(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	cfg_machine_defaults(&t->machine);
	return sec_machine(j, path, false, &t->machine, e);
}

/* PATCH keeps the fields the body leaves out. */
static int patch_machine(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	return sec_machine(j, path, true, &t->machine, e);
}

static int put_entropy(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	t->entropy = (struct cfg_entropy){0};
	return sec_entropy(j, path, &t->entropy, e);
}

static int put_balloon(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	t->balloon = (struct cfg_balloon){0};
	return sec_balloon(j, path, &t->balloon, e);
}

static int put_vsock(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	free(t->vsock.uds_path);
	free(t->vsock.vsock_id);
	t->vsock = (struct cfg_vsock){0};
	return sec_vsock(j, path, &t->vsock, e);
}

static int put_logger(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	free(t->logger.log_path);
	cfg_logger_defaults(&t->logger);
	return sec_logger(j, path, &t->logger, e);
}

static int put_metrics(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	free(t->metrics.metrics_path);
	t->metrics = (struct cfg_metrics){0};
	return sec_metrics(j, path, &t->metrics, e);
}

static int put_serial(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	free(t->serial.path);
	t->serial = (struct cfg_serial){.kind = CFG_SERIAL_STDIO};
	return sec_serial(j, path, &t->serial, e);
}

static int put_debug(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	cfg_debug_defaults(&t->debug);
	return sec_debug(j, path, &t->debug, e);
}

/* After the network interfaces it names (the file loads those first). */
static int put_mmds(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	return sec_mmds_config(j, path, &t->mmds, e) || cfg_check_mmds(t, path, e);
}

static int put_pmu(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e)
{
	cfg_pmu_defaults(&t->pmu);
	return sec_pmu(j, path, &t->pmu, e);
}

/* The file's "drives" array replaces the whole list; ids must be unique. */
static int load_drives(struct vm_config *t, const cJSON *root, struct jerr *e)
{
	const cJSON *arr;
	char p[JG_PATH_LEN];
	size_t i = 0;
	int r = jg_array(root, "", "drives", 0, CFG_MAX_DRIVES, "drives", &arr, e);

	if (r <= 0)
		return r;
	for (uint32_t k = 0; k < t->ndrives; k++)
		cfg_drive_free(&t->drives[k]);
	t->ndrives = 0;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		struct cfg_drive d;

		jg_index(p, sizeof(p), "drives", i);
		cfg_drive_defaults(&d);
		if (sec_drive(it, p, &d, e) ||
		    cfg_check_unique_id(d.drive_id, cfg_find_drive(t, d.drive_id), p, "drive_id", e) ||
		    cfg_put_drive(t, &d, p, &cfg_json_keys, e)) {
			cfg_drive_free(&d);
			return -1;
		}
	}
	return 0;
}

static int load_nets(struct vm_config *t, const cJSON *root, struct jerr *e)
{
	const cJSON *arr;
	char p[JG_PATH_LEN];
	size_t i = 0;
	int r = jg_array(root, "", "network-interfaces", 0, CFG_MAX_NETS, "network interfaces",
			 &arr, e);

	if (r <= 0)
		return r;
	for (uint32_t k = 0; k < t->nnets; k++)
		cfg_net_free(&t->nets[k]);
	t->nnets = 0;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		struct cfg_net n = {0};

		jg_index(p, sizeof(p), "network-interfaces", i);
		if (sec_net(it, p, &n, e) ||
		    cfg_check_unique_id(n.iface_id, cfg_find_net(t, n.iface_id), p, "iface_id", e) ||
		    cfg_put_net(t, &n, p, &cfg_json_keys, e)) {
			cfg_net_free(&n);
			return -1;
		}
	}
	return 0;
}

typedef int (*put_fn)(struct vm_config *t, const cJSON *j, const char *path, struct jerr *e);

static int put_if_present(struct vm_config *t, const cJSON *root, const char *key, put_fn fn,
			  struct jerr *e)
{
	const cJSON *j = jg_get(root, key);

	return j ? fn(t, j, key, e) : 0;
}

int vm_config_load_json(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	/* Firecracker's keys, then mpvm's own. */
	static const char *const keys[] = {"boot-source", "machine-config", "drives",
					   "network-interfaces", "entropy", "logger", "metrics",
					   "mmds-config", "balloon", "vsock", "cpu-config", "pmem",
					   "memory-hotplug", "pmu", "serial", "debug", NULL};
	struct jerr e = {err, errlen};
	struct vm_config tmp;
	cJSON *root;
	int rc;

	if (jg_parse_object(json, "", &root, &e))
		return -1;
	if (vm_config_copy(&tmp, c)) {
		cJSON_Delete(root);
		return jg_fail(&e, "", NULL, "out of memory");
	}
	rc = jg_check_keys(root, "", keys, &e) ||
	     put_if_present(&tmp, root, "boot-source", put_boot, &e) ||
	     put_if_present(&tmp, root, "machine-config", put_machine, &e) ||
	     load_drives(&tmp, root, &e) || load_nets(&tmp, root, &e) ||
	     put_if_present(&tmp, root, "entropy", put_entropy, &e) ||
	     put_if_present(&tmp, root, "vsock", put_vsock, &e) ||
	     put_if_present(&tmp, root, "balloon", put_balloon, &e) ||
	     put_if_present(&tmp, root, "logger", put_logger, &e) ||
	     put_if_present(&tmp, root, "metrics", put_metrics, &e) ||
	     put_if_present(&tmp, root, "mmds-config", put_mmds, &e) ||
	     cfg_check_mmds(&tmp, "mmds-config", &e) || cfg_fc_only_sections(root, &e) ||
	     put_if_present(&tmp, root, "pmu", put_pmu, &e) ||
	     put_if_present(&tmp, root, "serial", put_serial, &e) ||
	     put_if_present(&tmp, root, "debug", put_debug, &e);
	cJSON_Delete(root);
	return commit(c, &tmp, rc);
}

int vm_config_load_file(struct vm_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf, *msg;
	size_t n;
	int rc;

	if (!f) {
		return err_set(err, errlen, "%s: %s", path, strerror(errno));
	}
	buf = malloc(CFG_MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		return err_set(err, errlen, "%s: out of memory", path);
	}
	n = fread(buf, 1, CFG_MAX_FILE_BYTES + 1, f);
	if (ferror(f) || n > CFG_MAX_FILE_BYTES) {
		err_set(err, errlen, "%s: %s", path,
			ferror(f) ? strerror(errno) : "larger than 4 MiB, not a config file");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[n] = 0;
	if ((msg = memchr(buf, 0, n))) {
		err_set(err, errlen, "%s: contains a NUL byte at offset %zu, not a JSON text", path,
			(size_t)(msg - buf));
		free(buf);
		return -1;
	}
	rc = vm_config_load_json(c, buf, err, errlen);
	free(buf);
	if (rc && errlen && (msg = strdup(err))) {
		err_set(err, errlen, "%s: %s", path, msg);
		free(msg);
	}
	return rc;
}

/* Text -> object -> put into a copy -> commit: every single-section entry
 * point. */
static int parse_section(struct vm_config *c, const char *json, const char *path, put_fn fn,
			 char *err, size_t errlen)
{
	struct jerr e = {err, errlen};
	struct vm_config tmp;
	cJSON *j;
	int rc;

	if (jg_parse_object(json, path, &j, &e))
		return -1;
	if (vm_config_copy(&tmp, c)) {
		cJSON_Delete(j);
		return jg_fail(&e, path, NULL, "out of memory");
	}
	rc = fn(&tmp, j, path, &e);
	cJSON_Delete(j);
	return commit(c, &tmp, rc);
}

int cfg_parse_boot_source(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "boot-source", put_boot, err, errlen);
}

int cfg_parse_balloon(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "balloon", put_balloon, err, errlen);
}

/* One unsigned field of a PATCH body, nothing else. */
static int parse_one_uint(const char *json, const char *what, const char *key, uint64_t max,
			  uint64_t *out, char *err, size_t errlen)
{
	const char *const keys[] = {key, NULL};
	struct jerr e = {err, errlen};
	cJSON *root;
	int rc;

	if (jg_parse_object(json, what, &root, &e))
		return -1;
	rc = jg_check_keys(root, what, keys, &e) ||
	     jg_uint(root, what, key, JG_REQUIRED, 0, max, out, &e) < 0;
	cJSON_Delete(root);
	return rc ? -1 : 0;
}

int cfg_parse_balloon_amount(const char *json, uint32_t *mib, char *err, size_t errlen)
{
	uint64_t v;
	if (parse_one_uint(json, "balloon", "amount_mib", UINT32_MAX, &v, err, errlen))
		return -1;
	*mib = (uint32_t)v;
	return 0;
}

int cfg_parse_balloon_interval(const char *json, uint32_t *seconds, char *err, size_t errlen)
{
	uint64_t v;
	if (parse_one_uint(json, "balloon", "stats_polling_interval_s", UINT16_MAX, &v, err, errlen))
		return -1;
	*seconds = (uint32_t)v;
	return 0;
}

int cfg_parse_vsock(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "vsock", put_vsock, err, errlen);
}

int cfg_parse_entropy(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "entropy", put_entropy, err, errlen);
}

int cfg_parse_logger(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "logger", put_logger, err, errlen);
}

int cfg_parse_metrics(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "metrics", put_metrics, err, errlen);
}

int cfg_parse_serial(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "serial", put_serial, err, errlen);
}

int cfg_parse_debug(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "debug", put_debug, err, errlen);
}

int cfg_parse_mmds_config(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "mmds-config", put_mmds, err, errlen);
}

int cfg_parse_pmu(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	return parse_section(c, json, "pmu", put_pmu, err, errlen);
}

int cfg_parse_machine(struct vm_config *c, const char *json, bool partial, char *err,
		      size_t errlen)
{
	return parse_section(c, json, "machine-config", partial ? patch_machine : put_machine, err,
			     errlen);
}

int cfg_parse_pmu_filter(struct cfg_pmu_filter *f, const char *json, char *err, size_t errlen)
{
	struct jerr e = {err, errlen};
	struct cfg_pmu_filter tmp;
	cJSON *j;
	int rc;

	if (jg_parse_object(json, "pmu.filter", &j, &e))
		return -1;
	rc = sec_pmu_filter(j, "pmu.filter", &tmp, &e);
	cJSON_Delete(j);
	if (!rc)
		*f = tmp;
	return rc;
}

int cfg_parse_choice(const char *json, const char *what, const char *key,
		     const char *const *names, int *out, char *err, size_t errlen)
{
	const char *const keys[] = {key, NULL};
	struct jerr e = {err, errlen};
	char *v = NULL, list[160] = "";
	size_t n = 0;
	cJSON *j;
	int rc;

	if (jg_parse_object(json, what, &j, &e))
		return -1;
	rc = jg_check_keys(j, what, keys, &e) || jg_str(j, what, key, JG_REQUIRED, &v, &e) < 0;
	cJSON_Delete(j);
	for (int i = 0; !rc && names[i]; i++) {
		if (!strcmp(v, names[i])) {
			*out = i;
			free(v);
			return 0;
		}
		if (n < sizeof(list))
			n += snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", names[i]);
	}
	if (!rc)
		jg_fail(&e, what, key, "expected one of %s, got \"%s\"", list, UTF8_CLIP(v, 65));
	free(v);
	return -1;
}

int cfg_parse_data_object(const char *json, const char *what, cJSON **out, char *err,
			  size_t errlen)
{
	struct jerr e = {err, errlen};

	return jg_parse_object(json, what, out, &e);
}

/* PUT /drives/{id} and /network-interfaces/{id}: the URL names the entry. */
static int check_path_id(const char *body_id, const char *id_from_path, const char *path,
			 const char *key, struct jerr *e)
{
	if (id_from_path && strcmp(body_id, id_from_path))
		return jg_fail(e, path, key, "\"%s\" does not match the id in the URL path \"%s\"",
			       UTF8_CLIP(body_id, 65), UTF8_CLIP(id_from_path, 65));
	return 0;
}

int cfg_parse_drive(struct vm_config *c, const char *json, const char *id_from_path, char *err,
		    size_t errlen)
{
	struct jerr e = {err, errlen};
	struct cfg_drive d;
	cJSON *j;
	int rc;

	if (jg_parse_object(json, "drive", &j, &e))
		return -1;
	cfg_drive_defaults(&d);
	rc = sec_drive(j, "drive", &d, &e) ||
	     check_path_id(d.drive_id, id_from_path, "drive", "drive_id", &e) ||
	     cfg_put_drive(c, &d, "drive", &cfg_json_keys, &e);
	cJSON_Delete(j);
	cfg_drive_free(&d); /* emptied by cfg_put_drive on success */
	return rc ? -1 : 0;
}

int cfg_patch_drive(struct vm_config *c, const char *json, const char *id_from_path, char *err,
		    size_t errlen)
{
	static const char *const keys[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	struct jerr e = {err, errlen};
	struct cfg_drive d = {0};
	int i = -1, rc;
	cJSON *j;

	if (jg_parse_object(json, "drive", &j, &e))
		return -1;
	rc = jg_check_keys(j, "drive", keys, &e) ||
	     jg_str(j, "drive", "drive_id", JG_REQUIRED, &d.drive_id, &e) < 0 ||
	     check_path_id(d.drive_id, id_from_path, "drive", "drive_id", &e) ||
	     ((i = cfg_find_drive(c, d.drive_id)) < 0 &&
	      jg_fail(&e, "drive", "drive_id", "no drive \"%s\" to update",
		      UTF8_CLIP(d.drive_id, 65))) ||
	     jg_str(j, "drive", "path_on_host", JG_NONEMPTY, &d.path_on_host, &e) < 0 ||
	     sec_rate_limiter(j, "drive", "rate_limiter", &d.rate_limiter, &e);
	if (!rc) {
		struct cfg_drive *t = &c->drives[i];

		if (d.path_on_host) {
			free(t->path_on_host);
			t->path_on_host = d.path_on_host;
			d.path_on_host = NULL;
		}
		if (jg_get(j, "rate_limiter"))
			t->rate_limiter = d.rate_limiter;
	}
	cJSON_Delete(j);
	cfg_drive_free(&d);
	return rc ? -1 : 0;
}

int cfg_parse_net(struct vm_config *c, const char *json, const char *id_from_path, char *err,
		  size_t errlen)
{
	struct jerr e = {err, errlen};
	struct cfg_net n = {0};
	cJSON *j;
	int rc;

	if (jg_parse_object(json, "network-interface", &j, &e))
		return -1;
	rc = sec_net(j, "network-interface", &n, &e) ||
	     check_path_id(n.iface_id, id_from_path, "network-interface", "iface_id", &e) ||
	     cfg_put_net(c, &n, "network-interface", &cfg_json_keys, &e);
	cJSON_Delete(j);
	cfg_net_free(&n);
	return rc ? -1 : 0;
}
