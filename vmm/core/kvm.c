#include "core/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/err.h"
#include "core/kvm_ops.h"

/* Capabilities mpvm cannot run without. PMU-related ones are optional and
 * probed by pmu/. */
static const struct {
	long cap;
	const char *name;
	const char *why;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC/IOAPIC/LAPIC" },
	{ KVM_CAP_HLT, "KVM_CAP_HLT", "halting vCPUs in the kernel" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest memory" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "x86 TSS placement" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID configuration" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "interrupt routing" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device notifications" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI", "PMI and MSI injection" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "pausing vCPUs" },
	{ KVM_CAP_TSC_CONTROL, "KVM_CAP_GET_TSC_KHZ", "TSC frequency" },
};

int kvm_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			err_set(err, errlen, "%s: No such file: KVM is not available; load kvm_intel or kvm_amd (modprobe) and enable VT-x/AMD-V in firmware", path);
		else if (e == EACCES || e == EPERM)
			err_set(err, errlen, "%s: %s: add your user to the 'kvm' group (usermod -aG kvm $USER) or run as root", path, strerror(e));
		else
			err_set(err, errlen, "%s: %s", path, strerror(e));
		return -1;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		err_set(err, errlen, "%s: KVM API version %d, mpvm needs %d", path, v, KVM_API_VERSION);
		close(fd);
		return -1;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		/* KVM_CAP_TSC_CONTROL stands in for GET_TSC_KHZ on old kernels;
		 * check the real one where it exists. */
		long cap = required_caps[i].cap;
		if (cap == KVM_CAP_TSC_CONTROL)
			cap = KVM_CAP_GET_TSC_KHZ;
		if (ioctl(fd, KVM_CHECK_EXTENSION, cap) <= 0) {
			err_set(err, errlen, "%s: KVM lacks %s (needed for %s); use a newer host kernel",
				path, required_caps[i].name, required_caps[i].why);
			close(fd);
			return -1;
		}
	}
	return fd;
}

int kvm_check_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

/* KVM_GET_SUPPORTED_CPUID wants a table large enough: grow until it fits.
 * `get` does the ioctl (raw, or through a VM's struct kvm_ops). */
static struct kvm_cpuid2 *supported_cpuid(int (*get)(void *ctx, struct kvm_cpuid2 *c), void *ctx,
					  char *err, size_t errlen)
{
	for (int n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			break;
		c->nent = n;
		int r = get(ctx, c);
		if (r == 0)
			return c;
		free(c);
		if (r != -E2BIG) {
			char e[96];
			err_set(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", err_errno(-r, e, sizeof(e)));
			return NULL;
		}
	}
	err_set(err, errlen, "KVM_GET_SUPPORTED_CPUID: too many entries");
	return NULL;
}

static int get_from_fd(void *ctx, struct kvm_cpuid2 *c)
{
	return ioctl(*(int *)ctx, KVM_GET_SUPPORTED_CPUID, c) ? -errno : 0;
}

static int get_from_vm(void *ctx, struct kvm_cpuid2 *c)
{
	int r = kvm_sys_ioctl(ctx, KVM_GET_SUPPORTED_CPUID, c);
	return r < 0 ? r : 0;
}

struct kvm_cpuid2 *kvm_supported_cpuid(int kvm_fd, char *err, size_t errlen)
{
	return supported_cpuid(get_from_fd, &kvm_fd, err, errlen);
}

struct kvm_cpuid2 *kvm_vm_supported_cpuid(struct vm *vm, char *err, size_t errlen)
{
	return supported_cpuid(get_from_vm, vm, err, errlen);
}

int kvm_vcpu_mmap_size(int kvm_fd)
{
	return ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
}
