/* The host terminal behind the serial console.
 *
 * Contract: term_raw(fd) saves fd's settings (once) and switches it to raw
 * input: no echo, no line editing, no signals (Ctrl-C, Ctrl-Z reach the
 * guest), 8-bit clean. Output processing (OPOST|ONLCR) stays on, so "\n" in
 * mpvm's log lines and in guest output still starts a new line.
 * term_restore() puts the saved settings back. It is idempotent, registered
 * with atexit() by term_raw(), and async-signal-safe (one atomic exchange and
 * tcsetattr() on a static copy), so a fatal-signal handler may call it.
 * The way out of a raw console is the serial escape, Ctrl-A x (serial.h).
 */
#ifndef MPVM_TERM_H
#define MPVM_TERM_H

#include <stdbool.h>

/* 1: fd is now raw; 0: fd is not a terminal (nothing changed);
 * -errno: tcgetattr/tcsetattr failed (nothing changed). */
int term_raw(int fd);
bool term_is_raw(void);
void term_restore(void);

#endif
