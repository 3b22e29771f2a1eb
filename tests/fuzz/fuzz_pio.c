/* libFuzzer: the legacy port-I/O devices as a hostile guest drives them,
 * through the exit dispatcher (io_dispatch) as a vCPU would: the 16550A
 * UART (COM1, with host input on a pipe and the Ctrl-A escape on), the
 * i8042, the ACPI sleep registers, isa-debug-exit, the boot marker and the
 * reset control register. Input: byte 0 is the length of the host input
 * that follows it; then 3-byte accesses: port (from a table of the
 * devices' ports, or any port), width and direction, value. Opcode 0xff is
 * an action from another thread (Ctrl-Alt-Del from the API, pause/resume
 * of the UART).
 *
 * Oracles, besides ASan and UBSan: an IRQ line is only driven to 0 or 1, and
 * only on the IRQ of the device that owns it; exits are what the contracts
 * say (isa-debug-exit: an odd status; i8042 and 0xcf9: MPVM_EXIT_RESET;
 * Ctrl-A x: 130); a read fills exactly its width.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/exit_codes.h"
#include "core/log.h"
#include "devices/acpi_pm.h"
#include "devices/debug_port.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "fuzz_check.h"

#define ACPI_PM_PORT 0x600

static const uint16_t ports[] = {
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, I8042_DATA_PORT, I8042_CMD_PORT,
	ACPI_PM_PORT, ACPI_PM_PORT + 1, DEBUG_EXIT_PORT, DEBUG_EXIT_PORT + 3, BOOT_MARKER_PORT,
	RESET_CTL_PORT,
};

static int irq_line(struct vm *vm, uint32_t gsi, int level)
{
	CHECK(gsi == SERIAL_COM1_IRQ || gsi == I8042_IRQ);
	CHECK(level == 0 || level == 1);
	return 0;
}

static void request_exit(struct vm *vm, int status, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap); /* the reason must format */
	va_end(ap);
	CHECK((status & 1) || status == MPVM_EXIT_RESET || status == 130);
}

static uint64_t now_us(void) { return 42; }
static void poweroff(void *opaque) { ++*(int *)opaque; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int null_fd = -1;
	if (null_fd < 0) {
		log_set_level(LOG_OFF);
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		CHECK(null_fd >= 0);
	}
	if (size < 1)
		return 0;
	size_t nin = data[0] < size - 1 ? data[0] : size - 1;
	int in[2];
	if (pipe2(in, O_CLOEXEC | O_NONBLOCK))
		return 0;
	if (nin && write(in[1], data + 1, nin) != (ssize_t)nin)
		abort();
	close(in[1]); /* then EOF: the UART sees the input end */
	data += 1 + nin, size -= 1 + nin;

	struct io_bus *bus = io_bus_new();
	struct serial *s = serial_new(NULL, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, null_fd, in[0], NULL);
	char err[256];
	struct i8042 *k = i8042_setup(NULL, bus, err, sizeof(err));
	struct debug_port *dp = debug_port_new(NULL);
	static struct acpi_pm pm;
	int powered_off = 0;
	CHECK(bus && s && k && dp);
	serial_set_hooks(s, irq_line, request_exit);
	serial_set_escape(s, true);
	i8042_set_hooks(k, irq_line, request_exit);
	debug_port_set_hooks(dp, request_exit, now_us);
	acpi_pm_init(&pm, poweroff, &powered_off);
	CHECK(!io_register(bus, IO_SPACE_PIO, SERIAL_COM1_BASE, SERIAL_NREGS, serial_io, s, "COM1") &&
	      !io_register(bus, IO_SPACE_PIO, ACPI_PM_PORT, ACPI_PM_PORT_LEN, acpi_pm_io, &pm, "acpi-pm") &&
	      !io_register(bus, IO_SPACE_PIO, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, debug_exit_io, dp, "exit") &&
	      !io_register(bus, IO_SPACE_PIO, BOOT_MARKER_PORT, 1, boot_marker_io, dp, "marker") &&
	      !io_register(bus, IO_SPACE_PIO, RESET_CTL_PORT, 1, reset_ctl_io, dp, "reset"));

	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t p = data[i], how = data[i + 1];
		if (p == 0xff) { /* another thread's action */
			switch (how % 3) {
			case 0: i8042_send_ctrl_alt_del(k); break;
			case 1: serial_pause(s); break;
			case 2: serial_resume(s); break;
			}
			continue;
		}
		/* Ports the devices own most of the time, any port now and then. */
		uint16_t port = p < 0xf0 ? ports[p % (sizeof(ports) / sizeof(ports[0]))]
					 : (uint16_t)(data[i + 2] << 8 | how);
		static const uint32_t widths[] = { 1, 1, 1, 2, 4, 1, 3, 8 };
		uint32_t len = widths[how & 7];
		bool wr = how & 8;
		uint8_t buf[16];
		memset(buf, 0xa5, sizeof(buf));
		if (wr) {
			buf[0] = data[i + 2];
			buf[1] = how;
		}
		io_dispatch(bus, IO_SPACE_PIO, NULL, port, buf, len, wr);
		for (uint32_t b = wr ? 8 : len; b < sizeof(buf); b++)
			CHECK(buf[b] == 0xa5); /* a read fills its width, nothing more */
	}
	io_bus_free(bus);
	serial_free(s);
	i8042_free(k);
	debug_port_free(dp);
	close(in[0]);
	return 0;
}
