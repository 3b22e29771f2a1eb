/* An independent decoder of ACPI tables for tests, written from the ACPI
 * specification rather than from mpvm's emitter (boot/aml.c), so that the two
 * cannot share a mistake: little-endian readers and the table checksum, and
 * an AML decoder for the subset mpvm's DSDT uses (Scope, Device, Name,
 * integers, strings, EISA ids, Buffer with a resource template, Package).
 * parse_dsdt() walks a DSDT into a namespace of devices with their _HID,
 * _UID and _CRS, and the \_S5 package; anything else fails the test.
 * Header-only; used by test_acpi_tables.c and test_aml.c.
 */
#ifndef MPVM_TEST_AML_DECODER_H
#define MPVM_TEST_AML_DECODER_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static inline uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

struct res {
	int nmem, nio, nirq, nextirq;
	uint32_t mem_base, mem_size;
	bool mem_rw;
	uint16_t io_min[4];
	uint8_t io_len[4];
	uint16_t irq_mask;
	uint8_t extirq_flags;
	uint32_t extirq_gsi;
};

struct dev {
	char path[128];
	char hid[16];
	bool has_uid;
	uint64_t uid;
	bool has_crs;
	struct res crs;
};

struct ns {
	struct dev devs[300];
	int ndev;
	bool has_s5;
	uint64_t s5[8];
	int s5_count;
};

struct cur {
	const uint8_t *p, *end;
};

/* Check has no pointer ordering asserts. */
#define assert_ptr_lt(a, b) ck_assert_msg((a) < (b), "AML decoder ran past the end: %s", #a)
#define assert_ptr_le(a, b) ck_assert_msg((a) <= (b), "AML object overruns its container: %s", #a)

static inline const uint8_t *pkg_end(struct cur *c)
{
	assert_ptr_lt(c->p, c->end);
	const uint8_t *start = c->p;
	uint8_t lead = *c->p++;
	int extra = lead >> 6;
	size_t len = extra ? (lead & 0xF) : (lead & 0x3F);
	if (extra)
		ck_assert_msg((lead & 0x30) == 0, "PkgLength lead byte 0x%02x has bits 5:4 set", lead);
	for (int i = 0; i < extra; i++) {
		assert_ptr_lt(c->p, c->end);
		len |= (size_t)*c->p++ << (4 + 8 * i);
	}
	ck_assert_msg(start + len <= c->end, "PkgLength %zu runs past the enclosing object", len);
	return start + len;
}

static inline void name_string(struct cur *c, char *out, size_t outlen)
{
	char buf[64] = "";
	size_t n = 0;
	while (c->p < c->end && (*c->p == '\\' || *c->p == '^'))
		buf[n++] = (char)*c->p++;
	assert_ptr_lt(c->p, c->end);
	int segs = 1;
	if (*c->p == 0x00) {
		segs = 0;
		c->p++;
	} else if (*c->p == 0x2E) {
		segs = 2;
		c->p++;
	} else if (*c->p == 0x2F) {
		c->p++;
		segs = *c->p++;
	}
	for (int i = 0; i < segs; i++) {
		assert_ptr_le(c->p + 4, c->end);
		if (i)
			buf[n++] = '.';
		ck_assert_uint_lt(n + 4, sizeof(buf));
		memcpy(buf + n, c->p, 4);
		n += 4;
		c->p += 4;
	}
	buf[n] = 0;
	snprintf(out, outlen, "%s", buf);
}

static inline void decode_eisaid(uint32_t v, char out[8])
{
	uint16_t vendor = (uint16_t)((v & 0xFF) << 8 | (v >> 8 & 0xFF));
	out[0] = (char)('@' + (vendor >> 10 & 0x1F));
	out[1] = (char)('@' + (vendor >> 5 & 0x1F));
	out[2] = (char)('@' + (vendor & 0x1F));
	snprintf(out + 3, 5, "%02X%02X", v >> 16 & 0xFF, v >> 24 & 0xFF);
}

static inline void parse_resources(const uint8_t *p, const uint8_t *end, struct res *r)
{
	memset(r, 0, sizeof(*r));
	for (;;) {
		ck_assert_msg(p < end, "resource template without an End Tag");
		uint8_t tag = *p;
		if (tag == 0x79) {
			ck_assert_ptr_eq(p + 2, end); /* End Tag is the last thing */
			return;
		}
		if (tag & 0x80) {
			uint16_t len = rd16(p + 1);
			const uint8_t *body = p + 3;
			assert_ptr_le(body + len, end);
			if (tag == 0x86) {
				ck_assert_uint_eq(len, 9);
				r->nmem++;
				r->mem_rw = body[0] & 1;
				r->mem_base = rd32(body + 1);
				r->mem_size = rd32(body + 5);
			} else if (tag == 0x89) {
				ck_assert_uint_ge(len, 6);
				ck_assert_uint_eq(body[1], 1); /* one interrupt */
				r->nextirq++;
				r->extirq_flags = body[0];
				r->extirq_gsi = rd32(body + 2);
			} else {
				ck_abort_msg("unexpected large resource 0x%02x", tag);
			}
			p = body + len;
		} else {
			int type = tag >> 3 & 0xF, len = tag & 7;
			const uint8_t *body = p + 1;
			assert_ptr_le(body + len, end);
			if (type == 8) { /* IO */
				ck_assert_int_eq(len, 7);
				ck_assert_int_lt(r->nio, 4);
				ck_assert_uint_eq(rd16(body + 1), rd16(body + 3)); /* fixed: min == max */
				r->io_min[r->nio] = rd16(body + 1);
				r->io_len[r->nio] = body[6];
				r->nio++;
			} else if (type == 4) { /* IRQ */
				ck_assert_int_ge(len, 2);
				r->nirq++;
				r->irq_mask = rd16(body);
			} else {
				ck_abort_msg("unexpected small resource type %d", type);
			}
			p = body + len;
		}
	}
}

/* Returns the integer, or records strings/EISA ids into `hid`. */
static inline uint64_t data_object(struct cur *c, char *hid, size_t hidlen, struct res *crs,
			    bool *is_buffer, uint64_t *elems, int *nelems)
{
	assert_ptr_lt(c->p, c->end);
	uint8_t op = *c->p++;
	uint64_t v = 0;
	switch (op) {
	case 0x00: return 0;
	case 0x01: return 1;
	case 0xFF: return ~0ull;
	case 0x0A: v = c->p[0]; c->p += 1; return v;
	case 0x0B: v = rd16(c->p); c->p += 2; return v;
	case 0x0C:
		v = rd32(c->p);
		c->p += 4;
		if (hid)
			decode_eisaid((uint32_t)v, hid);
		return v;
	case 0x0E: v = rd64(c->p); c->p += 8; return v;
	case 0x0D: {
		const uint8_t *z = memchr(c->p, 0, (size_t)(c->end - c->p));
		ck_assert_ptr_nonnull(z);
		if (hid)
			snprintf(hid, hidlen, "%.*s", (int)(z - c->p), (const char *)c->p);
		c->p = z + 1;
		return 0;
	}
	case 0x11: { /* Buffer */
		const uint8_t *end = pkg_end(c);
		struct cur in = { c->p, end };
		uint64_t size = data_object(&in, NULL, 0, NULL, NULL, NULL, NULL);
		ck_assert_uint_eq(size, (uint64_t)(end - in.p));
		if (crs)
			parse_resources(in.p, end, crs);
		if (is_buffer)
			*is_buffer = true;
		c->p = end;
		return 0;
	}
	case 0x12: { /* Package */
		const uint8_t *end = pkg_end(c);
		struct cur in = { c->p, end };
		int count = *in.p++;
		int n = 0;
		while (in.p < end) {
			uint64_t e = data_object(&in, NULL, 0, NULL, NULL, NULL, NULL);
			if (elems && n < 8)
				elems[n] = e;
			n++;
		}
		ck_assert_int_eq(n, count);
		if (nelems)
			*nelems = n;
		c->p = end;
		return 0;
	}
	}
	ck_abort_msg("unexpected AML data opcode 0x%02x", op);
	return 0;
}

static inline void term_list(struct cur *c, const char *scope, struct ns *ns, struct dev *dev)
{
	while (c->p < c->end) {
		uint8_t op = *c->p++;
		char name[64], path[128];
		if (op == 0x10 || (op == 0x5B && *c->p == 0x82)) {
			bool is_dev = op == 0x5B;
			if (is_dev)
				c->p++;
			const uint8_t *end = pkg_end(c);
			struct cur in = { c->p, end };
			name_string(&in, name, sizeof(name));
			snprintf(path, sizeof(path), "%s%s%s", name[0] == '\\' ? "" : scope,
				 name[0] == '\\' || !scope[0] ? "" : ".", name);
			struct dev *d = dev;
			if (is_dev) {
				ck_assert_int_lt(ns->ndev, 300);
				d = &ns->devs[ns->ndev++];
				memset(d, 0, sizeof(*d));
				snprintf(d->path, sizeof(d->path), "%s", path);
			}
			term_list(&in, path, ns, d);
			c->p = end;
		} else if (op == 0x08) {
			name_string(c, name, sizeof(name));
			if (dev && strcmp(name, "_HID") == 0) {
				data_object(c, dev->hid, sizeof(dev->hid), NULL, NULL, NULL, NULL);
			} else if (dev && strcmp(name, "_UID") == 0) {
				dev->has_uid = true;
				dev->uid = data_object(c, NULL, 0, NULL, NULL, NULL, NULL);
			} else if (dev && strcmp(name, "_CRS") == 0) {
				data_object(c, NULL, 0, &dev->crs, &dev->has_crs, NULL, NULL);
			} else if (strcmp(name, "\\_S5_") == 0) {
				ns->has_s5 = true;
				data_object(c, NULL, 0, NULL, NULL, ns->s5, &ns->s5_count);
			} else {
				data_object(c, NULL, 0, NULL, NULL, NULL, NULL);
			}
		} else {
			ck_abort_msg("unexpected AML opcode 0x%02x in %s", op, scope);
		}
	}
}

static inline void parse_dsdt(const uint8_t *dsdt, struct ns *ns)
{
	memset(ns, 0, sizeof(*ns));
	struct cur c = { dsdt + 36, dsdt + rd32(dsdt + 4) };
	term_list(&c, "", ns, NULL);
}

static inline const struct dev *ns_dev(const struct ns *ns, const char *path)
{
	for (int i = 0; i < ns->ndev; i++)
		if (strcmp(ns->devs[i].path, path) == 0)
			return &ns->devs[i];
	return NULL;
}

static inline bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return memmem(hay, n, needle, m) != NULL;
}

#endif
