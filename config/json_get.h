/* Typed getters over cJSON whose errors name the JSON path (internal to config/).
 *
 * Contract: a getter looks up `key` in the object `obj`, whose own path is
 * `path` ("" at top level, then "machine-config", "drives[1]", ...). It
 * returns 1 when the value is present and valid (stored in *out), 0 when it
 * is absent or JSON null and not JG_REQUIRED (*out untouched: null means
 * "not given", as serde's Option does in Firecracker), and -1 with e->buf set
 * to "path.key: expected X, got Y" otherwise. Numbers must be integral and in
 * range; integers above 2^53 are refused since a double cannot hold them.
 */
#ifndef MPVM_CONFIG_JSON_GET_H
#define MPVM_CONFIG_JSON_GET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* An error buffer (base/err.h) carried through the getters. */
struct jerr {
	char *buf;
	size_t len;
};

#define JG_REQUIRED 0x1u /* absent or null is an error */
#define JG_NONEMPTY 0x2u /* strings: "" is an error */
#define JG_HEXSTR   0x4u /* integers: "0x1f" strings are accepted too */

#define JG_MAX_EXACT (1ULL << 53) /* largest integer a double holds exactly */
#define JG_PATH_LEN 160

/* Always returns -1. `key` may be NULL (the error is about `path` itself). */
int jg_fail(struct jerr *e, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "got" text: a quoted string (truncated), a number, true/false/null,
 * "an object" or "an array". */
void jg_describe(const cJSON *v, char *buf, size_t len);
/* The same for a string. */
void jg_describe_str(const char *s, char *buf, size_t len);
/* "path.key" or "key" when path is "". A path that is a command-line flag
 * ("--drive") joins its items the way the CLI names them: "--drive: id". */
void jg_subpath(char *buf, size_t len, const char *path, const char *key);
/* "path[i]". */
void jg_index(char *buf, size_t len, const char *path, size_t i);

/* Parses JSON text that must be one object. `what` prefixes syntax errors
 * ("config.json: invalid JSON at line 3, column 5 near ..."). */
int jg_parse_object(const char *text, const char *what, cJSON **out, struct jerr *e);
int jg_want_object(const cJSON *v, const char *path, struct jerr *e);
/* Every key of `obj` must be in the NULL-terminated `allowed`, once. */
int jg_check_keys(const cJSON *obj, const char *path, const char *const *allowed, struct jerr *e);
/* The member, or NULL when absent or JSON null. */
const cJSON *jg_get(const cJSON *obj, const char *key);

int jg_uint(const cJSON *obj, const char *path, const char *key, unsigned flags, uint64_t min,
	    uint64_t max, uint64_t *out, struct jerr *e);
int jg_bool(const cJSON *obj, const char *path, const char *key, unsigned flags, bool *out,
	    struct jerr *e);
/* Replaces *out (freeing the old string) with a copy. */
int jg_str(const cJSON *obj, const char *path, const char *key, unsigned flags, char **out,
	   struct jerr *e);
/* Matches `names` (NULL-terminated) case-insensitively; *out is the index.
 * Errors list the names as written. */
int jg_enum(const cJSON *obj, const char *path, const char *key, unsigned flags,
	    const char *const *names, int *out, struct jerr *e);
/* An array of at most `max` elements; `what` names the elements in errors. */
int jg_array(const cJSON *obj, const char *path, const char *key, unsigned flags, size_t max,
	     const char *what, const cJSON **out, struct jerr *e);

/* "aa:bb:cc:dd:ee:ff" (hex, either case). */
bool jg_parse_mac(const char *s, uint8_t mac[6]);
/* Strict unsigned parse of the whole string: decimal, or hex after "0x"
 * when `base` is 16 ("c0" and "0xc0" both accepted). */
bool jg_parse_u64(const char *s, int base, uint64_t *out);

#endif
