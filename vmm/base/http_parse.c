/* Strict HTTP/1.x request parsing (RFC 9112 request line and fields), see
 * http_parse.h. Why strict: a lenient parser is how request smuggling and
 * "two headers, which one wins" bugs start. The API socket's clients are
 * curl, Firecracker SDKs and orchestrators, which all send plain, well-formed
 * requests with Content-Length; anything else is answered with one 400.
 */
#include "base/http_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int bad(struct http_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(struct http_error *e, const char *fmt, ...)
{
	va_list ap;
	e->status = 400;
	e->too_large = false;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* RFC 9110 tchar: the characters of a method or a field name. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A request target byte: visible ASCII. Spaces, controls and raw UTF-8
 * must be percent-encoded by the client. */
static bool is_target_char(unsigned char c) { return c > 0x20 && c < 0x7f; }

size_t http_head_end(const char *buf, size_t len, size_t from)
{
	for (size_t i = from; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		/* An empty line: "\n\n" or "\n\r\n" (the request line itself is never empty). */
		if (i >= 1 && buf[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

static const char *const versions[] = { "HTTP/1.1", "HTTP/1.0" };

int http_check_start(const char *buf, size_t len, struct http_error *e)
{
	size_t i = 0, n;
	for (n = 0; i < len && buf[i] != ' '; i++, n++) {
		if (buf[i] == '\r' || buf[i] == '\n')
			return 0; /* the line ended: http_parse judges it whole */
		if (!is_tchar((unsigned char)buf[i]))
			return bad(e, "Invalid HTTP method: byte 0x%02x", (unsigned char)buf[i]);
		if (n == HTTP_MAX_METHOD)
			return bad(e, "Invalid HTTP method: longer than %d characters", HTTP_MAX_METHOD);
	}
	if (i < len && !n)
		return bad(e, "Invalid request line: it starts with a space");
	if (++i >= len)
		return 0;
	if (buf[i] != '/')
		return bad(e, "Invalid URI: the request target must start with '/'");
	for (n = 0; i < len && buf[i] != ' '; i++, n++) {
		if (buf[i] == '\r' || buf[i] == '\n')
			return 0;
		if (!is_target_char((unsigned char)buf[i]))
			return bad(e, "Invalid URI: byte 0x%02x must be percent-encoded",
				   (unsigned char)buf[i]);
		if (n == HTTP_MAX_TARGET)
			return bad(e, "Invalid URI: longer than %d bytes", HTTP_MAX_TARGET);
	}
	if (++i >= len)
		return 0;
	/* The version so far must be a prefix of one we speak. */
	size_t have = len - i;
	for (size_t v = 0; v < 2; v++) {
		size_t m = have < 8 ? have : 8;
		if (!memcmp(buf + i, versions[v], m))
			return 0;
	}
	return bad(e, "Unsupported HTTP version: only HTTP/1.0 and HTTP/1.1 are served");
}

/* One line of the head: [s, s+len) without its line end. */
struct line {
	const char *s;
	size_t len;
};

/* Cut buf[*off..lim) at the next LF; a CR is allowed only right before it. */
static int next_line(const char *buf, size_t lim, size_t *off, struct line *ln,
		     struct http_error *e)
{
	const char *start = buf + *off;
	const char *lf = memchr(start, '\n', lim - *off);
	if (!lf)
		return 0;
	size_t n = (size_t)(lf - start);
	*off += n + 1;
	if (n && start[n - 1] == '\r')
		n--;
	if (memchr(start, '\r', n))
		return bad(e, "Invalid request: a bare CR inside a line");
	*ln = (struct line){ start, n };
	return 1;
}

static int parse_request_line(struct line ln, struct http_request *rq, struct http_error *e)
{
	const char *sp1 = memchr(ln.s, ' ', ln.len);
	if (!sp1)
		return bad(e, "Invalid request line: expected METHOD SP TARGET SP VERSION");
	size_t mlen = (size_t)(sp1 - ln.s);
	if (!mlen)
		return bad(e, "Invalid request line: it starts with a space");
	if (mlen > HTTP_MAX_METHOD)
		return bad(e, "Invalid HTTP method: longer than %d characters", HTTP_MAX_METHOD);
	for (size_t i = 0; i < mlen; i++) {
		if (!is_tchar((unsigned char)ln.s[i]))
			return bad(e, "Invalid HTTP method: byte 0x%02x", (unsigned char)ln.s[i]);
	}
	memcpy(rq->method, ln.s, mlen);
	rq->method[mlen] = 0;
	const char *t = sp1 + 1, *end = ln.s + ln.len;
	const char *sp2 = memchr(t, ' ', (size_t)(end - t));
	if (!sp2)
		return bad(e, "Invalid request line: expected METHOD SP TARGET SP VERSION");
	size_t tlen = (size_t)(sp2 - t);
	if (!tlen || t[0] != '/')
		return bad(e, "Invalid URI: the request target must start with '/'");
	if (tlen > HTTP_MAX_TARGET)
		return bad(e, "Invalid URI: longer than %d bytes", HTTP_MAX_TARGET);
	for (size_t i = 0; i < tlen; i++) {
		if (!is_target_char((unsigned char)t[i]))
			return bad(e, "Invalid URI: byte 0x%02x must be percent-encoded",
				   (unsigned char)t[i]);
	}
	const char *v = sp2 + 1;
	size_t vlen = (size_t)(end - v);
	if (vlen != 8 || (memcmp(v, versions[0], 8) && memcmp(v, versions[1], 8)))
		return bad(e, "Unsupported HTTP version: only HTTP/1.0 and HTTP/1.1 are served");
	rq->keep_alive = v[7] == '1';
	/* The API has no use for a query or a fragment; the path is what routes. */
	size_t plen = strcspn(t, "?# ");
	rq->target = t;
	rq->target_len = plen < tlen ? plen : tlen;
	return 0;
}

static bool name_is(struct line name, const char *want)
{
	return name.len == strlen(want) && !strncasecmp(name.s, want, name.len);
}

/* Does the comma-separated list `v` hold token `tok` (any case)? */
static bool list_has(struct line v, const char *tok)
{
	size_t tl = strlen(tok);
	size_t i = 0;
	while (i < v.len) {
		while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t' || v.s[i] == ','))
			i++;
		size_t j = i;
		while (j < v.len && v.s[j] != ',')
			j++;
		size_t k = j;
		while (k > i && (v.s[k - 1] == ' ' || v.s[k - 1] == '\t'))
			k--;
		if (k - i == tl && !strncasecmp(v.s + i, tok, tl))
			return true;
		i = j;
	}
	return false;
}

struct head_state {
	bool have_cl;
	unsigned long long cl;
};

static int parse_field(struct line ln, size_t max_body, struct http_request *rq,
		       struct head_state *st, struct http_error *e)
{
	if (ln.s[0] == ' ' || ln.s[0] == '\t')
		return bad(e, "Invalid header: obsolete line folding is not accepted");
	size_t n = 0;
	while (n < ln.len && is_tchar((unsigned char)ln.s[n]))
		n++;
	if (!n || n == ln.len || ln.s[n] != ':')
		return bad(e, "Invalid header: expected NAME: VALUE with a token name and no "
			      "space before the colon");
	struct line name = { ln.s, n };
	size_t i = n + 1, j = ln.len;
	while (i < j && (ln.s[i] == ' ' || ln.s[i] == '\t'))
		i++;
	while (j > i && (ln.s[j - 1] == ' ' || ln.s[j - 1] == '\t'))
		j--;
	struct line v = { ln.s + i, j - i };
	for (size_t k = 0; k < v.len; k++) {
		unsigned char c = (unsigned char)v.s[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return bad(e, "Invalid header %.*s: control byte 0x%02x in its value",
				   (int)(n > 40 ? 40 : n), name.s, c);
	}
	if (name_is(name, "Content-Length")) {
		size_t digits = 0;
		while (digits < v.len && v.s[digits] >= '0' && v.s[digits] <= '9')
			digits++;
		if (!v.len || digits != v.len)
			return bad(e, "Invalid Content-Length: expected a decimal number of bytes");
		if (digits > 19) {
			bad(e, "Request payload with size %.*s... is larger than the limit of "
			       "%zu allowed by server.", 24, v.s, max_body);
			e->too_large = true;
			return -1;
		}
		unsigned long long cl = strtoull(v.s, NULL, 10); /* v ends at a non-digit */
		if (st->have_cl && st->cl != cl)
			return bad(e, "Invalid request: conflicting Content-Length headers (%llu and "
				      "%llu)", st->cl, cl);
		if (cl > max_body) {
			bad(e, "Request payload with size %llu is larger than the limit of %zu "
			       "allowed by server.", cl, max_body);
			e->too_large = true;
			return -1;
		}
		st->have_cl = true;
		st->cl = cl;
	} else if (name_is(name, "Transfer-Encoding")) {
		return bad(e, "Transfer-Encoding is not supported: send the body with a "
			      "Content-Length (as Firecracker's API requires)");
	} else if (name_is(name, "Connection")) {
		if (list_has(v, "close"))
			rq->keep_alive = false;
		else if (list_has(v, "keep-alive"))
			rq->keep_alive = true;
	} else if (name_is(name, "Expect")) {
		if (v.len != 12 || strncasecmp(v.s, "100-continue", 12))
			return bad(e, "Invalid header Expect: only 100-continue is supported");
		rq->expect_continue = true;
	}
	return 0;
}

enum http_result http_parse(const char *buf, size_t len, size_t max_body,
			    struct http_request *rq, struct http_error *e)
{
	memset(rq, 0, sizeof(*rq));
	size_t end = http_head_end(buf, len, 0);
	if (end > HTTP_MAX_HEAD || (!end && len > HTTP_MAX_HEAD)) {
		bad(e, "Request headers are larger than the limit of %d bytes", HTTP_MAX_HEAD);
		e->too_large = true;
		return HTTP_MALFORMED;
	}
	/* Judge every line that has ended, so garbage is refused when its line
	 * ends rather than when the head (which may never come) does. */
	size_t lim = end;
	if (!lim) {
		const char *lf = len ? memrchr(buf, '\n', len) : NULL;
		lim = lf ? (size_t)(lf - buf) + 1 : 0;
		if (!lim)
			return http_check_start(buf, len, e) ? HTTP_MALFORMED : HTTP_NEED_MORE;
	}
	size_t off = 0;
	struct line ln;
	struct head_state st = { 0 };
	int r = next_line(buf, lim, &off, &ln, e);
	if (r < 0 || parse_request_line(ln, rq, e))
		return HTTP_MALFORMED;
	unsigned fields = 0;
	while ((r = next_line(buf, lim, &off, &ln, e)) > 0 && ln.len) {
		if (++fields > HTTP_MAX_HEADERS)
			return bad(e, "Request has more than %d header lines", HTTP_MAX_HEADERS);
		if (parse_field(ln, max_body, rq, &st, e))
			return HTTP_MALFORMED;
	}
	if (r < 0)
		return HTTP_MALFORMED;
	if (!end)
		return HTTP_NEED_MORE;
	rq->head_len = end;
	rq->has_body_header = st.have_cl;
	rq->body_len = (size_t)st.cl;
	rq->total_len = end + rq->body_len;
	if (len < rq->total_len)
		return HTTP_NEED_MORE;
	rq->body = rq->body_len ? buf + end : NULL;
	rq->expect_continue = false; /* the body is here: nothing to wait for */
	return HTTP_COMPLETE;
}

unsigned http_header(const char *buf, const struct http_request *rq, const char *name,
		     const char **val, size_t *vlen)
{
	struct http_error e;
	struct line ln;
	size_t off = 0;
	unsigned found = 0;

	if (next_line(buf, rq->head_len, &off, &ln, &e) <= 0)
		return 0;
	/* http_parse() has judged every line: each is NAME ":" VALUE. */
	while (next_line(buf, rq->head_len, &off, &ln, &e) > 0 && ln.len) {
		const char *colon = memchr(ln.s, ':', ln.len);
		struct line n = { ln.s, colon ? (size_t)(colon - ln.s) : 0 };
		if (!colon || !name_is(n, name) || found++)
			continue;
		size_t i = n.len + 1, j = ln.len;
		while (i < j && (ln.s[i] == ' ' || ln.s[i] == '\t'))
			i++;
		while (j > i && (ln.s[j - 1] == ' ' || ln.s[j - 1] == '\t'))
			j--;
		*val = ln.s + i;
		*vlen = j - i;
	}
	return found;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 401: return "Unauthorized";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}
