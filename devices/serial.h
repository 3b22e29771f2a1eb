/* 16550A UART (COM1: I/O 0x3f8, IRQ 4) and its host side.
 *
 * Contract:
 *  - The register model runs on vCPU threads (serial_io() is the io_bus
 *    handler); host input arrives on the event-loop thread. One mutex per
 *    UART serialises both.
 *  - Interrupts: the IRQ line is held high while the UART has an interrupt
 *    pending (IIR bit 0 clear) and low otherwise, as QEMU does: that gives
 *    the edge the ISA PIC/IOAPIC pins expect and is right for level too.
 *    THRE follows the 16550 rules: pending while IER.ETBEI is set and THR is
 *    empty, cleared by the IIR read that reports it, re-armed when ETBEI goes
 *    0 -> 1 or a byte is written.
 *  - Output never blocks the vCPU (a sink nobody reads must not stop
 *    SIGTERM or a pause): each THR byte goes to the sink at once if it takes
 *    it without waiting; otherwise it waits, in order, in a 64 KiB buffer
 *    the event loop flushes when the sink is writable again, and bytes that
 *    do not fit are dropped and counted (serial_output_dropped(); one
 *    warning per episode). A pipe, FIFO or terminal is written through a
 *    non-blocking description of its own (the caller's fd keeps its flags),
 *    a socket with MSG_DONTWAIT; a regular file is written plainly. At
 *    serial_free() a slow sink gets at most 200 ms to take what is left.
 *    In loopback (MCR bit 4) output goes to the receiver instead, and MSR
 *    reflects the MCR lines.
 *  - Input: the host fd is read into a 4 KiB buffer only while there is room;
 *    when the buffer is full the fd leaves the event loop until the guest has
 *    drained half of it, so no byte is lost however slowly the guest reads.
 *    The buffer refills the 64-byte receive FIFO as the guest reads RBR.
 *    An fd that epoll refuses (a regular file, /dev/null) is read on demand.
 *  - Config modes: "stdio" (stdout; stdin input; a terminal is put in raw
 *    mode, see term.h), "file" (output appended to path, no input),
 *    "socket" (mpvm listens on a UNIX stream socket at path and serves one
 *    client at a time: output goes to it, its input reaches the guest; a
 *    second client is turned away; output while nobody is connected is
 *    dropped, not counted; so is what still waited for a client that
 *    left; a stale socket file is replaced), "none" (no COM1 at all:
 *    serial_setup_from_config() returns NULL without an error).
 *  - Pause (serial_pause(), with the VM's vCPUs parked): host input no
 *    longer reaches the receive FIFO, so the guest-visible state and the IRQ
 *    line do not change. It is still read into the 4 KiB host buffer (the
 *    Ctrl-A escape keeps working), then left in the fd's kernel buffer.
 *    serial_resume() delivers what waited, in order. Both idempotent.
 *  - Escape (only when stdin is a raw terminal): Ctrl-A x quits mpvm with
 *    status 130 (as SIGINT would), Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A h
 *    prints help; any other byte after Ctrl-A is dropped, as QEMU does.
 */
#ifndef MPVM_SERIAL_H
#define MPVM_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/event_loop.h"
#include "core/exits.h"
#include "core/vm.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ  ISA_IRQ_COM1
#define SERIAL_NREGS     8

struct serial;

/* A UART at `base` raising `irq`. out_fd: the sink (-1: output dropped);
 * in_fd: input (-1: none), watched on `loop` (NULL: input only read on
 * demand). The fds stay the caller's. Does not register on an io_bus. */
struct serial *serial_new(struct vm *vm, uint16_t base, uint32_t irq, int out_fd, int in_fd,
			  struct ev_loop *loop);
/* COM1 from the config, registered on `bus`. NULL with err set on failure;
 * NULL with err empty for kind "none". */
struct serial *serial_setup_from_config(struct vm *vm, struct io_bus *bus, struct ev_loop *loop,
					const struct cfg_serial *cfg, char *err, size_t errlen);
/* Unhooks from the loop, closes what the UART opened, removes its socket. */
void serial_free(struct serial *s);

/* Replace how the UART reaches the VM (defaults vm_irq_line and
 * vm_request_exit): unit tests capture IRQ levels and exit requests. */
void serial_set_hooks(struct serial *s, int (*irq_line)(struct vm *, uint32_t, int),
		      void (*request_exit)(struct vm *, int, const char *, ...));
/* Guest output bytes dropped because the sink did not keep up. */
uint64_t serial_output_dropped(struct serial *s);
/* Snapshots (base/snap.h): the UART's section "UART": registers, receive
 * FIFO, host input read but not yet delivered. Save with the VM paused;
 * restore into a UART just built from the same config, before any vCPU
 * runs. Restore: 0, or -1 with err naming the section and what is wrong
 * (the UART is left untouched then). */
struct snap_w;
void serial_snap_save(struct serial *s, struct snap_w *w);
int serial_snap_restore(struct serial *s, const void *state, size_t len, char *err,
			size_t errlen);
void serial_pause(struct serial *s);
void serial_resume(struct serial *s);
/* Ctrl-A escape handling on the input (on for a raw terminal). */
void serial_set_escape(struct serial *s, bool on);

/* io_bus handler (opaque = the UART). Wider accesses act byte by byte. */
void serial_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
	       bool is_write);
/* One register access at offset 0..7 from base, as the guest sees it. */
uint8_t serial_read(struct serial *s, uint8_t off);
void serial_write(struct serial *s, uint8_t off, uint8_t val);

#endif
