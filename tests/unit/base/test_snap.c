/* Snapshot state streams: what every module's save/restore relies on. A
 * section written is read back field for field; a truncated, overlong or
 * corrupt section is an error naming the section, never a read out of
 * bounds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "base/snap.h"

static char err[256];

/* Returns where the second section starts. */
static size_t write_two_sections(struct snap_w *w)
{
	snap_w_init(w);
	size_t m = snap_section_begin(w, "UART", 1);
	snap_put_u8(w, 0xab);
	snap_put_u16(w, 0x1234);
	snap_put_u32(w, 0xdeadbeef);
	snap_put_u64(w, 0x0123456789abcdefULL);
	snap_put_bool(w, true);
	snap_put_str(w, "ttyS0");
	snap_section_end(w, m);
	size_t second = snap_section_begin(w, "VCPU", 3);
	snap_put_u32(w, 7);
	snap_section_end(w, second);
	ck_assert(!w->oom);
	return second;
}

START_TEST(a_section_reads_back_what_was_written)
{
	struct snap_w w;
	write_two_sections(&w);
	ck_assert_int_eq(snap_stream_check(w.buf, w.len, err, sizeof(err)), 0);
	struct snap_r r;
	ck_assert_int_eq(snap_section_find(w.buf, w.len, "UART", 0, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.version, 1);
	ck_assert_uint_eq(snap_get_u8(&r), 0xab);
	ck_assert_uint_eq(snap_get_u16(&r), 0x1234);
	ck_assert_uint_eq(snap_get_u32(&r), 0xdeadbeef);
	ck_assert_uint_eq(snap_get_u64(&r), 0x0123456789abcdefULL);
	ck_assert(snap_get_bool(&r));
	char s[16];
	snap_get_str(&r, s, sizeof(s));
	ck_assert_str_eq(s, "ttyS0");
	ck_assert_int_eq(snap_r_done(&r, err, sizeof(err)), 0);

	ck_assert_int_eq(snap_section_find(w.buf, w.len, "VCPU", 0, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.version, 3);
	ck_assert_uint_eq(snap_get_u32(&r), 7);
	ck_assert_int_eq(snap_r_done(&r, err, sizeof(err)), 0);
	ck_assert_uint_eq(snap_section_count(w.buf, w.len, "VCPU"), 1);
	snap_w_free(&w);
}
END_TEST

START_TEST(reading_past_the_end_is_an_error_not_a_read)
{
	struct snap_w w;
	write_two_sections(&w);
	struct snap_r r;
	ck_assert_int_eq(snap_section_find(w.buf, w.len, "VCPU", 0, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(snap_get_u32(&r), 7);
	ck_assert_uint_eq(snap_get_u64(&r), 0); /* nothing left: zero, and bad */
	char buf[8] = "xxxxxxx";
	snap_get_bytes(&r, buf, sizeof(buf));
	ck_assert_int_eq(buf[0], 0);
	ck_assert_int_eq(snap_r_done(&r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "VCPU"));
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	snap_w_free(&w);
}
END_TEST

START_TEST(bytes_left_unread_are_an_error)
{
	struct snap_w w;
	write_two_sections(&w);
	struct snap_r r;
	ck_assert_int_eq(snap_section_find(w.buf, w.len, "UART", 0, &r, err, sizeof(err)), 0);
	snap_get_u8(&r);
	ck_assert_int_eq(snap_r_done(&r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "left unread"));
	snap_w_free(&w);
}
END_TEST

START_TEST(a_truncated_stream_is_refused_at_every_length)
{
	struct snap_w w;
	size_t second = write_two_sections(&w);
	for (size_t n = 1; n < w.len; n++) {
		/* A copy of exactly n bytes so ASan sees any read beyond them. */
		uint8_t *cut = malloc(n);
		memcpy(cut, w.buf, n);
		/* Cut right after the first section, the stream is one whole
		 * section (the file's checksum, not the stream, catches that). */
		int want = n == second ? 0 : -1;
		ck_assert_msg(snap_stream_check(cut, n, err, sizeof(err)) == want,
			      "length %zu: %s", n, err);
		free(cut);
	}
	snap_w_free(&w);
}
END_TEST

START_TEST(a_wild_length_or_string_is_refused)
{
	struct snap_w w;
	write_two_sections(&w);
	/* The first section's length field says 2^63. */
	w.buf[8 + 7] = 0x80;
	ck_assert_int_eq(snap_stream_check(w.buf, w.len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "UART"));
	snap_w_free(&w);

	snap_w_init(&w);
	size_t m = snap_section_begin(&w, "STRS", 1);
	snap_put_str(&w, "a much too long string");
	snap_put_u8(&w, 2); /* not a boolean */
	snap_section_end(&w, m);
	struct snap_r r;
	ck_assert_int_eq(snap_section_find(w.buf, w.len, "STRS", 0, &r, err, sizeof(err)), 0);
	char s[4];
	snap_get_str(&r, s, sizeof(s));
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(snap_r_done(&r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than its field"));
	snap_w_free(&w);
}
END_TEST

START_TEST(a_section_of_another_version_is_refused_by_name)
{
	struct snap_w w;
	write_two_sections(&w); /* UART v1, VCPU v3 */
	struct snap_r r;
	ck_assert_int_eq(snap_section_open(w.buf, w.len, "UART", 0, 1, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(snap_get_u8(&r), 0xab);
	ck_assert_int_eq(snap_section_open(w.buf, w.len, "VCPU", 0, 1, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "snapshot section VCPU is version 3; this mpvm reads version 1: the "
			      "snapshot was made by another mpvm");
	ck_assert_int_eq(snap_section_open(w.buf, w.len, "KBDC", 0, 1, &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no section KBDC"));
	snap_w_free(&w);
}
END_TEST

START_TEST(a_missing_section_is_named)
{
	struct snap_w w;
	write_two_sections(&w);
	struct snap_r r;
	ck_assert_int_eq(snap_section_find(w.buf, w.len, "VBLK", 0, &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no section VBLK"));
	ck_assert_int_eq(snap_section_find(w.buf, w.len, "VCPU", 1, &r, err, sizeof(err)), -1);
	snap_w_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snap");
	TCase *tc = tcase_create("snap");
	tcase_add_test(tc, a_section_reads_back_what_was_written);
	tcase_add_test(tc, reading_past_the_end_is_an_error_not_a_read);
	tcase_add_test(tc, bytes_left_unread_are_an_error);
	tcase_add_test(tc, a_truncated_stream_is_refused_at_every_length);
	tcase_add_test(tc, a_wild_length_or_string_is_refused);
	tcase_add_test(tc, a_section_of_another_version_is_refused_by_name);
	tcase_add_test(tc, a_missing_section_is_named);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
