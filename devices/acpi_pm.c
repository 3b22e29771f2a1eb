#include "devices/acpi_pm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/layout.h"
#include "core/log.h"

/* A guest looping on an unsupported sleep request must not flood the log. */
#define ACPI_PM_LOG_LIMIT 4

void acpi_pm_init(struct acpi_pm *pm, void (*on_poweroff)(void *), void *opaque)
{
	pm->on_poweroff = on_poweroff;
	pm->opaque = opaque;
	atomic_init(&pm->ignored, 0);
}

static void control_write(struct acpi_pm *pm, uint8_t v)
{
	/* SLP_TYP may be written alone before SLP_EN: only SLP_EN acts. */
	if (!(v & ACPI_PM_SLP_EN))
		return;
	unsigned typ = (v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT;
	if (typ == ACPI_S5_SLP_TYP) {
		if (pm->on_poweroff)
			pm->on_poweroff(pm->opaque);
		return;
	}
	unsigned n = atomic_fetch_add(&pm->ignored, 1);
	if (n < ACPI_PM_LOG_LIMIT)
		log_warn("acpi-pm: guest requested sleep type %u; only S5 (type %u, power-off) "
			 "is supported, request ignored%s",
			 typ, ACPI_S5_SLP_TYP, n + 1 == ACPI_PM_LOG_LIMIT ? " (further ones not logged)" : "");
}

void acpi_pm_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data,
		uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/* A wider access covers both registers; the status register
	 * (write-1-to-clear WAK_STS) has nothing to clear. */
	for (uint32_t i = 0; i < len; i++)
		if (off + i == 0)
			control_write(pm, data[i]);
}

int acpi_pm_setup(struct io_bus *bus, uint16_t port, void (*on_poweroff)(void *),
		  void *opaque)
{
	if (!bus || !on_poweroff || port == 0 || port > 0xFFFF - (ACPI_PM_PORT_LEN - 1))
		return -EINVAL;
	struct acpi_pm *pm = malloc(sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	acpi_pm_init(pm, on_poweroff, opaque);
	int rc = io_register(bus, IO_SPACE_PIO, port, ACPI_PM_PORT_LEN, acpi_pm_io, pm, "acpi-pm");
	if (rc) {
		free(pm);
		return rc < 0 ? rc : -EINVAL;
	}
	return 0;
}
