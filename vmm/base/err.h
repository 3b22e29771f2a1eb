/* How mpvm reports an error: the one helper every layer uses.
 *
 * Contract: a function that can fail takes `char *err, size_t errlen`, a
 * buffer its caller owns, and on failure writes one line there and returns
 * -1 (or NULL). The line says what failed and why, naming what the user can
 * act on: the file, the config field ("drives[1].path_on_host: ..."), the
 * ioctl and errno ("vCPU 0: KVM_SET_SREGS: Invalid argument (EINVAL)"), and
 * what to do about it. Callers that know more add it in front on the way up
 * (err_prefix: "kernel vmlinux: ..."). A zero-length buffer is allowed and
 * stays untouched. The messages reach the user unchanged: on stderr, in a
 * 400's fault_message, in the log.
 */
#ifndef MPVM_ERR_H
#define MPVM_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Write the message; returns -1 so that `return err_set(...)` reads well. */
int err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int err_vset(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Put context in front of the message already there. Returns -1. */
int err_prefix(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Add a hint after it. Returns -1. */
int err_append(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "Invalid argument (EINVAL)": errno as the user reads it and as the
 * kernel's documentation spells it. `e` is positive. Thread-safe. */
const char *err_errno(int e, char *buf, size_t len);

/* In a function whose error buffer is named err/errlen: fail with a message,
 * returning -1, or after jumping to the function's cleanup label. */
#define FAIL(...) return err_set(err, errlen, __VA_ARGS__)
#define FAIL_GOTO(label, ...) do { err_set(err, errlen, __VA_ARGS__); goto label; } while (0)

#endif
