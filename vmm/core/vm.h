/* The VM and its vCPUs: the contract between the core and every module.
 *
 * Lifecycle, in the order the builder (builder/vmm.c) calls it:
 *  - vm_create(): KVM_CREATE_VM, TSS/identity map, guest memory slots, the
 *    in-kernel irqchip (PIC+IOAPIC+LAPIC) and PIT. The irqchip exists before
 *    any vCPU: KVM gives a VM no PMU at all otherwise (docs/pmu.md).
 *  - modules install vm->hooks and register their exits on vm->bus; the
 *    loader fills vm->entry (boot/boot.h).
 *  - vm_setup_vcpus(): hooks.before_vcpus() after the irqchip and before the
 *    first KVM_CREATE_VCPU (the PMU opt-out lives there); the boot GDT and
 *    page tables (cpu_setup.h); then every vCPU is created, and hooks.vcpu_create_failed() may ask for a retry after
 *    EBUSY from the first one; then per vCPU, before its first KVM_RUN:
 *    CPUID (normalised, then hooks.shape_cpuid()), KVM_SET_CPUID2,
 *    hooks.vcpu_init(), boot MSRs, LAPIC LINTs and registers.
 *  - vm_start(): one thread per vCPU; exits are dispatched through the
 *    io_bus (PIO/MMIO) and hooks.msr (MSR-filter exits).
 *  - vm_request_exit() (any thread, also from device handlers) records the
 *    first exit status, stops every vCPU and makes exit_evfd readable;
 *    vm_join() then joins the threads and returns that status.
 *  - vm_destroy(): hooks.destroy(), then vCPUs, memory and the VM fd.
 * Device handlers run on vCPU threads; anything they share they lock.
 * Every KVM call goes through vm->kvm (core/kvm_ops.h), so that tests can
 * put a stand-in of the kernel underneath.
 */
#ifndef MPVM_VM_H
#define MPVM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <linux/kvm.h>

#include "base/exit_codes.h"
#include "core/cpu_setup.h"
#include "core/exits.h"
#include "core/guest_mem.h"
#include "core/kvm_ops.h"
#include "core/layout.h"

struct vm;
struct vcpu;

enum vm_state { VM_NOT_STARTED, VM_RUNNING, VM_PAUSED, VM_EXITING };

/* Exit reasons counted per vCPU (GET /vcpus, metrics). */
enum vcpu_stat {
	VSTAT_IO, VSTAT_MMIO, VSTAT_HLT, VSTAT_MSR_READ, VSTAT_MSR_WRITE,
	VSTAT_SHUTDOWN, VSTAT_INTR, VSTAT_SYSTEM_EVENT, VSTAT_OTHER, VSTAT_UNHANDLED_IO,
	VSTAT_COUNT
};
extern const char *const vcpu_stat_names[VSTAT_COUNT];

struct vcpu {
	struct vm *vm;
	int id;          /* 0-based index; also the APIC ID */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	atomic_int tid;  /* Linux thread id once running */
	atomic_bool started;
	atomic_int parked;
	bool exit_pending; /* an exit handled, not yet completed by KVM_RUN (vCPU thread only) */
	_Atomic uint64_t stats[VSTAT_COUNT];
	void *pmu;       /* the PMU module's per-vCPU state */
};

/* Hooks a module (the PMU) installs into the VM. Any may be NULL. */
struct vm_hooks {
	void *opaque;
	/* After irqchip, before the first KVM_CREATE_VCPU. 0 or -1 (err set). */
	int (*before_vcpus)(void *opaque, struct vm *vm, char *err, size_t errlen);
	/* First KVM_CREATE_VCPU failed with `e`; return 1 to retry (after
	 * changing something), 0 to fail with `err` set. */
	int (*vcpu_create_failed)(void *opaque, struct vm *vm, int e, char *err, size_t errlen);
	/* Edit a vCPU's CPUID before KVM_SET_CPUID2. */
	void (*shape_cpuid)(void *opaque, struct vcpu *vcpu, struct kvm_cpuid2 *cpuid);
	/* After KVM_SET_CPUID2, before the first KVM_RUN. */
	int (*vcpu_init)(void *opaque, struct vcpu *vcpu, char *err, size_t errlen);
	/* MSR access that an MSR filter sent to userspace. Return 0 and set
	 * *data (reads) to complete it, or -1 to give the guest a #GP. */
	int (*msr)(void *opaque, struct vcpu *vcpu, uint32_t index, bool is_write, uint64_t *data);
	/* On the vCPU thread before every KVM_RUN (PMI injection). */
	void (*before_run)(void *opaque, struct vcpu *vcpu);
	void (*destroy)(void *opaque, struct vm *vm);
};

struct vm_params {
	uint32_t ncpus;
	uint64_t mem_bytes;
	bool hugepages;
	const struct kvm_ops *ops; /* NULL: the real kernel (kvm_ops_real) */
	/* Restoring a snapshot: guest RAM is mapped MAP_PRIVATE from mem_fd
	 * (core/guest_mem.h), and vm_setup_vcpus() writes no boot state (no
	 * GDT/page tables in memory, no boot registers): core/vm_snap.h sets
	 * the vCPUs' state instead. */
	bool restore;
	int mem_fd;
	const char *mem_path; /* for messages */
	/* KVM_MEM_LOG_DIRTY_PAGES on every slot, for Diff snapshots. */
	bool track_dirty;
};

struct vm {
	const struct kvm_ops *kvm; /* every KVM call on this VM */
	int kvm_fd;
	int fd;
	struct guest_mem mem;
	struct io_bus *bus;
	struct vm_params params;
	struct vcpu *vcpus;
	uint32_t nvcpus;
	int run_size;
	struct kvm_cpuid2 *supported_cpuid; /* KVM_GET_SUPPORTED_CPUID, read-only */
	struct boot_entry entry;
	struct vm_hooks hooks;

	_Atomic int state;       /* enum vm_state */
	atomic_bool exit_requested;
	int exit_status;
	char exit_reason[128];
	int exit_evfd;           /* readable once exit is requested */

	pthread_mutex_t lock;    /* pause/resume/exit bookkeeping */
	pthread_mutex_t thread_lock; /* vcpu->thread/started vs kicks and joins */
	pthread_cond_t cond;
	bool pause_requested;
	uint32_t nparked;
};

/* Create the VM with memory and irqchip (see above). */
int vm_create(struct vm *vm, int kvm_fd, const struct vm_params *p, char *err, size_t errlen);
/* Create all vCPUs, run hooks, set CPUID and the boot state from vm->entry.
 * vm->entry must be filled (boot_load) before. */
int vm_setup_vcpus(struct vm *vm, char *err, size_t errlen);
/* Start one thread per vCPU. */
int vm_start(struct vm *vm, char *err, size_t errlen);
/* Stop every vCPU (first status wins) and wake the event loop (exit_evfd). */
void vm_request_exit(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Join all vCPU threads; returns the exit status. */
int vm_join(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Pause: every vCPU out of KVM_RUN and parked before this returns.
 * Resume releases them. Both idempotent; only valid while running. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);

/* Make a vCPU leave KVM_RUN soon (signal + immediate_exit). Safe from any
 * thread at any time: a vCPU whose thread is gone or not yet started is
 * left alone. */
void vcpu_kick(struct vcpu *vcpu);
/* The CPU-time clock of a running vCPU's thread; false if it has none. */
bool vcpu_cpu_clock(struct vcpu *vcpu, clockid_t *clock);

/* Start one thread per vCPU, every one parked before its first KVM_RUN:
 * the VM is Paused until vm_resume() (a restored snapshot). */
int vm_start_paused(struct vm *vm, char *err, size_t errlen);

/* KVM's dirty log of memory slot `slot` (one bit per 4 KiB page of
 * vm->mem.regions[slot], which it clears); `bitmap` holds
 * (size/4096 + 63) / 64 words. Only with params.track_dirty. */
int vm_dirty_log(struct vm *vm, int slot, uint64_t *bitmap, char *err, size_t errlen);

/* Interrupt lines of the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);
static inline int vm_irq_pulse(struct vm *vm, uint32_t gsi)
{
	int r = vm_irq_line(vm, gsi, 1);
	return r ? r : vm_irq_line(vm, gsi, 0);
}

/* Microseconds since the process started (boot-time marker). */
uint64_t mpvm_uptime_us(void);

#endif
