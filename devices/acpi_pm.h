/* ACPI power-off: the hardware-reduced sleep control/status registers.
 *
 * Contract: two byte-wide I/O ports, the ones the FADT names as
 * SLEEP_CONTROL_REG (port + 0) and SLEEP_STATUS_REG (port + 1). A write to
 * the control register with SLP_EN set and SLP_TYP equal to the DSDT's \_S5
 * value (ACPI_S5_SLP_TYP) is the guest powering off: on_poweroff(opaque) is
 * called on the writing vCPU's thread. It may be called more than once (two
 * vCPUs, a guest retrying), so it must be idempotent and thread-safe; it
 * should ask the VMM to stop, not tear the VM down in place. Other sleep
 * types are ignored (logged, rate-limited). Reads return 0: a guest polling
 * WAK_STS after S5 just spins until the VMM stops it.
 */
#ifndef MPVM_ACPI_PM_H
#define MPVM_ACPI_PM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/exits.h"

#define ACPI_PM_PORT_LEN 2
#define ACPI_PM_SLP_TYP_SHIFT 2
#define ACPI_PM_SLP_TYP_MASK 0x1C /* bits 4:2 */
#define ACPI_PM_SLP_EN 0x20       /* bit 5 */

struct acpi_pm {
	void (*on_poweroff)(void *opaque);
	void *opaque;
	atomic_uint ignored; /* sleep requests ignored so far (for rate-limited logging) */
};

/* Register the device at `port` (..port+1). The state is allocated here and
 * lives as long as the process (the bus keeps a pointer to it). Returns 0,
 * -EINVAL (port 0 or 0xFFFF, NULL callback), -ENOMEM, or io_register()'s
 * error (-EEXIST: the ports overlap another device). */
int acpi_pm_setup(struct io_bus *bus, uint16_t port, void (*on_poweroff)(void *),
		  void *opaque);

/* For callers that embed the state themselves, and for unit tests:
 * acpi_pm_init() + io_register(bus, IO_SPACE_PIO, port, ACPI_PM_PORT_LEN,
 * acpi_pm_io, pm, "acpi-pm") is what acpi_pm_setup() does. */
void acpi_pm_init(struct acpi_pm *pm, void (*on_poweroff)(void *), void *opaque);
void acpi_pm_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data,
		uint32_t len, bool is_write);

#endif
