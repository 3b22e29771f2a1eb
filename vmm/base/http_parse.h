/* A strict HTTP/1.x request parser for the API socket (no I/O, no state
 * beyond the buffer it is given), in the spirit of Firecracker's micro_http.
 *
 * Contract:
 *  - http_parse() looks at the bytes a connection has buffered and says
 *    whether they hold a whole request (head and Content-Length body), need
 *    more bytes, or are malformed. It never reads past `len` and allocates
 *    nothing; the request's fields point into the buffer.
 *  - Malformed is final: the caller answers once with status `e->status`
 *    (400 for every malformed shape) and the message `e->msg`, then closes.
 *    What counts as malformed: a request line that is not `METHOD SP
 *    origin-form SP HTTP/1.0|1.1`, control or non-ASCII bytes in the target,
 *    obsolete line folding, bad header names, NUL or control bytes in values,
 *    a Content-Length that is not a decimal number or conflicts with another,
 *    any Transfer-Encoding (no chunked bodies, as Firecracker), an Expect
 *    other than 100-continue, a head over HTTP_MAX_HEAD bytes or
 *    HTTP_MAX_HEADERS lines, a body over the caller's limit.
 *  - http_check_start() judges a request line that has not ended yet, so a
 *    client sending binary garbage is answered at once, not at a timeout.
 */
#ifndef MPVM_HTTP_PARSE_H
#define MPVM_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD (32 * 1024)  /* request line + headers */
#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_TARGET 4096
#define HTTP_MAX_METHOD 16

struct http_request {
	char method[HTTP_MAX_METHOD + 1];
	const char *target;  /* origin-form path, not NUL-terminated, query cut off */
	size_t target_len;
	const char *body;    /* NULL when body_len is 0 */
	size_t body_len;
	size_t head_len;     /* bytes of request line + headers + blank line */
	size_t total_len;    /* head_len + body_len: where the next request starts */
	bool keep_alive;     /* HTTP/1.1 unless "Connection: close"; 1.0 only if asked */
	bool expect_continue;
	bool has_body_header;  /* a Content-Length was sent (even 0) */
};

struct http_error {
	int status;     /* HTTP status for the answer (400) */
	bool too_large; /* refused for its size (head or body), not its form: metrics tell them apart */
	char msg[200];  /* Firecracker-style fault_message, valid UTF-8 */
};

enum http_result { HTTP_MALFORMED = -1, HTTP_NEED_MORE = 0, HTTP_COMPLETE = 1 };

/* Offset just past the blank line ending the head in buf[0..len), or 0 if it
 * has not arrived. Scans from `from` (a caller that remembers how far it got
 * never rescans: trickled bytes cost O(1) each). Bare LF line ends count. */
size_t http_head_end(const char *buf, size_t len, size_t from);

/* Parse buf[0..len). `max_body` caps Content-Length. On HTTP_NEED_MORE with
 * the head complete, rq->head_len and rq->total_len say how much to wait for
 * (and rq->expect_continue whether to send "100 Continue" first). */
enum http_result http_parse(const char *buf, size_t len, size_t max_body,
			    struct http_request *rq, struct http_error *e);

/* 0 if buf[0..len), the start of a request whose line has not ended, may
 * still become a valid request line; -1 (e filled) if it cannot. */
int http_check_start(const char *buf, size_t len, struct http_error *e);

/* The value of header `name` (any case) in a request http_parse() found
 * COMPLETE in `buf`: how many lines carry it; *val and *vlen are the first one's
 * value without surrounding blanks (untouched when there is none). */
unsigned http_header(const char *buf, const struct http_request *rq, const char *name,
		     const char **val, size_t *vlen);

/* "OK", "No Content", ... for a status mpvm sends; "Unknown" otherwise. */
const char *http_reason(int status);

#endif
