/* The i8042 model as Linux's i8042/atkbd drivers and reboot=k drive it,
 * without /dev/kvm: IRQ 1 levels and exit requests are captured. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/i8042.h"

#define DATA 0x60
#define CMD  0x64
#define ST_OBF 0x01
#define ST_CMD 0x08
#define ST_AUX 0x20

static int irq_level, irq_rises, irq_gsi = -1;
static int exit_status = -1;
static char exit_reason[128];

static int fake_irq(struct vm *vm, uint32_t gsi, int level)
{
	irq_gsi = (int)gsi;
	if (level && !irq_level)
		irq_rises++;
	irq_level = level;
	return 0;
}

static void fake_exit(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(exit_reason, sizeof(exit_reason), fmt, ap);
	va_end(ap);
	exit_status = status;
}

static struct i8042 *kbc(void)
{
	struct i8042 *k = i8042_new(NULL);
	ck_assert_ptr_nonnull(k);
	i8042_set_hooks(k, fake_irq, fake_exit);
	return k;
}

/* Linux's i8042_command(): command, optional parameter, then read replies. */
static uint8_t command(struct i8042 *k, uint8_t cmd)
{
	i8042_write(k, CMD, cmd);
	ck_assert(i8042_read(k, CMD) & ST_OBF);
	return i8042_read(k, DATA);
}

START_TEST(self_test_and_interface_test)
{
	struct i8042 *k = kbc();
	ck_assert_uint_eq(command(k, 0xaa), 0x55);
	ck_assert_uint_eq(i8042_read(k, CMD) & ST_OBF, 0);
	ck_assert_uint_eq(command(k, 0xab), 0x00);
	/* Not keylocked, system flag set after the self-test. */
	ck_assert_uint_eq(i8042_read(k, CMD) & 0x14, 0x14);
	ck_assert_int_eq(exit_status, -1);
	i8042_free(k);
}
END_TEST

START_TEST(command_byte_round_trip)
{
	struct i8042 *k = kbc();
	ck_assert_uint_eq(command(k, 0x20), 0x05); /* Firecracker's power-on value */
	i8042_write(k, CMD, 0x60);
	ck_assert(i8042_read(k, CMD) & ST_CMD);
	i8042_write(k, DATA, 0x47);
	ck_assert(!(i8042_read(k, CMD) & ST_CMD));
	ck_assert_uint_eq(command(k, 0x20), 0x47);
	/* Disable/enable keyboard and aux show in the command byte. */
	i8042_write(k, CMD, 0xad);
	i8042_write(k, CMD, 0xa7);
	ck_assert_uint_eq(command(k, 0x20), 0x77);
	i8042_write(k, CMD, 0xae);
	i8042_write(k, CMD, 0xa8);
	ck_assert_uint_eq(command(k, 0x20), 0x47);
	/* Output port round trip (bit 0 set: no reset). */
	i8042_write(k, CMD, 0xd1);
	i8042_write(k, DATA, 0xdf);
	ck_assert_uint_eq(command(k, 0xd0), 0xdf);
	ck_assert_int_eq(exit_status, -1);
	i8042_free(k);
}
END_TEST

START_TEST(pulse_reset_ends_the_vm_with_reset_status)
{
	struct i8042 *k = kbc();
	i8042_write(k, CMD, 0xfe);
	ck_assert_int_eq(exit_status, MPVM_EXIT_RESET);
	ck_assert_str_eq(exit_reason, "guest requested reset (i8042)");
	i8042_free(k);
}
END_TEST

START_TEST(output_port_bit0_clear_is_a_reset)
{
	struct i8042 *k = kbc();
	i8042_write(k, CMD, 0xd1);
	i8042_write(k, DATA, 0xfe);
	ck_assert_int_eq(exit_status, MPVM_EXIT_RESET);
	i8042_free(k);
}
END_TEST

START_TEST(no_aux_port_is_reported_without_timeouts)
{
	struct i8042 *k = kbc();
	/* Linux's i8042_check_aux(): the loop test's echo lacks the aux flag... */
	i8042_write(k, CMD, 0xd3);
	i8042_write(k, DATA, 0x5a);
	uint8_t st = i8042_read(k, CMD);
	ck_assert(st & ST_OBF);
	ck_assert(!(st & ST_AUX));
	/* ...and the aux interface test answers "clock stuck": no AUX port. */
	ck_assert_uint_eq(command(k, 0xa9), 0x01);
	i8042_free(k);
}
END_TEST

START_TEST(keyboard_commands_are_acknowledged)
{
	struct i8042 *k = kbc();
	i8042_write(k, DATA, 0xff); /* reset: ACK, then self-test passed */
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	ck_assert_uint_eq(i8042_read(k, DATA), 0xaa);
	i8042_write(k, DATA, 0xf2); /* identify: MF2 keyboard */
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	ck_assert_uint_eq(i8042_read(k, DATA), 0xab);
	ck_assert_uint_eq(i8042_read(k, DATA), 0x83);
	i8042_write(k, DATA, 0xf4); /* enable scanning */
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	i8042_write(k, DATA, 0xed); /* LEDs: ACK the command and its argument */
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	i8042_write(k, DATA, 0x07);
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	i8042_write(k, DATA, 0xf0); /* which scan code set? */
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	i8042_write(k, DATA, 0x00);
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	ck_assert_uint_eq(i8042_read(k, DATA), 0x02);
	ck_assert_uint_eq(i8042_read(k, CMD) & ST_OBF, 0);
	ck_assert_uint_eq(i8042_read(k, DATA), 0); /* empty buffer reads 0 */
	/* The keyboard's replies raised IRQ 1 (command byte enables it). */
	ck_assert_int_eq(irq_gsi, 1);
	ck_assert_int_gt(irq_rises, 0);
	ck_assert_int_eq(irq_level, 0);

	/* With set 1 translation on, the ID comes out translated. */
	i8042_write(k, CMD, 0x60);
	i8042_write(k, DATA, 0x45);
	i8042_write(k, DATA, 0xf2);
	ck_assert_uint_eq(i8042_read(k, DATA), 0xfa);
	ck_assert_uint_eq(i8042_read(k, DATA), 0xab);
	ck_assert_uint_eq(i8042_read(k, DATA), 0x41);
	i8042_free(k);
}
END_TEST

static void expect_bytes(struct i8042 *k, const uint8_t *want, int n)
{
	for (int i = 0; i < n; i++) {
		/* Each byte is announced by IRQ 1, as a fresh edge. */
		ck_assert_int_eq(irq_level, 1);
		ck_assert_int_eq(irq_rises, i + 1);
		ck_assert(i8042_read(k, CMD) & ST_OBF);
		ck_assert_uint_eq(i8042_read(k, DATA), want[i]);
	}
	ck_assert_int_eq(irq_level, 0);
	ck_assert_uint_eq(i8042_read(k, CMD) & ST_OBF, 0);
}

START_TEST(ctrl_alt_del_in_set_2)
{
	static const uint8_t want[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
	struct i8042 *k = kbc();
	ck_assert_int_eq(i8042_send_ctrl_alt_del(k), 0);
	expect_bytes(k, want, (int)sizeof(want));
	ck_assert_int_eq(exit_status, -1); /* the guest decides what to do */
	i8042_free(k);
}
END_TEST

START_TEST(ctrl_alt_del_translated_to_set_1)
{
	static const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	struct i8042 *k = kbc();
	i8042_write(k, CMD, 0x60);
	i8042_write(k, DATA, 0x45); /* XLAT, as a BIOS leaves it */
	ck_assert_int_eq(i8042_send_ctrl_alt_del(k), 0);
	expect_bytes(k, want, (int)sizeof(want));
	i8042_free(k);
}
END_TEST

START_TEST(ctrl_alt_del_without_keyboard_interrupt_raises_nothing)
{
	struct i8042 *k = kbc();
	i8042_write(k, CMD, 0x60);
	i8042_write(k, DATA, 0x04);
	ck_assert_int_eq(i8042_send_ctrl_alt_del(k), 0);
	ck_assert_int_eq(irq_rises, 0);
	ck_assert(i8042_read(k, CMD) & ST_OBF); /* a polling guest still gets it */
	ck_assert_uint_eq(i8042_read(k, DATA), 0x14);
	/* Enabling the interrupt with data waiting raises it. */
	i8042_write(k, CMD, 0x60);
	i8042_write(k, DATA, 0x05);
	ck_assert_int_eq(irq_level, 1);
	i8042_free(k);
}
END_TEST

START_TEST(full_buffer_refuses_a_partial_sequence)
{
	struct i8042 *k = kbc();
	ck_assert_int_eq(i8042_send_ctrl_alt_del(k), 0);
	ck_assert_int_eq(i8042_send_ctrl_alt_del(k), 0);
	ck_assert_int_eq(i8042_send_ctrl_alt_del(k), -ENOSPC);
	int n = 0;
	while (i8042_read(k, CMD) & ST_OBF) {
		i8042_read(k, DATA);
		n++;
	}
	ck_assert_int_eq(n, 22);
	i8042_free(k);
}
END_TEST

START_TEST(setup_claims_ports_0x60_and_0x64)
{
	struct io_bus *bus = io_bus_new();
	char err[128];
	struct i8042 *k = i8042_setup(NULL, bus, err, sizeof(err));
	ck_assert_msg(k, "%s", err);
	i8042_set_hooks(k, fake_irq, fake_exit);
	uint8_t b = 0xaa;
	ck_assert(io_dispatch(bus, IO_SPACE_PIO, NULL, 0x64, &b, 1, true));
	ck_assert(io_dispatch(bus, IO_SPACE_PIO, NULL, 0x60, &b, 1, false));
	ck_assert_uint_eq(b, 0x55);
	ck_assert(!io_dispatch(bus, IO_SPACE_PIO, NULL, 0x62, &b, 1, false));
	/* A second controller cannot take the same ports. */
	ck_assert_ptr_null(i8042_setup(NULL, bus, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "already taken"));
	io_bus_free(bus);
	i8042_free(k);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("i8042");
	TCase *tc = tcase_create("controller");
	tcase_add_test(tc, self_test_and_interface_test);
	tcase_add_test(tc, command_byte_round_trip);
	tcase_add_test(tc, pulse_reset_ends_the_vm_with_reset_status);
	tcase_add_test(tc, output_port_bit0_clear_is_a_reset);
	tcase_add_test(tc, no_aux_port_is_reported_without_timeouts);
	tcase_add_test(tc, setup_claims_ports_0x60_and_0x64);
	suite_add_tcase(su, tc);
	TCase *kb = tcase_create("keyboard");
	tcase_add_test(kb, keyboard_commands_are_acknowledged);
	tcase_add_test(kb, ctrl_alt_del_in_set_2);
	tcase_add_test(kb, ctrl_alt_del_translated_to_set_1);
	tcase_add_test(kb, ctrl_alt_del_without_keyboard_interrupt_raises_nothing);
	tcase_add_test(kb, full_buffer_refuses_a_partial_sequence);
	suite_add_tcase(su, kb);
	return run_suite(su);
}
