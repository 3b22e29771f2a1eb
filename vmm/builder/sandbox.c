#include "builder/sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "core/confine.h"
#include "devices/term.h"

/* One compiled program per entry of sandbox_lists, in the same order. */
#define MAX_KINDS 16
static struct sock_fprog progs[MAX_KINDS];
static bool prepared;

/* Names for the SIGSYS line, resolved up front: the handler may not call
 * libseccomp (it allocates). */
#define MAX_NR 512
static const char *sys_names[MAX_NR];

/* The calling thread's kind, for the SIGSYS line. */
static _Thread_local const char *thread_kind;

/* Argument `arg` equals `v` (libseccomp's SCMP_A1() leaves datum_b to
 * the compiler, which clang's -Wmissing-field-initializers refuses). */
static struct scmp_arg_cmp arg_eq(unsigned int arg, scmp_datum_t v)
{
	return (struct scmp_arg_cmp){ .arg = arg, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0 };
}

static int add_names(scmp_filter_ctx ctx, const char *const *names, char *err, size_t errlen)
{
	for (int i = 0; names && names[i]; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		/* A syscall this kernel/libseccomp does not know cannot be made. */
		if (nr == __NR_SCMP_ERROR)
			continue;
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc)
			return err_set(err, errlen, "seccomp rule for %s: %s", names[i], strerror(-rc));
	}
	return 0;
}

static int add_ioctls(scmp_filter_ctx ctx, const struct sandbox_list *l, char *err, size_t errlen)
{
	for (int i = 0; l->ioctls && l->ioctls[i]; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					  arg_eq(1, l->ioctls[i]));
		if (rc)
			return err_set(err, errlen, "seccomp rule for ioctl 0x%lx: %s", l->ioctls[i],
				       strerror(-rc));
	}
	return 0;
}

/* libseccomp 2.5 exports BPF only to a file descriptor: through a memfd
 * into memory that lives as long as the process. */
static int export(scmp_filter_ctx ctx, struct sock_fprog *out, char *err, size_t errlen)
{
	int fd = memfd_create("mpvm-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, "memfd_create: %s", strerror(errno));
	int rc = seccomp_export_bpf(ctx, fd);
	off_t len = rc ? -1 : lseek(fd, 0, SEEK_END);
	struct sock_filter *f = len > 0 ? malloc((size_t)len) : NULL;
	if (rc || !f || pread(fd, f, (size_t)len, 0) != len) {
		close(fd);
		free(f);
		return err_set(err, errlen, "seccomp_export_bpf: %s", strerror(rc ? -rc : errno));
	}
	close(fd);
	out->len = (unsigned short)((size_t)len / sizeof(*f));
	out->filter = f;
	return 0;
}

static int compile(const struct sandbox_list *l, struct sock_fprog *out, char *err, size_t errlen)
{
	/* Trap, not kill: the handler names the thread and the syscall first. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return err_set(err, errlen, "seccomp_init failed");
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* no_new_privs is set once, process-wide, by sandbox_prepare(). */
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc) {
		seccomp_release(ctx);
		return err_set(err, errlen, "seccomp attributes: %s", strerror(-rc));
	}
	rc = add_names(ctx, sandbox_common, err, errlen);
	if (!rc && sandbox_sanitizer_build)
		rc = add_names(ctx, sandbox_sanitizer_extra, err, errlen);
	/* ioctl in a kind's plain list means "the requests below only". */
	for (int i = 0; !rc && l->syscalls[i]; i++)
		if (strcmp(l->syscalls[i], "ioctl"))
			rc = add_names(ctx, (const char *const[]){ l->syscalls[i], NULL }, err, errlen);
	if (!rc)
		rc = add_ioctls(ctx, l, err, errlen);
	/* Any thread may put the terminal back, and only that: the SIGSYS and
	 * crash handlers restore it (term_restore(): tcsetattr() on stdin,
	 * which glibc does as TCGETS then TCSETS) before the process dies. */
	static const unsigned long restore[] = { TCGETS, TCSETS };
	for (size_t i = 0; !rc && i < sizeof(restore) / sizeof(restore[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
					   arg_eq(0, STDIN_FILENO), arg_eq(1, restore[i]))))
			err_set(err, errlen, "seccomp rule for ioctl 0x%lx on stdin: %s", restore[i],
				strerror(-rc));
	if (!rc)
		rc = export(ctx, out, err, errlen);
	seccomp_release(ctx);
	return rc ? -1 : 0;
}

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long n)
{
	char digits[24];
	int k = 0;
	unsigned long u = n < 0 ? 0UL - (unsigned long)n : (unsigned long)n;
	do {
		digits[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (n < 0 && at < cap)
		buf[at++] = '-';
	while (k && at < cap)
		buf[at++] = digits[--k];
	return at;
}

/* Async-signal-safe (tcsetattr, write, sigaction, tgkill): the terminal
 * back, one line, then death by SIGSYS, which is what
 * SECCOMP_RET_KILL_PROCESS would have done without the line. */
static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	(void)uctx;
	/* Cooked mode first, or the line lands in a raw terminal. */
	term_restore();
	char line[256];
	size_t n = 0, cap = sizeof(line) - 1;
	int nr = si->si_syscall;
	n = put(line, n, cap, "mpvm: seccomp: ");
	n = put(line, n, cap, thread_kind ? thread_kind : "unconfined");
	n = put(line, n, cap, " thread made a forbidden syscall: ");
	n = put(line, n, cap, nr >= 0 && nr < MAX_NR && sys_names[nr] ? sys_names[nr] : "?");
	n = put(line, n, cap, " (");
	n = put_num(line, n, cap, nr);
	n = put(line, n, cap, "); killing mpvm (--no-seccomp runs without the filter)\n");
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
	_exit(128 + sig); /* not reached */
}

int sandbox_prepare(char *err, size_t errlen)
{
	if (prepared)
		return 0;
	size_t k = 0;
	for (; sandbox_lists[k].kind; k++) {
		if (k == MAX_KINDS)
			return err_set(err, errlen, "seccomp: more than %d thread kinds", MAX_KINDS);
		if (compile(&sandbox_lists[k], &progs[k], err, errlen))
			return -1;
	}
	for (int nr = 0; nr < MAX_NR; nr++)
		sys_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	/* The log's timestamps go through strftime(), which loads the time
	 * zone on first use: load it now, while opening files is allowed. */
	tzset();
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		return err_set(err, errlen, "SIGSYS handler: %s", strerror(errno));
	/* Inherited by every thread created from here on; the kernel demands
	 * it (or CAP_SYS_ADMIN) for an unprivileged filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return err_set(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	confine_set_hook(sandbox_enter);
	prepared = true;
	return 0;
}

int sandbox_enter(const char *kind, char *err, size_t errlen)
{
	if (!prepared)
		return err_set(err, errlen, "seccomp: the sandbox is not prepared");
	const struct sandbox_list *l = kind ? sandbox_find(kind) : NULL;
	if (!l)
		return err_set(err, errlen, "seccomp: no allow list for thread kind \"%s\"",
			       kind ? kind : "(none)");
	size_t k = (size_t)(l - sandbox_lists);
	/* Without TSYNC: this thread only, so each kind keeps its own list.
	 * FLAG_LOG: the kernel's audit log (dmesg, type=1326) records a trap
	 * too, even one our handler never sees (a thread that blocks SIGSYS,
	 * such as LeakSanitizer's tracer, dies without running it). */
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &progs[k]);
	if (r && errno == EINVAL) /* a kernel before 4.14 */
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &progs[k]);
	if (r)
		return err_set(err, errlen, "seccomp filter for the %s thread: %s", kind,
			       strerror(errno));
	thread_kind = l->kind;
	sandbox_test_hook(kind);
	return 0;
}

int sandbox_lock_main(char *err, size_t errlen)
{
	if (sandbox_enter("main", err, errlen))
		return err_append(err, errlen, " (run with --no-seccomp to do without)");
	return 0;
}
