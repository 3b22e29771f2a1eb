/* The MMDS data store (Firecracker's microVM metadata service): one JSON
 * object that the host edits through the API with PUT /mmds (replace),
 * PATCH /mmds (JSON merge patch, RFC 7396) and reads with GET /mmds, and
 * that the guest reads over the network (mmds/http.h, mmds/ns.h): a value by
 * path, and V2's session tokens.
 *
 * Contract: process-wide, like the metrics, and shared by threads (the API
 * runs on the main thread, each virtio-net worker answers its guest): every
 * call takes the store's lock, nothing it returns points into the store.
 * Bodies go through config/'s text rule; the store is limited to
 * MMDS_MAX_BYTES of compact JSON, Firecracker's default.
 */
#ifndef MPVM_MMDS_STORE_H
#define MPVM_MMDS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_MAX_BYTES 51200

/* Each returns 0, or the HTTP status to answer with `err` the fault
 * message: 400 for a body that is not a JSON object or a PATCH before any
 * PUT, 413 when the result would not fit (Firecracker's statuses and
 * words). A refused request leaves the store as it was. */
int mmds_put(const char *json, char *err, size_t errlen);
int mmds_patch(const char *json, char *err, size_t errlen);
/* The store as compact JSON, "{}" before the first PUT; malloc'd, NULL if
 * out of memory. */
char *mmds_json(void);
/* Back to "never PUT", no tokens (tests). */
void mmds_reset(void);

/* The value at `path` (a JSON pointer, "/a/b", runs of "/" count as one, a
 * trailing "/" is ignored), as the guest sees it. IMDS format: a string is
 * its text, an object lists its keys one a line, a "/" after those that are
 * objects; any other type cannot be shown (501). JSON format: the compact
 * JSON of the value. Returns 200 with *out malloc'd, 404 when nothing is
 * there (or before the first PUT), 501 for a non-string leaf in IMDS, 500
 * when out of memory (*out NULL unless 200). */
enum mmds_format { MMDS_FORMAT_IMDS, MMDS_FORMAT_JSON };
int mmds_get(const char *path, size_t len, enum mmds_format f, char **out);

/* V2 session tokens: MMDS_TOKEN_LEN printable characters from the host's
 * random source, valid `ttl_s` seconds of CLOCK_MONOTONIC from `now_ns`.
 * At most MMDS_MAX_TOKENS live at once: a new one replaces the one that
 * expires first (a guest minting tokens in a loop costs bounded memory).
 * mmds_token_new returns 0, or -1 if the random source failed. */
#define MMDS_TOKEN_LEN 44
#define MMDS_MAX_TOKENS 64
#define MMDS_TOKEN_TTL_MIN 1
#define MMDS_TOKEN_TTL_MAX 21600
int mmds_token_new(uint32_t ttl_s, uint64_t now_ns, char out[MMDS_TOKEN_LEN + 1]);
bool mmds_token_valid(const char *tok, size_t len, uint64_t now_ns);

#endif
