/* MMDS's answers to the guest (mmds/http.h over mmds/store.h), request
 * bytes in, response bytes out: Firecracker's IMDS and JSON formats, V1
 * and V2 with session tokens, and what a hostile guest may send.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "mmds/http.h"
#include "mmds/store.h"

#define NOW 1000000000000ull /* CLOCK_MONOTONIC ns, any fixed point */
#define SEC 1000000000ull

static void setup(void)
{
	char err[256];
	mmds_reset();
	ck_assert_int_eq(mmds_put("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"hostname\": \"vm1\","
				  " \"net\": {\"mac\": \"aa\"}}}, \"age\": 43, \"list\": [\"x\", \"y\"]}",
				  err, sizeof(err)), 0);
}

static void teardown(void) { mmds_reset(); }

struct resp {
	int status;
	char head[1024];
	char body[65536];
	bool close;
	size_t consumed;
};

static bool compat; /* imds_compat */

/* One request through mmds_http_answer; the response split in head/body. */
static int ask(enum cfg_mmds_version v, uint64_t now, const char *rq, struct resp *r)
{
	struct mmds_reply rep;
	int k = mmds_http_answer(rq, strlen(rq), v, compat, now, &rep);
	memset(r, 0, sizeof(*r));
	if (k != 1)
		return k;
	const char *end = memmem(rep.data, rep.len, "\r\n\r\n", 4);
	ck_assert_ptr_nonnull(end);
	size_t hl = (size_t)(end - rep.data) + 4;
	ck_assert_uint_lt(hl, sizeof(r->head));
	memcpy(r->head, rep.data, hl);
	memcpy(r->body, rep.data + hl, rep.len - hl);
	ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	char cl[64];
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", rep.len - hl);
	ck_assert_msg(strstr(r->head, cl), "%s", r->head);
	r->close = rep.close;
	r->consumed = rep.consumed;
	free(rep.data);
	return 1;
}

#define GET(path, extra) "GET " path " HTTP/1.1\r\nHost: 169.254.169.254\r\n" extra "\r\n"

START_TEST(v1_get_values_listings_json_and_404)
{
	struct resp r;
	ck_assert_int_eq(ask(CFG_MMDS_V1, NOW, GET("/latest/meta-data/ami-id", ""), &r), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ami-1");
	ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: text/plain"));
	ck_assert(!r.close);
	/* Objects list their keys, "/" after sub-objects; "//" and a trailing "/" are one. */
	ask(CFG_MMDS_V1, NOW, GET("/latest//meta-data/", ""), &r);
	ck_assert_str_eq(r.body, "ami-id\nhostname\nnet/");
	ask(CFG_MMDS_V1, NOW, GET("/", ""), &r);
	ck_assert_str_eq(r.body, "latest/\nage\nlist");
	ask(CFG_MMDS_V1, NOW, GET("/latest/meta-data/net", "Accept: application/json\r\n"), &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"mac\":\"aa\"}");
	ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: application/json"));
	ask(CFG_MMDS_V1, NOW, GET("/age", "Accept: application/json\r\n"), &r);
	ck_assert_str_eq(r.body, "43");
	ask(CFG_MMDS_V1, NOW, GET("/list/1", ""), &r);
	ck_assert_str_eq(r.body, "y");
	/* IMDS cannot show a number or an array. */
	ask(CFG_MMDS_V1, NOW, GET("/age", ""), &r);
	ck_assert_int_eq(r.status, 501);
	ck_assert_str_eq(r.body, "Cannot retrieve value. The value has an unsupported type.");
	ask(CFG_MMDS_V1, NOW, GET("/latest/nope", ""), &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(r.body, "Resource not found: /latest/nope.");
	ask(CFG_MMDS_V1, NOW, GET("/list/01", ""), &r);
	ck_assert_int_eq(r.status, 404);
	ask(CFG_MMDS_V1, NOW, GET("/latest/meta-data/ami-id/deeper", ""), &r);
	ck_assert_int_eq(r.status, 404);
}
END_TEST

START_TEST(v1_refuses_put_and_ignores_token_headers)
{
	struct resp r;
	ask(CFG_MMDS_V1, NOW, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strstr(r.head, "Allow: GET\r\n"));
	ask(CFG_MMDS_V1, NOW, GET("/latest/meta-data/hostname", "X-metadata-token: bogus\r\n"), &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "vm1");
}
END_TEST

START_TEST(v2_tokens_gate_every_get)
{
	struct resp r;
	char rq[512];
	ask(CFG_MMDS_V2, NOW, GET("/latest/meta-data/ami-id", ""), &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(r.body, "No MMDS token provided. Use `X-metadata-token` header to specify "
				 "the session token.");
	ask(CFG_MMDS_V2, NOW, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 10\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(strlen(r.body), MMDS_TOKEN_LEN);
	char tok[MMDS_TOKEN_LEN + 1];
	strcpy(tok, r.body);
	snprintf(rq, sizeof(rq), GET("/latest/meta-data/ami-id", "X-metadata-token: %s\r\n"), tok);
	ask(CFG_MMDS_V2, NOW + 9 * SEC, rq, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ami-1");
	/* Expired after its TTL. */
	ask(CFG_MMDS_V2, NOW + 10 * SEC, rq, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(r.body, "MMDS token not valid.");
	tok[0] ^= 1;
	snprintf(rq, sizeof(rq), GET("/latest/meta-data/ami-id", "X-metadata-token: %s\r\n"), tok);
	ask(CFG_MMDS_V2, NOW, rq, &r);
	ck_assert_int_eq(r.status, 401);
	/* "//" collapses on the token path too, as Firecracker's sanitising does. */
	ask(CFG_MMDS_V2, NOW, "PUT //latest//api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n\r\n", &r);
	ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(v2_token_requests_that_are_refused)
{
	struct resp r;
	static const struct { const char *rq; int status; const char *body; } cases[] = {
		{ "PUT /latest/api/token HTTP/1.1\r\n\r\n", 400,
		  "Token time to live value not found. Use `X-metadata-token-ttl-seconds` header to specify "
		  "the token's lifetime." },
		{ "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n", 400,
		  "Invalid time to live value provided for token: 0. Please provide a value between 1 and 21600." },
		{ "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n", 400, NULL },
		{ "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 99999999999999\r\n\r\n", 400, NULL },
		{ "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: -5\r\n\r\n", 400, NULL },
		{ "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
		  400, "Invalid header. Reason: Unsupported header name. Key: X-Forwarded-For" },
		{ "PUT /latest/api/tokens HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n", 404,
		  "Resource not found: /latest/api/tokens." },
		{ "DELETE /latest HTTP/1.1\r\n\r\n", 405, "Not allowed HTTP method." },
		{ "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 400, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(ask(CFG_MMDS_V2, NOW, cases[i].rq, &r), 1);
		ck_assert_msg(r.status == cases[i].status, "case %zu: %d %s", i, r.status, r.body);
		if (cases[i].body)
			ck_assert_str_eq(r.body, cases[i].body);
	}
}
END_TEST

START_TEST(token_table_is_bounded)
{
	char tok[MMDS_TOKEN_LEN + 1], first[MMDS_TOKEN_LEN + 1];
	ck_assert_int_eq(mmds_token_new(100, NOW, first), 0);
	for (int i = 0; i < 10 * MMDS_MAX_TOKENS; i++)
		ck_assert_int_eq(mmds_token_new(1000, NOW, tok), 0);
	/* The one that expired first made way; the newest is good. */
	ck_assert(!mmds_token_valid(first, MMDS_TOKEN_LEN, NOW));
	ck_assert(mmds_token_valid(tok, MMDS_TOKEN_LEN, NOW));
	ck_assert(!mmds_token_valid(tok, MMDS_TOKEN_LEN - 1, NOW));
	ck_assert(!mmds_token_valid("", 0, NOW));
}
END_TEST

START_TEST(partial_pipelined_and_malformed_requests)
{
	struct resp r;
	struct mmds_reply rep;
	const char *half = "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: x\r\n";
	ck_assert_int_eq(mmds_http_answer(half, strlen(half), CFG_MMDS_V1, false, NOW, &rep), 0);
	/* Two requests: the first is answered, `consumed` says where the next starts. */
	const char *two = GET("/latest/meta-data/ami-id", "") GET("/latest/meta-data/hostname", "Connection: close\r\n");
	ck_assert_int_eq(ask(CFG_MMDS_V1, NOW, two, &r), 1);
	ck_assert_str_eq(r.body, "ami-1");
	ck_assert_int_eq(ask(CFG_MMDS_V1, NOW, two + r.consumed, &r), 1);
	ck_assert_str_eq(r.body, "vm1");
	ck_assert(r.close);
	ck_assert_ptr_nonnull(strstr(r.head, "Connection: close\r\n"));
	/* HTTP/1.0 closes unless asked not to. */
	ask(CFG_MMDS_V1, NOW, "GET /age HTTP/1.0\r\nAccept: application/json\r\n\r\n", &r);
	ck_assert(r.close);
	/* Garbage, absolute-form, bad versions: one 400, then close. */
	static const char *const bad[] = {
		"\x01\x02\x03 / HTTP/1.1\r\n\r\n", "GET http://169.254.169.254/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(ask(CFG_MMDS_V1, NOW, bad[i], &r), 1);
		ck_assert_msg(r.status == 400 && r.close, "case %zu: %d", i, r.status);
		ck_assert_uint_eq(r.consumed, strlen(bad[i]));
	}
	/* A head that never ends is cut at MMDS_MAX_REQUEST. */
	char *huge = malloc(MMDS_MAX_REQUEST + 64);
	strcpy(huge, "GET / HTTP/1.1\r\n");
	size_t n = strlen(huge);
	while (n < MMDS_MAX_REQUEST + 10)
		n += (size_t)sprintf(huge + n, "X-Pad: aaaaaaaaaaaaaaaa\r\n");
	ck_assert_int_eq(ask(CFG_MMDS_V1, NOW, huge, &r), 1);
	ck_assert_int_eq(r.status, 400);
	ck_assert(r.close);
	free(huge);
}
END_TEST

START_TEST(imds_compat_answers_text_whatever_accept_says)
{
	struct resp r;
	compat = true;
	ask(CFG_MMDS_V1, NOW, GET("/latest/meta-data/net", "Accept: application/json\r\n"), &r);
	compat = false;
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "mac");
	ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: text/plain"));
}
END_TEST

START_TEST(before_any_put_everything_is_404)
{
	struct resp r;
	mmds_reset();
	ask(CFG_MMDS_V1, NOW, GET("/", ""), &r);
	ck_assert_int_eq(r.status, 404);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mmds_http");
	TCase *tc = tcase_create("mmds_http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, v1_get_values_listings_json_and_404);
	tcase_add_test(tc, v1_refuses_put_and_ignores_token_headers);
	tcase_add_test(tc, v2_tokens_gate_every_get);
	tcase_add_test(tc, v2_token_requests_that_are_refused);
	tcase_add_test(tc, token_table_is_bounded);
	tcase_add_test(tc, partial_pipelined_and_malformed_requests);
	tcase_add_test(tc, imds_compat_answers_text_whatever_accept_says);
	tcase_add_test(tc, before_any_put_everything_is_404);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
