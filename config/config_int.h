/* Section parsers shared by config/'s files (internal to config/).
 *
 * Contract: each sec_* parser validates one JSON section `j` (at JSON path
 * `path`) into `*out`, which the caller has initialised (defaults, or the
 * current value for PATCH). On -1, `*out` may hold partly parsed strings:
 * config.c parses into a scratch copy of the whole config and frees it on
 * failure, which is how failed parses leave the config unchanged.
 */
#ifndef MPVM_CONFIG_INT_H
#define MPVM_CONFIG_INT_H

#include "config/config.h"
#include "config/json_get.h"

void cfg_boot_free(struct cfg_boot_source *b);
void cfg_drive_free(struct cfg_drive *d);
void cfg_net_free(struct cfg_net *n);
void cfg_machine_defaults(struct cfg_machine *m);
void cfg_drive_defaults(struct cfg_drive *d);
void cfg_logger_defaults(struct cfg_logger *l);
void cfg_pmu_defaults(struct cfg_pmu *p);
void cfg_debug_defaults(struct cfg_debug *d);

int sec_boot(const cJSON *j, const char *path, struct cfg_boot_source *out, struct jerr *e);
int sec_machine(const cJSON *j, const char *path, bool partial, struct cfg_machine *out,
		struct jerr *e);
int sec_drive(const cJSON *j, const char *path, struct cfg_drive *out, struct jerr *e);
int sec_net(const cJSON *j, const char *path, struct cfg_net *out, struct jerr *e);
int sec_entropy(const cJSON *j, const char *path, struct cfg_entropy *out, struct jerr *e);
int sec_vsock(const cJSON *j, const char *path, struct cfg_vsock *out, struct jerr *e);
int sec_balloon(const cJSON *j, const char *path, struct cfg_balloon *out, struct jerr *e);
int sec_logger(const cJSON *j, const char *path, struct cfg_logger *out, struct jerr *e);
int sec_metrics(const cJSON *j, const char *path, struct cfg_metrics *out, struct jerr *e);
int sec_serial(const cJSON *j, const char *path, struct cfg_serial *out, struct jerr *e);
int sec_debug(const cJSON *j, const char *path, struct cfg_debug *out, struct jerr *e);
int sec_pmu(const cJSON *j, const char *path, struct cfg_pmu *out, struct jerr *e);
int sec_rate_limiter(const cJSON *j, const char *path, const char *key,
		     struct cfg_rate_limiter *out, struct jerr *e);
int sec_pmu_filter(const cJSON *j, const char *path, struct cfg_pmu_filter *out, struct jerr *e);
/* mmds-config alone; cfg_check_mmds() then checks its interfaces. */
int sec_mmds_config(const cJSON *j, const char *path, struct cfg_mmds *out, struct jerr *e);
void cfg_mmds_free(struct cfg_mmds *m);

/* ---- Firecracker's resources mpvm lacks (fc_only.c) */

/* jg_fail() with the words of cfg_fc_missing(f). */
int cfg_fail_missing(struct jerr *e, const char *path, const char *key, enum cfg_fc_feature f);
/* The config file's "cpu-config", "pmem" and
 * "memory-hotplug" keys of `root`: 0 when each is absent or asks for
 * nothing, else -1 naming the missing feature. */
int cfg_fc_only_sections(const cJSON *root, struct jerr *e);

/* ---- the rules (rules.c), shared by the file loader, the API, the CLI and
 * vm_config_validate(). Each returns 0, or -1 through jg_fail() at `path`
 * and the key the source uses for the field, so every source reports a rule
 * in the same words: "drives[1].drive_id: ...", "drive.drive_id: ...",
 * "--drive: id: ...". */

/* The keys a source uses for the fields the cross-entry rules name. */
struct cfg_keys {
	const char *drive_id, *path_on_host, *root, *iface_id, *tap, *mac;
};
extern const struct cfg_keys cfg_json_keys; /* the file and the API */
extern const struct cfg_keys cfg_cli_keys;  /* --drive id=,path=,root --net id=,tap=,mac= */

bool cfg_valid_id(const char *id);
bool cfg_valid_tap(const char *name);
/* id / tap name rules; NULL means not given. */
int cfg_check_id(const char *id, const char *path, const char *key, struct jerr *e);
int cfg_check_tap(const char *name, const char *path, const char *key, struct jerr *e);
/* `other` is the index of an earlier entry with the same id, or -1. */
int cfg_check_unique_id(const char *id, int other, const char *path, const char *key,
			struct jerr *e);
/* May `d` join list[0..n), replacing the entry with its id? (One root
 * device.) May `n` join theirs? (No tap or MAC shared.) */
int cfg_check_drive_against(const struct cfg_drive *list, uint32_t n, const struct cfg_drive *d,
			    const char *path, const struct cfg_keys *k, struct jerr *e);
int cfg_check_net_against(const struct cfg_net *list, uint32_t n, const struct cfg_net *t,
			  const char *path, const struct cfg_keys *k, struct jerr *e);
/* Ranges and Firecracker's cross-field rules (smt pairs, 2M pages). */
int cfg_check_machine(const struct cfg_machine *m, const char *path, struct jerr *e);
/* file and socket modes need a path. */
int cfg_check_serial(const struct cfg_serial *s, const char *path, struct jerr *e);
/* mmds-config: at least one interface, each configured (in `c`), none
 * twice. */
int cfg_check_mmds(const struct vm_config *c, const char *path, struct jerr *e);
/* The CFG_PMU_MAX_* limits. */
int cfg_check_pmu(const struct cfg_pmu *p, const char *path, struct jerr *e);

/* Index of the drive/net with that id, or -1. */
int cfg_find_drive(const struct vm_config *c, const char *id);
int cfg_find_net(const struct vm_config *c, const char *id);
/* Replace-by-id-or-append of a parsed entry under the rules above, taking
 * ownership of its strings on success. `what` names the source in errors
 * ("drive", "drives[2]", "--drive"), `k` its keys. */
int cfg_put_drive(struct vm_config *c, struct cfg_drive *d, const char *what,
		  const struct cfg_keys *k, struct jerr *e);
int cfg_put_net(struct vm_config *c, struct cfg_net *n, const char *what,
		const struct cfg_keys *k, struct jerr *e);

/* A limit's value as text, for messages and usage built at compile time
 * ("1.." CFG_STR(CFG_ID_MAX_LEN)). */
#define CFG_STR_(x) #x
#define CFG_STR(x) CFG_STR_(x)

/* Enum names, index = enum value (log levels offset by one for Off). */
extern const char *const cfg_huge_names[];
extern const char *const cfg_engine_names[];
extern const char *const cfg_cache_names[];
extern const char *const cfg_mmds_version_names[];
extern const char *const cfg_serial_names[];
extern const char *const cfg_pmu_mode_names[];
extern const char *const cfg_action_names[];
extern const char *const cfg_pmu_arch_event_names[];
/* Off, Error, Warning, Info, Debug, Trace, then "Warn" (Firecracker's alias
 * of Warning): index i is level i - 1. */
extern const char *const cfg_log_level_names[];
#define CFG_LOG_LEVEL_WARN_ALIAS 6

/* "instructions,llc_misses" (names, case-insensitive) or "0x12": leaf 0xA
 * EBX bits. -1 with err naming the bad item. */
int cfg_pmu_parse_event_list(const char *s, uint32_t *mask, char *err, size_t errlen);

#endif
