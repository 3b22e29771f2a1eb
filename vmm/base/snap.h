/* Snapshot state streams: how every module writes its state into a snapshot
 * and reads it back (issue 14; the file layout is in docs/snapshot.md).
 *
 * Contract. A snapshot's state is a sequence of sections. Each section is
 *   tag (4 ASCII bytes) | version (u32) | length (u64) | payload (length bytes)
 * all little-endian. One module owns each tag ("VCPU", "UART", "VIRT" ...),
 * writes its payload with the snap_put_* calls between snap_section_begin()
 * and snap_section_end(), and reads it back with the snap_get_* calls from
 * the reader that snap_section_find() gives it. A module bumps its section's
 * version when its payload changes and refuses versions it does not know.
 *
 * Writer (struct snap_w): grows in memory; an allocation failure is sticky
 * (w->oom) and the caller checks it once at the end.
 * Reader (struct snap_r): every get is bounds-checked; reading past the end
 * of the section (a truncated or corrupt snapshot) is sticky (r->bad), gets
 * then return 0 / fill zeroes, and snap_r_done() turns it, or bytes left
 * unread, into an error naming the section. So a restore function reads
 * everything, checks values it relies on (ranges, indices) itself, and ends
 * with `return snap_r_done(r, err, errlen);`. Nothing here allocates on read.
 */
#ifndef MPVM_SNAP_H
#define MPVM_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_w {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
};

struct snap_r {
	const uint8_t *p;
	size_t len, off;
	bool bad;
	char tag[5]; /* the section, for messages */
	uint32_t version;
	const char *why; /* snap_r_fail()'s reason (a static string) */
};

/* The byte order of every snapshot number: n (1..8) bytes little-endian at
 * p. For fixed layouts around the stream (the file header). */
void snap_le_put(uint8_t *p, uint64_t v, int n);
uint64_t snap_le_get(const uint8_t *p, int n);

void snap_w_init(struct snap_w *w);
void snap_w_free(struct snap_w *w);
/* Starts a section; returns the mark snap_section_end() needs. */
size_t snap_section_begin(struct snap_w *w, const char tag[4], uint32_t version);
void snap_section_end(struct snap_w *w, size_t mark);
void snap_put_u8(struct snap_w *w, uint8_t v);
void snap_put_u16(struct snap_w *w, uint16_t v);
void snap_put_u32(struct snap_w *w, uint32_t v);
void snap_put_u64(struct snap_w *w, uint64_t v);
static inline void snap_put_bool(struct snap_w *w, bool v) { snap_put_u8(w, v ? 1 : 0); }
void snap_put_bytes(struct snap_w *w, const void *p, size_t n);
/* A length-prefixed (u32) byte string; NULL is written as length 0. */
void snap_put_str(struct snap_w *w, const char *s);

/* A reader over a whole state stream (the sections back to back). */
void snap_r_init(struct snap_r *r, const void *p, size_t len);
/* Check that the stream is a well-formed sequence of sections (each header
 * complete, each length inside the stream). 0, or -1 with err set. */
int snap_stream_check(const void *p, size_t len, char *err, size_t errlen);
/* The n-th (0-based) section with `tag` in a checked stream: 0 and *sec set,
 * or -1 when there is none (err says which tag was missing). */
int snap_section_find(const void *p, size_t len, const char tag[4], unsigned n,
		      struct snap_r *sec, char *err, size_t errlen);
/* snap_section_find() for a reader that knows one version of its payload:
 * a section of another version is refused ("snapshot section VCPU #1 is
 * version 2; this mpvm reads version 1: ..."). The one home of the rule
 * that a module refuses versions it does not know. */
int snap_section_open(const void *p, size_t len, const char tag[4], unsigned n,
		      uint32_t version, struct snap_r *sec, char *err, size_t errlen);
/* How many sections with `tag` a checked stream holds. */
unsigned snap_section_count(const void *p, size_t len, const char tag[4]);

uint8_t snap_get_u8(struct snap_r *r);
uint16_t snap_get_u16(struct snap_r *r);
uint32_t snap_get_u32(struct snap_r *r);
uint64_t snap_get_u64(struct snap_r *r);
/* Any non-zero byte is true; 2..255 marks the reader bad (corrupt). */
bool snap_get_bool(struct snap_r *r);
/* Copies n bytes (zeroes when short). */
void snap_get_bytes(struct snap_r *r, void *out, size_t n);
/* A string written by snap_put_str into out (cap bytes incl. NUL); too long
 * for out, or holding a NUL, marks the reader bad. */
void snap_get_str(struct snap_r *r, char *out, size_t cap);
/* A value the caller found invalid: marks the reader bad and records why. */
void snap_r_fail(struct snap_r *r, const char *why);
/* 0 if the section was read cleanly and completely; else -1 with err
 * "snapshot section UART (v1): truncated at byte 12 of 10" or the reason
 * snap_r_fail() recorded. */
int snap_r_done(struct snap_r *r, char *err, size_t errlen);

#endif
