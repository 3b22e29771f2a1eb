/* The snapshot file (vmm/builder/snapshot_file.c, docs/snapshot.md): what
 * snapfile_encode() writes, snapfile_parse() reads back the same; every
 * kind of damage a file can have is refused with a message saying which,
 * and no prefix of a good file (a truncated write or copy) is accepted. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/snap.h"
#include "builder/snapshot_file.h"
#include "check_main.h"
#include "core/vm_snap.h"

static const char config[] = "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}}";

/* A file with one small section in its state stream; free() it. */
static uint8_t *good_file(size_t *len)
{
	struct snap_w w;
	snap_w_init(&w);
	size_t m = snap_section_begin(&w, "TEST", 1);
	snap_put_u64(&w, 0x1122334455667788ULL);
	snap_section_end(&w, m);
	struct snapfile f = { .caps = VM_SNAP_CAP_XSAVE | VM_SNAP_CAP_XCRS, .mem_bytes = 128 << 20,
			      .config = config, .config_len = strlen(config), .state = w.buf,
			      .state_len = w.len };
	strcpy(f.vendor, "AuthenticAMD");
	uint8_t *b = snapfile_encode(&f, len);
	snap_w_free(&w);
	ck_assert_ptr_nonnull(b);
	return b;
}

static void fix_crc(uint8_t *b, size_t len)
{
	uint32_t c = (uint32_t)crc32(0L, b, (uInt)(len - 4));
	for (int i = 0; i < 4; i++)
		b[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Parsing fails and the message holds `needle`. */
static void refused(const uint8_t *b, size_t len, const char *needle)
{
	char err[512] = "";
	struct snapfile f;
	ck_assert_int_eq(snapfile_parse(b, len, &f, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, needle), "'%s' not in '%s'", needle, err);
}

START_TEST(what_is_written_reads_back)
{
	size_t len;
	uint8_t *b = good_file(&len);
	struct snapfile f;
	char err[256];
	ck_assert_int_eq(snapfile_parse(b, len, &f, err, sizeof(err)), 0);
	ck_assert_int_eq(memcmp(b, "MPVMSNAP", 8), 0);
	ck_assert_uint_eq(f.version, SNAPFILE_VERSION);
	ck_assert_str_eq(f.vendor, "AuthenticAMD");
	ck_assert_uint_eq(f.caps, VM_SNAP_CAP_XSAVE | VM_SNAP_CAP_XCRS);
	ck_assert_uint_eq(f.flags, 0);
	ck_assert_uint_eq(f.mem_bytes, 128 << 20);
	ck_assert_uint_eq(f.config_len, strlen(config));
	ck_assert_int_eq(memcmp(f.config, config, f.config_len), 0);
	struct snap_r r;
	ck_assert_int_eq(snap_section_find(f.state, f.state_len, "TEST", 0, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(snap_get_u64(&r), 0x1122334455667788ULL);
	ck_assert_int_eq(snap_r_done(&r, err, sizeof(err)), 0);
	ck_assert_int_eq(snapfile_check_host(&f, "AuthenticAMD", err, sizeof(err)), 0);
	free(b);
}
END_TEST

START_TEST(no_prefix_of_a_file_is_accepted)
{
	size_t len;
	uint8_t *b = good_file(&len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exact size: ASan sees any read past it */
		memcpy(cut, b, n);
		char err[512] = "";
		struct snapfile f;
		ck_assert_msg(snapfile_parse(cut, n, &f, err, sizeof(err)) == -1, "%zu bytes accepted", n);
		ck_assert(err[0]);
		free(cut);
	}
	free(b);
}
END_TEST

START_TEST(each_damage_is_named)
{
	size_t len;
	uint8_t *b = good_file(&len);
	uint8_t *c = malloc(len + 8);

	memcpy(c, b, len);
	c[0] = 'X';
	refused(c, len, "not an mpvm snapshot");

	memcpy(c, b, len);
	c[8] = 2; /* version, checked before the checksum */
	refused(c, len, "format version 2; this mpvm reads version 1");

	memcpy(c, b, len);
	c[100] ^= 1;
	refused(c, len, "checksum mismatch");

	memcpy(c, b, len);
	c[12] = 32; /* header length */
	fix_crc(c, len);
	refused(c, len, "header length 32");

	memcpy(c, b, len);
	c[40] = 0xff; /* config length beyond the file */
	fix_crc(c, len);
	refused(c, len, "truncated");

	memcpy(c, b, len);
	memcpy(c + len, "\0\0\0\0", 4); /* 4 stray bytes before the checksum */
	fix_crc(c, len + 4);
	refused(c, len + 4, "after the state");

	memcpy(c, b, len);
	c[36] = 0x80; /* unknown flag */
	fix_crc(c, len);
	refused(c, len, "unknown flags");

	memcpy(c, b, len);
	c[56] = 1; /* memory size not a multiple of 4 KiB */
	fix_crc(c, len);
	refused(c, len, "multiple of 4 KiB");

	memcpy(c, b, len);
	c[64 + 3] = 0; /* a NUL inside the config */
	fix_crc(c, len);
	refused(c, len, "NUL");

	memcpy(c, b, len);
	c[64 + strlen(config) + 8] = 0xff; /* the section's length beyond the stream */
	fix_crc(c, len);
	refused(c, len, "section TEST");
	free(c);
	free(b);
}
END_TEST

START_TEST(another_vendor_or_unknown_capabilities_are_refused)
{
	size_t len;
	uint8_t *b = good_file(&len);
	struct snapfile f;
	char err[512];
	ck_assert_int_eq(snapfile_parse(b, len, &f, err, sizeof(err)), 0);
	ck_assert_int_eq(snapfile_check_host(&f, "GenuineIntel", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "\"AuthenticAMD\" CPU, this host's is \"GenuineIntel\""));
	f.caps |= 1u << 20;
	ck_assert_int_eq(snapfile_check_host(&f, "AuthenticAMD", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "made by a newer mpvm"));
	free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot_file");
	TCase *t = tcase_create("format");
	tcase_add_test(t, what_is_written_reads_back);
	tcase_add_test(t, no_prefix_of_a_file_is_accepted);
	tcase_add_test(t, each_damage_is_named);
	tcase_add_test(t, another_vendor_or_unknown_capabilities_are_refused);
	suite_add_tcase(s, t);
	return run_suite_fork(s, CK_FORK);
}
