/* The UTF-8 rule and the quoting helper (base/utf8.h). */
#include "base/utf8.h"

#include <stdio.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define ELLIPSIS "\xe2\x80\xa6"    /* U+2026 */

/* Unicode's table 3-7 (well-formed byte sequences), row by row: the lead
 * byte decides the length and the range of the second byte, which is where
 * overlongs (E0 80.., F0 80..), surrogates (ED A0..) and code points above
 * U+10FFFF (F4 90..) are excluded; later bytes are always 80..BF. */
size_t utf8_char_len(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (!len)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0; /* 80..C1 (continuation or overlong lead), F5..FF */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

int utf8_check(const char *s, size_t len, char *why, size_t whylen)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_char_len(s + i, len - i);

		if (n == 1 && !s[i]) {
			if (why && whylen)
				snprintf(why, whylen,
					 "contains a NUL character (\\u0000 at offset %zu)", i);
			return -1;
		}
		if (!n) {
			if (why && whylen)
				snprintf(why, whylen, "not valid UTF-8 (byte 0x%02x at offset %zu)",
					 (unsigned char)s[i], i);
			return -1;
		}
		i += n;
	}
	return 0;
}

/* What s[i..] turns into in a clipped copy: the character itself, or U+FFFD
 * for a NUL or a byte that starts no valid character (`*step` input bytes). */
static const char *clip_piece(const char *s, size_t len, size_t i, size_t *w, size_t *step)
{
	size_t n = utf8_char_len(s + i, len - i);

	if (n && s[i]) {
		*w = *step = n;
		return s + i;
	}
	*w = sizeof(REPLACEMENT) - 1;
	*step = 1;
	return REPLACEMENT;
}

char *utf8_clip_n(char *buf, size_t buflen, const char *s, size_t len)
{
	size_t room, need = 0, limit, o = 0, w, step;
	const char *piece;

	if (!buflen)
		return buf;
	room = buflen - 1;
	for (size_t i = 0; i < len; i += step) {
		clip_piece(s, len, i, &w, &step);
		need += w;
	}
	/* When it does not all fit, leave room for the ellipsis (if any fits). */
	limit = need <= room || room < sizeof(ELLIPSIS) - 1 ? room : room - (sizeof(ELLIPSIS) - 1);
	for (size_t i = 0; i < len; i += step) {
		piece = clip_piece(s, len, i, &w, &step);
		if (o + w > limit)
			break;
		memcpy(buf + o, piece, w);
		o += w;
	}
	if (need > room && o + sizeof(ELLIPSIS) - 1 <= room) {
		memcpy(buf + o, ELLIPSIS, sizeof(ELLIPSIS) - 1);
		o += sizeof(ELLIPSIS) - 1;
	}
	buf[o] = 0;
	return buf;
}

char *utf8_clip(char *buf, size_t buflen, const char *s)
{
	return utf8_clip_n(buf, buflen, s ? s : "", s ? strlen(s) : 0);
}
