/* The AML emitter (boot/aml.c): each encoding byte for byte, blocks whose
 * lengths need the longer PkgLength forms decoded back by the independent
 * decoder (aml_decoder.h), and misuse reported instead of emitted.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aml_decoder.h"
#include "boot/aml.h"
#include "check_main.h"

START_TEST(pkglength_uses_the_shortest_encoding)
{
	uint8_t b[4];
	ck_assert_int_eq(aml_pkglen_encode(0, b), 1);
	ck_assert_uint_eq(b[0], 1);
	ck_assert_int_eq(aml_pkglen_encode(62, b), 1);
	ck_assert_uint_eq(b[0], 63);
	ck_assert_int_eq(aml_pkglen_encode(63, b), 2);   /* 65 total */
	ck_assert_uint_eq(b[0], 0x41);
	ck_assert_uint_eq(b[1], 0x04);
	ck_assert_int_eq(aml_pkglen_encode(4093, b), 2); /* 4095 total */
	ck_assert_int_eq(aml_pkglen_encode(4094, b), 3);
	ck_assert_int_eq(aml_pkglen_encode((1u << 20) - 4, b), 3);
	ck_assert_int_eq(aml_pkglen_encode((1u << 20) - 3, b), 4);
	ck_assert_int_eq(aml_pkglen_encode((1u << 28) - 5, b), 4);
	ck_assert_int_eq(aml_pkglen_encode((1u << 28) - 4, b), 0); /* too large for AML */
}
END_TEST

START_TEST(eisaid_is_compressed_as_acpi_specifies)
{
	uint32_t v;
	ck_assert_int_eq(aml_eisaid_encode("PNP0501", &v), 0);
	ck_assert_uint_eq(v, 0x0105D041);
	ck_assert_int_eq(aml_eisaid_encode("PNP0A03", &v), 0);
	ck_assert_uint_eq(v, 0x030AD041);
	ck_assert_int_eq(aml_eisaid_encode("pnp0501", &v), -1);
	ck_assert_int_eq(aml_eisaid_encode("PNP050", &v), -1);
	ck_assert_int_eq(aml_eisaid_encode("PNP05G1", &v), -1);
	ck_assert_int_eq(aml_eisaid_encode(NULL, &v), -1);
}
END_TEST

START_TEST(aml_names_integers_and_strings_encode_exactly)
{
	struct aml a;
	aml_init(&a);
	aml_name_integer(&a, "\\_SB_.PCI0.FOO", 0x12345);
	aml_name_integer(&a, "_S5", 1);
	aml_name_string(&a, "AB.C", "x");
	aml_name_integer(&a, "^Q", 0x100000000ull);
	ck_assert_int_eq(aml_finish(&a), 0);
	static const uint8_t want[] = {
		0x08, '\\', 0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'F', 'O', 'O', '_',
		0x0C, 0x45, 0x23, 0x01, 0x00,
		0x08, '_', 'S', '5', '_', 0x01,
		0x08, 0x2E, 'A', 'B', '_', '_', 'C', '_', '_', '_', 0x0D, 'x', 0x00,
		0x08, '^', 'Q', '_', '_', '_', 0x0E, 0, 0, 0, 0, 1, 0, 0, 0,
	};
	ck_assert_uint_eq(a.len, sizeof(want));
	ck_assert_mem_eq(a.data, want, sizeof(want));
	aml_free(&a);
}
END_TEST

START_TEST(aml_blocks_compute_lengths_counts_and_buffer_sizes)
{
	struct aml a;
	aml_init(&a);
	aml_scope_begin(&a, "\\_SB_");
	aml_device_begin(&a, "DEV0");
	aml_name(&a, "PKG_");
	aml_package_begin(&a);
	for (int i = 0; i < 200; i++) /* a package longer than 63 and 255 bytes */
		aml_integer(&a, 0x1000u + (unsigned)i);
	aml_package_end(&a);
	aml_name(&a, "_CRS");
	aml_restemplate_begin(&a);
	for (int i = 0; i < 40; i++) /* a buffer larger than 255 bytes */
		aml_res_mem32_fixed(&a, i & 1, 0x1000u * (unsigned)i, 0x1000);
	aml_restemplate_end(&a);
	aml_device_end(&a);
	aml_scope_end(&a);
	ck_assert_int_eq(aml_finish(&a), 0);

	/* Wrap it in a fake DSDT and decode it with the test's own parser. */
	uint8_t *t = calloc(1, 36 + a.len);
	memcpy(t, "DSDT", 4);
	uint32_t l = (uint32_t)(36 + a.len);
	memcpy(t + 4, &l, 4);
	memcpy(t + 36, a.data, a.len);
	struct ns ns;
	parse_dsdt(t, &ns);
	ck_assert_int_eq(ns.ndev, 1);
	ck_assert_str_eq(ns.devs[0].path, "\\_SB_.DEV0");
	ck_assert_int_eq(ns.devs[0].crs.nmem, 40);
	ck_assert_uint_eq(ns.devs[0].crs.mem_base, 0x1000u * 39);
	ck_assert(ns.devs[0].crs.mem_rw);
	/* Outer PkgLengths needed 2 bytes: the Scope's lead byte says so. */
	ck_assert_uint_eq(a.data[0], 0x10);
	ck_assert_uint_eq(a.data[1] >> 6, 1);
	free(t);
	aml_free(&a);
}
END_TEST

static void expect_aml_error(struct aml *a, const char *needle)
{
	ck_assert_int_eq(aml_finish(a), -1);
	ck_assert_msg(strstr(a->err, needle) != NULL, "AML error \"%s\" does not mention \"%s\"",
		      a->err, needle);
	aml_free(a);
}

START_TEST(aml_misuse_is_reported_not_emitted)
{
	struct aml a;

	aml_init(&a); aml_name_integer(&a, "TOOLONG", 1);      expect_aml_error(&a, "segment");
	aml_init(&a); aml_name_integer(&a, "1ABC", 1);         expect_aml_error(&a, "invalid character");
	aml_init(&a); aml_name_integer(&a, "ab", 1);           expect_aml_error(&a, "invalid character");
	aml_init(&a); aml_name_integer(&a, "A..B", 1);         expect_aml_error(&a, "segment");
	aml_init(&a); aml_name_integer(&a, "AB.", 1);          expect_aml_error(&a, "ends with");
	aml_init(&a); aml_name_eisaid(&a, "_HID", "LNRO0005"); expect_aml_error(&a, "EISAID");
	aml_init(&a); aml_res_irq_noflags(&a, 3);              expect_aml_error(&a, "outside a ResourceTemplate");
	aml_init(&a); aml_device_begin(&a, "DEV0");            expect_aml_error(&a, "left open");
	aml_init(&a); aml_scope_end(&a);                       expect_aml_error(&a, "without a matching begin");

	aml_init(&a);
	aml_device_begin(&a, "DEV0");
	aml_scope_end(&a);
	expect_aml_error(&a, "Scope end");

	aml_init(&a);
	aml_restemplate_begin(&a);
	aml_res_irq_noflags(&a, 16);
	expect_aml_error(&a, "ISA IRQs");

	aml_init(&a);
	aml_restemplate_begin(&a);
	aml_integer(&a, 1);
	expect_aml_error(&a, "inside a ResourceTemplate");

	aml_init(&a);
	aml_package_begin(&a);
	for (int i = 0; i < 256; i++)
		aml_integer(&a, 0);
	aml_package_end(&a);
	expect_aml_error(&a, "at most 255");

	aml_init(&a);
	for (int i = 0; i < AML_MAX_DEPTH + 1; i++)
		aml_package_begin(&a);
	expect_aml_error(&a, "nested deeper");

	/* The first error sticks; later calls do nothing. */
	aml_init(&a);
	aml_name_integer(&a, "TOOLONG", 1);
	size_t len = a.len;
	aml_name_integer(&a, "GOOD", 1);
	ck_assert_uint_eq(a.len, len);
	expect_aml_error(&a, "TOOLONG");
}
END_TEST

static Suite *aml_suite(void)
{
	Suite *s = suite_create("aml");
	TCase *aml = tcase_create("aml");
	tcase_add_test(aml, pkglength_uses_the_shortest_encoding);
	tcase_add_test(aml, eisaid_is_compressed_as_acpi_specifies);
	tcase_add_test(aml, aml_names_integers_and_strings_encode_exactly);
	tcase_add_test(aml, aml_blocks_compute_lengths_counts_and_buffer_sizes);
	tcase_add_test(aml, aml_misuse_is_reported_not_emitted);
	suite_add_tcase(s, aml);
	return s;
}

int main(void)
{
	return run_suite(aml_suite());
}
