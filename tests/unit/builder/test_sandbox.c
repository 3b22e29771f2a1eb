/* The seccomp sandbox: once applied, a denied syscall kills mpvm (no
 * exec of a shell from a compromised device model); ordinary work goes on. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/sandbox.h"
#include "check_main.h"

/* Runs fn in a child that applies the sandbox first; returns wait status. */
static int in_sandboxed_child(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		char err[256];
		if (sandbox_apply(err, sizeof(err)))
			_exit(99);
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return st;
}

static void try_exec(void)
{
	char *argv[] = { "/bin/true", NULL };
	execve("/bin/true", argv, NULL);
	_exit(3); /* exec failed without the sandbox killing us */
}

static void ordinary_work(void)
{
	int fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		_exit(4);
	close(fd);
	void *p = malloc(1 << 20);
	if (!p)
		_exit(5);
	free(p);
}

START_TEST(exec_after_sandbox_kills_the_process)
{
	int st = in_sandboxed_child(try_exec);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status 0x%x", st);
}
END_TEST

START_TEST(ordinary_vmm_work_still_runs)
{
	int st = in_sandboxed_child(ordinary_work);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}
END_TEST

START_TEST(the_deny_list_names_exec_and_module_loading)
{
	bool exec = false, modules = false;
	for (int i = 0; sandbox_denied[i]; i++) {
		exec |= !strcmp(sandbox_denied[i], "execve");
		modules |= !strcmp(sandbox_denied[i], "finit_module");
	}
	ck_assert(exec && modules);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *t = tcase_create("seccomp");
	tcase_add_test(t, exec_after_sandbox_kills_the_process);
	tcase_add_test(t, ordinary_vmm_work_still_runs);
	tcase_add_test(t, the_deny_list_names_exec_and_module_loading);
	suite_add_tcase(s, t);
	/* The children fork themselves; Check's own fork would only add noise. */
	return run_suite_fork(s, CK_NOFORK);
}
