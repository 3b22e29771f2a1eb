/* A stand-in of the kernel's mediated-PMU contract (docs/pmu.md), NOT the
 * real kernel. Installed as a VM's struct kvm_ops (core/kvm_ops.h), it
 * answers the PMU module's ioctls, and vm.c's, the way the document says
 * KVM does, and logs every call of the contract, so tests can check the
 * exact sequence mpvm issues:
 *  - without KVM_CREATE_IRQCHIP before the first vCPU (no in-kernel LAPIC:
 *    KVM_GET_LAPIC fails with ENXIO), a mediated host gives the VM no PMU
 *    and a legacy host a degraded perf-based one;
 *  - the opt-out (KVM_ENABLE_CAP PMU_CAPABILITY, DISABLE) works only with
 *    enable_pmu, before the first KVM_CREATE_VCPU and before a mediated PMU
 *    was created (sticky: EINVAL after either);
 *  - on a mediated host, the first KVM_CREATE_VCPU asks perf for the
 *    mediated PMU: EBUSY while a host perf event counts guests (system-wide
 *    or per-task), creating nothing; once created, new host events that
 *    count guests fail with EOPNOTSUPP (si_host_perf_event_open());
 *  - KVM_SET_PMU_EVENT_FILTER: at most 300 events (E2BIG), any time;
 *  - after the first KVM_RUN, KVM_SET_CPUID2 fails with EINVAL unless the
 *    table is identical, and PERF_CAPABILITIES cannot change;
 *  - MSR filter and user-space MSR exits are recorded as given.
 * The calls outside the PMU contract that vm.c makes (memory slots, PIT,
 * registers, LAPIC LINTs) succeed and are not logged; KVM_CREATE_VM and
 * KVM_CREATE_VCPU hand out real (eventfd) descriptors, so vm_destroy() can
 * close them. Header-only; used by test_pmu_contract.c,
 * test_pmu_softrun.c and test_pmu_snapshot.c.
 */
#ifndef PMU_STANDIN_H
#define PMU_STANDIN_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include "core/kvm_ops.h"
#include "core/vm.h"
#include "pmu/pmu.h"

enum si_host { SI_NO_PMU, SI_LEGACY, SI_MEDIATED };
enum si_vpmu { VPMU_UNDECIDED, VPMU_NONE, VPMU_LEGACY, VPMU_LEGACY_NO_PMI, VPMU_MEDIATED };

#define SI_VCPUS 4
#define SI_MSRS 48
#define SI_LOG 128

struct standin {
	/* the host */
	enum si_host host;
	bool host_event_counts_guests; /* NMI watchdog, perf stat -a, perf stat -p PID, ... */
	int fail_vcpu_after_precreate; /* errno for the first KVM_CREATE_VCPU after the
					* mediated PMU exists (e.g. ENOMEM); 0: none */
	uint64_t perf_caps_supported;
	/* the VM as KVM sees it */
	bool irqchip, opted_out;
	bool mediated_created;   /* perf_create_mediated_pmu() succeeded: sticky */
	int nvcpus;
	enum si_vpmu vpmu;
	struct { uint32_t action, nevents, flags, fixed; uint64_t ev[4]; } filter;
	int filter_sets;
	uint64_t user_space_msr;
	int msr_nranges;
	struct { uint32_t base, n, flags, bits; } ranges[16];
	bool ran[SI_VCPUS];
	struct kvm_cpuid_entry2 leaf_a[SI_VCPUS], leaf1[SI_VCPUS];
	uint32_t cpuid_nent[SI_VCPUS];
	struct kvm_cpuid_entry2 cpuid[SI_VCPUS][8]; /* the last table set */
	int nmsr[SI_VCPUS];
	struct { uint32_t idx; uint64_t val; } msr[SI_VCPUS][SI_MSRS];
	uint32_t lvtpc;
	/* userspace side */
	uint64_t cpu_ns[SI_VCPUS];
	atomic_int kicks;
	struct kvm_msi msi;
	int nmsi, nnmi;
	int nlog;
	char log[SI_LOG][96];
	struct kvm_ops ops; /* si_ops() */
};

__attribute__((format(printf, 2, 3)))
static inline void si_log(struct standin *k, const char *fmt, ...)
{
	if (k->nlog >= SI_LOG)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->log[k->nlog++], sizeof(k->log[0]), fmt, ap);
	va_end(ap);
}

static inline int si_fail(struct standin *k, int e)
{
	size_t n = strlen(k->log[k->nlog - 1]);
	snprintf(k->log[k->nlog - 1] + n, sizeof(k->log[0]) - n, " -> %s",
		 e == EBUSY ? "EBUSY" : e == EINVAL ? "EINVAL" : e == E2BIG ? "E2BIG" : e == ENXIO ? "ENXIO" :
		 e == ENOMEM ? "ENOMEM" : e == EOPNOTSUPP ? "EOPNOTSUPP" : "E?");
	return -e;
}

static inline bool si_enable_pmu(const struct standin *k)
{
	return k->host != SI_NO_PMU;
}

static inline int si_check_extension(void *ctx, struct vm *vm, long cap)
{
	struct standin *k = ctx;
	if (cap == KVM_CAP_PMU_CAPABILITY) {
		si_log(k, "CHECK_EXTENSION(PMU_CAPABILITY)");
		return si_enable_pmu(k) ? KVM_PMU_CAP_DISABLE : 0;
	}
	si_log(k, "CHECK_EXTENSION(%ld)", cap);
	return 0;
}

static inline uint64_t *si_msr(struct standin *k, int v, uint32_t idx, bool create)
{
	for (int i = 0; i < k->nmsr[v]; i++)
		if (k->msr[v][i].idx == idx)
			return &k->msr[v][i].val;
	if (!create || k->nmsr[v] >= SI_MSRS)
		return NULL;
	k->msr[v][k->nmsr[v]].idx = idx;
	return &k->msr[v][k->nmsr[v]++].val;
}

static inline int si_create_vcpu(struct standin *k, int id)
{
	si_log(k, "CREATE_VCPU %d", id);
	if (k->nvcpus == 0 && k->host == SI_MEDIATED && k->irqchip && !k->opted_out) {
		if (k->host_event_counts_guests)
			return si_fail(k, EBUSY); /* perf_create_mediated_pmu() refused; nothing created */
		k->mediated_created = true;
		if (k->fail_vcpu_after_precreate) {
			int e = k->fail_vcpu_after_precreate;
			k->fail_vcpu_after_precreate = 0;
			return si_fail(k, e); /* no vCPU, but the mediated PMU stays */
		}
	}
	if (k->nvcpus == 0)
		k->vpmu = k->opted_out || k->host == SI_NO_PMU ? VPMU_NONE
			  : !k->irqchip ? (k->host == SI_MEDIATED ? VPMU_NONE : VPMU_LEGACY_NO_PMI)
			  : k->host == SI_MEDIATED ? VPMU_MEDIATED : VPMU_LEGACY;
	k->nvcpus++;
	return id;
}

/* A descriptor vm_destroy() may close. */
static inline int si_fd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A KVM_GET_SUPPORTED_CPUID-like table with the PMU leaves present. */
static inline void si_cpuid_fill(struct kvm_cpuid2 *c)
{
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x20 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = 1u << 15 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xa, .eax = 0x07300802 };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 1u << 23 };
	c->entries[4] = (struct kvm_cpuid_entry2){ .function = 0x80000022, .eax = 1, .ebx = 6 };
	c->nent = 5;
}

/* On /dev/kvm. */
static inline int si_sys_ioctl(void *ctx, int kvm_fd, unsigned long req, void *arg)
{
	struct standin *k = ctx;
	switch (req) {
	case KVM_CREATE_VM:
		si_log(k, "CREATE_VM");
		return si_fd();
	case KVM_GET_VCPU_MMAP_SIZE:
		return (int)sizeof(struct kvm_run);
	case KVM_GET_SUPPORTED_CPUID: {
		struct kvm_cpuid2 *c = arg;
		if (c->nent < 5)
			return -E2BIG;
		si_cpuid_fill(c);
		return 0;
	}
	case KVM_CHECK_EXTENSION:
		return 0; /* no TSC-deadline timer, nothing else asked here */
	default:
		si_log(k, "sys ioctl 0x%lx", req);
		return -ENOTTY;
	}
}

static inline int si_vm_ioctl(void *ctx, struct vm *vm, unsigned long req, void *arg)
{
	struct standin *k = ctx;
	switch (req) {
	case KVM_CHECK_EXTENSION:
		return si_check_extension(k, vm, (long)(uintptr_t)arg);
	case KVM_CREATE_VCPU: {
		int r = si_create_vcpu(k, (int)(uintptr_t)arg);
		return r < 0 ? r : si_fd();
	}
	case KVM_SET_TSS_ADDR:
	case KVM_SET_IDENTITY_MAP_ADDR:
	case KVM_SET_USER_MEMORY_REGION:
	case KVM_CREATE_PIT2:
	case KVM_IRQ_LINE:
		return 0; /* the platform, outside the PMU contract */
	}
	if (req == KVM_CREATE_IRQCHIP) {
		si_log(k, "CREATE_IRQCHIP");
		if (k->nvcpus)
			return si_fail(k, EINVAL);
		k->irqchip = true;
		return 0;
	}
	if (req == KVM_ENABLE_CAP) {
		struct kvm_enable_cap *c = arg;
		if (c->cap == KVM_CAP_PMU_CAPABILITY) {
			si_log(k, "ENABLE_CAP(PMU_CAPABILITY,%s)", c->args[0] == KVM_PMU_CAP_DISABLE ? "DISABLE" : "?");
			if (!si_enable_pmu(k) || k->nvcpus || k->mediated_created ||
			    (c->args[0] & ~(uint64_t)KVM_PMU_CAP_DISABLE))
				return si_fail(k, EINVAL);
			k->opted_out = c->args[0] & KVM_PMU_CAP_DISABLE;
			return 0;
		}
		if (c->cap == KVM_CAP_X86_USER_SPACE_MSR) {
			si_log(k, "ENABLE_CAP(X86_USER_SPACE_MSR,%s)",
			       c->args[0] == KVM_MSR_EXIT_REASON_FILTER ? "FILTER" : "?");
			if (c->args[0] & ~7ULL)
				return si_fail(k, EINVAL);
			k->user_space_msr = c->args[0];
			return 0;
		}
		si_log(k, "ENABLE_CAP(%u)", c->cap);
		return si_fail(k, EINVAL);
	}
	if (req == KVM_SET_PMU_EVENT_FILTER) {
		struct kvm_pmu_event_filter *f = arg;
		si_log(k, "SET_PMU_EVENT_FILTER(%s,%u)", f->action == KVM_PMU_EVENT_DENY ? "deny" : "allow", f->nevents);
		if (f->action > KVM_PMU_EVENT_DENY || (f->flags & ~1u))
			return si_fail(k, EINVAL);
		if (f->nevents > 300)
			return si_fail(k, E2BIG);
		k->filter.action = f->action;
		k->filter.nevents = f->nevents;
		k->filter.flags = f->flags;
		k->filter.fixed = f->fixed_counter_bitmap;
		for (uint32_t i = 0; i < f->nevents && i < 4; i++)
			k->filter.ev[i] = f->events[i];
		k->filter_sets++;
		return 0;
	}
	if (req == KVM_X86_SET_MSR_FILTER) {
		struct kvm_msr_filter *f = arg;
		int n = 0;
		while (n < KVM_MSR_FILTER_MAX_RANGES && f->ranges[n].nmsrs)
			n++;
		si_log(k, "SET_MSR_FILTER(%d ranges)", n);
		if (f->flags & ~KVM_MSR_FILTER_DEFAULT_DENY)
			return si_fail(k, EINVAL);
		k->msr_nranges = n;
		for (int i = 0; i < n; i++) {
			uint32_t bits = 0;
			memcpy(&bits, f->ranges[i].bitmap, (f->ranges[i].nmsrs + 7) / 8);
			k->ranges[i].base = f->ranges[i].base;
			k->ranges[i].n = f->ranges[i].nmsrs;
			k->ranges[i].flags = f->ranges[i].flags;
			k->ranges[i].bits = bits;
		}
		return 0;
	}
	if (req == KVM_SIGNAL_MSI) {
		struct kvm_msi *m = arg;
		si_log(k, "SIGNAL_MSI(0x%x,0x%x)", m->address_lo, m->data);
		k->msi = *m;
		k->nmsi++;
		return 1;
	}
	si_log(k, "vm ioctl 0x%lx", req);
	return -ENOTTY;
}

static inline bool si_is_evtsel(uint32_t i)
{
	return (i >= 0x186 && i < 0x18e) || (i >= 0xc0010000 && i < 0xc0010004) ||
	       (i >= 0xc0010200 && i < 0xc001020c && !(i & 1));
}

static inline int si_set_msrs(struct standin *k, int v, struct kvm_msrs *m)
{
	uint32_t i;
	for (i = 0; i < m->nmsrs; i++) {
		uint32_t idx = m->entries[i].index;
		uint64_t val = m->entries[i].data;
		si_log(k, "vcpu%d SET_MSRS(0x%x=0x%llx)", v, idx, (unsigned long long)val);
		if (idx == 0x345) {
			uint64_t *cur = si_msr(k, v, idx, false);
			if ((k->vpmu == VPMU_NONE && val) || (val & ~k->perf_caps_supported) ||
			    (k->ran[v] && (cur ? *cur : 0) != val)) {
				si_fail(k, EINVAL);
				break;
			}
		} else if (si_is_evtsel(idx) &&
			   (k->vpmu == VPMU_NONE || (idx < 0x200 && (val & 0xffffffff00200000ULL)))) {
			si_fail(k, EINVAL);
			break;
		}
		*si_msr(k, v, idx, true) = val;
	}
	return (int)i;
}

static inline int si_vcpu_ioctl(void *ctx, struct vcpu *vc, unsigned long req, void *arg)
{
	struct standin *k = ctx;
	int v = vc->id;
	switch (req) {
	case KVM_SET_CPUID2: {
		struct kvm_cpuid2 *c = arg;
		si_log(k, "vcpu%d SET_CPUID2", v);
		/* After the first KVM_RUN only the same table is accepted. */
		if (k->ran[v] && (c->nent != k->cpuid_nent[v] ||
				  memcmp(c->entries, k->cpuid[v], c->nent * sizeof(c->entries[0]))))
			return si_fail(k, EINVAL);
		if (c->nent > 8)
			return si_fail(k, E2BIG); /* more than the stand-in keeps */
		k->cpuid_nent[v] = c->nent;
		memcpy(k->cpuid[v], c->entries, c->nent * sizeof(c->entries[0]));
		for (uint32_t i = 0; i < c->nent; i++) {
			if (c->entries[i].function == 0xa)
				k->leaf_a[v] = c->entries[i];
			if (c->entries[i].function == 1)
				k->leaf1[v] = c->entries[i];
		}
		return 0;
	}
	case KVM_SET_MSRS:
		return si_set_msrs(k, v, arg);
	case KVM_GET_MSRS: {
		struct kvm_msrs *m = arg;
		uint32_t i;
		si_log(k, "vcpu%d GET_MSRS(%u)", v, m->nmsrs);
		for (i = 0; i < m->nmsrs; i++) {
			if (k->vpmu == VPMU_NONE)
				break;
			uint64_t *val = si_msr(k, v, m->entries[i].index, false);
			m->entries[i].data = val ? *val : 0;
		}
		return (int)i;
	}
	case KVM_GET_LAPIC: {
		struct kvm_lapic_state *l = arg;
		si_log(k, "vcpu%d GET_LAPIC", v);
		if (!k->irqchip)
			return si_fail(k, ENXIO);
		memset(l, 0, sizeof(*l));
		memcpy(l->regs + 0x340, &k->lvtpc, 4);
		return 0;
	}
	case KVM_GET_TSC_KHZ:
		si_log(k, "vcpu%d GET_TSC_KHZ", v);
		return 2000000;
	case KVM_NMI:
		si_log(k, "vcpu%d NMI", v);
		k->nnmi++;
		return 0;
	case KVM_RUN:
		si_log(k, "vcpu%d RUN", v);
		k->ran[v] = true;
		return 0;
	case KVM_GET_SREGS:
		memset(arg, 0, sizeof(struct kvm_sregs));
		return 0;
	case KVM_SET_SREGS:
	case KVM_SET_REGS:
	case KVM_SET_LAPIC:
		return 0; /* boot state, outside the PMU contract */
	default:
		si_log(k, "vcpu%d ioctl 0x%lx", v, req);
		return -ENOTTY;
	}
}

static inline void si_kick(void *ctx, struct vcpu *v)
{
	atomic_fetch_add(&((struct standin *)ctx)->kicks, 1);
}

static inline uint64_t si_cpu_time(void *ctx, struct vcpu *v)
{
	return ((struct standin *)ctx)->cpu_ns[v->id];
}

static inline struct kvm_run *si_map_run(void *ctx, struct vcpu *v, size_t size)
{
	return calloc(1, size);
}

static inline void si_unmap_run(void *ctx, struct vcpu *v, size_t size)
{
	free(v->run);
}

/* A host perf_event_open() on the core PMU, made while the VM exists:
 * counting guests (exclude_guest=0) fails with EOPNOTSUPP while a mediated
 * PMU lives; otherwise it now counts guests too (and would make a later
 * mediated creation EBUSY). */
static inline int si_host_perf_event_open(struct standin *k, bool exclude_guest)
{
	si_log(k, "host perf_event_open(exclude_guest=%d)", exclude_guest);
	if (exclude_guest)
		return 0;
	if (k->mediated_created)
		return si_fail(k, EOPNOTSUPP);
	k->host_event_counts_guests = true;
	return 0;
}

/* The stand-in as a VM's struct kvm_ops (vm_params.ops, or vm->kvm). */
static inline const struct kvm_ops *si_ops(struct standin *k)
{
	k->ops = (struct kvm_ops){ .ctx = k, .sys = si_sys_ioctl, .vm = si_vm_ioctl,
				   .vcpu = si_vcpu_ioctl, .map_run = si_map_run,
				   .unmap_run = si_unmap_run, .kick = si_kick,
				   .cpu_time_ns = si_cpu_time };
	return &k->ops;
}

/* ---- the VM side, in vm.c's order (vm_create, vm_setup_vcpus) ----
 * si_boot() drives the hooks directly, so a test sees only the PMU's calls;
 * test_pmu_contract.c checks that vm.c itself keeps this order. */

struct si_vm {
	struct vm vm;
	struct vcpu vcpus[SI_VCPUS];
};

static inline struct kvm_cpuid2 *si_cpuid_table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 6 * sizeof(struct kvm_cpuid_entry2));
	si_cpuid_fill(c);
	return c;
}

/* Attach, create the irqchip (unless told not to), run before_vcpus, create
 * the vCPUs with the EBUSY retry, shape CPUID, KVM_SET_CPUID2 and vcpu_init:
 * what vm_setup_vcpus() does, up to the first KVM_RUN (where a snapshot
 * restore comes in). Returns 0 or -1 with err set. */
static inline int si_build(struct standin *k, struct si_vm *sv, struct pmu *p, int n, bool irqchip,
			   char *err, size_t errlen)
{
	struct vm *vm = &sv->vm;
	memset(sv, 0, sizeof(*sv));
	vm->kvm = si_ops(k);
	vm->fd = -1;
	vm->vcpus = sv->vcpus;
	vm->params.ncpus = (uint32_t)n;
	pmu_attach(p, vm);
	if (irqchip)
		si_vm_ioctl(k, vm, KVM_CREATE_IRQCHIP, NULL);
	if (vm->hooks.before_vcpus && vm->hooks.before_vcpus(vm->hooks.opaque, vm, err, errlen))
		return -1;
	for (int i = 0; i < n; i++) {
		struct vcpu *v = &sv->vcpus[i];
		v->vm = vm;
		v->id = i;
		for (;;) {
			int rc = si_create_vcpu(k, i);
			if (rc >= 0)
				break;
			if (i == 0 && vm->hooks.vcpu_create_failed &&
			    vm->hooks.vcpu_create_failed(vm->hooks.opaque, vm, -rc, err, errlen) == 1)
				continue;
			return -1;
		}
		vm->nvcpus = (uint32_t)i + 1;
	}
	for (int i = 0; i < n; i++) {
		struct vcpu *v = &sv->vcpus[i];
		struct kvm_cpuid2 *c = si_cpuid_table();
		if (vm->hooks.shape_cpuid)
			vm->hooks.shape_cpuid(vm->hooks.opaque, v, c);
		int rc = si_vcpu_ioctl(k, v, KVM_SET_CPUID2, c);
		free(c);
		if (rc < 0) {
			snprintf(err, errlen, "KVM_SET_CPUID2 failed");
			return -1;
		}
		if (vm->hooks.vcpu_init && vm->hooks.vcpu_init(vm->hooks.opaque, v, err, errlen))
			return -1;
	}
	return 0;
}

/* The VM starts: each vCPU's before_run and first KVM_RUN. */
static inline void si_start(struct standin *k, struct si_vm *sv)
{
	struct vm *vm = &sv->vm;
	atomic_store(&vm->state, VM_RUNNING);
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		if (vm->hooks.before_run)
			vm->hooks.before_run(vm->hooks.opaque, &sv->vcpus[i]);
		si_vcpu_ioctl(k, &sv->vcpus[i], KVM_RUN, NULL);
	}
}

/* si_build() and si_start(). */
static inline int si_boot(struct standin *k, struct si_vm *sv, struct pmu *p, int n, bool irqchip,
			  char *err, size_t errlen)
{
	if (si_build(k, sv, p, n, irqchip, err, errlen))
		return -1;
	si_start(k, sv);
	return 0;
}

/* A guest RDMSR/WRMSR that the MSR filter sent to userspace. */
static inline int si_guest_msr(struct si_vm *sv, int v, uint32_t idx, bool wr, uint64_t *val)
{
	struct vm *vm = &sv->vm;
	if (!vm->hooks.msr)
		return -2; /* the module asked for no MSR exits */
	return vm->hooks.msr(vm->hooks.opaque, &sv->vcpus[v], idx, wr, val);
}

static inline int si_find(const struct standin *k, const char *line)
{
	for (int i = 0; i < k->nlog; i++)
		if (!strcmp(k->log[i], line))
			return i;
	return -1;
}

#endif
