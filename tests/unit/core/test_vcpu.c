/* vCPU threads on the real /dev/kvm: a fault inside a device handler (they
 * run on vCPU threads) reaches the process's handler, so the terminal is
 * restored and sanitizers report; and a VM stops and joins cleanly. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/boot.h"
#include "check_main.h"
#include "core/kvm.h"
#include "core/vm.h"

static char guest[512];

static int boot_hello(struct vm *vm, int kvm, char *err, size_t errlen)
{
	struct vm_params p = { .ncpus = 1, .mem_bytes = 32 << 20 };
	if (vm_create(vm, kvm, &p, err, errlen))
		return -1;
	struct boot_params_in in = { .kernel_path = guest, .cmdline = "" };
	if (boot_load(&vm->mem, &in, &vm->entry, err, errlen))
		return -1;
	return vm_setup_vcpus(vm, err, errlen);
}

/* The hello guest writes the boot marker to port 0x3f0 first thing. */
static void crashing_handler(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data,
			     uint32_t len, bool is_write)
{
	*(volatile int *)(uintptr_t)opaque = 1; /* NULL: a real SIGSEGV */
}

static void on_segv(int sig)
{
	_exit(42);
}

START_TEST(a_fault_in_a_device_handler_reaches_the_process_handler)
{
	SKIP_UNLESS_KVM();
	ck_assert_msg(access(guest, R_OK) == 0, "test guest %s missing", guest);
	pid_t pid = fork();
	if (pid == 0) {
		char err[256];
		static struct vm vm;
		signal(SIGSEGV, on_segv);
		int kvm = kvm_open("/dev/kvm", err, sizeof(err));
		if (kvm < 0 || boot_hello(&vm, kvm, err, sizeof(err)) ||
		    io_register(vm.bus, IO_SPACE_PIO, 0x3f0, 1, crashing_handler, NULL, "crash") ||
		    vm_start(&vm, err, sizeof(err)))
			_exit(3);
		sleep(20); /* the fault ends this process long before */
		_exit(4);
	}
	int st;
	waitpid(pid, &st, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42,
		      "status 0x%x: the SIGSEGV handler did not run", st);
}
END_TEST

static void exit_on_marker(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data,
			   uint32_t len, bool is_write)
{
	vm_request_exit(vcpu->vm, 9, "marker seen");
}

START_TEST(exit_request_from_a_handler_stops_and_joins_the_vm)
{
	SKIP_UNLESS_KVM();
	ck_assert_msg(access(guest, R_OK) == 0, "test guest %s missing", guest);
	char err[256];
	static struct vm vm;
	int kvm = kvm_open("/dev/kvm", err, sizeof(err));
	ck_assert_msg(kvm >= 0, "%s", err);
	ck_assert_msg(!boot_hello(&vm, kvm, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(io_register(vm.bus, IO_SPACE_PIO, 0x3f0, 1, exit_on_marker, NULL, "m"), 0);
	ck_assert_msg(!vm_start(&vm, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(vm_join(&vm), 9);
	ck_assert_str_eq(vm.exit_reason, "marker seen");
	/* After the join nothing is left to kick: this must be harmless. */
	vcpu_kick(&vm.vcpus[0]);
	clockid_t clk;
	ck_assert(!vcpu_cpu_clock(&vm.vcpus[0], &clk));
	vm_destroy(&vm);
	close(kvm);
}
END_TEST

int main(void)
{
	const char *b = getenv("MPVM_BUILD_DIR");
	snprintf(guest, sizeof(guest), "%s/tests/guests/hello.elf", b ? b : "build");
	Suite *s = suite_create("vcpu");
	TCase *t = tcase_create("threads");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, a_fault_in_a_device_handler_reaches_the_process_handler);
	tcase_add_test(t, exit_request_from_a_handler_stops_and_joins_the_vm);
	suite_add_tcase(s, t);
	return run_suite(s);
}
