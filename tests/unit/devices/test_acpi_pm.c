/* The ACPI power-off device (devices/acpi_pm.c): the sleep control and
 * status registers the FADT names, decoding SLP_TYP ACPI_S5_SLP_TYP with
 * SLP_EN as power-off, and its registration on the I/O bus.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>

#include "check_main.h"
#include "core/exits.h"
#include "core/layout.h"
#include "devices/acpi_pm.h"

static void count_poweroff(void *opaque)
{
	(*(int *)opaque)++;
}

static void pm_write(struct acpi_pm *pm, uint64_t off, uint8_t v)
{
	acpi_pm_io(pm, NULL, off, &v, 1, true);
}

START_TEST(slp_en_with_the_s5_type_powers_off)
{
	int calls = 0;
	struct acpi_pm pm;
	acpi_pm_init(&pm, count_poweroff, &calls);

	/* What Linux's acpi_hw_extended_sleep() does for S5: clear WAK_STS in
	 * the status register, then SLP_TYP | SLP_EN in one control write. */
	pm_write(&pm, 1, 0x80);
	ck_assert_int_eq(calls, 0);
	pm_write(&pm, 0, (uint8_t)(ACPI_PM_SLP_EN | ACPI_S5_SLP_TYP << ACPI_PM_SLP_TYP_SHIFT));
	ck_assert_int_eq(calls, 1);

	/* A 16-bit write covering both registers carries control in byte 0. */
	uint8_t two[2] = { 0x20 | 5 << 2, 0x00 };
	acpi_pm_io(&pm, NULL, 0, two, 2, true);
	ck_assert_int_eq(calls, 2);
}
END_TEST

START_TEST(other_sleep_requests_are_ignored)
{
	int calls = 0;
	struct acpi_pm pm;
	acpi_pm_init(&pm, count_poweroff, &calls);

	pm_write(&pm, 0, ACPI_S5_SLP_TYP << ACPI_PM_SLP_TYP_SHIFT);   /* no SLP_EN */
	for (unsigned typ = 0; typ < 8; typ++)
		if (typ != ACPI_S5_SLP_TYP)
			pm_write(&pm, 0, (uint8_t)(ACPI_PM_SLP_EN | typ << 2)); /* S0..S4 */
	pm_write(&pm, 1, 0x20 | 5 << 2);                                /* status register */
	ck_assert_int_eq(calls, 0);
	ck_assert_uint_eq(atomic_load(&pm.ignored), 7);

	uint8_t r[4] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[4];
	acpi_pm_io(&pm, NULL, 0, r, 4, false);
	ck_assert_mem_eq(r, zero, 4);
}
END_TEST

static struct io_bus *kept_bus; /* the device lives as long as its bus */

START_TEST(setup_registers_the_device_on_the_io_bus)
{
	int calls = 0;
	kept_bus = io_bus_new();
	ck_assert_ptr_nonnull(kept_bus);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, ACPI_PM_PORT, count_poweroff, &calls), 0);

	uint8_t v = 0x20 | ACPI_S5_SLP_TYP << 2;
	ck_assert(io_dispatch(kept_bus, IO_SPACE_PIO, NULL, 0x600, &v, 1, true));
	ck_assert_int_eq(calls, 1);
	v = 0xff;
	ck_assert(io_dispatch(kept_bus, IO_SPACE_PIO, NULL, 0x601, &v, 1, false));
	ck_assert_uint_eq(v, 0);

	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0x601, count_poweroff, &calls), -EEXIST);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0, count_poweroff, &calls), -EINVAL);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0xFFFF, count_poweroff, &calls), -EINVAL);
	ck_assert_int_eq(acpi_pm_setup(kept_bus, 0x700, NULL, NULL), -EINVAL);
}
END_TEST

static Suite *acpi_pm_suite(void)
{
	Suite *s = suite_create("acpi_pm");
	TCase *pm = tcase_create("poweroff");
	tcase_add_test(pm, slp_en_with_the_s5_type_powers_off);
	tcase_add_test(pm, other_sleep_requests_are_ignored);
	tcase_add_test(pm, setup_registers_the_device_on_the_io_bus);
	suite_add_tcase(s, pm);
	return s;
}

int main(void)
{
	return run_suite(acpi_pm_suite());
}
