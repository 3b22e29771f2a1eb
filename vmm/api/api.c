/* The API's router and handlers: method + path + body -> status + JSON.
 * No socket here (api_http.c is the transport), so tests and fuzzers drive
 * it directly. Handlers edit v->cfg only through config/'s parsers, which
 * leave the config unchanged when they refuse a body.
 */
#include "api/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/metrics.h"
#include "mmds/store.h"
#include "base/utf8.h"
#include "builder/vmm.h"
#include "core/log.h"

/* Firecracker's own wording, so that orchestrators see familiar faults. */
#define AFTER_START "The requested operation is not supported after starting the microVM."
#define BEFORE_START "The requested operation is not supported before starting the microVM."

struct req {
	const char *method;
	const char *path; /* percent-decoded; may hold NULs and any bytes */
	size_t path_len;
	const char *id;   /* the {id} of /drives/{id}, /network-interfaces/{id} */
	const char *body; /* NUL-terminated */
	size_t len;
};

/* q's path (or method) in a message: at most 128 bytes, cut between
 * characters; a NUL or a byte that is not UTF-8 shows as U+FFFD. */
#define QUOTE_LEN 129
#define QUOTED_PATH(q) utf8_clip_n((char[QUOTE_LEN]){0}, QUOTE_LEN, (q)->path, (q)->path_len)
#define QUOTED_METHOD(q) utf8_clip((char[17]){0}, 17, (q)->method)

typedef void (*handler_fn)(struct api_ctx *a, const struct req *q, struct api_reply *r);

char *api_fault_json(const char *msg)
{
	/* Messages quote user input through utf8_clip() already; this is the
	 * last guard that what goes out is UTF-8 (RFC 8259), whatever a message
	 * was built from or where snprintf cut it. Each bad byte may become a
	 * 3-byte U+FFFD. */
	size_t n = strlen(msg), cap = 3 * n + 1;
	char *clean = malloc(cap);
	cJSON *o = clean ? cJSON_CreateObject() : NULL;
	char *s = NULL;
	if (o && cJSON_AddStringToObject(o, "fault_message", utf8_clip_n(clean, cap, msg, n)))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	free(clean);
	return s;
}

static void fault(struct api_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fault(struct api_reply *r, int status, const char *fmt, ...)
{
	char msg[CFG_ERR_LEN + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->body);
	r->status = status;
	r->body = api_fault_json(msg);
	if (!r->body)
		r->status = 500;
}

static void ok_json(struct api_reply *r, char *json)
{
	if (!json) {
		fault(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->body = json;
}

static void ok_object(struct api_reply *r, cJSON *o)
{
	ok_json(r, o ? cJSON_PrintUnformatted(o) : NULL);
	cJSON_Delete(o);
}

static void no_content(struct api_reply *r) { r->status = 204; }

const char *api_vm_state(const struct vmm *v)
{
	switch (vmm_state(v)) {
	case VMM_NOT_STARTED: return "Not started";
	case VMM_PAUSED: return "Paused";
	default: return "Running";
	}
}

/* ---- guards shared by handlers; each returns true when it replied ---- */

static bool refuse_after_start(struct api_ctx *a, struct api_reply *r)
{
	if (!a->vmm->started)
		return false;
	fault(r, 400, AFTER_START);
	return true;
}

static bool refuse_before_start(struct api_ctx *a, struct api_reply *r)
{
	if (a->vmm->started)
		return false;
	fault(r, 400, BEFORE_START);
	return true;
}

static bool refuse_empty(const struct req *q, const char *what, struct api_reply *r)
{
	for (size_t i = 0; i < q->len; i++)
		if (q->body[i] != ' ' && q->body[i] != '\t' && q->body[i] != '\r' && q->body[i] != '\n')
			return false;
	fault(r, 400, "%s: the request body is empty; expected a JSON object", what);
	return true;
}

/* A Firecracker feature mpvm lacks: 400, "<method> <path>: <feature> is not
 * supported by mpvm yet (Firecracker feature: ...)". */
static void missing(const struct req *q, struct api_reply *r, enum cfg_fc_feature f)
{
	fault(r, 400, "%s %s: %s", q->method, QUOTED_PATH(q), cfg_fc_missing(f));
}

/* ---- Firecracker's read-only resources ---- */

static void get_root(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", a->id);
	cJSON_AddStringToObject(o, "state", api_vm_state(a->vmm));
	cJSON_AddStringToObject(o, "vmm_version", MPVM_VERSION);
	cJSON_AddStringToObject(o, "app_name", "mpvm");
	ok_object(r, o);
}

static void get_version(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "firecracker_version", API_FC_VERSION);
	cJSON_AddStringToObject(o, "mpvm_version", MPVM_VERSION);
	ok_object(r, o);
}

static void get_vm_config(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	ok_json(r, vm_config_to_json(&a->vmm->cfg));
}

/* One section of the effective config, in the config file's shape. */
static void get_section(struct api_ctx *a, const char *key, struct api_reply *r)
{
	char *all = vm_config_to_json(&a->vmm->cfg);
	cJSON *root = all ? cJSON_Parse(all) : NULL;
	free(all);
	cJSON *sec = root ? cJSON_DetachItemFromObjectCaseSensitive(root, key) : NULL;
	cJSON_Delete(root);
	if (!sec)
		sec = cJSON_CreateObject();
	ok_object(r, sec);
}

static void get_machine(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	get_section(a, "machine-config", r);
}

/* ---- pre-boot configuration: one config/ parser per resource ---- */

typedef int (*section_fn)(struct vm_config *c, const char *json, char *err, size_t errlen);

static void put_preboot(struct api_ctx *a, const struct req *q, struct api_reply *r,
			const char *what, section_fn fn)
{
	char err[CFG_ERR_LEN];
	if (refuse_after_start(a, r) || refuse_empty(q, what, r))
		return;
	if (fn(&a->vmm->cfg, q->body, err, sizeof(err)))
		fault(r, 400, "%s", err);
	else
		no_content(r);
}

static void put_boot(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "boot-source", cfg_parse_boot_source);
}

static void put_entropy(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "entropy", cfg_parse_entropy);
}

static void put_serial(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "serial", cfg_parse_serial);
}

static void put_debug(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "debug", cfg_parse_debug);
}

static void put_pmu_config(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "pmu", cfg_parse_pmu);
}

static void machine(struct api_ctx *a, const struct req *q, struct api_reply *r, bool partial)
{
	char err[CFG_ERR_LEN];
	if (refuse_after_start(a, r) || refuse_empty(q, "machine-config", r))
		return;
	if (cfg_parse_machine(&a->vmm->cfg, q->body, partial, err, sizeof(err)))
		fault(r, 400, "%s", err);
	else
		no_content(r);
}

static void put_machine(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	machine(a, q, r, false);
}

static void patch_machine(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	machine(a, q, r, true);
}

static void put_drive(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	if (refuse_after_start(a, r) || refuse_empty(q, "drive", r))
		return;
	if (cfg_parse_drive(&a->vmm->cfg, q->body, q->id, err, sizeof(err)))
		fault(r, 400, "%s", err);
	else
		no_content(r);
}

static void put_net(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	if (refuse_after_start(a, r) || refuse_empty(q, "network-interface", r))
		return;
	if (cfg_parse_net(&a->vmm->cfg, q->body, q->id, err, sizeof(err)))
		fault(r, 400, "%s", err);
	else
		no_content(r);
}

/* PATCH /drives/{id} after start (Firecracker: a new backing file and/or
 * rate limiter for a running drive). The running block device takes the
 * change first; the config is updated only when it did. */
static void patch_drive(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	struct vm_config tmp;
	if (refuse_before_start(a, r) || refuse_empty(q, "drive", r))
		return;
	if (vm_config_copy(&tmp, &a->vmm->cfg)) {
		fault(r, 400, "drive: out of memory");
		return;
	}
	const struct cfg_drive *d = NULL;
	if (cfg_patch_drive(&tmp, q->body, q->id, err, sizeof(err)) == 0) {
		for (uint32_t i = 0; i < tmp.ndrives; i++)
			if (!strcmp(tmp.drives[i].drive_id, q->id))
				d = &tmp.drives[i];
		if (!d)
			snprintf(err, sizeof(err), "drive: no drive \"%s\"", UTF8_CLIP(q->id, 65));
		else if (!a->ops->update_drive)
			snprintf(err, sizeof(err), "drive: updates are not supported here");
		else if (a->ops->update_drive(a->vmm, d, err, sizeof(err)))
			d = NULL;
	}
	if (d) {
		struct vm_config old = a->vmm->cfg;
		a->vmm->cfg = tmp;
		tmp = old; /* freed below */
		no_content(r);
	} else {
		fault(r, 400, "%s", err);
	}
	vm_config_free(&tmp);
}

/* PATCH /network-interfaces/{id}: changing a running tap's rate limiters
 * needs support in the net device that it does not have yet; refuse
 * honestly instead of editing a config nobody reads any more. */
static void patch_net(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	if (!refuse_before_start(a, r))
		missing(q, r, CFG_FC_NET_UPDATE);
}

/* ---- logger and metrics: any time ---- */

static void put_logger(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	struct vm_config tmp;
	if (refuse_empty(q, "logger", r))
		return;
	/* Parse into a scratch config, apply, and only then commit: a log_path
	 * that cannot be opened leaves the old logger in place. */
	vm_config_init(&tmp);
	if (cfg_parse_logger(&tmp, q->body, err, sizeof(err)) ||
	    a->ops->set_logger(a->vmm, &tmp.logger, err, sizeof(err))) {
		fault(r, 400, "%s", err);
	} else {
		struct cfg_logger old = a->vmm->cfg.logger;
		a->vmm->cfg.logger = tmp.logger;
		tmp.logger = old; /* freed with tmp */
		no_content(r);
	}
	vm_config_free(&tmp);
}

static void put_metrics(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	struct vm_config tmp;
	if (refuse_empty(q, "metrics", r))
		return;
	vm_config_init(&tmp);
	if (cfg_parse_metrics(&tmp, q->body, err, sizeof(err))) {
		fault(r, 400, "%s", err);
	} else if (a->vmm->cfg.metrics.metrics_path) {
		/* Firecracker: the metrics system is set up once (file or API). */
		fault(r, 400, "Metrics initialization error: Reinitialization of metrics not allowed. "
			      "(metrics already go to %s)", UTF8_CLIP(a->vmm->cfg.metrics.metrics_path, 129));
	} else if (!tmp.metrics.metrics_path) {
		fault(r, 400, "metrics.metrics_path: required");
	} else if (a->ops->set_metrics(a->vmm, tmp.metrics.metrics_path, err, sizeof(err))) {
		fault(r, 400, "%s", err);
	} else {
		struct cfg_metrics old = a->vmm->cfg.metrics;
		a->vmm->cfg.metrics = tmp.metrics;
		tmp.metrics = old;
		no_content(r);
	}
	vm_config_free(&tmp);
}

/* ---- actions and VM state: bodies small enough to route by hand ---- */

/* A routing body ({"action_type": ...}): config/ parses it like any other
 * body. The index into `names`, or -1 when it replied. */
static int routing_choice(const struct req *q, const char *what, const char *key,
			  const char *const *names, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	int which;
	if (refuse_empty(q, what, r))
		return -1;
	if (cfg_parse_choice(q->body, what, key, names, &which, err, sizeof(err))) {
		fault(r, 400, "%s", err);
		return -1;
	}
	return which;
}

static void instance_start(struct api_ctx *a, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	if (refuse_after_start(a, r))
		return;
	/* A failed build undoes itself (vmm.h), so the caller may fix the
	 * configuration and start again. */
	if (!a->ops->instance_start(a->vmm, err, sizeof(err))) {
		no_content(r);
		return;
	}
	fault(r, 400, "InstanceStart: %s", err);
}

static void put_actions(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	static const char *const names[] = { "InstanceStart", "SendCtrlAltDel", "FlushMetrics",
					     "StopVmm", NULL };
	char err[CFG_ERR_LEN];
	switch (routing_choice(q, "actions", "action_type", names, r)) {
	case 0:
		instance_start(a, r);
		break;
	case 1:
		if (refuse_before_start(a, r))
			break;
		if (a->ops->ctrl_alt_del(a->vmm, err, sizeof(err)))
			fault(r, 400, "SendCtrlAltDel: %s", err);
		else
			no_content(r);
		break;
	case 2:
		if (metrics_flush(err, sizeof(err)))
			fault(r, 400, "FlushMetrics: %s", err);
		else
			no_content(r);
		break;
	case 3:
		r->stop_after = true;
		no_content(r);
		break;
	}
}

static void patch_vm(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	static const char *const names[] = { "Paused", "Resumed", NULL };
	char err[CFG_ERR_LEN];
	int which = routing_choice(q, "vm", "state", names, r);
	if (which >= 0 && !refuse_before_start(a, r)) {
		bool pause = which == 0;
		int rc = pause ? a->ops->pause(a->vmm, err, sizeof(err))
			       : a->ops->resume(a->vmm, err, sizeof(err));
		if (rc)
			fault(r, 400, "vm.state: cannot %s: %s", pause ? "pause" : "resume", err);
		else
			no_content(r);
	}
}

/* ---- mpvm's own resources ---- */

static void get_vcpus(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	if (!refuse_before_start(a, r))
		ok_json(r, vmm_vcpus_json(a->vmm));
}

static void pmu_report(struct api_ctx *a, enum vmm_pmu_report which, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	char *json = NULL;
	int rc = vmm_pmu_json(a->vmm, which, &json, err, sizeof(err));
	if (!rc)
		ok_json(r, json);
	else
		fault(r, rc == -ENOMEM ? 500 : 400, "%s", err);
}

static void get_pmu(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	pmu_report(a, VMM_PMU_STATE, r);
}

static void get_pmu_counters(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	if (!refuse_before_start(a, r))
		pmu_report(a, VMM_PMU_COUNTERS, r);
}

static void get_pmu_host(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	pmu_report(a, VMM_PMU_HOST, r);
}

static void get_pmu_filter(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	get_section(a, "pmu", r);
	cJSON *p = r->status == 200 ? cJSON_Parse(r->body) : NULL;
	cJSON *f = p ? cJSON_DetachItemFromObjectCaseSensitive(p, "filter") : NULL;
	cJSON_Delete(p);
	free(r->body);
	r->body = NULL;
	ok_object(r, f ? f : cJSON_CreateObject());
}

static void put_pmu_filter(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	struct cfg_pmu_filter *f = malloc(sizeof(*f)); /* ~2 KiB: keep it off the stack */
	if (!f) {
		fault(r, 500, "out of memory");
		return;
	}
	if (refuse_empty(q, "pmu.filter", r)) {
	} else if (cfg_parse_pmu_filter(f, q->body, err, sizeof(err))) {
		fault(r, 400, "%s", err);
	} else if (a->vmm->started && a->ops->set_pmu_filter(a->vmm, f, err, sizeof(err))) {
		fault(r, 400, "%s", err);
	} else {
		a->vmm->cfg.pmu.filter = *f;
		no_content(r);
	}
	free(f);
}

/* ---- Firecracker's resources mpvm lacks: a 400 naming the feature ---- */

/* PUT of a pre-boot resource mpvm lacks: the body is checked as
 * Firecracker defines it, then the feature is named (config/fc_only.c); a
 * body that asks for nothing (a cpu-config without modifiers) is a 204. */
static void put_fc_only(struct api_ctx *a, const struct req *q, struct api_reply *r,
			const char *resource)
{
	char err[CFG_ERR_LEN];
	if (refuse_after_start(a, r) || refuse_empty(q, resource, r))
		return;
	if (cfg_check_fc_only(resource, q->body, err, sizeof(err)))
		fault(r, 400, "%s", err);
	else
		no_content(r);
}

static void put_balloon(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "balloon", cfg_parse_balloon);
}

/* Firecracker's words when there is no balloon to talk to. */
#define NO_BALLOON "No balloon device is configured"

static void get_balloon(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	const struct cfg_balloon *b = &a->vmm->cfg.balloon;
	if (!b->enabled) {
		fault(r, 400, NO_BALLOON);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddNumberToObject(o, "amount_mib", b->amount_mib);
		cJSON_AddBoolToObject(o, "deflate_on_oom", b->deflate_on_oom);
		cJSON_AddNumberToObject(o, "stats_polling_interval_s", b->stats_polling_interval_s);
		cJSON_AddBoolToObject(o, "free_page_reporting", b->free_page_reporting);
	}
	ok_object(r, o);
}

typedef int (*balloon_parse_fn)(const char *json, uint32_t *out, char *err, size_t errlen);
typedef int (*balloon_op_fn)(struct vmm *v, uint32_t value, char *err, size_t errlen);

/* PATCH /balloon and /balloon/statistics: one number, kept in the config;
 * after start the running device takes it first (`op`; NULL: not
 * supported), and a refusal changes nothing. */
static void patch_balloon_field(struct api_ctx *a, const struct req *q, struct api_reply *r,
				balloon_parse_fn parse, balloon_op_fn op, uint32_t *field)
{
	char err[CFG_ERR_LEN];
	uint32_t v;
	if (refuse_empty(q, "balloon", r))
		return;
	if (parse(q->body, &v, err, sizeof(err))) {
		fault(r, 400, "%s", err);
	} else if (!a->vmm->cfg.balloon.enabled) {
		fault(r, 400, NO_BALLOON);
	} else if (a->vmm->started && (!op || op(a->vmm, v, err, sizeof(err)))) {
		fault(r, 400, "%s", op ? err : "not supported");
	} else {
		*field = v;
		no_content(r);
	}
}

/* PATCH /balloon: a new target, before start (the config) or after (the
 * device, which tells the driver). */
static void patch_balloon(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	patch_balloon_field(a, q, r, cfg_parse_balloon_amount, a->ops->balloon_target,
			    &a->vmm->cfg.balloon.amount_mib);
}

static void patch_balloon_stats(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	patch_balloon_field(a, q, r, cfg_parse_balloon_interval, a->ops->balloon_interval,
			    &a->vmm->cfg.balloon.stats_polling_interval_s);
}

/* GET /balloon/statistics: Firecracker's shape (vmm_balloon_stats_json). */
static void get_balloon_stats(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	if (!a->vmm->cfg.balloon.enabled) {
		fault(r, 400, NO_BALLOON);
		return;
	}
	if (refuse_before_start(a, r))
		return;
	if (!a->ops->balloon_stats) {
		fault(r, 400, "not supported");
		return;
	}
	char *json = a->ops->balloon_stats(a->vmm, err, sizeof(err));
	if (json)
		ok_json(r, json);
	else
		fault(r, 400, "%s", err);
}

static void put_vsock(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "vsock", cfg_parse_vsock);
}

static void put_cpu_config(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_fc_only(a, q, r, "cpu-config");
}

static void put_pmem(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_fc_only(a, q, r, "pmem");
}

static void put_hotplug_memory(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_fc_only(a, q, r, "memory-hotplug");
}

/* The balloon's other verbs (GET, PATCH, statistics, hinting). */
static void balloon_hinting(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	missing(q, r, CFG_FC_BALLOON_HINTING);
}

static void pmem_update(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	missing(q, r, CFG_FC_PMEM);
}

static void hotplug_memory(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	missing(q, r, CFG_FC_MEM_HOTPLUG);
}

typedef int (*snap_parse_fn)(const char *json, struct cfg_snapshot_req *out, char *err,
			     size_t errlen);
typedef int (*snap_op_fn)(struct vmm *v, const struct cfg_snapshot_req *s, char *err,
			  size_t errlen);

/* Parse the body, run the VMM's side; a refusal is a 400 naming why. */
static void snapshot_op(struct api_ctx *a, const struct req *q, struct api_reply *r,
			snap_parse_fn parse, snap_op_fn op)
{
	char err[CFG_ERR_LEN];
	struct cfg_snapshot_req s;
	if (parse(q->body, &s, err, sizeof(err))) {
		fault(r, 400, "%s", err);
		return;
	}
	if (!op)
		fault(r, 400, "snapshots are not supported");
	else if (op(a->vmm, &s, err, sizeof(err)))
		fault(r, 400, "%s", err);
	else
		no_content(r);
	cfg_snapshot_req_free(&s);
}

/* PUT /snapshot/create: the VM must be paused (Firecracker answers 400). */
static void snapshot_create(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	if (!refuse_before_start(a, r))
		snapshot_op(a, q, r, cfg_parse_snapshot_create, a->ops->snapshot_create);
}

/* PUT /snapshot/load: only on a fresh VMM; the snapshot brings its own
 * config (Firecracker's words when something was configured). A refused
 * load builds nothing and leaves the config as it was. */
static void snapshot_load(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	if (a->vmm->started || a->configured)
		fault(r, 400, "Loading a microVM snapshot not allowed after configuring boot-specific "
			      "resources.");
	else
		snapshot_op(a, q, r, cfg_parse_snapshot_load, a->ops->snapshot_load);
}

/* ---- MMDS: the data store (host side only, api/mmds.h) and its config ---- */

static void put_mmds_config(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	put_preboot(a, q, r, "mmds-config", cfg_parse_mmds_config);
}

static void mmds_reply(struct api_reply *r, int status, const char *err)
{
	if (status)
		fault(r, status, "%s", err);
	else
		no_content(r);
}

static void put_mmds(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	mmds_reply(r, mmds_put(q->body, err, sizeof(err)), err);
}

static void patch_mmds(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	char err[CFG_ERR_LEN];
	mmds_reply(r, mmds_patch(q->body, err, sizeof(err)), err);
}

static void get_mmds(struct api_ctx *a, const struct req *q, struct api_reply *r)
{
	ok_json(r, mmds_json());
}

/* ---- the route table ---- */

struct route {
	const char *method;
	const char *path; /* with has_id: the prefix before {id} */
	bool has_id;
	handler_fn fn;
	const char *name; /* metrics key */
};

static const struct route routes[] = {
	{ "GET", "/", false, get_root, "GET /" },
	{ "GET", "/version", false, get_version, "GET /version" },
	{ "GET", "/vm/config", false, get_vm_config, "GET /vm/config" },
	{ "GET", "/machine-config", false, get_machine, "GET /machine-config" },
	{ "PUT", "/machine-config", false, put_machine, "PUT /machine-config" },
	{ "PATCH", "/machine-config", false, patch_machine, "PATCH /machine-config" },
	{ "PUT", "/boot-source", false, put_boot, "PUT /boot-source" },
	{ "PUT", "/drives/", true, put_drive, "PUT /drives/{id}" },
	{ "PATCH", "/drives/", true, patch_drive, "PATCH /drives/{id}" },
	{ "PUT", "/network-interfaces/", true, put_net, "PUT /network-interfaces/{id}" },
	{ "PATCH", "/network-interfaces/", true, patch_net, "PATCH /network-interfaces/{id}" },
	{ "PUT", "/entropy", false, put_entropy, "PUT /entropy" },
	{ "PUT", "/logger", false, put_logger, "PUT /logger" },
	{ "PUT", "/metrics", false, put_metrics, "PUT /metrics" },
	{ "PUT", "/actions", false, put_actions, "PUT /actions" },
	{ "PATCH", "/vm", false, patch_vm, "PATCH /vm" },
	{ "PUT", "/snapshot/create", false, snapshot_create, "PUT /snapshot/create" },
	{ "PUT", "/snapshot/load", false, snapshot_load, "PUT /snapshot/load" },
	{ "PUT", "/mmds", false, put_mmds, "PUT /mmds" },
	{ "PATCH", "/mmds", false, patch_mmds, "PATCH /mmds" },
	{ "GET", "/mmds", false, get_mmds, "GET /mmds" },
	{ "PUT", "/mmds/config", false, put_mmds_config, "PUT /mmds/config" },
	/* Firecracker's resources mpvm lacks: each answers naming the feature. */
	{ "PUT", "/balloon", false, put_balloon, "PUT /balloon" },
	{ "GET", "/balloon", false, get_balloon, "GET /balloon" },
	{ "PATCH", "/balloon", false, patch_balloon, "PATCH /balloon" },
	{ "GET", "/balloon/statistics", false, get_balloon_stats, "GET /balloon/statistics" },
	{ "PATCH", "/balloon/statistics", false, patch_balloon_stats, "PATCH /balloon/statistics" },
	{ "PATCH", "/balloon/hinting/start", false, balloon_hinting, "PATCH /balloon/hinting/start" },
	{ "PATCH", "/balloon/hinting/stop", false, balloon_hinting, "PATCH /balloon/hinting/stop" },
	{ "GET", "/balloon/hinting/status", false, balloon_hinting, "GET /balloon/hinting/status" },
	{ "PUT", "/vsock", false, put_vsock, "PUT /vsock" },
	{ "PUT", "/cpu-config", false, put_cpu_config, "PUT /cpu-config" },
	{ "PUT", "/pmem/", true, put_pmem, "PUT /pmem/{id}" },
	{ "PATCH", "/pmem/", true, pmem_update, "PATCH /pmem/{id}" },
	{ "PUT", "/hotplug/memory", false, put_hotplug_memory, "PUT /hotplug/memory" },
	{ "PATCH", "/hotplug/memory", false, hotplug_memory, "PATCH /hotplug/memory" },
	{ "GET", "/hotplug/memory", false, hotplug_memory, "GET /hotplug/memory" },
	{ "PUT", "/serial", false, put_serial, "PUT /serial" },
	{ "PUT", "/debug", false, put_debug, "PUT /debug" },
	{ "GET", "/pmu", false, get_pmu, "GET /pmu" },
	{ "PUT", "/pmu", false, put_pmu_config, "PUT /pmu" },
	{ "GET", "/pmu/counters", false, get_pmu_counters, "GET /pmu/counters" },
	{ "GET", "/pmu/filter", false, get_pmu_filter, "GET /pmu/filter" },
	{ "PUT", "/pmu/filter", false, put_pmu_filter, "PUT /pmu/filter" },
	{ "GET", "/pmu/host", false, get_pmu_host, "GET /pmu/host" },
	{ "GET", "/vcpus", false, get_vcpus, "GET /vcpus" },
};

/* Path matches the route; for {id} routes *id points into `path`. The
 * decoded path may hold NULs, so lengths, not strcmp. */
static bool path_matches(const struct route *rt, const struct req *q, const char **id)
{
	size_t n = strlen(rt->path);
	if (!rt->has_id)
		return q->path_len == n && !memcmp(q->path, rt->path, n);
	if (q->path_len <= n || memcmp(q->path, rt->path, n) ||
	    memchr(q->path + n, '/', q->path_len - n))
		return false;
	*id = q->path + n;
	return true;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Firecracker's rules on having a body at all, before any handler: a GET
 * takes none, a PUT or PATCH needs one (its own words). */
static bool refuse_body_rule(const struct route *rt, const struct req *q, struct api_reply *r)
{
	/* The PATCHes whose body Firecracker's swagger makes optional. */
	static const char *const body_optional[] = { "PATCH /balloon/hinting/start",
						     "PATCH /balloon/hinting/stop", NULL };
	bool optional = false;
	for (const char *const *n = body_optional; *n; n++)
		optional |= !strcmp(rt->name, *n);
	if (!strcmp(q->method, "GET") && q->len)
		fault(r, 400, "GET request cannot have a body.");
	else if (!q->len && !optional && strcmp(q->method, "GET"))
		fault(r, 400, "Empty %s request.", q->method);
	else
		return false;
	return true;
}

/* Firecracker refuses a snapshot load once a boot resource is configured;
 * the logger, metrics, the MMDS data store and actions are not such. */
static void note_configured(struct api_ctx *a, const struct route *rt, struct api_reply *r)
{
	static const char *const not_boot[] = { "PUT /logger", "PUT /metrics", "PUT /mmds",
						"PATCH /mmds", "PUT /actions", "PATCH /vm",
						"PUT /snapshot/create", "PUT /snapshot/load", NULL };
	if (r->status / 100 != 2 || !strcmp(rt->method, "GET"))
		return;
	for (const char *const *n = not_boot; *n; n++)
		if (!strcmp(rt->name, *n))
			return;
	a->configured = true;
}

static void dispatch(struct api_ctx *a, struct req *q, struct api_reply *r)
{
	const struct route *hit = NULL;
	char allowed[64] = "", why[96];
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *id = NULL;
		if (!path_matches(&routes[i], q, &id))
			continue;
		if (!strcmp(q->method, routes[i].method)) {
			hit = &routes[i];
			q->id = id;
			break;
		}
		size_t l = strlen(allowed);
		snprintf(allowed + l, sizeof(allowed) - l, "%s%s", l ? ", " : "", routes[i].method);
	}
	if (hit) {
		r->route = hit->name;
		/* The id is a string like any in a body: the text rule applies. */
		if (q->id && utf8_check(q->id, q->path_len - (size_t)(q->id - q->path), why,
					sizeof(why)))
			fault(r, 400, "%s: the id in the URL path: %s", hit->name, why);
		else if (!refuse_body_rule(hit, q, r))
			hit->fn(a, q, r);
		note_configured(a, hit, r);
	} else if (allowed[0]) {
		r->route = "method not allowed";
		fault(r, 405, "method %s is not allowed on %s (allowed: %s)", QUOTED_METHOD(q),
		      QUOTED_PATH(q), allowed);
	} else {
		r->route = "unknown path";
		fault(r, 404, "no resource at %s", QUOTED_PATH(q));
	}
}

/* RFC 3986 percent-decoding into `out` (as long as `in`); returns the
 * length. A '%' not followed by two hex digits stays as it is. */
static size_t percent_decode(const char *in, char *out)
{
	size_t o = 0;
	for (size_t i = 0; in[i]; i++) {
		int hi, lo;
		if (in[i] == '%' && (hi = hexval(in[i + 1])) >= 0 && (lo = hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = 0;
	return o;
}

void api_route(struct api_ctx *a, const char *method, const char *path, const char *body,
	       size_t len, struct api_reply *r)
{
	*r = (struct api_reply){ .status = 500, .route = "invalid" };
	struct req q = { .method = method ? method : "", .len = len };
	const char *raw = path ? path : "";
	char *copy = malloc(len + 1), *decoded = malloc(strlen(raw) + 1);
	if (!copy || !decoded) {
		fault(r, 500, "out of memory");
	} else if (len > API_MAX_BODY) {
		fault(r, 400, "Request payload with size %zu is larger than the limit of %d allowed "
			      "by server.", len, API_MAX_BODY);
	} else if (len && memchr(body, 0, len)) {
		fault(r, 400, "the request body contains a NUL byte; expected JSON text");
	} else {
		if (len)
			memcpy(copy, body, len);
		copy[len] = 0;
		q.body = copy;
		q.path_len = percent_decode(raw, decoded);
		q.path = decoded;
		dispatch(a, &q, r);
	}
	free(copy);
	free(decoded);
	metrics_count_request(r->route, r->status);
	log_debug("API %s %s -> %d", q.method, raw, r->status);
}
