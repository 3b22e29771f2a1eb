/* Thread confinement: the seam between the threads mpvm runs and the
 * sandbox that confines them (builder/sandbox.h).
 *
 * Contract: every long-lived thread calls confine_thread() with its kind
 * ("vcpu", "virtio-blk", "virtio-net", "virtio-rng", "pmu-timer") as its
 * first act, before it touches anything a guest controls; the main thread's
 * kind is "main". The layer that owns the sandbox registers the hook once,
 * on the main thread, before any such thread exists; without a hook
 * (--no-seccomp, unit tests) confine_thread() does nothing. A thread whose
 * confinement fails never runs unconfined: mpvm exits (MPVM_EXIT_ERROR)
 * after logging why. Kinds are strings so that this layer, which the device
 * models build on, need not know their names.
 */
#ifndef MPVM_CONFINE_H
#define MPVM_CONFINE_H

#include <stddef.h>

/* Confine the calling thread as `kind`; 0, or -1 with `err` set. */
typedef int (*confine_hook)(const char *kind, char *err, size_t errlen);

/* Install (or, with NULL, remove) the hook. Main thread, no other threads. */
void confine_set_hook(confine_hook hook);

/* Called by each thread at its start. */
void confine_thread(const char *kind);

#endif
