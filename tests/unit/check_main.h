/* The end of every unit test's main(): run the suite with Check's normal
 * output and turn the result into the exit code CTest reads (non-zero when
 * any test failed). Header-only so each test_*.c stays a standalone program. */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* `fork`: CK_FORK_GETENV is Check's default (each test in its own process
 * unless CK_FORK=no); CK_NOFORK for tests whose children fork themselves. */
static inline int run_suite_fork(Suite *s, enum fork_status fork)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, fork);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline int run_suite(Suite *s)
{
	return run_suite_fork(s, CK_FORK_GETENV);
}

#endif
