#include "devices/debug_port.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "core/log.h"

#define RST_SYS  0x02
#define RST_CPU  0x04
#define RST_FULL 0x08

struct debug_port {
	struct vm *vm;
	void (*request_exit)(struct vm *vm, int status, const char *fmt, ...);
	uint64_t (*now_us)(void);
	_Atomic uint8_t rcr; /* reset control register */
};

/* Global so that the API and metrics can read it without the device. */
static _Atomic uint64_t boot_marker;

uint64_t boot_marker_us(void)
{
	return atomic_load(&boot_marker);
}

void debug_exit_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct debug_port *d = opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	uint64_t v = 0;
	for (uint32_t i = 0; i < len && i < sizeof(v); i++)
		v |= (uint64_t)data[i] << (8 * i);
	int status = (int)(((v << 1) | 1) & 0xff);
	d->request_exit(d->vm, status, "guest test-exit port: value %llu", (unsigned long long)v);
}

static uint64_t cpu_us(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void boot_marker_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct debug_port *d = opaque;
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	if (off != 0 || len != 1 || data[0] != BOOT_MARKER_MAGIC)
		return;
	uint64_t us = d->now_us(), cpu = cpu_us();
	uint64_t none = 0;
	/* 0 means "no marker": a marker at 0 us is stored as 1. */
	atomic_compare_exchange_strong(&boot_marker, &none, us ? us : 1);
	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)us, (unsigned long long)(us / 1000), (unsigned long long)cpu,
		 (unsigned long long)(cpu / 1000));
}

void reset_ctl_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct debug_port *d = opaque;
	if (!is_write) {
		memset(data, 0xff, len);
		data[0] = atomic_load(&d->rcr);
		return;
	}
	atomic_store(&d->rcr, data[0] & (RST_SYS | RST_FULL));
	if (data[0] & RST_CPU)
		d->request_exit(d->vm, MPVM_EXIT_RESET, "guest requested reset (port 0xcf9)");
}

struct debug_port *debug_port_new(struct vm *vm)
{
	struct debug_port *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->vm = vm;
	d->request_exit = vm_request_exit;
	d->now_us = mpvm_uptime_us;
	return d;
}

void debug_port_set_hooks(struct debug_port *d,
			  void (*request_exit)(struct vm *, int, const char *, ...),
			  uint64_t (*now_us)(void))
{
	d->request_exit = request_exit;
	d->now_us = now_us;
}

void debug_port_free(struct debug_port *d)
{
	free(d);
}

int debug_port_setup(struct vm *vm, struct io_bus *bus, const struct cfg_debug *cfg, char *err,
		     size_t errlen)
{
	/* One platform per process: static, so nothing to free and nothing
	 * dangling for the bus. */
	static struct debug_port platform;
	struct debug_port *d = &platform;
	*d = (struct debug_port){ .vm = vm, .request_exit = vm_request_exit, .now_us = mpvm_uptime_us };
	const char *what = NULL;
	uint16_t port = 0;
	int rc = 0;
	if (cfg->exit_port) {
		what = "debug.exit_port (isa-debug-exit)", port = DEBUG_EXIT_PORT;
		rc = io_register(bus, IO_SPACE_PIO, port, DEBUG_EXIT_SIZE, debug_exit_io, d,
				 "isa-debug-exit");
	}
	if (!rc && cfg->boot_marker) {
		what = "debug.boot_marker", port = BOOT_MARKER_PORT;
		rc = io_register(bus, IO_SPACE_PIO, port, 1, boot_marker_io, d, "boot marker");
	}
	if (!rc) {
		what = "reset control register", port = RESET_CTL_PORT;
		rc = io_register(bus, IO_SPACE_PIO, port, 1, reset_ctl_io, d, "reset control");
	}
	if (rc) {
		return err_set(err, errlen, "%s at I/O port 0x%x: %s", what, port,
			       rc == -EEXIST ? "already taken by another device" : strerror(-rc));
	}
	return 0;
}
