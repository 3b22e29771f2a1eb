/* The end of every unit test's main(): run the suite with Check's normal
 * output and turn the result into the exit code CTest reads: non-zero when
 * any test failed, 77 (CTest's SKIP_RETURN_CODE) when none failed but some
 * test could not run here, 0 only when every test ran and passed.
 * Header-only so each test_*.c stays a standalone program.
 *
 * A test whose precondition is missing (KVM, root, a tool) calls
 * SKIP_UNLESS(cond, why): it says why on stderr and returns, and the program
 * reports "skipped", never a silent pass. The count lives in a shared
 * mapping because Check runs each test in a child process. */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define TEST_SKIPPED 77

static atomic_int *test_skips_;

static inline void test_skip(const char *test, const char *why)
{
	fprintf(stderr, "SKIPPED %s: %s\n", test, why);
	if (test_skips_)
		atomic_fetch_add(test_skips_, 1);
}

#define SKIP_UNLESS(cond, why)                          \
	do {                                            \
		if (!(cond)) {                          \
			test_skip(__func__, (why));     \
			return;                         \
		}                                       \
	} while (0)

/* A /dev/kvm that opens and speaks KVM API 12: what the KVM tests need. */
static inline bool have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
	close(fd);
	return ok;
}

#define SKIP_UNLESS_KVM() SKIP_UNLESS(have_kvm(), "no usable /dev/kvm (run the suite through scripts/kvm-lab.sh)")
#define SKIP_UNLESS_ROOT(what) SKIP_UNLESS(geteuid() == 0, "needs root for " what)

/* `fork`: CK_FORK_GETENV is Check's default (each test in its own process
 * unless CK_FORK=no); CK_NOFORK for tests whose children fork themselves. */
static inline int run_suite_fork(Suite *s, enum fork_status fork)
{
	test_skips_ = mmap(NULL, sizeof(*test_skips_), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (test_skips_ == MAP_FAILED)
		test_skips_ = NULL;
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, fork);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (test_skips_ && atomic_load(test_skips_)) {
		fprintf(stderr, "%d test(s) skipped: reported as skipped, not passed\n", atomic_load(test_skips_));
		return TEST_SKIPPED;
	}
	return EXIT_SUCCESS;
}

static inline int run_suite(Suite *s)
{
	return run_suite_fork(s, CK_FORK_GETENV);
}

#endif
