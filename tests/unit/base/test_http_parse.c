/* The strict HTTP parser (base/http_parse.h) without a socket: what a whole
 * request looks like, when it needs more bytes, and each malformed shape it
 * refuses (and why).
 */
#include <check.h>
#include <string.h>

#include "base/http_parse.h"
#include "check_main.h"

#define MAX_BODY 51200

static enum http_result parse(const char *raw, struct http_request *rq, struct http_error *e)
{
	return http_parse(raw, strlen(raw), MAX_BODY, rq, e);
}

START_TEST(a_whole_request_with_a_body)
{
	const char *raw = "PUT /drives/root?x=1 HTTP/1.1\r\nHost: localhost\r\n"
			  "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}GET";
	struct http_request rq;
	struct http_error e;
	ck_assert_int_eq(parse(raw, &rq, &e), HTTP_COMPLETE);
	ck_assert_str_eq(rq.method, "PUT");
	ck_assert_uint_eq(rq.target_len, strlen("/drives/root")); /* the query is cut off */
	ck_assert(!memcmp(rq.target, "/drives/root", rq.target_len));
	ck_assert_uint_eq(rq.body_len, 2);
	ck_assert(!memcmp(rq.body, "{}", 2));
	ck_assert_uint_eq(rq.total_len, strlen(raw) - 3); /* "GET" is the next request */
	ck_assert(rq.keep_alive);
}
END_TEST

START_TEST(keep_alive_follows_the_version_and_connection_header)
{
	struct http_request rq;
	struct http_error e;
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n", &rq, &e), HTTP_COMPLETE);
	ck_assert(!rq.keep_alive);
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &rq, &e),
			 HTTP_COMPLETE);
	ck_assert(rq.keep_alive);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n", &rq, &e),
			 HTTP_COMPLETE);
	ck_assert(!rq.keep_alive);
	/* Bare LF line ends are accepted (RFC 9112 2.2). */
	ck_assert_int_eq(parse("GET /version HTTP/1.1\nHost: x\n\n", &rq, &e), HTTP_COMPLETE);
}
END_TEST

START_TEST(partial_requests_need_more_and_say_how_much)
{
	struct http_request rq;
	struct http_error e;
	ck_assert_int_eq(parse("", &rq, &e), HTTP_NEED_MORE);
	ck_assert_int_eq(parse("GE", &rq, &e), HTTP_NEED_MORE);
	ck_assert_int_eq(parse("GET /vm HTT", &rq, &e), HTTP_NEED_MORE);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n", &rq, &e), HTTP_NEED_MORE);
	ck_assert_uint_eq(rq.head_len, 0);
	const char *head = "PUT /vm HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n";
	ck_assert_int_eq(parse(head, &rq, &e), HTTP_NEED_MORE);
	ck_assert_uint_eq(rq.head_len, strlen(head));
	ck_assert_uint_eq(rq.total_len, strlen(head) + 10);
	ck_assert(rq.expect_continue);
}
END_TEST

START_TEST(the_end_of_the_head_is_found_incrementally)
{
	const char *raw = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t n = strlen(raw);
	ck_assert_uint_eq(http_head_end(raw, n - 1, 0), 0);
	ck_assert_uint_eq(http_head_end(raw, n, 0), n);
	/* Resuming from where the last look stopped still finds it. */
	ck_assert_uint_eq(http_head_end(raw, n, n - 1), n);
}
END_TEST

struct refusal {
	const char *raw;
	const char *words;
};

START_TEST(malformed_requests_are_refused_with_a_reason)
{
	static const struct refusal cases[] = {
		{ "\x16\x03\x01", "Invalid HTTP method: byte 0x16" },
		{ " GET / HTTP/1.1\r\n\r\n", "starts with a space" },
		{ "GETTINGTOOLONGMETHODNAME / HTTP/1.1\r\n\r\n", "longer than 16" },
		{ "GET x HTTP/1.1\r\n\r\n", "must start with '/'" },
		{ "GET * HTTP/1.1\r\n\r\n", "must start with '/'" },
		{ "GET / HTTP/1.2\r\n\r\n", "Unsupported HTTP version" },
		{ "GET / HTTP/1.1 \r\n\r\n", "Unsupported HTTP version" },
		{ "GET /\x7f HTTP/1.1\r\n\r\n", "0x7f must be percent-encoded" },
		{ "GET / HTTP/1.1\r\n\tfolded\r\n\r\n", "obsolete line folding" },
		{ "GET / HTTP/1.1\r\nName : v\r\n\r\n", "no space before the colon" },
		{ "GET / HTTP/1.1\r\n: v\r\n\r\n", "token name" },
		{ "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", "control byte 0x7f" },
		{ "GET / HTTP/1.1\r\nX: a\r\rY: b\r\n\r\n", "bare CR" },
		{ "PUT / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", "Invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", "Invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n", "Invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 51201\r\n\r\n",
		  "size 51201 is larger than the limit of 51200" },
		{ "PUT / HTTP/1.1\r\ncontent-length: 3\r\nCONTENT-LENGTH: 4\r\n\r\n",
		  "conflicting Content-Length headers (3 and 4)" },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding" },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", "Transfer-Encoding" },
		{ "GET / HTTP/1.1\r\nExpect: 100-continue-please\r\n\r\n", "only 100-continue" },
		/* Refused when its line ends, though the head never did. */
		{ "GET / HTTP/1.1\r\nBad\x01Name: x\r\n", "Invalid header" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_request rq;
		struct http_error e = { 0 };
		ck_assert_msg(parse(cases[i].raw, &rq, &e) == HTTP_MALFORMED, "case %zu accepted", i);
		ck_assert_int_eq(e.status, 400);
		ck_assert_msg(strstr(e.msg, cases[i].words), "case %zu: want \"%s\", got \"%s\"", i,
			      cases[i].words, e.msg);
		/* Only a size refusal counts as oversize in the metrics. */
		ck_assert_int_eq(e.too_large, strstr(e.msg, "larger than the limit") != NULL);
	}
}
END_TEST

START_TEST(heads_and_header_counts_are_bounded)
{
	struct http_request rq;
	struct http_error e;
	static char big[HTTP_MAX_HEAD + 64];
	int n = sprintf(big, "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n - 1);
	ck_assert_int_eq(http_parse(big, sizeof(big) - 1, MAX_BODY, &rq, &e), HTTP_MALFORMED);
	ck_assert_msg(strstr(e.msg, "larger than the limit of 32768"), "%s", e.msg);
	ck_assert(e.too_large);
	static char many[HTTP_MAX_HEADERS * 8 + 64];
	char *p = many + sprintf(many, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		p += sprintf(p, "X: %d\r\n", i % 10);
	sprintf(p, "\r\n");
	ck_assert_int_eq(parse(many, &rq, &e), HTTP_MALFORMED);
	ck_assert_msg(strstr(e.msg, "more than 100 header lines"), "%s", e.msg);
	ck_assert(!e.too_large);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_parse");
	TCase *tc = tcase_create("http_parse");
	tcase_add_test(tc, a_whole_request_with_a_body);
	tcase_add_test(tc, keep_alive_follows_the_version_and_connection_header);
	tcase_add_test(tc, partial_requests_need_more_and_say_how_much);
	tcase_add_test(tc, the_end_of_the_head_is_found_incrementally);
	tcase_add_test(tc, malformed_requests_are_refused_with_a_reason);
	tcase_add_test(tc, heads_and_header_counts_are_bounded);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
