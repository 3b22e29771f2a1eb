/* The seccomp sandbox (libseccomp).
 *
 * Contract: sandbox_apply() installs, on every thread of the process
 * (TSYNC), a filter that kills mpvm if it ever makes a syscall a VMM has no
 * business making once the VM is built: running programs, tracing or
 * reading other processes, loading kernel code, changing mounts or
 * namespaces, rebooting the host. Everything else stays allowed (a deny
 * list, not an allow list: device models, io_uring, the API and the PMU use
 * a wide and kernel-version-dependent set). Call it after the VM is built
 * and before the guest runs. Returns 0 or -1 with `err` set. ASan builds
 * keep ptrace allowed: LeakSanitizer needs it at exit.
 */
#ifndef MPVM_SANDBOX_H
#define MPVM_SANDBOX_H

#include <stddef.h>

int sandbox_apply(char *err, size_t errlen);

/* The syscalls it denies, NULL-terminated (README, tests). */
extern const char *const sandbox_denied[];

#endif
