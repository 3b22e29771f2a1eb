/* Test and measurement ports.
 *
 * Contract:
 *  - isa-debug-exit (cfg_debug.exit_port) at I/O 0xf4, 4 ports wide, as QEMU's
 *    `-device isa-debug-exit,iobase=0xf4,iosize=0x04`: a write of value v
 *    (the access's width, little endian, at any offset) ends the VM with
 *    status ((v << 1) | 1) & 0xff. QEMU calls exit((v << 1) | 1) and the OS
 *    keeps the low 8 bits, so the shell sees the same status under both.
 *    Statuses from this port are always odd; mpvm's own are even (vm.h).
 *    Reads return 0.
 *  - Boot marker (cfg_debug.boot_marker) at I/O 0x3f0, Firecracker's boot
 *    timer: a byte write of 123 records the time since process start
 *    (boot_marker_us(), first marker wins) and logs Firecracker's line
 *    "Guest-boot-time = ... us ... ms, ... CPU us ... CPU ms" at Info.
 *  - Reset control register at I/O 0xcf9 (always; only the byte, so a PCI
 *    config-address device must register 0xcf8 and 0xcfa-0xcfb around it):
 *    a write with RST_CPU (bit 2) set ends the VM with MPVM_EXIT_RESET;
 *    reads return SYS_RST/FULL_RST as last written.
 * debug_port_setup() uses one static instance (one platform per process):
 * nothing to free, and calling it again re-initialises that instance.
 */
#ifndef MPVM_DEBUG_PORT_H
#define MPVM_DEBUG_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/exits.h"
#include "core/vm.h"

#define DEBUG_EXIT_PORT   0xf4
#define DEBUG_EXIT_SIZE   4
#define BOOT_MARKER_PORT  0x3f0
#define BOOT_MARKER_MAGIC 123
#define RESET_CTL_PORT    0xcf9

struct debug_port;

/* Registers what cfg enables, plus 0xcf9. 0 or -1 with err set. */
int debug_port_setup(struct vm *vm, struct io_bus *bus, const struct cfg_debug *cfg, char *err,
		     size_t errlen);

/* Microseconds from process start to the guest's first boot marker; 0 if
 * none yet. Any thread. */
uint64_t boot_marker_us(void);

/* For unit tests: the ports without a bus, with hooks replacing
 * vm_request_exit and mpvm_uptime_us. */
struct debug_port *debug_port_new(struct vm *vm);
void debug_port_set_hooks(struct debug_port *d,
			  void (*request_exit)(struct vm *, int, const char *, ...),
			  uint64_t (*now_us)(void));
void debug_port_free(struct debug_port *d);
/* io_bus handlers (opaque = the debug_port). */
void debug_exit_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write);
void boot_marker_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		    bool is_write);
void reset_ctl_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		  bool is_write);

#endif
