/* i8042 keyboard controller (data 0x60, status/command 0x64, IRQ 1) with a
 * PS/2 keyboard behind it and no aux (mouse) port: enough for Linux's i8042
 * and atkbd drivers, for reboot=k and for Firecracker's SendCtrlAltDel.
 *
 * Contract:
 *  - Controller: status (OBF, SYS, CMD/DATA, not keylocked), command byte
 *    read/write (0x20/0x60; power-on 0x05 like Firecracker: keyboard
 *    interrupt on, no set 1 translation, so Linux drives the keyboard in
 *    set 2), self-test 0xAA -> 0x55, keyboard interface test 0xAB -> 0x00,
 *    0xAD/0xAE and 0xA7/0xA8 disable/enable bits, output port 0xD0/0xD1,
 *    0xD2 (byte as if from the keyboard), input port 0xC0. Pulsing the
 *    reset line (0xFE, any 0xF0-0xFF with bit 0 clear) or clearing bit 0 of
 *    the output port ends the VM with MPVM_EXIT_RESET.
 *  - No aux port, said quickly: the aux loop test (0xD3) echoes its byte
 *    without the aux flag and the aux interface test (0xA9) answers 0x01,
 *    which Linux reads as "no AUX port" at once instead of timing out.
 *    Bytes for the aux device (0xD4) are dropped.
 *  - Keyboard commands on 0x60 are acknowledged with 0xFA: reset 0xFF ->
 *    FA AA, identify 0xF2 -> FA AB 83, echo 0xEE -> EE; 0xED, 0xF3, 0xF0 take
 *    an argument (0xF0 0 reports the scan code set). Keyboard bytes are
 *    translated to set 1 when the command byte's XLAT bit (0x40) is set.
 *  - IRQ 1 is high while a byte waits and the command byte enables the
 *    keyboard interrupt; reading the byte drops the line and the next queued
 *    byte raises it again, so every byte is a fresh edge.
 * One mutex: port handlers run on vCPU threads, Ctrl-Alt-Del on any thread.
 */
#ifndef MPVM_I8042_H
#define MPVM_I8042_H

#include <stddef.h>
#include <stdint.h>

#include "core/exits.h"
#include "core/vm.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64
#define I8042_IRQ       ISA_IRQ_I8042

struct i8042;

/* A controller not on any bus (unit tests); hooks default to vm_irq_line
 * and vm_request_exit. */
struct i8042 *i8042_new(struct vm *vm);
/* The PC's controller, registered at 0x60 and 0x64. NULL with err set. */
struct i8042 *i8042_setup(struct vm *vm, struct io_bus *bus, char *err, size_t errlen);
void i8042_free(struct i8042 *k);

void i8042_set_hooks(struct i8042 *k, int (*irq_line)(struct vm *, uint32_t, int),
		     void (*request_exit)(struct vm *, int, const char *, ...));

/* Port access as the guest makes it (port 0x60 or 0x64). */
uint8_t i8042_read(struct i8042 *k, uint16_t port);
void i8042_write(struct i8042 *k, uint16_t port, uint8_t val);

/* Queue Ctrl, Alt, Del presses then their releases in the keyboard's scan
 * code set (set 2 by default: 14 11 E0 71 E0 F0 71 F0 11 F0 14, the keys
 * Firecracker sends) and raise IRQ 1. -ENOSPC if the output buffer has no
 * room for the whole sequence (nothing queued then). */
int i8042_send_ctrl_alt_del(struct i8042 *k);

/* Snapshots (base/snap.h): the controller's section "KBDC" (command byte,
 * output port, pending command bytes, scan code set, output buffer).
 * Save with the VM paused; restore into a controller just built, before
 * any vCPU runs: 0, or -1 with err (the controller untouched). */
struct snap_w;
void i8042_snap_save(struct i8042 *k, struct snap_w *w);
int i8042_snap_restore(struct i8042 *k, const void *state, size_t len, char *err,
		       size_t errlen);

#endif
