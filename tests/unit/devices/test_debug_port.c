/* isa-debug-exit, the boot-time marker and the 0xcf9 reset register,
 * without /dev/kvm: exit requests and the clock are hooks. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/debug_port.h"

static int exit_status = -1, exit_calls;
static char exit_reason[128];
static uint64_t fake_now = 4242;

static void fake_exit(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(exit_reason, sizeof(exit_reason), fmt, ap);
	va_end(ap);
	exit_status = status;
	exit_calls++;
}

static uint64_t fake_clock(void)
{
	return fake_now;
}

static struct debug_port *ports(void)
{
	struct debug_port *d = debug_port_new(NULL);
	ck_assert_ptr_nonnull(d);
	debug_port_set_hooks(d, fake_exit, fake_clock);
	return d;
}

/* The guest's `out` of `len` bytes (little endian) at 0xf4 + off. */
static int test_exit(struct debug_port *d, uint64_t off, uint32_t v, uint32_t len)
{
	uint8_t data[4] = { v, v >> 8, v >> 16, v >> 24 };
	exit_status = -1;
	debug_exit_io(d, NULL, off, data, len, true);
	return exit_status;
}

START_TEST(exit_status_is_v_shifted_left_or_one)
{
	struct debug_port *d = ports();
	ck_assert_int_eq(test_exit(d, 0, 0x00, 1), 1);
	ck_assert_int_eq(test_exit(d, 0, 0x10, 1), 0x21); /* the usual "success" value: 33 */
	ck_assert_str_eq(exit_reason, "guest test-exit port: value 16");
	ck_assert_int_eq(test_exit(d, 0, 0x11, 1), 0x23);
	ck_assert_int_eq(test_exit(d, 0, 0x7f, 1), 0xff);
	/* Truncated to a process status, as exit((v << 1) | 1) is under QEMU. */
	ck_assert_int_eq(test_exit(d, 0, 0x80, 1), 0x01);
	ck_assert_int_eq(test_exit(d, 0, 0xff, 1), 0xff);
	/* Wider writes use the whole value; any offset in the 4 ports works. */
	ck_assert_int_eq(test_exit(d, 0, 0x1234, 2), (0x2469 & 0xff));
	ck_assert_int_eq(test_exit(d, 0, 0x12345678, 4), 0xf1);
	ck_assert_str_eq(exit_reason, "guest test-exit port: value 305419896");
	ck_assert_int_eq(test_exit(d, 3, 0x01, 1), 0x03);
	/* Reads do not end anything. */
	uint8_t b = 0xaa;
	exit_calls = 0;
	debug_exit_io(d, NULL, 0, &b, 1, false);
	ck_assert_int_eq(exit_calls, 0);
	ck_assert_uint_eq(b, 0);
	debug_port_free(d);
}
END_TEST

START_TEST(boot_marker_records_the_first_time)
{
	struct debug_port *d = ports();
	ck_assert_uint_eq(boot_marker_us(), 0);
	uint8_t v = 122; /* not the magic value */
	boot_marker_io(d, NULL, 0, &v, 1, true);
	ck_assert_uint_eq(boot_marker_us(), 0);
	v = BOOT_MARKER_MAGIC;
	boot_marker_io(d, NULL, 0, &v, 1, true);
	ck_assert_uint_eq(boot_marker_us(), 4242);
	fake_now = 9999; /* a later marker is logged, the first time kept */
	boot_marker_io(d, NULL, 0, &v, 1, true);
	ck_assert_uint_eq(boot_marker_us(), 4242);
	ck_assert_int_eq(exit_calls, 0);
	debug_port_free(d);
}
END_TEST

START_TEST(cf9_rst_cpu_resets)
{
	struct debug_port *d = ports();
	uint8_t v = 0x02; /* SYS_RST alone only arms a reset (Linux reboot=pci) */
	reset_ctl_io(d, NULL, 0, &v, 1, true);
	ck_assert_int_eq(exit_calls, 0);
	uint8_t r = 0;
	reset_ctl_io(d, NULL, 0, &r, 1, false);
	ck_assert_uint_eq(r, 0x02);
	v = 0x06; /* SYS_RST | RST_CPU */
	reset_ctl_io(d, NULL, 0, &v, 1, true);
	ck_assert_int_eq(exit_calls, 1);
	ck_assert_int_eq(exit_status, MPVM_EXIT_RESET);
	ck_assert_ptr_nonnull(strstr(exit_reason, "0xcf9"));
	debug_port_free(d);
}
END_TEST

START_TEST(setup_registers_what_the_config_enables)
{
	char err[128];
	uint8_t b;
	struct io_bus *bus = io_bus_new();
	struct cfg_debug cfg = { .exit_port = false, .boot_marker = true };
	ck_assert_msg(!debug_port_setup(NULL, bus, &cfg, err, sizeof(err)), "%s", err);
	ck_assert(!io_dispatch(bus, IO_SPACE_PIO, NULL, 0xf4, &b, 1, false));
	ck_assert(io_dispatch(bus, IO_SPACE_PIO, NULL, 0x3f0, &b, 1, false));
	ck_assert(io_dispatch(bus, IO_SPACE_PIO, NULL, 0xcf9, &b, 1, false));
	io_bus_free(bus);

	bus = io_bus_new();
	cfg = (struct cfg_debug){ .exit_port = true, .boot_marker = false };
	ck_assert_msg(!debug_port_setup(NULL, bus, &cfg, err, sizeof(err)), "%s", err);
	for (uint16_t p = 0xf4; p < 0xf8; p++)
		ck_assert(io_dispatch(bus, IO_SPACE_PIO, NULL, p, &b, 1, false));
	ck_assert(!io_dispatch(bus, IO_SPACE_PIO, NULL, 0xf8, &b, 1, false));
	ck_assert(!io_dispatch(bus, IO_SPACE_PIO, NULL, 0x3f0, &b, 1, false));
	/* Twice on one bus: the error names the port and the conflict. */
	ck_assert_int_eq(debug_port_setup(NULL, bus, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "0xf4"));
	ck_assert_ptr_nonnull(strstr(err, "already taken"));
	io_bus_free(bus);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("debug_port");
	TCase *tc = tcase_create("ports");
	tcase_add_test(tc, exit_status_is_v_shifted_left_or_one);
	tcase_add_test(tc, boot_marker_records_the_first_time);
	tcase_add_test(tc, cf9_rst_cpu_resets);
	tcase_add_test(tc, setup_registers_what_the_config_enables);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
