/* MMDS's HTTP answers to the guest: one request in, one response out, as
 * Firecracker's MMDS answers them (src/vmm/src/mmds/mod.rs).
 *
 * Contract: mmds_http_answer() looks at the bytes a guest connection has
 * received (parsed by base/http_parse.h, the API's strict parser, with no
 * body allowed) and either needs more, or builds the whole response:
 *  - GET <path>: 200 with the value (mmds_get(): IMDS text, or JSON when the
 *    request says "Accept: application/json"), 404 "Resource not found:
 *    <path>.", 501 for a value IMDS cannot show.
 *  - V2: GET needs "X-metadata-token" naming a live token (401 otherwise);
 *    "PUT /latest/api/token" with "X-metadata-token-ttl-seconds: 1..21600"
 *    answers a new token (400 for a missing or bad TTL or an
 *    X-Forwarded-For header, 404 for another path).
 *  - V1: GET only, token headers ignored; other methods 405.
 *  - imds_compat (mmds-config): IMDS text whatever Accept asks, as EC2's
 *    IMDS answers.
 *  - A malformed request: 400 with the parser's message, then close.
 * The response is malloc'd (at most MMDS_MAX_BYTES plus a head); `close`
 * says the connection ends after it (malformed, or Connection: close,
 * or HTTP/1.0 without keep-alive).
 */
#ifndef MPVM_MMDS_HTTP_H
#define MPVM_MMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Longest request a guest may send (head; no bodies): more is a 400. */
#define MMDS_MAX_REQUEST 4096

struct mmds_reply {
	char *data;
	size_t len;
	size_t consumed; /* request bytes answered (the next request starts there) */
	bool close;
};

/* 0: need more bytes (buf holds less than a whole request and less than
 * MMDS_MAX_REQUEST); 1: *r filled; -1: out of memory (nothing to send,
 * drop the connection). */
int mmds_http_answer(const char *buf, size_t len, enum cfg_mmds_version v, bool imds_compat,
		     uint64_t now_ns, struct mmds_reply *r);

#endif
