#include "builder/sandbox.h"

#include "base/err.h"
#include <errno.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *const sandbox_denied[] = {
	/* running other programs */
	"execve", "execveat",
	/* looking into or steering other processes */
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
	/* loading code into the kernel */
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf",
	/* the host's filesystem view, namespaces and power */
	"mount", "umount2", "pivot_root", "chroot", "swapon", "swapoff", "unshare", "setns",
	"reboot", "open_by_handle_at", "fsopen", "fsmount", "move_mount",
	/* keyrings and userfaultfd: common exploit helpers */
	"add_key", "request_key", "keyctl", "userfaultfd",
	NULL,
};

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPVM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MPVM_ASAN 1
#endif

/* LeakSanitizer stops the world at exit from a helper task that ptraces
 * every thread; under a sanitizer build (a test build) ptrace must stay. */
static bool skip(const char *name)
{
#ifdef MPVM_ASAN
	return !strcmp(name, "ptrace");
#else
	(void)name;
	return false;
#endif
}

int sandbox_apply(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		return err_set(err, errlen, "seccomp_init failed");
	}
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (int i = 0; !rc && sandbox_denied[i]; i++) {
		if (skip(sandbox_denied[i]))
			continue;
		int nr = seccomp_syscall_resolve_name(sandbox_denied[i]);
		/* A syscall this kernel/libseccomp does not know cannot be made. */
		if (nr == __NR_SCMP_ERROR)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
		if (rc)
			err_set(err, errlen, "seccomp rule for %s: %s", sandbox_denied[i], strerror(-rc));
	}
	if (!rc) {
		rc = seccomp_load(ctx);
		if (rc)
			err_set(err, errlen, "seccomp_load: %s (run with --no-seccomp to do without)",
				strerror(-rc));
	}
	seccomp_release(ctx);
	return rc ? -1 : 0;
}
