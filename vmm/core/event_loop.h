/* The main thread's event loop (epoll): terminal/serial input, signals,
 * timers, the API socket, device notifications that are not on vCPU threads.
 *
 * Contract: ev_add()/ev_del() may be called from any thread; callbacks run
 * on the loop thread, one at a time, and must not block. ev_run() returns
 * when ev_stop() is called (from any thread).
 */
#ifndef MPVM_EVENT_LOOP_H
#define MPVM_EVENT_LOOP_H

#include <stdint.h>

struct ev_loop;
typedef void (*ev_fn)(void *opaque, int fd, uint32_t events);

struct ev_loop *ev_new(void);
void ev_free(struct ev_loop *l);
/* events: EPOLLIN/EPOLLOUT/... Returns 0 or -errno. */
int ev_add(struct ev_loop *l, int fd, uint32_t events, ev_fn fn, void *opaque);
int ev_mod(struct ev_loop *l, int fd, uint32_t events);
int ev_del(struct ev_loop *l, int fd);
/* Run callbacks until ev_stop(). */
void ev_run(struct ev_loop *l);
void ev_stop(struct ev_loop *l);

#endif
