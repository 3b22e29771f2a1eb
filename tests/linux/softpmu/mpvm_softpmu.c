// SPDX-License-Identifier: GPL-2.0
/*
 * mpvm_softpmu: a Linux perf PMU for mpvm's soft PMU (mpvm --pmu soft).
 *
 * Why: Linux's x86 perf driver reads counters with RDPMC, and KVM gives a
 * VMM no RDPMC exit, so it cannot use counters that mpvm models in
 * userspace (README "Linux on the soft PMU"). This driver reads and
 * programs them with RDMSR/WRMSR only, which KVM's MSR filter hands to
 * mpvm. Counting mode only (no sampling): `perf stat -e mpvm_soft/...`,
 * or perf_event_open() with the type in
 * /sys/bus/event_source/devices/mpvm_soft/type and config = event | umask << 8
 * (0x3c: unhalted core cycles, 0x13c: reference cycles: what the soft PMU
 * counts).
 *
 * It loads only where Linux's own x86 PMU driver is not active (that driver
 * would own the same counters): under --pmu soft on an AMD host, where Linux
 * ignores the Intel leaf 0xA, or on any host with Linux booted with the
 * core PMU off. It needs CPUID leaf 0xA version >= 2 (mpvm's default soft
 * shape) for PERF_GLOBAL_CTRL.
 */
#include <linux/module.h>
#include <linux/perf_event.h>
#include <linux/smp.h>
#include <asm/msr.h>
#include <asm/perf_event.h>
#include <asm/processor.h>

#define SOFT_MAX_COUNTERS 8
#define EVTSEL_USR (1ULL << 16)
#define EVTSEL_OS (1ULL << 17)
#define EVTSEL_EN (1ULL << 22)

static unsigned int ncounters;
static u64 counter_mask; /* 2^width - 1 */

struct softpmu_cpu {
	struct perf_event *events[SOFT_MAX_COUNTERS];
};
static DEFINE_PER_CPU(struct softpmu_cpu, softpmu_cpu);
static struct pmu softpmu;

static u64 counter_read(int idx)
{
	u64 v;

	rdmsrl(MSR_IA32_PERFCTR0 + idx, v);
	return v;
}

static void softpmu_update(struct perf_event *event)
{
	struct hw_perf_event *hwc = &event->hw;
	u64 prev, now;

	do {
		prev = local64_read(&hwc->prev_count);
		now = counter_read(hwc->idx);
	} while (local64_cmpxchg(&hwc->prev_count, prev, now) != prev);
	local64_add((now - prev) & counter_mask, &event->count);
}

static int softpmu_event_init(struct perf_event *event)
{
	if (event->attr.type != softpmu.type)
		return -ENOENT;
	if (is_sampling_event(event))
		return -EOPNOTSUPP; /* counting only: PMIs are not wired up yet */
	if (event->attr.config & ~0xffffULL)
		return -EINVAL; /* event select bits 0-15: event and umask */
	return 0;
}

static void softpmu_start(struct perf_event *event, int flags)
{
	struct hw_perf_event *hwc = &event->hw;

	local64_set(&hwc->prev_count, counter_read(hwc->idx));
	/* The soft PMU cannot tell user from kernel mode: either bit counts all. */
	wrmsrl(MSR_P6_EVNTSEL0 + hwc->idx,
	       (event->attr.config & 0xffff) | EVTSEL_USR | EVTSEL_OS | EVTSEL_EN);
	hwc->state = 0;
}

static void softpmu_stop(struct perf_event *event, int flags)
{
	struct hw_perf_event *hwc = &event->hw;

	if (!(hwc->state & PERF_HES_STOPPED)) {
		wrmsrl(MSR_P6_EVNTSEL0 + hwc->idx, 0);
		hwc->state |= PERF_HES_STOPPED;
	}
	if ((flags & PERF_EF_UPDATE) && !(hwc->state & PERF_HES_UPTODATE)) {
		softpmu_update(event);
		hwc->state |= PERF_HES_UPTODATE;
	}
}

static int softpmu_add(struct perf_event *event, int flags)
{
	struct softpmu_cpu *c = this_cpu_ptr(&softpmu_cpu);
	unsigned int i;

	for (i = 0; i < ncounters && c->events[i]; i++)
		;
	if (i == ncounters)
		return -EAGAIN; /* perf multiplexes */
	c->events[i] = event;
	event->hw.idx = i;
	event->hw.state = PERF_HES_STOPPED | PERF_HES_UPTODATE;
	if (flags & PERF_EF_START)
		softpmu_start(event, PERF_EF_RELOAD);
	perf_event_update_userpage(event);
	return 0;
}

static void softpmu_del(struct perf_event *event, int flags)
{
	struct softpmu_cpu *c = this_cpu_ptr(&softpmu_cpu);

	softpmu_stop(event, PERF_EF_UPDATE);
	c->events[event->hw.idx] = NULL;
	perf_event_update_userpage(event);
}

static void softpmu_read(struct perf_event *event)
{
	softpmu_update(event);
}

PMU_FORMAT_ATTR(event, "config:0-7");
PMU_FORMAT_ATTR(umask, "config:8-15");
static struct attribute *softpmu_format_attrs[] = {
	&format_attr_event.attr,
	&format_attr_umask.attr,
	NULL,
};
static const struct attribute_group softpmu_format_group = {
	.name = "format",
	.attrs = softpmu_format_attrs,
};
static const struct attribute_group *softpmu_attr_groups[] = {
	&softpmu_format_group,
	NULL,
};

static struct pmu softpmu = {
	.module = THIS_MODULE,
	/* Per task and per CPU, like the core PMU, whose context is free:
	 * the module refuses to load when Linux's own driver is active. */
	.task_ctx_nr = perf_hw_context,
	.attr_groups = softpmu_attr_groups,
	.event_init = softpmu_event_init,
	.add = softpmu_add,
	.del = softpmu_del,
	.start = softpmu_start,
	.stop = softpmu_stop,
	.read = softpmu_read,
	.capabilities = PERF_PMU_CAP_NO_INTERRUPT | PERF_PMU_CAP_NO_EXCLUDE,
};

static void global_enable(void *on)
{
	u64 mask = on ? (1ULL << ncounters) - 1 : 0;

	wrmsrl(MSR_CORE_PERF_GLOBAL_CTRL, mask);
}

static int __init softpmu_init(void)
{
	struct x86_pmu_capability cap;
	unsigned int eax, ebx, ecx, edx, version, width;
	int err;

	perf_get_x86_pmu_capability(&cap);
	if (cap.version) {
		pr_info("mpvm_softpmu: Linux's x86 PMU driver is active (version %d); not loading\n",
			cap.version);
		return -EBUSY;
	}
	cpuid(0xa, &eax, &ebx, &ecx, &edx);
	version = eax & 0xff;
	ncounters = min_t(unsigned int, (eax >> 8) & 0xff, SOFT_MAX_COUNTERS);
	width = (eax >> 16) & 0xff;
	if (version < 2 || !ncounters || width < 32 || width > 64) {
		pr_info("mpvm_softpmu: no soft PMU (CPUID 0xA eax=%#x; run mpvm with --pmu soft)\n", eax);
		return -ENODEV;
	}
	counter_mask = width == 64 ? ~0ULL : (1ULL << width) - 1;
	on_each_cpu(global_enable, (void *)1, 1);
	err = perf_pmu_register(&softpmu, "mpvm_soft", -1);
	if (err) {
		on_each_cpu(global_enable, NULL, 1);
		return err;
	}
	pr_info("mpvm_softpmu: %u counters of %u bits (CPUID 0xA version %u)\n", ncounters, width,
		version);
	return 0;
}

static void __exit softpmu_exit(void)
{
	perf_pmu_unregister(&softpmu);
	on_each_cpu(global_enable, NULL, 1);
}

module_init(softpmu_init);
module_exit(softpmu_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("perf PMU for mpvm's soft PMU (counting by RDMSR, no RDPMC)");
