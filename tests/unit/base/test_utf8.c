/* The text rule (base/utf8.h): which byte sequences are UTF-8, what the
 * refusal says, and how a user string is clipped for a message.
 */
#include <check.h>
#include <string.h>

#include "base/utf8.h"
#include "check_main.h"

/* utf8_check on a literal that may hold NULs (sizeof - 1 is its length). */
#define CHECK(lit, why) utf8_check((lit), sizeof(lit) - 1, (why), sizeof(why))

START_TEST(valid_sequences_of_one_to_four_bytes)
{
	char why[96] = "";
	/* The edges of every row of Unicode's table 3-7. */
	static const char *const ok[] = {
		"", "a", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xe0\xbf\xbf",
		"\xe1\x80\x80", "\xec\xbf\xbf", "\xed\x80\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\xbf\xbf\xbf", "\xf1\x80\x80\x80",
		"\xf3\xbf\xbf\xbf", "\xf4\x80\x80\x80", "\xf4\x8f\xbf\xbf",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* café € 😀 */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t n = strlen(ok[i]);
		ck_assert_msg(!utf8_check(ok[i], n, why, sizeof(why)), "case %zu: %s", i, why);
		if (n && n <= 4 && i < 19)
			ck_assert_uint_eq(utf8_char_len(ok[i], n), n);
	}
}
END_TEST

/* Each bad case: the text and the byte offset the refusal must name. */
struct bad {
	const char *s;
	size_t len, at;
	unsigned byte;
};

START_TEST(overlongs_surrogates_too_large_and_truncated_are_refused)
{
	static const struct bad bad[] = {
		{"\x80", 1, 0, 0x80},                 /* lone continuation byte */
		{"a\xbf", 2, 1, 0xbf},
		{"\xc0\x80", 2, 0, 0xc0},             /* overlong NUL */
		{"\xc1\xbf", 2, 0, 0xc1},             /* overlong 0x7f */
		{"\xe0\x80\x80", 3, 0, 0xe0},         /* overlong 3-byte */
		{"\xe0\x9f\xbf", 3, 0, 0xe0},         /* overlong U+07FF */
		{"\xf0\x80\x80\x80", 4, 0, 0xf0},     /* overlong 4-byte */
		{"\xf0\x8f\xbf\xbf", 4, 0, 0xf0},     /* overlong U+FFFF */
		{"\xed\xa0\x80", 3, 0, 0xed},         /* U+D800 */
		{"x\xed\xbf\xbf", 4, 1, 0xed},        /* U+DFFF */
		{"\xed\xb0\x80", 3, 0, 0xed},         /* U+DC00, a low surrogate */
		{"\xf4\x90\x80\x80", 4, 0, 0xf4},     /* U+110000 */
		{"\xf5\x80\x80\x80", 4, 0, 0xf5},
		{"\xff", 1, 0, 0xff},
		{"\xfe", 1, 0, 0xfe},
		{"ab\xc3", 3, 2, 0xc3},               /* truncated 2-byte */
		{"\xe2\x82", 2, 0, 0xe2},             /* truncated 3-byte */
		{"\xf0\x9f\x98", 3, 0, 0xf0},         /* truncated 4-byte */
		{"\xe2\x28\xa1", 3, 0, 0xe2},         /* bad continuation */
		{"\xf0\x9f\x98\x41", 4, 0, 0xf0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char why[96], want[96];
		snprintf(want, sizeof(want), "not valid UTF-8 (byte 0x%02x at offset %zu)", bad[i].byte,
			 bad[i].at);
		ck_assert_msg(utf8_check(bad[i].s, bad[i].len, why, sizeof(why)) == -1, "case %zu", i);
		ck_assert_str_eq(why, want);
		ck_assert_uint_eq(utf8_char_len(bad[i].s + bad[i].at, bad[i].len - bad[i].at), 0);
	}
}
END_TEST

START_TEST(nul_is_refused_and_named)
{
	char why[96];
	ck_assert_int_eq(CHECK("a\0b", why), -1);
	ck_assert_str_eq(why, "contains a NUL character (\\u0000 at offset 1)");
	ck_assert_int_eq(CHECK("\0", why), -1);
	ck_assert_str_eq(why, "contains a NUL character (\\u0000 at offset 0)");
	/* Whichever comes first is named. */
	ck_assert_int_eq(CHECK("\xff\0", why), -1);
	ck_assert_str_eq(why, "not valid UTF-8 (byte 0xff at offset 0)");
	/* No room for the reason is fine. */
	ck_assert_int_eq(utf8_check("\0", 1, NULL, 0), -1);
	ck_assert_int_eq(utf8_check("ok", 2, NULL, 0), 0);
}
END_TEST

START_TEST(clip_keeps_short_text_whole)
{
	char buf[16];
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), "drive0"), "drive0");
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), ""), "");
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), NULL), "");
	/* Exactly 15 bytes fit a 16-byte buffer: no ellipsis. */
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), "123456789012345"), "123456789012345");
	ck_assert_str_eq(UTF8_CLIP("caf\xc3\xa9", 8), "caf\xc3\xa9");
}
END_TEST

START_TEST(clip_cuts_between_characters_with_an_ellipsis)
{
	char buf[8];
	/* 7 bytes of room: 4 of text, then "…" (3 bytes). */
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), "abcdefghij"), "abcd\xe2\x80\xa6");
	/* "é" is 2 bytes: "aéééé" (9) does not fit, and "aéé" (5) would leave no
	 * room for the "…", so "aé". */
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), "a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
			 "a\xc3\xa9\xe2\x80\xa6");
	/* A 4-byte character never half-copied. */
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"),
			 "\xf0\x9f\x98\x80\xe2\x80\xa6");
	/* Too small for the ellipsis: whole characters only, then nothing. */
	char tiny[3];
	ck_assert_str_eq(utf8_clip(tiny, sizeof(tiny), "\xc3\xa9x"), "\xc3\xa9");
	ck_assert_str_eq(utf8_clip(tiny, sizeof(tiny), "\xe2\x82\xac"), "");
	ck_assert_ptr_eq(utf8_clip(tiny, 0, "abc"), tiny);
	/* The result is always valid UTF-8. */
	for (size_t n = 1; n <= 12; n++) {
		char b[12];
		utf8_clip(b, n, "\xe2\x82\xac\xc3\xa9z\xf0\x9f\x98\x80");
		ck_assert_uint_lt(strlen(b), n);
		ck_assert_int_eq(utf8_check(b, strlen(b), NULL, 0), 0);
	}
}
END_TEST

START_TEST(clip_replaces_bad_bytes_and_nuls)
{
	char buf[64];
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), "a\xff" "b"), "a\xef\xbf\xbd" "b");
	/* A truncated sequence: each of its bytes shows as U+FFFD. */
	ck_assert_str_eq(utf8_clip(buf, sizeof(buf), "\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_str_eq(utf8_clip_n(buf, sizeof(buf), "x\0y", 3), "x\xef\xbf\xbdy");
	/* The replacement counts against the room like any character. */
	char small[8];
	ck_assert_str_eq(utf8_clip(small, sizeof(small), "\xff\xff\xff"),
			 "\xef\xbf\xbd\xe2\x80\xa6");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("utf8");
	tcase_add_test(tc, valid_sequences_of_one_to_four_bytes);
	tcase_add_test(tc, overlongs_surrogates_too_large_and_truncated_are_refused);
	tcase_add_test(tc, nul_is_refused_and_named);
	tcase_add_test(tc, clip_keeps_short_text_whole);
	tcase_add_test(tc, clip_cuts_between_characters_with_an_ellipsis);
	tcase_add_test(tc, clip_replaces_bad_bytes_and_nuls);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
