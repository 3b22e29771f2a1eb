/* mpvm-test: mpvm itself, except that its sandbox_test_hook() obeys
 * MPVM_TEST_FORBIDDEN_SYSCALL=<thread kind>: the first thread of that kind
 * makes a syscall no list allows (execve) right after it is confined, so
 * test_seccomp.sh can check that a forbidden syscall on any thread kills
 * mpvm with a line naming the thread. The released mpvm links the no-op
 * hook (vmm/builder/sandbox_hook.c) and reads no such variable. */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "builder/sandbox.h"

void sandbox_test_hook(const char *kind)
{
	const char *want = getenv("MPVM_TEST_FORBIDDEN_SYSCALL");
	if (want && !strcmp(want, kind))
		syscall(SYS_execve, "/bin/sh", NULL, NULL);
}
