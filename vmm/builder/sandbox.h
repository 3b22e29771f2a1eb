/* The seccomp sandbox (libseccomp): one allow list per thread kind, as in
 * Firecracker and Cloud Hypervisor.
 *
 * Contract:
 * - sandbox_prepare() (main thread, before the VM's first thread exists)
 *   compiles every list to BPF, installs the SIGSYS reporter, sets
 *   no_new_privs and registers the per-thread hook (core/confine.h): from
 *   then on each vCPU, virtio worker and PMU timer thread confines itself
 *   with its own list as its first act. Idempotent; 0, or -1 with `err` set.
 * - sandbox_lock_main() confines the main thread (event loop, API, serial,
 *   teardown) with the "main" list. Call it last, once every other thread
 *   has been created (a thread inherits its creator's filter, so a main
 *   filter installed earlier would also bind the vCPUs), and before the
 *   main loop handles anything the guest or an API client sends.
 * - A syscall outside the calling thread's list (or an ioctl request
 *   outside its ioctl list) traps: the SIGSYS handler writes one line to
 *   stderr ("mpvm: seccomp: vcpu thread made a forbidden syscall: execve
 *   (59); killing mpvm ...") and the process dies of SIGSYS, as it would
 *   under SECCOMP_RET_KILL_PROCESS. A foreign syscall ABI (x32, i386) kills
 *   the process outright.
 * - Sanitizer builds (ASan/LSan/UBSan, TSan) add sandbox_sanitizer_extra
 *   to every list: the runtimes read /proc, and LeakSanitizer ptraces the
 *   process from a clone at exit.
 */
#ifndef MPVM_SANDBOX_H
#define MPVM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

int sandbox_prepare(char *err, size_t errlen);
int sandbox_lock_main(char *err, size_t errlen);

/* Confine the calling thread with `kind`'s list (the confine hook). 0, or
 * -1 with `err` set (no such kind, not prepared, the kernel refused). */
int sandbox_enter(const char *kind, char *err, size_t errlen);

/* Test builds only: called right after a thread is confined, so a test
 * binary can make a forbidden syscall from a chosen thread kind
 * (tests/integration/sandbox_test_hook.c). mpvm's own is a no-op. */
void sandbox_test_hook(const char *kind);

/* ---- the lists (builder/sandbox_lists.c) */

struct sandbox_list {
	const char *kind;		/* confine_thread()'s name for the thread */
	const char *const *syscalls;	/* NULL-terminated; besides the common set */
	const unsigned long *ioctls;	/* 0-terminated requests; NULL: no ioctl */
};

/* Every thread: memory, futexes, signals, time, exit, logging to stderr. */
extern const char *const sandbox_common[];
extern const char *const sandbox_sanitizer_extra[];
/* One per thread kind, ending with { NULL }. */
extern const struct sandbox_list sandbox_lists[];
extern const bool sandbox_sanitizer_build;

const struct sandbox_list *sandbox_find(const char *kind);

#endif
