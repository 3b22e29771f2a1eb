/* Exit dispatch: devices register port-I/O and MMIO ranges; vCPU threads
 * look up the handler for each KVM_EXIT_IO / KVM_EXIT_MMIO.
 *
 * Contract: registration happens before any vCPU runs (not thread-safe
 * against lookups). Handlers run on the vCPU thread that exited; a device
 * that is shared between vCPUs locks its own state. Ranges may not overlap:
 * io_register() fails with -EEXIST. An access no device claims reads as all
 * ones and is counted, as on a PC bus.
 */
#ifndef MPVM_EXITS_H
#define MPVM_EXITS_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

/* `data` is `len` bytes (1,2,4 for PIO; up to 8 for MMIO), little endian.
 * For reads the handler fills data; `off` is relative to the range base. */
typedef void (*io_handler_fn)(void *opaque, struct vcpu *vcpu, uint64_t off,
			      uint8_t *data, uint32_t len, bool is_write);

enum io_space { IO_SPACE_PIO, IO_SPACE_MMIO };

struct io_bus;

struct io_bus *io_bus_new(void);
void io_bus_free(struct io_bus *bus);
int io_register(struct io_bus *bus, enum io_space space, uint64_t base,
		uint64_t len, io_handler_fn fn, void *opaque, const char *name);
/* Returns true if a device handled the access. */
bool io_dispatch(struct io_bus *bus, enum io_space space, struct vcpu *vcpu,
		 uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
