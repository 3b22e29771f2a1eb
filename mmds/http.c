/* MMDS's HTTP answers; see http.h. Wording follows Firecracker's MMDS so a
 * guest tool written against it reads the same messages. */
#include "mmds/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/http_parse.h"
#include "mmds/store.h"

#define TOKEN_PATH "/latest/api/token"

struct answer {
	int status;
	const char *allow;        /* Allow header for 405 */
	const char *type;         /* Content-Type */
	char *body;               /* malloc'd, or NULL with msg */
	char msg[256];
};

static void say(struct answer *a, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(struct answer *a, int status, const char *fmt, ...)
{
	va_list ap;
	a->status = status;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
	va_end(ap);
}

static bool value_is(const char *v, size_t n, const char *want)
{
	return n == strlen(want) && !strncasecmp(v, want, n);
}

/* Does the Accept header ask for JSON? Firecracker's rule: the media type
 * application/json, otherwise text (IMDS). */
static bool wants_json(const char *buf, const struct http_request *rq)
{
	const char *v;
	size_t n;
	if (!http_header(buf, rq, "Accept", &v, &n))
		return false;
	return value_is(v, n, "application/json");
}

static void get(const char *buf, const struct http_request *rq, bool imds_compat, struct answer *a)
{
	bool json = !imds_compat && wants_json(buf, rq);
	int st = mmds_get(rq->target, rq->target_len, json ? MMDS_FORMAT_JSON : MMDS_FORMAT_IMDS,
			  &a->body);
	a->type = json ? "application/json" : "text/plain";
	if (st == 404)
		say(a, 404, "Resource not found: %.*s.", (int)(rq->target_len > 200 ? 200 : rq->target_len),
		    rq->target);
	else if (st == 501)
		say(a, 501, "Cannot retrieve value. The value has an unsupported type.");
	else if (st != 200)
		say(a, 500, "MMDS: out of memory");
	else
		a->status = 200;
}

static bool token_ok(const char *buf, const struct http_request *rq, uint64_t now, struct answer *a)
{
	const char *v;
	size_t n;
	if (!http_header(buf, rq, "X-metadata-token", &v, &n)) {
		say(a, 401, "No MMDS token provided. Use `X-metadata-token` header to specify the "
			    "session token.");
		return false;
	}
	if (!mmds_token_valid(v, n, now)) {
		say(a, 401, "MMDS token not valid.");
		return false;
	}
	return true;
}

static void put_token(const char *buf, const struct http_request *rq, uint64_t now, struct answer *a)
{
	const char *v;
	size_t n;
	char tok[MMDS_TOKEN_LEN + 1];
	unsigned long ttl = 0;

	if (http_header(buf, rq, "X-Forwarded-For", &v, &n))
		return say(a, 400, "Invalid header. Reason: Unsupported header name. Key: X-Forwarded-For");
	/* Firecracker dedups "//" before comparing. */
	size_t i = 0, k = 0;
	char path[sizeof(TOKEN_PATH)];
	for (; i < rq->target_len && k < sizeof(path) - 1; i++)
		if (!(rq->target[i] == '/' && k && path[k - 1] == '/'))
			path[k++] = rq->target[i];
	path[k] = 0;
	if (i != rq->target_len || strcmp(path, TOKEN_PATH))
		return say(a, 404, "Resource not found: %.*s.",
			   (int)(rq->target_len > 200 ? 200 : rq->target_len), rq->target);
	if (!http_header(buf, rq, "X-metadata-token-ttl-seconds", &v, &n))
		return say(a, 400, "Token time to live value not found. Use "
				   "`X-metadata-token-ttl-seconds` header to specify the token's lifetime.");
	for (i = 0; i < n && i < 6 && v[i] >= '0' && v[i] <= '9'; i++)
		ttl = ttl * 10 + (unsigned long)(v[i] - '0');
	if (!n || i != n || ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX)
		return say(a, 400, "Invalid time to live value provided for token: %.*s. Please provide "
				   "a value between %d and %d.", (int)(n > 24 ? 24 : n), v,
			   MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
	if (mmds_token_new((uint32_t)ttl, now, tok))
		return say(a, 500, "MMDS: could not generate a token (random source failed)");
	a->status = 200;
	a->type = "text/plain";
	a->body = strdup(tok);
	if (!a->body)
		say(a, 500, "MMDS: out of memory");
}

static void route(const char *buf, const struct http_request *rq, enum cfg_mmds_version v,
		  bool imds_compat, uint64_t now, struct answer *a)
{
	bool is_get = !strcmp(rq->method, "GET"), is_put = !strcmp(rq->method, "PUT");
	if (rq->body_len)
		return say(a, 400, "MMDS requests carry no body.");
	if (v == CFG_MMDS_V1) {
		if (is_get)
			return get(buf, rq, imds_compat, a);
		a->allow = "GET";
		return say(a, 405, "Not allowed HTTP method.");
	}
	if (is_get) {
		if (token_ok(buf, rq, now, a))
			get(buf, rq, imds_compat, a);
		return;
	}
	if (is_put)
		return put_token(buf, rq, now, a);
	a->allow = "GET, PUT";
	say(a, 405, "Not allowed HTTP method.");
}

/* Head and body in one buffer. Text errors are sent as text/plain. */
static int build(struct answer *a, bool close, struct mmds_reply *r)
{
	const char *body = a->body ? a->body : a->msg;
	size_t blen = strlen(body);
	char head[256];
	int h = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: mpvm MMDS\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\n%s%s%s%s\r\n",
			 a->status, http_reason(a->status), a->body && a->type ? a->type : "text/plain",
			 blen, a->allow ? "Allow: " : "", a->allow ? a->allow : "", a->allow ? "\r\n" : "",
			 close ? "Connection: close\r\n" : "");
	r->data = malloc((size_t)h + blen);
	if (!r->data) {
		free(a->body);
		return -1;
	}
	memcpy(r->data, head, (size_t)h);
	memcpy(r->data + h, body, blen);
	r->len = (size_t)h + blen;
	r->close = close;
	free(a->body);
	return 1;
}

int mmds_http_answer(const char *buf, size_t len, enum cfg_mmds_version v, bool imds_compat,
		     uint64_t now_ns, struct mmds_reply *r)
{
	struct http_request rq;
	struct http_error e;
	struct answer a = { 0 };

	memset(r, 0, sizeof(*r));
	enum http_result res = http_parse(buf, len, 0, &rq, &e);
	if (res == HTTP_NEED_MORE && len < MMDS_MAX_REQUEST)
		return 0;
	if (res == HTTP_NEED_MORE) {
		say(&a, 400, "Request headers are larger than the limit of %d bytes", MMDS_MAX_REQUEST);
		r->consumed = len;
		return build(&a, true, r);
	}
	if (res == HTTP_MALFORMED) {
		say(&a, e.status, "%s", e.msg);
		r->consumed = len;
		return build(&a, true, r);
	}
	route(buf, &rq, v, imds_compat, now_ns, &a);
	r->consumed = rq.total_len;
	return build(&a, !rq.keep_alive, r);
}
