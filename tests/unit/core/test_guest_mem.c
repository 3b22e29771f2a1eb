/* The checked guest-memory accessor: every device relies on it refusing
 * out-of-range, wrapping and region-straddling ranges. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/guest_mem.h"

static struct guest_mem m;
static char err[256];

START_TEST(small_vm_has_one_region_starting_at_zero)
{
	ck_assert_int_eq(gm_create(&m, 64 << 20, false, err, sizeof(err)), 0);
	ck_assert_int_eq(m.nregions, 1);
	ck_assert_uint_eq(m.regions[0].gpa, 0);
	ck_assert_uint_eq(m.regions[0].size, 64 << 20);
	gm_destroy(&m);
}
END_TEST

START_TEST(large_vm_leaves_the_mmio_hole_below_4g)
{
	uint64_t size = 4ULL << 30; /* 4 GiB: 3 GiB low + 1 GiB high */
	ck_assert_int_eq(gm_create(&m, size, true, err, sizeof(err)), 0);
	ck_assert_int_eq(m.nregions, 2);
	ck_assert_uint_eq(m.regions[0].size, GM_MMIO_HOLE_START);
	ck_assert_uint_eq(m.regions[1].gpa, GM_MMIO_HOLE_END);
	ck_assert_uint_eq(m.regions[1].size, size - GM_MMIO_HOLE_START);
	/* The hole itself is not RAM. */
	ck_assert_ptr_null(gm_ptr(&m, 0xfee00000, 4));
	ck_assert_ptr_nonnull(gm_ptr(&m, GM_MMIO_HOLE_END, 4096));
	/* A range that runs from the top of low RAM into the hole is refused. */
	ck_assert_ptr_null(gm_ptr(&m, GM_MMIO_HOLE_START - 8, 16));
	gm_destroy(&m);
}
END_TEST

START_TEST(accessor_rejects_out_of_range_and_overflow)
{
	ck_assert_int_eq(gm_create(&m, 16 << 20, false, err, sizeof(err)), 0);
	uint64_t end = 16 << 20;
	ck_assert_ptr_nonnull(gm_ptr(&m, 0, end));
	ck_assert_ptr_nonnull(gm_ptr(&m, end - 1, 1));
	ck_assert_ptr_nonnull(gm_ptr(&m, end, 0));
	ck_assert_ptr_null(gm_ptr(&m, end, 1));
	ck_assert_ptr_null(gm_ptr(&m, end - 1, 2));
	ck_assert_ptr_null(gm_ptr(&m, 0, end + 1));
	/* gpa + len wraps around 2^64: must not look like a small range. */
	ck_assert_ptr_null(gm_ptr(&m, 0x1000, UINT64_MAX));
	ck_assert_ptr_null(gm_ptr(&m, UINT64_MAX, 2));
	ck_assert_ptr_null(gm_ptr(&m, UINT64_MAX - 0xfff, 0x2000));
	gm_destroy(&m);
}
END_TEST

START_TEST(read_write_round_trip_and_refuse_bad_ranges)
{
	ck_assert_int_eq(gm_create(&m, 4 << 20, false, err, sizeof(err)), 0);
	uint32_t v = 0xdeadbeef, r = 0;
	ck_assert_int_eq(gm_write(&m, 0x1000, &v, 4), 0);
	ck_assert_int_eq(gm_read(&m, 0x1000, &r, 4), 0);
	ck_assert_uint_eq(r, 0xdeadbeef);
	r = 7;
	ck_assert_int_eq(gm_read(&m, (4 << 20) - 2, &r, 4), -1);
	ck_assert_uint_eq(r, 7); /* nothing copied on failure */
	ck_assert_int_eq(gm_write(&m, (4 << 20) - 2, &v, 4), -1);
	gm_destroy(&m);
}
END_TEST

START_TEST(bad_sizes_are_clear_errors)
{
	ck_assert_int_lt(gm_create(&m, 0, false, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "multiple of 4 KiB"));
	ck_assert_int_lt(gm_create(&m, 4097, false, err, sizeof(err)), 0);
}
END_TEST

START_TEST(add_ok_is_overflow_safe)
{
	ck_assert(gm_add_ok(1, 2, 3));
	ck_assert(!gm_add_ok(2, 2, 3));
	ck_assert(!gm_add_ok(UINT64_MAX, 1, UINT64_MAX));
}
END_TEST

/* A snapshot's memory file (MAP_PRIVATE): the guest sees the file's bytes,
 * its writes never reach the file, and a file of another size is refused. */
START_TEST(memory_file_is_mapped_privately)
{
	char path[] = "/tmp/mpvm-gm-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	ck_assert_int_eq(pwrite(fd, "snapshot", 8, 0x2000), 8);
	struct guest_mem m;
	char err[256];
	ck_assert_int_eq(gm_create_from_file(&m, 1 << 20, fd, "mem", err, sizeof(err)), 0);
	char buf[9] = "";
	ck_assert_int_eq(gm_read(&m, 0x2000, buf, 8), 0);
	ck_assert_str_eq(buf, "snapshot");
	ck_assert_int_eq(gm_write(&m, 0x2000, "guestwr!", 8), 0);
	ck_assert_int_eq(pread(fd, buf, 8, 0x2000), 8);
	ck_assert_str_eq(buf, "snapshot");
	/* A page given back (the balloon) reads as zero, not as the file. */
	ck_assert_int_eq(gm_discard(&m, 0x2000, 4096), 0);
	ck_assert_int_eq(gm_read(&m, 0x2000, buf, 8), 0);
	ck_assert_int_eq(memcmp(buf, "\0\0\0\0\0\0\0\0", 8), 0);
	gm_destroy(&m);
	ck_assert_int_eq(gm_create_from_file(&m, 2 << 20, fd, "mem", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "memory file mem: holds 1048576 bytes, the snapshot's VM has 2097152"));
	close(fd);
}
END_TEST

/* Diff snapshots: with tracking on, every range handed out is marked, and
 * taking the marks clears them. */
START_TEST(host_writes_are_tracked_for_diff_snapshots)
{
	struct guest_mem m;
	char err[256];
	ck_assert_int_eq(gm_create(&m, 1 << 20, false, err, sizeof(err)), 0);
	uint64_t bm[4] = { 0 };
	ck_assert_int_eq(gm_write(&m, 0x3000, "x", 1), 0); /* untracked: nothing */
	ck_assert_int_eq(gm_track_dirty(&m), 0);
	ck_assert_int_eq(gm_write(&m, 0x5ffe, "abcd", 4), 0); /* straddles pages 5 and 6 */
	gm_mark_dirty(&m, 0x40000, 1);                         /* page 64 */
	gm_take_dirty(&m, 0, bm);
	ck_assert_uint_eq(bm[0], (1ULL << 5) | (1ULL << 6));
	ck_assert_uint_eq(bm[1], 1);
	memset(bm, 0, sizeof(bm));
	gm_take_dirty(&m, 0, bm);
	ck_assert_uint_eq(bm[0] | bm[1], 0);
	gm_destroy(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guest_mem");
	TCase *t = tcase_create("core");
	tcase_add_test(t, small_vm_has_one_region_starting_at_zero);
	tcase_add_test(t, large_vm_leaves_the_mmio_hole_below_4g);
	tcase_add_test(t, accessor_rejects_out_of_range_and_overflow);
	tcase_add_test(t, read_write_round_trip_and_refuse_bad_ranges);
	tcase_add_test(t, bad_sizes_are_clear_errors);
	tcase_add_test(t, add_ok_is_overflow_safe);
	tcase_add_test(t, memory_file_is_mapped_privately);
	tcase_add_test(t, host_writes_are_tracked_for_diff_snapshots);
	suite_add_tcase(s, t);
	return run_suite(s);
}
