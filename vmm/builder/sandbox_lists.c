/* The allow lists, one per thread kind. Each was drawn from `strace -f`
 * of real runs (the freestanding guests, the virtio blk/net/rng guests, the
 * API flows, the soft PMU: tests/integration) and pruned to what the
 * thread does once the VM is built: building it (creating the VM, mapping
 * guest memory, opening images and taps, starting threads) happens before
 * any filter is installed, so no list allows it. README.md ("Sandbox")
 * says per kind why each entry is there.
 */
#include "builder/sandbox.h"

#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

const char *const sandbox_common[] = {
	/* malloc, thread stacks, and the kernel freeing them at thread exit */
	"brk", "mmap", "munmap", "mprotect", "madvise", "mremap",
	/* mutexes, condition variables, joins */
	"futex", "sched_yield",
	/* the vCPU kick (a signal to a thread), signal masks, the crash and
	 * SIGSYS handlers that put the default action back and re-raise */
	"rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "tgkill", "getpid", "gettid",
	"restart_syscall",
	/* time (usually the vDSO, a syscall when the clocksource has none) */
	"clock_gettime", "gettimeofday", "clock_nanosleep", "nanosleep",
	/* eventfds, the log (stdio stats its stream once) and closing fds */
	"read", "write", "close", "newfstatat", "fstat",
	"exit", "exit_group",
	NULL,
};

/* The sanitizer runtimes report from whichever thread found the bug (they
 * read /proc/self/maps, symbolize, and write), and LeakSanitizer, at exit,
 * clones a tracer that ptraces every thread and waits for it. */
const char *const sandbox_sanitizer_extra[] = {
	"ptrace", "clone", "clone3", "wait4", "waitid", "prctl", "open", "openat", "readlink",
	"readlinkat", "getdents", "getdents64", "stat", "lstat", "access", "sigaltstack", "sched_getaffinity", "getrlimit",
	"prlimit64", "pipe2", "dup", "dup2", "dup3", "kill", "uname", "lseek", "pread64",
	"getppid", "statx", "setrlimit",
	NULL,
};

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MPVM_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MPVM_SANITIZED 1
#endif
#ifdef MPVM_SANITIZED
const bool sandbox_sanitizer_build = true;
#else
const bool sandbox_sanitizer_build = false;
#endif

/* vCPU: KVM_RUN and what the exit handlers do on the vCPU's own thread:
 * device registers (eventfd kicks, the UART's output to a file, pipe or
 * socket, a watch for when it drains), the soft PMU (its timerfd, the
 * LAPIC read that finds the PMI vector, the PMI as an NMI or MSI), the
 * kernel PMU's MSRs, and interrupt lines. */
static const char *const vcpu_sys[] = {
	"ioctl", "sendto", "writev", "epoll_ctl", "timerfd_settime", "timerfd_gettime", NULL,
};
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_GET_LAPIC, KVM_SET_LAPIC, KVM_GET_MSRS, KVM_SET_MSRS, KVM_NMI,
	KVM_SIGNAL_MSI, KVM_IRQ_LINE, KVM_GET_TSC_KHZ, 0,
};

/* virtio-blk worker: both io engines (io_uring; preadv/pwritev for Sync),
 * flushes, the rate limiter's timerfd, its epoll set. */
static const char *const blk_sys[] = {
	"epoll_wait", "epoll_pwait", "epoll_ctl", "io_uring_enter", "preadv", "pwritev",
	"pread64", "pwrite64", "fsync", "fdatasync", "lseek", "poll", "ppoll",
	"timerfd_settime", "timerfd_gettime", NULL,
};

/* virtio-net worker: the tap (read/write with iovecs), the offloads the
 * guest negotiates (TUNSETOFFLOAD, nothing else on the tap), its epoll set
 * and rate limiter; MMDS's session tokens (getrandom). */
static const char *const net_sys[] = {
	"ioctl", "readv", "writev", "epoll_wait", "epoll_pwait", "epoll_ctl",
	"timerfd_settime", "timerfd_gettime", "getrandom", NULL,
};
static const unsigned long net_ioctls[] = { TUNSETOFFLOAD, 0 };

/* virtio-rng worker: the host's entropy (getrandom), its epoll set. */
static const char *const rng_sys[] = {
	"getrandom", "epoll_wait", "epoll_pwait", "epoll_ctl", "timerfd_settime",
	"timerfd_gettime", NULL,
};

/* virtio-vsock worker: Firecracker's host side. It accepts host clients on
 * uds_path, connects to <uds_path>_<port> for the guest (so it creates
 * UNIX sockets), moves bytes both ways, half-closes; its own epoll set. */
static const char *const vsock_sys[] = {
	"epoll_wait", "epoll_pwait", "epoll_ctl", "accept4", "socket", "connect", "sendto",
	"recvfrom", "readv", "shutdown", NULL,
};

/* virtio-balloon worker: inflated pages go back to the host (madvise, in
 * the common list), the statistics timer. */
static const char *const balloon_sys[] = {
	"epoll_wait", "epoll_pwait", "epoll_ctl", "timerfd_settime", "timerfd_gettime", NULL,
};

/* The soft PMU's timer: waits on timerfds and kicks a vCPU (tgkill). */
static const char *const pmu_timer_sys[] = { "epoll_wait", "epoll_pwait", NULL };

/* Main thread once the VM runs: the event loop (signalfd, timers), the
 * serial console on the terminal, the API socket (api_http.c), files the
 * API may open while running (a new drive backing file, the log and metrics
 * paths), the soft and kernel PMU's API (filter updates, counters, a host
 * re-probe through /dev/kvm), PUT /snapshot/create (the VM's KVM state,
 * KVM's dirty log, the files written under a temporary name and renamed),
 * and teardown (unlinking the socket). */
static const char *const main_sys[] = {
	"ioctl", "epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll",
	"accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown", "getsockopt",
	"setsockopt", "readv", "writev", "pread64", "pwrite64",
	"openat", "lseek", "fcntl", "unlink", "ftruncate", "fsync", "fdatasync",
	"timerfd_settime", "timerfd_gettime", "eventfd2", "getrandom", "uname",
	"rename", "renameat", "renameat2", NULL,
};
static const unsigned long main_ioctls[] = {
	/* interrupts from host-side devices (UART input, i8042) */
	KVM_IRQ_LINE, KVM_SIGNAL_MSI,
	/* PMU API on a running VM */
	KVM_SET_PMU_EVENT_FILTER, KVM_X86_SET_MSR_FILTER, KVM_GET_MSRS, KVM_SET_MSRS,
	KVM_GET_LAPIC, KVM_GET_TSC_KHZ,
	/* GET /pmu/host probes /dev/kvm again */
	KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, KVM_GET_SUPPORTED_CPUID,
	/* the serial console's terminal (raw mode, restore) */
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
	/* PATCH /drives with a block device as the new backing file */
	BLKGETSIZE64,
	/* PUT /snapshot/create: the state of the paused vCPUs and the VM */
	KVM_GET_MP_STATE, KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_XSAVE, KVM_GET_XSAVE2,
	KVM_GET_FPU, KVM_GET_XCRS, KVM_GET_DEBUGREGS, KVM_GET_VCPU_EVENTS,
	KVM_GET_MSR_INDEX_LIST, KVM_GET_CLOCK, KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_DIRTY_LOG,
	0,
};

const struct sandbox_list sandbox_lists[] = {
	{ "vcpu", vcpu_sys, vcpu_ioctls },
	{ "virtio-blk", blk_sys, NULL },
	{ "virtio-net", net_sys, net_ioctls },
	{ "virtio-rng", rng_sys, NULL },
	{ "virtio-vsock", vsock_sys, NULL },
	{ "virtio-balloon", balloon_sys, NULL },
	{ "pmu-timer", pmu_timer_sys, NULL },
	{ "main", main_sys, main_ioctls },
	{ NULL, NULL, NULL },
};

const struct sandbox_list *sandbox_find(const char *kind)
{
	for (const struct sandbox_list *l = sandbox_lists; l->kind; l++)
		if (!strcmp(l->kind, kind))
			return l;
	return NULL;
}
