/* The MMDS data store (Firecracker's microVM metadata service): one JSON
 * object that the host edits with PUT /mmds (replace), PATCH /mmds (JSON
 * merge patch, RFC 7396) and reads with GET /mmds.
 *
 * Contract: host side only. Where Firecracker's net device also answers the
 * guest at the "mmds-config" address, mpvm does not yet: the store is kept
 * and served to the API, never to the guest. Process-wide, like the
 * metrics; main thread only (the API runs there). Bodies go through
 * config/'s text rule; the store is limited to MMDS_MAX_BYTES of compact
 * JSON, Firecracker's default.
 */
#ifndef MPVM_MMDS_H
#define MPVM_MMDS_H

#include <stddef.h>

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
/* Back to "never PUT" (tests). */
void mmds_reset(void);

#endif
