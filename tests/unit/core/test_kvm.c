/* Opening KVM: a missing or wrong device is an error that says what to do;
 * the real /dev/kvm passes every capability check mpvm relies on. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/kvm.h"

static char err[512];

START_TEST(missing_device_says_how_to_get_kvm)
{
	ck_assert_int_lt(kvm_open("/nonexistent/kvm", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/kvm"));
	ck_assert_ptr_nonnull(strstr(err, "modprobe"));
}
END_TEST

START_TEST(a_device_that_is_not_kvm_fails_the_api_version_check)
{
	ck_assert_int_lt(kvm_open("/dev/null", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/dev/null: KVM API version"));
}
END_TEST

START_TEST(real_kvm_has_every_required_capability)
{
	SKIP_UNLESS_KVM();
	int fd = kvm_open("/dev/kvm", err, sizeof(err));
	ck_assert_msg(fd >= 0, "kvm_open: %s", err);
	ck_assert_int_gt(kvm_vcpu_mmap_size(fd), 0);
	struct kvm_cpuid2 *c = kvm_supported_cpuid(fd, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_gt(c->nent, 0);
	free(c);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvm");
	TCase *t = tcase_create("open");
	tcase_add_test(t, missing_device_says_how_to_get_kvm);
	tcase_add_test(t, a_device_that_is_not_kvm_fails_the_api_version_check);
	tcase_add_test(t, real_kvm_has_every_required_capability);
	suite_add_tcase(s, t);
	return run_suite(s);
}
