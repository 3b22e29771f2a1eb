/* Small helpers several unit tests share: temporary files with given
 * contents or size, a zero-bytes check, and a millisecond clock for bounded
 * waits. They fail the calling test (Check assertions) rather than return
 * an error. Header-only so each test_*.c stays a standalone program. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* A new file from the mkstemp() template `tmpl` (rewritten in place to its
 * name) holding the `len` bytes of `data`. Returns tmpl; the caller unlinks. */
static inline char *make_tmp_file(char *tmpl, const void *data, size_t len)
{
	int fd = mkstemp(tmpl);
	ck_assert_msg(fd >= 0, "mkstemp %s", tmpl);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return tmpl;
}

/* A new sparse file of `size` bytes, as a disk image; otherwise as above. */
static inline char *make_tmp_image(char *tmpl, off_t size)
{
	int fd = mkstemp(tmpl);
	ck_assert_msg(fd >= 0, "mkstemp %s", tmpl);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
	return tmpl;
}

static inline bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static inline uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
