/* vCPU threads: one per vCPU, each looping on KVM_RUN and dispatching the
 * exit through the io_bus or the MSR hook. Kicks are a real-time signal whose
 * handler sets run->immediate_exit, so a kick that lands just before KVM_RUN
 * is not lost. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/err.h"
#include "core/confine.h"
#include "core/kvm_ops.h"
#include "core/log.h"
#include "core/vm.h"

#define KICK_SIGNAL (SIGRTMIN + 1)

static __thread struct vcpu *current_vcpu;

static void kick_handler(int sig)
{
	(void)sig;
	if (current_vcpu && current_vcpu->run)
		current_vcpu->run->immediate_exit = 1;
}

/* thread_lock keeps a kick (or a clock lookup) from touching a pthread_t
 * that vm_join() is about to free. */
void vcpu_kick(struct vcpu *vcpu)
{
	pthread_mutex_lock(&vcpu->vm->thread_lock);
	if (atomic_load(&vcpu->started))
		pthread_kill(vcpu->thread, KICK_SIGNAL);
	pthread_mutex_unlock(&vcpu->vm->thread_lock);
}

bool vcpu_cpu_clock(struct vcpu *vcpu, clockid_t *clock)
{
	pthread_mutex_lock(&vcpu->vm->thread_lock);
	bool ok = atomic_load(&vcpu->started) && !pthread_getcpuclockid(vcpu->thread, clock);
	pthread_mutex_unlock(&vcpu->vm->thread_lock);
	return ok;
}

static void stat_inc(struct vcpu *v, enum vcpu_stat s)
{
	atomic_fetch_add_explicit(&v->stats[s], 1, memory_order_relaxed);
}

static bool handle_exit(struct vcpu *v);

/* KVM finishes an I/O, MMIO or MSR exit only on the next KVM_RUN and keeps
 * that pending state where userspace cannot see it (KVM API docs,
 * "kvm_run"): before parking, re-enter with immediate_exit, which completes
 * it and runs no guest instruction, so a paused vCPU's state (a snapshot)
 * is whole. Completing one can raise another exit (string I/O that goes on
 * past a page): handle that too, until KVM returns without one. False when
 * the vCPU should stop. */
static bool complete_pending_exit(struct vcpu *v)
{
	while (v->exit_pending) {
		v->run->immediate_exit = 1;
		int rc = kvm_vcpu_ioctl(v, KVM_RUN, NULL);
		v->run->immediate_exit = 0;
		v->exit_pending = false;
		if (rc == 0) {
			if (!handle_exit(v))
				return false;
			v->exit_pending = true;
		}
	}
	return true;
}

/* Park while a pause is requested. Returns false when the VM is exiting. */
static bool maybe_park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (atomic_load(&vm->exit_requested))
		return false;
	pthread_mutex_lock(&vm->lock);
	/* A pending exit is completed outside the lock (exit handlers may take
	 * it: vm_request_exit), then the pause looked at again. */
	while (vm->pause_requested && v->exit_pending) {
		pthread_mutex_unlock(&vm->lock);
		if (!complete_pending_exit(v))
			return false;
		pthread_mutex_lock(&vm->lock);
	}
	if (vm->pause_requested) {
		vm->nparked++;
		atomic_store(&v->parked, 1);
		pthread_cond_broadcast(&vm->cond);
		while (vm->pause_requested && !atomic_load(&vm->exit_requested))
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->nparked--;
		atomic_store(&v->parked, 0);
	}
	pthread_mutex_unlock(&vm->lock);
	return !atomic_load(&vm->exit_requested);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool wr = run->io.direction == KVM_EXIT_IO_OUT;
	stat_inc(v, VSTAT_IO);
	/* String I/O (rep outs/ins) arrives as `count` consecutive accesses. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		if (!io_dispatch(v->vm->bus, IO_SPACE_PIO, v, run->io.port, data, run->io.size, wr))
			stat_inc(v, VSTAT_UNHANDLED_IO);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	stat_inc(v, VSTAT_MMIO);
	uint32_t len = run->mmio.len <= 8 ? run->mmio.len : 8;
	if (!io_dispatch(v->vm->bus, IO_SPACE_MMIO, v, run->mmio.phys_addr, run->mmio.data,
			 len, run->mmio.is_write))
		stat_inc(v, VSTAT_UNHANDLED_IO);
}

static void handle_msr(struct vcpu *v, bool is_write)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	stat_inc(v, is_write ? VSTAT_MSR_WRITE : VSTAT_MSR_READ);
	uint64_t data = is_write ? run->msr.data : 0;
	int rc = -1;
	if (vm->hooks.msr)
		rc = vm->hooks.msr(vm->hooks.opaque, v, run->msr.index, is_write, &data);
	/* error = 1 makes KVM inject #GP: a wild MSR access is the guest's
	 * problem, never the VMM's. */
	run->msr.error = rc ? 1 : 0;
	if (!is_write && !rc)
		run->msr.data = data;
}

/* Returns false when the vCPU should stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_X86_RDMSR:
		handle_msr(v, false);
		return true;
	case KVM_EXIT_X86_WRMSR:
		handle_msr(v, true);
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; we always have one. */
		stat_inc(v, VSTAT_HLT);
		return true;
	case KVM_EXIT_INTR:
		stat_inc(v, VSTAT_INTR);
		return true;
	case KVM_EXIT_SHUTDOWN:
		stat_inc(v, VSTAT_SHUTDOWN);
		vm_request_exit(vm, MPVM_EXIT_CRASH, "vCPU %d: triple fault (KVM_EXIT_SHUTDOWN)", v->id);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		stat_inc(v, VSTAT_SYSTEM_EVENT);
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_exit(vm, MPVM_EXIT_RESET, "vCPU %d: system reset event", v->id);
		else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_exit(vm, MPVM_EXIT_POWEROFF, "vCPU %d: system shutdown event", v->id);
		else
			vm_request_exit(vm, MPVM_EXIT_CRASH, "vCPU %d: system event %u", v->id,
					run->system_event.type);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		stat_inc(v, VSTAT_OTHER);
		vm_request_exit(vm, MPVM_EXIT_CRASH, "vCPU %d: KVM internal error, suberror %u%s", v->id,
				run->internal.suberror,
				run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
				" (instruction emulation failed)" : "");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		stat_inc(v, VSTAT_OTHER);
		vm_request_exit(vm, MPVM_EXIT_CRASH, "vCPU %d: VM entry failed, hardware reason 0x%llx",
				v->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		stat_inc(v, VSTAT_OTHER);
		vm_request_exit(vm, MPVM_EXIT_CRASH, "vCPU %d: unexpected KVM exit reason %u", v->id,
				run->exit_reason);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	current_vcpu = v;
	atomic_store(&v->tid, (int)syscall(SYS_gettid));
	char name[16];
	snprintf(name, sizeof(name), "mpvm-vcpu%d", v->id);
	pthread_setname_np(pthread_self(), name);
	/* Before the first KVM_RUN: the guest never runs on an unconfined thread. */
	confine_thread("vcpu");

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (maybe_park(v)) {
		if (vm->hooks.before_run)
			vm->hooks.before_run(vm->hooks.opaque, v);
		int rc = kvm_vcpu_ioctl(v, KVM_RUN, NULL);
		v->exit_pending = false;
		int e = -rc;
		v->run->immediate_exit = 0;
		if (rc < 0) {
			if (e == EINTR || e == EAGAIN) {
				stat_inc(v, VSTAT_INTR);
				continue;
			}
			vm_request_exit(vm, MPVM_EXIT_ERROR, "vCPU %d: KVM_RUN: %s", v->id, strerror(e));
			break;
		}
		if (!handle_exit(v))
			break;
		v->exit_pending = true;
	}
	return NULL;
}

static int start(struct vm *vm, bool paused, char *err, size_t errlen)
{
	static bool installed;
	if (!installed) {
		struct sigaction sa = { .sa_handler = kick_handler };
		sigemptyset(&sa.sa_mask);
		sigaction(KICK_SIGNAL, &sa, NULL);
		installed = true;
	}
	/* vCPU threads inherit a mask with the kick blocked and unblock it
	 * themselves, so no kick reaches a thread before current_vcpu is set.
	 * Synchronous fault signals stay unblocked: blocked, the kernel would
	 * kill the process without running the crash handlers (terminal
	 * restore, ASan's report), and device handlers run on these threads. */
	sigset_t set, old;
	sigfillset(&set);
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS };
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&set, faults[i]);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	/* Paused: each thread parks in maybe_park() before its first KVM_RUN;
	 * vm_resume() releases them as after vm_pause(). */
	pthread_mutex_lock(&vm->lock);
	vm->pause_requested = paused;
	atomic_store(&vm->state, paused ? VM_PAUSED : VM_RUNNING);
	pthread_mutex_unlock(&vm->lock);
	int rc = 0;
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		pthread_mutex_lock(&vm->thread_lock);
		rc = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (!rc)
			atomic_store(&v->started, true);
		pthread_mutex_unlock(&vm->thread_lock);
		if (rc) {
			err_set(err, errlen, "creating vCPU %u thread: %s", i, strerror(rc));
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		/* Nothing may outlive a failed start: stop and join what runs. */
		vm_request_exit(vm, MPVM_EXIT_ERROR, "%s", err);
		vm_join(vm);
		return -1;
	}
	return 0;
}

int vm_start(struct vm *vm, char *err, size_t errlen)
{
	return start(vm, false, err, errlen);
}

int vm_start_paused(struct vm *vm, char *err, size_t errlen)
{
	if (start(vm, true, err, errlen))
		return -1;
	/* Paused means every vCPU parked, as vm_pause() promises. */
	pthread_mutex_lock(&vm->lock);
	while (vm->nparked < vm->nvcpus && !atomic_load(&vm->exit_requested))
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int vm_join(struct vm *vm)
{
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		/* The exit was requested (and every vCPU kicked) before anyone
		 * joins, so no further kick is needed: forget the thread first. */
		pthread_mutex_lock(&vm->thread_lock);
		bool was = atomic_exchange(&v->started, false);
		pthread_mutex_unlock(&vm->thread_lock);
		if (was)
			pthread_join(v->thread, NULL);
	}
	return vm->exit_status;
}
