/* libFuzzer: the text rule (vmm/base/utf8.c) that every API, config-file
 * and CLI string passes, and utf8_clip(), through which user strings go
 * back out in messages. Input: byte 0 sets the clip buffer's size, the rest
 * is the text.
 *
 * Oracles: utf8_check() and utf8_char_len() agree with an independent
 * decoder written from Unicode's table 3-7 (and refuse NUL); a refusal's
 * reason is itself valid UTF-8; utf8_clip_n() always produces valid UTF-8
 * that fits its buffer, and gives back valid text that fits unchanged.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "fuzz_check.h"

/* Length of the well-formed sequence at s (Unicode 15, table 3-7), or 0. */
static size_t ref_len(const uint8_t *s, size_t n)
{
	if (n == 0)
		return 0;
	uint8_t b = s[0];
	if (b < 0x80)
		return 1;
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (b >= 0xc2 && b <= 0xdf)
		len = 2;
	else if (b >= 0xe0 && b <= 0xef)
		len = 3, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
	else if (b >= 0xf0 && b <= 0xf4)
		len = 4, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static bool ref_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t l = ref_len(s + i, n - i);
		if (l == 0 || s[i] == 0)
			return false;
		i += l;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t buflen = data[0];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	for (size_t i = 0; i < n; i++)
		CHECK(utf8_char_len(s + i, n - i) == ref_len((const uint8_t *)s + i, n - i));
	char why[128];
	bool valid = ref_valid((const uint8_t *)s, n);
	int r = utf8_check(s, n, why, sizeof(why));
	CHECK((r == 0) == valid);
	if (r)
		CHECK(utf8_check(why, strlen(why), NULL, 0) == 0);

	char *out = malloc(buflen + 1); /* +1: a byte past the buffer, to see it untouched */
	if (!out)
		return 0;
	memset(out, 0x5a, buflen + 1);
	utf8_clip_n(out, buflen, s, n);
	CHECK((uint8_t)out[buflen] == 0x5a);
	if (buflen) {
		size_t ol = strnlen(out, buflen);
		CHECK(ol < buflen); /* NUL-terminated inside the buffer */
		CHECK(utf8_check(out, ol, NULL, 0) == 0);
		if (valid && n < buflen)
			CHECK(ol == n && !memcmp(out, s, n));
	}
	free(out);
	return 0;
}
