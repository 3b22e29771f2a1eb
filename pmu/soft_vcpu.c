/* The soft PMU at run time: one model per vCPU, fed by the vCPU thread's
 * CPU time at the TSC rate, MSR-filter exits, an overflow timer and PMI
 * delivery through the in-kernel LAPIC (docs/pmu.md §5-6).
 *
 * Time: counters advance by the CPU time the vCPU thread consumed since the
 * last sync (a halted guest sleeps in the kernel and does not count, as
 * unhalted cycles should). Syncs happen on every PMU MSR exit, before every
 * KVM_RUN and when the API reads the counters.
 * Overflow on time: after any change, before_run computes how many cycles
 * remain until the first counter with INT wraps and arms a CLOCK_MONOTONIC
 * timerfd for that many nanoseconds (wall time >= CPU time, so it never
 * fires late; if the guest ran less, the next sync finds no wrap and
 * re-arms). One thread per VM waits on every vCPU's timerfd and kicks the
 * vCPU, whose before_run then updates the counters and injects the PMI.
 *
 * Bounded wake-ups: an expiry that finds no overflow (the guest ran less
 * than wall time: it halted, or the host was slow to run it) doubles that
 * vCPU's timer floor, up to SOFT_MAX_TIMER_NS; an injected PMI or a guest
 * write to the PMU resets it. A guest idling next to an overflow, or a host
 * that cannot deliver a kick within the floor (an emulated lab), then costs
 * at most ~1000 wake-ups a second instead of 20000, for a PMI at most
 * SOFT_MAX_TIMER_NS late while the guest was mostly not running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/err.h"
#include "core/confine.h"
#include "core/log.h"
#include "pmu/pmu_int.h"

/* Floor of the overflow timer: bounds the kick rate while a guest whose
 * counter is about to wrap sits halted (its cycles do not advance). */
#define SOFT_MIN_TIMER_NS 50000ULL
/* Where the floor's back-off stops (see the top of the file). */
#define SOFT_MAX_TIMER_NS 1000000ULL

#define LAPIC_LVTPC 0x340
#define LVT_MASKED (1u << 16)
#define LVT_DM_FIXED 0
#define LVT_DM_NMI 4

struct soft_vcpu {
	pthread_mutex_t lock;
	struct soft_pmu m;
	struct vcpu *vcpu;
	uint64_t tsc_khz;
	uint64_t last_ns;      /* thread CPU time at the last sync */
	bool pmi_pending;
	atomic_bool rearm;     /* state changed or the timer fired */
	atomic_bool fired;     /* the timer fired since the last before_run */
	uint64_t floor_ns;     /* current timer floor (backs off, see top) */
	int tfd;
};

struct soft_timer {
	pthread_t thread;
	int epfd, stopfd;
	bool running;
};

static bool allow_cb(void *opaque, int bit, uint64_t eventsel)
{
	struct pmu *p = opaque;
	return bit < 32 ? pmu_filter_allows_gp(p->filter, eventsel)
			: pmu_filter_allows_fixed(p->filter, bit - 32);
}

/* Lock held. Counts the CPU time since the last sync. */
static void sync_locked(struct pmu *p, struct soft_vcpu *s)
{
	uint64_t now = kvm_vcpu_cpu_time_ns(s->vcpu);
	if (now <= s->last_ns)
		return;
	uint64_t cycles = soft_ns_to_cycles(now, s->tsc_khz) - soft_ns_to_cycles(s->last_ns, s->tsc_khz);
	s->last_ns = now;
	pthread_rwlock_rdlock(&p->filter_lock);
	uint64_t pmi = soft_advance(&s->m, cycles, allow_cb, p);
	pthread_rwlock_unlock(&p->filter_lock);
	if (pmi)
		s->pmi_pending = true;
}

static void *timer_thread(void *arg)
{
	struct pmu *p = arg;
	confine_thread("pmu-timer");
	struct epoll_event ev[8];
	for (;;) {
		int n = epoll_wait(p->timer->epfd, ev, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		for (int i = 0; i < n; i++) {
			struct soft_vcpu *s = ev[i].data.ptr;
			if (!s)
				return NULL; /* stopfd */
			uint64_t expirations;
			if (read(s->tfd, &expirations, sizeof(expirations)) != sizeof(expirations))
				continue;
			atomic_store(&s->fired, true);
			atomic_store(&s->rearm, true);
			atomic_fetch_add(&p->timer_wakeups, 1);
			kvm_vcpu_kick(s->vcpu);
		}
	}
}

static int timer_start(struct pmu *p, char *err, size_t errlen)
{
	struct soft_timer *t = calloc(1, sizeof(*t));
	if (!t) {
		return err_set(err, errlen, "soft PMU: out of memory");
	}
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stopfd = eventfd(0, EFD_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (t->epfd < 0 || t->stopfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stopfd, &ev)) {
		err_set(err, errlen, "soft PMU timer: epoll/eventfd: %s", strerror(errno));
		goto fail;
	}
	p->timer = t;
	int rc = pthread_create(&t->thread, NULL, timer_thread, p);
	if (rc) {
		err_set(err, errlen, "soft PMU timer thread: %s", strerror(rc));
		p->timer = NULL;
		goto fail;
	}
	pthread_setname_np(t->thread, "mpvm-pmu-timer");
	t->running = true;
	return 0;
fail:
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stopfd >= 0)
		close(t->stopfd);
	free(t);
	return -1;
}

int soft_vcpu_init(struct pmu *p, struct vcpu *v, char *err, size_t errlen)
{
	struct kvm_lapic_state lapic;
	if (vcpu_ioctl(v, KVM_GET_LAPIC, &lapic, err, errlen) < 0)
		return err_append(err, errlen, ": the soft PMU delivers PMIs through the in-kernel LAPIC");
	int rc = vcpu_ioctl(v, KVM_GET_TSC_KHZ, NULL, err, errlen);
	if (rc < 0)
		return err_append(err, errlen, ": the soft PMU counts cycles at the TSC rate");
	if (rc == 0)
		return err_set(err, errlen, "vCPU %d: KVM_GET_TSC_KHZ: returned 0: the soft PMU counts cycles at the TSC rate",
			       v->id);
	if (!p->timer && timer_start(p, err, errlen))
		return -1;

	struct soft_vcpu *s = calloc(1, sizeof(*s));
	if (!s) {
		return err_set(err, errlen, "vCPU %d: soft PMU: out of memory", v->id);
	}
	pthread_mutex_init(&s->lock, NULL);
	soft_pmu_init(&s->m, &p->shape);
	s->vcpu = v;
	s->tsc_khz = (uint64_t)rc;
	s->floor_ns = SOFT_MIN_TIMER_NS;
	s->last_ns = kvm_vcpu_cpu_time_ns(v);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	if (s->tfd < 0 || epoll_ctl(p->timer->epfd, EPOLL_CTL_ADD, s->tfd, &ev)) {
		err_set(err, errlen, "vCPU %d: soft PMU timerfd: %s", v->id, strerror(errno));
		if (s->tfd >= 0)
			close(s->tfd);
		free(s);
		return -1;
	}
	v->pmu = s;
	return 0;
}

int soft_vcpu_msr(struct pmu *p, struct vcpu *v, uint32_t msr, bool is_write, uint64_t *data)
{
	struct soft_vcpu *s = v->pmu;
	int rc;

	pmu_count_msr(p, msr, is_write);
	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	/* Count up to this instant first: a write to a running counter or
	 * control applies from now on. */
	sync_locked(p, s);
	if (!is_write) {
		rc = soft_rdmsr(&s->m, msr, data);
	} else {
		uint64_t val = *data;
		rc = soft_wrmsr(&s->m, msr, val);
		if (!rc) {
			pthread_rwlock_rdlock(&p->filter_lock);
			if (msr >= MSR_IA32_PERFEVTSEL0 && msr < MSR_IA32_PERFEVTSEL0 + SOFT_MAX_GP &&
			    (val & EVTSEL_EN))
				pmu_count_event(p, pmu_event_key(val), !pmu_filter_allows_gp(p->filter, val));
			else if (msr == MSR_CORE_PERF_FIXED_CTR_CTRL)
				for (int i = 0; i < s->m.nfixed; i++)
					if ((val >> (4 * i)) & 3)
						pmu_count_event(p, PMU_EVENT_KEY_FIXED(i),
								!pmu_filter_allows_fixed(p->filter, i));
			pthread_rwlock_unlock(&p->filter_lock);
			s->floor_ns = SOFT_MIN_TIMER_NS;
			atomic_store(&s->rearm, true);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (rc)
		atomic_fetch_add(&p->msr_gp, 1);
	return rc;
}

/* vCPU thread, lock held. */
static void deliver_pmi(struct pmu *p, struct soft_vcpu *s)
{
	struct vcpu *v = s->vcpu;
	struct kvm_lapic_state lapic;
	uint32_t lvtpc;
	int rc = kvm_vcpu_ioctl(v, KVM_GET_LAPIC, &lapic);

	if (rc < 0) {
		atomic_fetch_add(&p->pmis_dropped, 1);
		log_warn("vCPU %d: PMI dropped: KVM_GET_LAPIC: %s", v->id, strerror(-rc));
		return;
	}
	memcpy(&lvtpc, lapic.regs + LAPIC_LVTPC, sizeof(lvtpc));
	if (lvtpc & LVT_MASKED) {
		/* As on hardware, a masked LVT entry drops the interrupt; the
		 * status bits still say what overflowed. */
		atomic_fetch_add(&p->pmis_masked, 1);
		return;
	}
	unsigned mode = (lvtpc >> 8) & 7, vector = lvtpc & 0xff;
	if (mode == LVT_DM_FIXED && vector >= 16) {
		struct kvm_msi msi = { .address_lo = (uint32_t)VM_LAPIC_ADDR | ((uint32_t)v->id << 12),
				       .data = vector };
		rc = kvm_vm_ioctl(v->vm, KVM_SIGNAL_MSI, &msi);
	} else if (mode == LVT_DM_NMI) {
		rc = kvm_vcpu_ioctl(v, KVM_NMI, NULL);
	} else {
		atomic_fetch_add(&p->pmis_dropped, 1);
		log_debug("vCPU %d: PMI dropped: LVTPC 0x%x (delivery mode %u, vector %u) is not modelled",
			  v->id, lvtpc, mode, vector);
		return;
	}
	if (rc < 0) {
		atomic_fetch_add(&p->pmis_dropped, 1);
		log_warn("vCPU %d: PMI injection (%s): %s", v->id,
			 mode == LVT_DM_NMI ? "KVM_NMI" : "KVM_SIGNAL_MSI", strerror(-rc));
		return;
	}
	/* Unlike hardware, LVTPC.M is not set after delivery: KVM_SET_LAPIC
	 * reloads the whole page and could lose a concurrent interrupt, and
	 * guests re-arm LVTPC in their PMI handler anyway. */
	atomic_fetch_add(&p->pmis, 1);
}

static void arm_timer(struct pmu *p, struct soft_vcpu *s)
{
	pthread_rwlock_rdlock(&p->filter_lock);
	uint64_t cycles = soft_cycles_to_pmi(&s->m, allow_cb, p);
	pthread_rwlock_unlock(&p->filter_lock);
	struct itimerspec its = { 0 };
	if (cycles != UINT64_MAX) {
		uint64_t ns = soft_cycles_to_ns(cycles, s->tsc_khz);
		if (ns < s->floor_ns)
			ns = s->floor_ns;
		if (ns > 1000000000ULL * 3600 * 24 * 365)
			ns = 1000000000ULL * 3600 * 24 * 365;
		its.it_value.tv_sec = (time_t)(ns / 1000000000ULL);
		its.it_value.tv_nsec = (long)(ns % 1000000000ULL);
	}
	timerfd_settime(s->tfd, 0, &its, NULL); /* zero disarms */
}

void soft_vcpu_before_run(struct pmu *p, struct vcpu *v)
{
	struct soft_vcpu *s = v->pmu;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	sync_locked(p, s);
	bool fired = atomic_exchange(&s->fired, false);
	if (s->pmi_pending) {
		s->pmi_pending = false;
		deliver_pmi(p, s);
		s->floor_ns = SOFT_MIN_TIMER_NS;
		atomic_store(&s->rearm, true);
	} else if (fired && s->floor_ns < SOFT_MAX_TIMER_NS) {
		/* Woken for nothing: the guest ran less than the wall time. */
		s->floor_ns *= 2;
		if (s->floor_ns > SOFT_MAX_TIMER_NS)
			s->floor_ns = SOFT_MAX_TIMER_NS;
	}
	if (atomic_exchange(&s->rearm, false))
		arm_timer(p, s);
	pthread_mutex_unlock(&s->lock);
}

int soft_vcpu_snapshot(struct pmu *p, struct vcpu *v, struct soft_pmu *out)
{
	struct soft_vcpu_saved s;
	if (soft_vcpu_save(p, v, &s))
		return -1;
	*out = s.m;
	/* An overflow found from another thread is delivered by the vCPU. */
	if (s.pmi_pending)
		kvm_vcpu_kick(v);
	return 0;
}

int soft_vcpu_save(struct pmu *p, struct vcpu *v, struct soft_vcpu_saved *out)
{
	struct soft_vcpu *s = v->pmu;
	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	/* Count up to this instant: the saved values are the counters as of
	 * the save, so nothing the vCPU's clock has run before it is lost. An
	 * overflow found here stays pending, in this process (the vCPU
	 * delivers it when the VM resumes) and in the snapshot. */
	sync_locked(p, s);
	out->m = s->m;
	out->pmi_pending = s->pmi_pending;
	out->tsc_khz = s->tsc_khz;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void soft_vcpu_load(struct pmu *p, struct vcpu *v, const struct soft_vcpu_saved *in)
{
	struct soft_vcpu *s = v->pmu;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->m = in->m;
	s->pmi_pending = in->pmi_pending;
	/* The restoring process may have given the vCPU another TSC rate
	 * since soft_vcpu_init(); cycles count at the rate in force. */
	int khz = kvm_vcpu_ioctl(v, KVM_GET_TSC_KHZ, NULL);
	if (khz > 0)
		s->tsc_khz = (uint64_t)khz;
	/* This process's clock of the vCPU thread is the new base: the counter
	 * resumes at the saved value and gains only the CPU time the guest
	 * spends from now on, so it never goes back nor jumps. */
	s->last_ns = kvm_vcpu_cpu_time_ns(v);
	s->floor_ns = SOFT_MIN_TIMER_NS;
	/* Arm the overflow timer for the restored counters before the first
	 * KVM_RUN, so a PMI programmed before the snapshot still comes. */
	atomic_store(&s->rearm, true);
	pthread_mutex_unlock(&s->lock);
}

void soft_sync_all(struct pmu *p)
{
	for (uint32_t i = 0; p->vm && i < p->vm->nvcpus; i++) {
		struct soft_vcpu *s = p->vm->vcpus[i].pmu;
		if (!s)
			continue;
		pthread_mutex_lock(&s->lock);
		sync_locked(p, s);
		pthread_mutex_unlock(&s->lock);
	}
}

void soft_rearm_all(struct pmu *p)
{
	for (uint32_t i = 0; p->vm && i < p->vm->nvcpus; i++) {
		struct soft_vcpu *s = p->vm->vcpus[i].pmu;
		if (!s)
			continue;
		atomic_store(&s->rearm, true);
		kvm_vcpu_kick(s->vcpu);
	}
}

void soft_destroy(struct pmu *p, struct vm *vm)
{
	struct soft_timer *t = p->timer;
	if (t && t->running) {
		uint64_t one = 1;
		ssize_t w = write(t->stopfd, &one, sizeof(one)); /* cannot fail on an eventfd */
		(void)w;
		pthread_join(t->thread, NULL);
		t->running = false;
	}
	for (uint32_t i = 0; vm && vm->vcpus && i < vm->nvcpus; i++) {
		struct soft_vcpu *s = vm->vcpus[i].pmu;
		if (!s)
			continue;
		close(s->tfd);
		pthread_mutex_destroy(&s->lock);
		free(s);
		vm->vcpus[i].pmu = NULL;
	}
	if (t) {
		close(t->epfd);
		close(t->stopfd);
		free(t);
		p->timer = NULL;
	}
}
