#include "boot/aml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes and prefixes (ACPI 6.x, section 20 "ACPI Machine Language"). */
enum {
	AML_ZERO_OP = 0x00,
	AML_ONE_OP = 0x01,
	AML_NAME_OP = 0x08,
	AML_BYTE_PREFIX = 0x0A,
	AML_WORD_PREFIX = 0x0B,
	AML_DWORD_PREFIX = 0x0C,
	AML_STRING_PREFIX = 0x0D,
	AML_QWORD_PREFIX = 0x0E,
	AML_SCOPE_OP = 0x10,
	AML_BUFFER_OP = 0x11,
	AML_PACKAGE_OP = 0x12,
	AML_DUAL_NAME_PREFIX = 0x2E,
	AML_MULTI_NAME_PREFIX = 0x2F,
	AML_EXT_OP_PREFIX = 0x5B,
	AML_DEVICE_OP = 0x82, /* after AML_EXT_OP_PREFIX */
	AML_ROOT_CHAR = 0x5C,
	AML_PARENT_PREFIX = 0x5E,
};

/* Resource descriptor tags (ACPI 6.x, section 6.4). */
enum {
	RES_IRQ_NOFLAGS = 0x22,   /* small, type 4, length 2 */
	RES_IO = 0x47,            /* small, type 8, length 7 */
	RES_END_TAG = 0x79,       /* small, type 15, length 1 */
	RES_MEM32_FIXED = 0x86,   /* large, type 6 */
	RES_EXT_IRQ = 0x89,       /* large, type 9 */
};

enum aml_block_kind { BLK_SCOPE = 1, BLK_DEVICE, BLK_PACKAGE, BLK_RESTEMPLATE };

static const char *block_name(int kind)
{
	switch (kind) {
	case BLK_SCOPE: return "Scope";
	case BLK_DEVICE: return "Device";
	case BLK_PACKAGE: return "Package";
	case BLK_RESTEMPLATE: return "ResourceTemplate";
	}
	return "nothing";
}

__attribute__((format(printf, 2, 3)))
static void fail(struct aml *a, const char *fmt, ...)
{
	if (a->failed)
		return;
	a->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
}

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}

int aml_finish(struct aml *a)
{
	if (!a->failed && a->depth != 0)
		fail(a, "AML: %s block left open", block_name(a->open[a->depth - 1].kind));
	return a->failed ? -1 : 0;
}

static bool reserve(struct aml *a, size_t n)
{
	if (a->failed)
		return false;
	if (n <= a->cap - a->len)
		return true;
	size_t cap = a->cap ? a->cap : 256;
	while (cap - a->len < n) {
		if (cap > SIZE_MAX / 2) {
			fail(a, "AML: buffer size overflow");
			return false;
		}
		cap *= 2;
	}
	uint8_t *p = realloc(a->data, cap);
	if (!p) {
		fail(a, "AML: out of memory growing to %zu bytes", cap);
		return false;
	}
	a->data = p;
	a->cap = cap;
	return true;
}

static void emit(struct aml *a, const void *bytes, size_t n)
{
	if (!reserve(a, n))
		return;
	memcpy(a->data + a->len, bytes, n);
	a->len += n;
}

static void emit1(struct aml *a, uint8_t b)
{
	emit(a, &b, 1);
}

static void emit_le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];
	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	emit(a, b, (size_t)n);
}

static int top_kind(const struct aml *a)
{
	return a->depth ? a->open[a->depth - 1].kind : 0;
}

/* Every data object counts as one element of an enclosing Package. */
static void data_object(struct aml *a)
{
	if (top_kind(a) == BLK_PACKAGE)
		a->open[a->depth - 1].count++;
}

static bool not_in_restemplate(struct aml *a, const char *what)
{
	if (top_kind(a) == BLK_RESTEMPLATE) {
		fail(a, "AML: %s inside a ResourceTemplate (only resource descriptors belong there)", what);
		return false;
	}
	return true;
}

int aml_pkglen_encode(size_t content, uint8_t out[4])
{
	/* The encoded length counts the PkgLength bytes themselves. A one-byte
	 * PkgLength holds 6 bits; each extra byte adds 8 bits above a 4-bit
	 * nibble in the lead byte. */
	for (int n = 1; n <= 4; n++) {
		size_t limit = n == 1 ? 0x3F : ((size_t)1 << (4 + 8 * (n - 1))) - 1;
		if (content > limit || content + (size_t)n > limit)
			continue;
		size_t total = content + (size_t)n;
		if (n == 1) {
			out[0] = (uint8_t)total;
		} else {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xF));
			for (int i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		}
		return n;
	}
	return 0;
}

static void insert(struct aml *a, size_t at, const uint8_t *bytes, size_t n)
{
	if (!reserve(a, n))
		return;
	memmove(a->data + at + n, a->data + at, a->len - at);
	memcpy(a->data + at, bytes, n);
	a->len += n;
}

/* Reserve 4 bytes for the PkgLength; close_block() shrinks them to the
 * minimal encoding once the content size is known. */
static void open_block(struct aml *a, int kind)
{
	if (a->failed)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		fail(a, "AML: blocks nested deeper than %d", AML_MAX_DEPTH);
		return;
	}
	a->open[a->depth].kind = (uint8_t)kind;
	a->open[a->depth].pkglen_at = a->len;
	a->open[a->depth].count = 0;
	a->depth++;
	emit(a, "\0\0\0\0", 4);
}

static void close_block(struct aml *a, int kind)
{
	if (a->failed)
		return;
	if (top_kind(a) != kind) {
		fail(a, "AML: %s end without a matching begin (innermost open block: %s)",
		     block_name(kind), block_name(top_kind(a)));
		return;
	}
	size_t at = a->open[a->depth - 1].pkglen_at;
	size_t content = a->len - (at + 4);
	uint8_t enc[4];
	int n = aml_pkglen_encode(content, enc);
	if (n == 0) {
		fail(a, "AML: %s of %zu bytes exceeds the 256 MiB AML package limit",
		     block_name(kind), content);
		return;
	}
	memmove(a->data + at + n, a->data + at + 4, content);
	memcpy(a->data + at, enc, (size_t)n);
	a->len -= (size_t)(4 - n);
	a->depth--;
}

static bool valid_seg_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static void emit_namestring(struct aml *a, const char *path)
{
	if (a->failed)
		return;
	if (!path) {
		fail(a, "AML: NULL name");
		return;
	}
	const char *p = path;
	if (*p == '\\') {
		emit1(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			emit1(a, AML_PARENT_PREFIX);
			p++;
		}
	}

	char segs[255][4];
	size_t nseg = 0;
	while (*p) {
		size_t n = strcspn(p, ".");
		if (n == 0 || n > 4) {
			fail(a, "AML: name \"%s\": segment of %zu characters (1-4 allowed)", path, n);
			return;
		}
		if (nseg == 255) {
			fail(a, "AML: name \"%s\" has more than 255 segments", path);
			return;
		}
		for (size_t i = 0; i < 4; i++) {
			char c = i < n ? p[i] : '_';
			if (!valid_seg_char(c, i == 0)) {
				fail(a, "AML: name \"%s\": invalid character '%c' (use A-Z, 0-9, _; not a digit first)",
				     path, c);
				return;
			}
			segs[nseg][i] = c;
		}
		nseg++;
		p += n;
		if (*p == '.') {
			p++;
			if (!*p) {
				fail(a, "AML: name \"%s\" ends with '.'", path);
				return;
			}
		}
	}

	if (nseg == 0) {
		emit1(a, 0x00); /* NullName: "\" alone */
	} else if (nseg == 2) {
		emit1(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		emit1(a, AML_MULTI_NAME_PREFIX);
		emit1(a, (uint8_t)nseg);
	}
	emit(a, segs, nseg * 4);
}

void aml_scope_begin(struct aml *a, const char *path)
{
	if (!not_in_restemplate(a, "Scope"))
		return;
	emit1(a, AML_SCOPE_OP);
	open_block(a, BLK_SCOPE);
	emit_namestring(a, path);
}

void aml_scope_end(struct aml *a)
{
	close_block(a, BLK_SCOPE);
}

void aml_device_begin(struct aml *a, const char *path)
{
	if (!not_in_restemplate(a, "Device"))
		return;
	emit1(a, AML_EXT_OP_PREFIX);
	emit1(a, AML_DEVICE_OP);
	open_block(a, BLK_DEVICE);
	emit_namestring(a, path);
}

void aml_device_end(struct aml *a)
{
	close_block(a, BLK_DEVICE);
}

void aml_name(struct aml *a, const char *path)
{
	if (!not_in_restemplate(a, "Name"))
		return;
	if (top_kind(a) == BLK_PACKAGE) {
		fail(a, "AML: Name inside a Package");
		return;
	}
	emit1(a, AML_NAME_OP);
	emit_namestring(a, path);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (!not_in_restemplate(a, "Integer"))
		return;
	data_object(a);
	if (v == 0) {
		emit1(a, AML_ZERO_OP);
	} else if (v == 1) {
		emit1(a, AML_ONE_OP);
	} else if (v <= 0xFF) {
		emit1(a, AML_BYTE_PREFIX);
		emit_le(a, v, 1);
	} else if (v <= 0xFFFF) {
		emit1(a, AML_WORD_PREFIX);
		emit_le(a, v, 2);
	} else if (v <= 0xFFFFFFFF) {
		emit1(a, AML_DWORD_PREFIX);
		emit_le(a, v, 4);
	} else {
		/* Needs a revision >= 2 definition block (64-bit integers). */
		emit1(a, AML_QWORD_PREFIX);
		emit_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	if (!not_in_restemplate(a, "String"))
		return;
	if (!s) {
		fail(a, "AML: NULL string");
		return;
	}
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c > 0x7F) {
			fail(a, "AML: string \"%s\" is not ASCII", s);
			return;
		}
	}
	data_object(a);
	emit1(a, AML_STRING_PREFIX);
	emit(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int aml_eisaid_encode(const char *id, uint32_t *out)
{
	if (!id || strlen(id) != 7)
		return -1;
	uint16_t vendor = 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -1;
		vendor = (uint16_t)((vendor << 5) | (id[i] - 0x40));
	}
	uint16_t product = 0;
	for (int i = 3; i < 7; i++) {
		int h = hexval(id[i]);
		if (h < 0)
			return -1;
		product = (uint16_t)((product << 4) | h);
	}
	/* Both halves are stored big-endian inside the little-endian dword. */
	*out = (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xFF) << 8 |
	       (uint32_t)(product >> 8) << 16 | (uint32_t)(product & 0xFF) << 24;
	return 0;
}

void aml_eisaid(struct aml *a, const char *id)
{
	if (!not_in_restemplate(a, "EisaId"))
		return;
	uint32_t v;
	if (aml_eisaid_encode(id, &v) != 0) {
		fail(a, "AML: EISAID \"%s\" is not three letters A-Z and four hex digits (e.g. PNP0501)",
		     id ? id : "(null)");
		return;
	}
	data_object(a);
	emit1(a, AML_DWORD_PREFIX);
	emit_le(a, v, 4);
}

void aml_package_begin(struct aml *a)
{
	if (!not_in_restemplate(a, "Package"))
		return;
	data_object(a);
	emit1(a, AML_PACKAGE_OP);
	open_block(a, BLK_PACKAGE);
	emit1(a, 0); /* NumElements, patched at the end */
}

void aml_package_end(struct aml *a)
{
	if (a->failed)
		return;
	if (top_kind(a) == BLK_PACKAGE) {
		unsigned count = a->open[a->depth - 1].count;
		if (count > 255) {
			fail(a, "AML: Package of %u elements (at most 255)", count);
			return;
		}
		a->data[a->open[a->depth - 1].pkglen_at + 4] = (uint8_t)count;
	}
	close_block(a, BLK_PACKAGE);
}

void aml_name_integer(struct aml *a, const char *path, uint64_t v)
{
	aml_name(a, path);
	aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *path, const char *s)
{
	aml_name(a, path);
	aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *path, const char *id)
{
	aml_name(a, path);
	aml_eisaid(a, id);
}

void aml_restemplate_begin(struct aml *a)
{
	if (!not_in_restemplate(a, "ResourceTemplate"))
		return;
	data_object(a);
	emit1(a, AML_BUFFER_OP);
	open_block(a, BLK_RESTEMPLATE);
}

void aml_restemplate_end(struct aml *a)
{
	if (a->failed)
		return;
	if (top_kind(a) != BLK_RESTEMPLATE) {
		close_block(a, BLK_RESTEMPLATE); /* reports the mismatch */
		return;
	}
	/* Checksum 0 in the End Tag means "treat as valid". */
	emit1(a, RES_END_TAG);
	emit1(a, 0);

	/* BufferSize is an integer term placed before the bytes; its size is
	 * only known now. */
	size_t start = a->open[a->depth - 1].pkglen_at + 4;
	size_t nbytes = a->len - start;
	uint8_t sz[5];
	size_t szlen;
	if (nbytes <= 0xFF) {
		sz[0] = AML_BYTE_PREFIX;
		sz[1] = (uint8_t)nbytes;
		szlen = 2;
	} else if (nbytes <= 0xFFFF) {
		sz[0] = AML_WORD_PREFIX;
		sz[1] = (uint8_t)nbytes;
		sz[2] = (uint8_t)(nbytes >> 8);
		szlen = 3;
	} else {
		sz[0] = AML_DWORD_PREFIX;
		for (int i = 0; i < 4; i++)
			sz[1 + i] = (uint8_t)(nbytes >> (8 * i));
		szlen = 5;
	}
	insert(a, start, sz, szlen);
	close_block(a, BLK_RESTEMPLATE);
}

static bool in_restemplate(struct aml *a, const char *what)
{
	if (a->failed)
		return false;
	if (top_kind(a) != BLK_RESTEMPLATE) {
		fail(a, "AML: %s descriptor outside a ResourceTemplate", what);
		return false;
	}
	return true;
}

void aml_res_mem32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t size)
{
	if (!in_restemplate(a, "Memory32Fixed"))
		return;
	emit1(a, RES_MEM32_FIXED);
	emit_le(a, 9, 2);
	emit1(a, writable ? 1 : 0);
	emit_le(a, base, 4);
	emit_le(a, size, 4);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	if (!in_restemplate(a, "IO"))
		return;
	if (min > max) {
		fail(a, "AML: IO descriptor with minimum 0x%x above maximum 0x%x", min, max);
		return;
	}
	emit1(a, RES_IO);
	emit1(a, 1); /* decodes 16 address bits */
	emit_le(a, min, 2);
	emit_le(a, max, 2);
	emit1(a, align);
	emit1(a, len);
}

void aml_res_irq_noflags(struct aml *a, uint8_t irq)
{
	if (!in_restemplate(a, "IRQNoFlags"))
		return;
	if (irq > 15) {
		fail(a, "AML: IRQNoFlags with IRQ %u (ISA IRQs are 0-15; use Interrupt)", irq);
		return;
	}
	emit1(a, RES_IRQ_NOFLAGS);
	emit_le(a, 1u << irq, 2);
}

void aml_res_interrupt(struct aml *a, bool consumer, bool edge, bool active_low,
		       bool shared, uint32_t gsi)
{
	if (!in_restemplate(a, "Interrupt"))
		return;
	emit1(a, RES_EXT_IRQ);
	emit_le(a, 6, 2); /* flags + table length + one 32-bit interrupt */
	emit1(a, (uint8_t)((consumer ? 1 : 0) | (edge ? 2 : 0) | (active_low ? 4 : 0) |
			   (shared ? 8 : 0)));
	emit1(a, 1);
	emit_le(a, gsi, 4);
}
