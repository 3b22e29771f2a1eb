/* Section parsers shared by config/'s files (internal to config/).
 *
 * Contract: each sec_* parser validates one JSON section `j` (at JSON path
 * `path`) into `*out`, which the caller has initialised (defaults, or the
 * current value for PATCH). On -1, `*out` may hold partly parsed strings:
 * the caller frees it with the matching cfg_*_free and keeps its own copy,
 * which is how failed parses leave the config unchanged.
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
int sec_logger(const cJSON *j, const char *path, struct cfg_logger *out, struct jerr *e);
int sec_metrics(const cJSON *j, const char *path, struct cfg_metrics *out, struct jerr *e);
int sec_serial(const cJSON *j, const char *path, struct cfg_serial *out, struct jerr *e);
int sec_debug(const cJSON *j, const char *path, struct cfg_debug *out, struct jerr *e);
int sec_pmu(const cJSON *j, const char *path, struct cfg_pmu *out, struct jerr *e);
int sec_rate_limiter(const cJSON *j, const char *path, const char *key,
		     struct cfg_rate_limiter *out, struct jerr *e);
int sec_pmu_filter(const cJSON *j, const char *path, struct cfg_pmu_filter *out, struct jerr *e);

/* Checks shared by the file loader, the API and the CLI. */
bool cfg_valid_id(const char *id);
bool cfg_valid_tap(const char *name);
/* Index of the drive/net with that id, or -1. */
int cfg_find_drive(const struct vm_config *c, const char *id);
int cfg_find_net(const struct vm_config *c, const char *id);
/* Replace-by-id-or-append of a parsed entry, taking ownership of its strings
 * on success. `what` names the source in errors ("drive", "--drive"). */
int cfg_put_drive(struct vm_config *c, struct cfg_drive *d, const char *what, struct jerr *e);
int cfg_put_net(struct vm_config *c, struct cfg_net *n, const char *what, struct jerr *e);

/* Enum names, index = enum value (log levels offset by one for Off). */
extern const char *const cfg_huge_names[];
extern const char *const cfg_engine_names[];
extern const char *const cfg_cache_names[];
extern const char *const cfg_serial_names[];
extern const char *const cfg_pmu_mode_names[];
extern const char *const cfg_action_names[];
extern const char *const cfg_pmu_arch_event_names[];

/* "instructions,llc_misses" (names, case-insensitive) or "0x12": leaf 0xA
 * EBX bits. -1 with err naming the bad item. */
int cfg_pmu_parse_event_list(const char *s, uint32_t *mask, char *err, size_t errlen);

#endif
