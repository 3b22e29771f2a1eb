/* libFuzzer: the strict HTTP parser alone (base/http_parse.c), much faster
 * than fuzz_api_http's socket round trip. Oracles: a complete request's
 * fields lie inside the input, in order; a refusal has status 400 and a
 * message that is UTF-8; feeding the same bytes in two pieces gives the
 * same verdict as feeding them whole (what a trickling client does).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/http_parse.h"
#include "base/utf8.h"

#define MAX_BODY 51200

static void fail(const char *why)
{
	fprintf(stderr, "fuzz_http_parse: %s\n", why);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_request rq;
	struct http_error e;
	enum http_result r = http_parse(buf, size, MAX_BODY, &rq, &e);
	if (r == HTTP_MALFORMED) {
		char why[96];
		if (e.status != 400)
			fail("a refusal that is not 400");
		if (utf8_check(e.msg, strlen(e.msg), why, sizeof(why)))
			fail("a refusal message that is not UTF-8");
	} else if (r == HTTP_COMPLETE) {
		if (rq.total_len > size || rq.head_len > rq.total_len ||
		    rq.total_len - rq.head_len != rq.body_len)
			fail("a complete request's lengths do not add up");
		if (rq.target < buf || rq.target + rq.target_len > buf + rq.head_len ||
		    !rq.target_len || rq.target[0] != '/')
			fail("the target lies outside the head");
		if (rq.body_len && rq.body != buf + rq.head_len)
			fail("the body does not follow the head");
		if (!rq.method[0] || strlen(rq.method) > HTTP_MAX_METHOD)
			fail("bad method");
	}
	/* Incremental: a prefix never turns a complete request into a refusal,
	 * and the head end found in two steps is the one found in one. */
	size_t cut = size ? data[0] % (size + 1) : 0;
	size_t whole = http_head_end(buf, size, 0);
	size_t first = http_head_end(buf, cut, 0);
	size_t second = first ? first : http_head_end(buf, size, cut > 2 ? cut - 2 : 0);
	if (whole != second)
		fail("the head end depends on how the bytes arrived");
	if (r == HTTP_COMPLETE && cut < size) {
		struct http_request rq2;
		struct http_error e2;
		if (http_parse(buf, cut, MAX_BODY, &rq2, &e2) == HTTP_MALFORMED)
			fail("a prefix of a valid request was refused");
	}
	return 0;
}
