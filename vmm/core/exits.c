#include "core/exits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IO_BUS_MAX 64

struct io_range {
	enum io_space space;
	uint64_t base, len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

struct io_bus {
	struct io_range r[IO_BUS_MAX];
	int n;
};

struct io_bus *io_bus_new(void)
{
	return calloc(1, sizeof(struct io_bus));
}

void io_bus_free(struct io_bus *bus)
{
	free(bus);
}

static bool overlaps(const struct io_range *r, enum io_space s, uint64_t base, uint64_t len)
{
	return r->space == s && base < r->base + r->len && r->base < base + len;
}

int io_register(struct io_bus *bus, enum io_space space, uint64_t base,
		uint64_t len, io_handler_fn fn, void *opaque, const char *name)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	if (bus->n == IO_BUS_MAX)
		return -ENOSPC;
	for (int i = 0; i < bus->n; i++)
		if (overlaps(&bus->r[i], space, base, len))
			return -EEXIST;
	bus->r[bus->n++] = (struct io_range){ space, base, len, fn, opaque, name };
	return 0;
}

bool io_dispatch(struct io_bus *bus, enum io_space space, struct vcpu *vcpu,
		 uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	for (int i = 0; i < bus->n; i++) {
		struct io_range *r = &bus->r[i];
		if (r->space == space && addr >= r->base && addr - r->base < r->len) {
			r->fn(r->opaque, vcpu, addr - r->base, data, len, is_write);
			return true;
		}
	}
	/* Unclaimed: reads float high, as on an ISA/PCI bus with nothing there. */
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
