/* The seccomp sandbox: each thread kind gets its own allow list. Once a
 * thread is confined, what its kind does still works, and anything else
 * kills mpvm with one line naming the thread kind and the syscall. Each
 * scenario runs in a forked child (a filter cannot be taken back). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/sandbox.h"
#include "check_main.h"

struct outcome {
	int status;
	char err[512]; /* what the child wrote to stderr */
};

/* Runs fn(arg) in a child confined as `kind`, its stderr captured. */
static struct outcome confined(const char *kind, void (*fn)(const void *arg), const void *arg)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		char err[256];
		if (sandbox_prepare(err, sizeof(err)) || sandbox_enter(kind, err, sizeof(err))) {
			dprintf(STDERR_FILENO, "setup: %s", err);
			_exit(99);
		}
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	struct outcome o = { 0 };
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(o.err) - 1 && (r = read(p[0], o.err + n, sizeof(o.err) - 1 - n)) > 0)
		n += (size_t)r;
	close(p[0]);
	waitpid(pid, &o.status, 0);
	return o;
}

static bool killed_by_sigsys(const struct outcome *o)
{
	return WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSYS;
}

static bool exited_cleanly(const struct outcome *o)
{
	return WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0;
}

/* ---- what the child does */

static void exec_a_shell(const void *arg)
{
	(void)arg;
	syscall(SYS_execve, "/bin/sh", NULL, NULL);
	_exit(3); /* the filter let it through */
}

/* Memory, locks, time, the log: what every thread does. */
static void ordinary_work(const void *arg)
{
	(void)arg;
	void *p = malloc(8 << 20);
	if (!p)
		_exit(5);
	memset(p, 1, 8 << 20);
	free(p);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (write(STDERR_FILENO, "", 0) != 0)
		_exit(4);
}

/* An ioctl request on an fd that cannot serve it (stderr, a pipe here):
 * the kernel's ENOTTY if the filter lets it through, SIGSYS if not. */
static void ioctl_request(const void *arg)
{
	unsigned long req = *(const unsigned long *)arg;
	char buf[64] = { 0 };
	if (syscall(SYS_ioctl, STDERR_FILENO, req, buf) == 0)
		_exit(6);
}

static void open_a_file(const void *arg)
{
	(void)arg;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		_exit(7);
	close(fd);
}

static void *nothing(void *arg)
{
	return arg;
}

static void start_a_thread(const void *arg)
{
	(void)arg;
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) == 0)
		pthread_join(t, NULL);
}

/* ---- scenarios */

START_TEST(every_thread_kind_dies_on_exec_with_a_line_naming_it)
{
	for (const struct sandbox_list *l = sandbox_lists; l->kind; l++) {
		struct outcome o = confined(l->kind, exec_a_shell, NULL);
		ck_assert_msg(killed_by_sigsys(&o), "%s: status 0x%x, stderr: %s", l->kind, o.status, o.err);
		char want[128];
		snprintf(want, sizeof(want), "mpvm: seccomp: %s thread made a forbidden syscall: execve (%d)",
			 l->kind, SYS_execve);
		ck_assert_msg(strstr(o.err, want), "%s: stderr lacks \"%s\": %s", l->kind, want, o.err);
	}
}
END_TEST

START_TEST(every_thread_kind_keeps_doing_ordinary_work)
{
	for (const struct sandbox_list *l = sandbox_lists; l->kind; l++) {
		struct outcome o = confined(l->kind, ordinary_work, NULL);
		ck_assert_msg(exited_cleanly(&o), "%s: status 0x%x, stderr: %s", l->kind, o.status, o.err);
	}
}
END_TEST

/* A thread of `kind` issues ioctl `req`: it goes through, or kills. */
static void expect_ioctl(const char *kind, unsigned long req, const char *name, bool allowed)
{
	struct outcome o = confined(kind, ioctl_request, &req);
	ck_assert_msg(allowed ? exited_cleanly(&o) : killed_by_sigsys(&o), "%s, %s: status 0x%x, stderr: %s",
		      kind, name, o.status, o.err);
	if (!allowed)
		ck_assert_msg(strstr(o.err, "thread made a forbidden syscall: ioctl"), "%s", o.err);
}

START_TEST(a_vcpu_may_run_the_guest_but_not_touch_the_terminal)
{
	expect_ioctl("vcpu", KVM_RUN, "KVM_RUN", true);
	/* stderr here; only stdin's modes may be put back (term_restore()) */
	expect_ioctl("vcpu", TCSETS, "TCSETS", false);
	expect_ioctl("vcpu", TIOCSTI, "TIOCSTI", false);
}
END_TEST

START_TEST(no_thread_may_map_guest_memory_once_running)
{
	for (const struct sandbox_list *l = sandbox_lists; l->kind; l++)
		expect_ioctl(l->kind, KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", false);
}
END_TEST

START_TEST(the_net_worker_may_set_offloads_but_not_pick_another_tap)
{
	expect_ioctl("virtio-net", TUNSETOFFLOAD, "TUNSETOFFLOAD", true);
	expect_ioctl("virtio-net", TUNSETIFF, "TUNSETIFF", false);
}
END_TEST

START_TEST(only_main_opens_files)
{
	/* The sanitizers' runtimes open /proc files from any thread. */
	if (sandbox_sanitizer_build)
		return;
	for (const struct sandbox_list *l = sandbox_lists; l->kind; l++) {
		struct outcome o = confined(l->kind, open_a_file, NULL);
		bool main = !strcmp(l->kind, "main");
		ck_assert_msg(main ? exited_cleanly(&o) : killed_by_sigsys(&o), "%s: status 0x%x, stderr: %s",
			      l->kind, o.status, o.err);
	}
}
END_TEST

START_TEST(no_confined_thread_starts_threads)
{
	/* LeakSanitizer clones its tracer at exit: sanitizer builds allow it. */
	if (sandbox_sanitizer_build)
		return;
	for (const struct sandbox_list *l = sandbox_lists; l->kind; l++) {
		struct outcome o = confined(l->kind, start_a_thread, NULL);
		ck_assert_msg(killed_by_sigsys(&o), "%s: status 0x%x", l->kind, o.status);
	}
}
END_TEST

START_TEST(an_unknown_kind_is_refused)
{
	char err[256];
	ck_assert_int_eq(sandbox_prepare(err, sizeof(err)), 0);
	ck_assert_int_eq(sandbox_enter("no-such-thread", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no-such-thread"), "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *t = tcase_create("seccomp");
	tcase_add_test(t, every_thread_kind_dies_on_exec_with_a_line_naming_it);
	tcase_add_test(t, every_thread_kind_keeps_doing_ordinary_work);
	tcase_add_test(t, a_vcpu_may_run_the_guest_but_not_touch_the_terminal);
	tcase_add_test(t, no_thread_may_map_guest_memory_once_running);
	tcase_add_test(t, the_net_worker_may_set_offloads_but_not_pick_another_tap);
	tcase_add_test(t, only_main_opens_files);
	tcase_add_test(t, no_confined_thread_starts_threads);
	suite_add_tcase(s, t);
	TCase *u = tcase_create("setup");
	tcase_add_test(u, an_unknown_kind_is_refused);
	suite_add_tcase(s, u);
	/* Check's fork keeps an_unknown_kind_is_refused's prepared sandbox
	 * (no_new_privs, the SIGSYS handler) out of the other tests. */
	return run_suite_fork(s, CK_FORK);
}
