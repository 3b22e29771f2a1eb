/* The text rule for everything a user hands mpvm, and how mpvm quotes it back.
 *
 * Contract: every string that enters mpvm (API bodies and URL paths, the
 * config file, `mpvm run`'s flags) must be well-formed UTF-8 (RFC 3629,
 * Unicode's table 3-7: no overlong forms, no surrogates U+D800..DFFF, nothing
 * above U+10FFFF, no truncated sequence) and contain no NUL, because mpvm
 * keeps strings as C strings (a NUL would silently cut them) and echoes them
 * in JSON (RFC 8259 requires UTF-8). utf8_check() is that rule, the only copy
 * of it; the API, config/ and the CLI call it and put the field in front of
 * its reason.
 *
 * utf8_clip() is how a user string goes back out inside a message: never
 * more than fits, cut between characters, "…" when cut, and anything that is
 * not valid UTF-8 (or a NUL) shown as U+FFFD, so the message is valid UTF-8
 * whatever the input was.
 */
#ifndef MPVM_UTF8_H
#define MPVM_UTF8_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 character at s[0..len), or 0 when
 * the bytes there are not one (len 0 included). NUL is a character here. */
size_t utf8_char_len(const char *s, size_t len);

/* 0 when s[0..len) is valid UTF-8 without NUL. Otherwise -1 with `why` set to
 * "not valid UTF-8 (byte 0xff at offset 1)" or "contains a NUL character
 * (\u0000 at offset 1)", offsets in bytes from s; the caller adds the field
 * ("boot-source.boot_args: "). `why` may be NULL or whylen 0. */
int utf8_check(const char *s, size_t len, char *why, size_t whylen);

/* s[0..len) as text that fits buf (buflen - 1 bytes and a NUL): whole
 * characters only, "…" appended when it had to be cut, each byte that is not
 * part of a valid character (and each NUL) replaced by U+FFFD. Returns buf.
 * buflen 0 is allowed (buf untouched). */
char *utf8_clip_n(char *buf, size_t buflen, const char *s, size_t len);
/* The same for a NUL-terminated s; NULL reads as "". */
char *utf8_clip(char *buf, size_t buflen, const char *s);
/* A clipped copy of s in a temporary that lives until the end of the
 * enclosing block, for printf arguments: "got \"%s\"", UTF8_CLIP(v, 64).
 * `n` is a constant: at most n - 1 bytes of text. */
#define UTF8_CLIP(s, n) utf8_clip((char[n]){0}, (n), (s))

#endif
