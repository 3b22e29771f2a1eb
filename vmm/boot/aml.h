/* A tiny AML (ACPI Machine Language) byte-code emitter for the DSDT.
 *
 * Contract: covers the declarative subset mpvm needs and nothing more: Scope,
 * Device, Name, Package, integers, strings, EISAID, and ResourceTemplate
 * buffers with Memory32Fixed, IO, IRQNoFlags and Interrupt (extended IRQ)
 * descriptors. No methods, no operators. Blocks are opened with *_begin and
 * closed with *_end; the emitter computes every PkgLength, the Package
 * element count and the Buffer size when a block is closed.
 *
 * Errors are sticky: the first bad argument (invalid name segment, IRQ out of
 * range, descriptor outside a ResourceTemplate, unbalanced end, out of
 * memory) marks the buffer failed, records a message in `err`, and turns
 * every later call into a no-op. Check once with aml_finish() at the end.
 */
#ifndef MPVM_AML_H
#define MPVM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *data;
	size_t len, cap;
	int depth;
	struct {
		uint8_t kind;     /* enum aml_block_kind (aml.c) */
		size_t pkglen_at; /* offset of the reserved PkgLength bytes */
		unsigned count;   /* Package: elements emitted so far */
	} open[AML_MAX_DEPTH];
	bool failed;
	char err[160];
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

/* 0 when every block is closed and no error happened; otherwise -1 with the
 * reason in a->err. */
int aml_finish(struct aml *a);

/* Name paths are written as in ASL: "\\_SB_.COM1", "_HID", "VR00". A segment
 * shorter than 4 characters is padded with '_' ("_S5" -> "_S5_"). */
void aml_scope_begin(struct aml *a, const char *path);
void aml_scope_end(struct aml *a);
void aml_device_begin(struct aml *a, const char *path);
void aml_device_end(struct aml *a);

/* NameOp + name; the next emitted object is the value. */
void aml_name(struct aml *a, const char *path);

/* Data objects (values of a Name, or elements of a Package). */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* "PNP0501" -> compressed 32-bit EISA id. */
void aml_eisaid(struct aml *a, const char *id);
void aml_package_begin(struct aml *a);
void aml_package_end(struct aml *a);

/* Shorthands for the usual Name(X, value) forms. */
void aml_name_integer(struct aml *a, const char *path, uint64_t v);
void aml_name_string(struct aml *a, const char *path, const char *s);
void aml_name_eisaid(struct aml *a, const char *path, const char *id);

/* ResourceTemplate () { ... }: a Buffer closed by an End Tag. */
void aml_restemplate_begin(struct aml *a);
void aml_restemplate_end(struct aml *a);
void aml_res_mem32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t size);
/* IO (Decode16, min, max, align, len) */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags () { irq }: ISA IRQ 0-15, edge, active high, exclusive. */
void aml_res_irq_noflags(struct aml *a, uint8_t irq);
/* Interrupt (consumer?, edge?, active_low?, shared?) { gsi } */
void aml_res_interrupt(struct aml *a, bool consumer, bool edge, bool active_low,
		       bool shared, uint32_t gsi);

/* Encoders exposed for unit tests. aml_pkglen_encode() writes the PkgLength
 * for a block whose content (after the PkgLength) is `content` bytes and
 * returns its size (1-4), or 0 if the block is too large for AML. */
int aml_pkglen_encode(size_t content, uint8_t out[4]);
/* 0 and -1 if `id` is not three letters A-Z followed by four hex digits. */
int aml_eisaid_encode(const char *id, uint32_t *out);

#endif
