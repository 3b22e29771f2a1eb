/* kvm-hold: the KVM lab's keeper. Holds one VM (in-kernel irqchip, one vCPU
 * that never runs) open for the lab's whole life.
 *
 * Why: creating the first VM and destroying the last one flips static keys in
 * the lab kernel (preempt_notifier_key in __schedule, KVM's apic_sw_disabled),
 * and each flip patches live kernel text with int3 (text_poke_bp). Under QEMU's
 * multi-threaded TCG a CPU can keep executing a stale translation of the
 * patched code, looping on an int3 that is no longer there, and the lab
 * stalls (seen: both lab CPUs in asm_exc_int3 at __schedule+0x2ab, after a
 * few dozen VM lifetimes). With a VM always alive, those keys never flip
 * while tests create and destroy VMs. A lab-only measure: real hosts never
 * run this. Built static at lab-image time (scripts/lab/image.sh). */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("kvm-hold: /dev/kvm");
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
		perror("kvm-hold: KVM_CREATE_VM/IRQCHIP/VCPU");
		return 1;
	}
	for (;;)
		pause();
}
