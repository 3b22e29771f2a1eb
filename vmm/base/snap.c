/* Snapshot state streams (snap.h): little-endian, bounds-checked. */
#include "base/snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define SNAP_HDR 16 /* tag 4 + version 4 + length 8 */

void snap_w_init(struct snap_w *w)
{
	memset(w, 0, sizeof(*w));
}

void snap_w_free(struct snap_w *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static uint8_t *w_room(struct snap_w *w, size_t n)
{
	if (w->oom)
		return NULL;
	if (n > SIZE_MAX / 2 - w->len) {
		w->oom = true;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

void snap_le_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t snap_le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le(struct snap_w *w, uint64_t v, int n)
{
	uint8_t *p = w_room(w, (size_t)n);
	if (p)
		snap_le_put(p, v, n);
}

void snap_put_u8(struct snap_w *w, uint8_t v) { put_le(w, v, 1); }
void snap_put_u16(struct snap_w *w, uint16_t v) { put_le(w, v, 2); }
void snap_put_u32(struct snap_w *w, uint32_t v) { put_le(w, v, 4); }
void snap_put_u64(struct snap_w *w, uint64_t v) { put_le(w, v, 8); }

void snap_put_bytes(struct snap_w *w, const void *p, size_t n)
{
	uint8_t *d = w_room(w, n);
	if (d && n)
		memcpy(d, p, n);
}

void snap_put_str(struct snap_w *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	snap_put_u32(w, (uint32_t)n);
	snap_put_bytes(w, s, n);
}

size_t snap_section_begin(struct snap_w *w, const char tag[4], uint32_t version)
{
	size_t mark = w->len;
	snap_put_bytes(w, tag, 4);
	snap_put_u32(w, version);
	snap_put_u64(w, 0); /* the length, filled in by snap_section_end() */
	return mark;
}

void snap_section_end(struct snap_w *w, size_t mark)
{
	if (w->oom || mark + SNAP_HDR > w->len)
		return;
	snap_le_put(w->buf + mark + 8, w->len - mark - SNAP_HDR, 8);
}

void snap_r_init(struct snap_r *r, const void *p, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->len = len;
	memcpy(r->tag, "----", 5);
}

static void tag_text(char out[5], const uint8_t *t)
{
	for (int i = 0; i < 4; i++)
		out[i] = (t[i] >= 0x20 && t[i] < 0x7f) ? (char)t[i] : '?';
	out[4] = 0;
}

int snap_stream_check(const void *p, size_t len, char *err, size_t errlen)
{
	const uint8_t *b = p;
	size_t off = 0;
	while (off < len) {
		if (len - off < SNAP_HDR)
			FAIL("snapshot state: a section header at byte %zu is cut short "
			     "(%zu bytes left); the file is truncated or corrupt", off, len - off);
		uint64_t n = snap_le_get(b + off + 8, 8);
		if (n > len - off - SNAP_HDR) {
			char t[5];
			tag_text(t, b + off);
			FAIL("snapshot state: section %s at byte %zu claims %llu bytes, only %zu "
			     "remain; the file is truncated or corrupt", t, off,
			     (unsigned long long)n, len - off - SNAP_HDR);
		}
		off += SNAP_HDR + (size_t)n;
	}
	return 0;
}

int snap_section_find(const void *p, size_t len, const char tag[4], unsigned n,
		      struct snap_r *sec, char *err, size_t errlen)
{
	const uint8_t *b = p;
	size_t off = 0;
	while (off + SNAP_HDR <= len) {
		uint64_t sz = snap_le_get(b + off + 8, 8);
		if (sz > len - off - SNAP_HDR)
			break;
		if (!memcmp(b + off, tag, 4) && n-- == 0) {
			snap_r_init(sec, b + off + SNAP_HDR, (size_t)sz);
			tag_text(sec->tag, b + off);
			sec->version = (uint32_t)snap_le_get(b + off + 4, 4);
			return 0;
		}
		off += SNAP_HDR + (size_t)sz;
	}
	char t[5];
	tag_text(t, (const uint8_t *)tag);
	FAIL("snapshot state: no section %s; the snapshot was made by a VM with "
	     "different devices, or it is corrupt", t);
}

int snap_section_open(const void *p, size_t len, const char tag[4], unsigned n,
		      uint32_t version, struct snap_r *sec, char *err, size_t errlen)
{
	if (snap_section_find(p, len, tag, n, sec, err, errlen))
		return -1;
	if (sec->version == version)
		return 0;
	char num[16] = "";
	if (n)
		snprintf(num, sizeof(num), " #%u", n);
	FAIL("snapshot section %s%s is version %u; this mpvm reads version %u: the snapshot "
	     "was made by another mpvm", sec->tag, num, sec->version, version);
}

unsigned snap_section_count(const void *p, size_t len, const char tag[4])
{
	const uint8_t *b = p;
	size_t off = 0;
	unsigned count = 0;
	while (off + SNAP_HDR <= len) {
		uint64_t sz = snap_le_get(b + off + 8, 8);
		if (sz > len - off - SNAP_HDR)
			break;
		if (!memcmp(b + off, tag, 4))
			count++;
		off += SNAP_HDR + (size_t)sz;
	}
	return count;
}

static const uint8_t *r_take(struct snap_r *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		if (!r->bad)
			r->off = r->len + 1; /* remembered as "ran past the end" */
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t get_le(struct snap_r *r, int n)
{
	const uint8_t *p = r_take(r, (size_t)n);
	return p ? snap_le_get(p, n) : 0;
}

uint8_t snap_get_u8(struct snap_r *r) { return (uint8_t)get_le(r, 1); }
uint16_t snap_get_u16(struct snap_r *r) { return (uint16_t)get_le(r, 2); }
uint32_t snap_get_u32(struct snap_r *r) { return (uint32_t)get_le(r, 4); }
uint64_t snap_get_u64(struct snap_r *r) { return get_le(r, 8); }

bool snap_get_bool(struct snap_r *r)
{
	uint8_t v = snap_get_u8(r);
	if (v > 1)
		snap_r_fail(r, "a boolean that is neither 0 nor 1");
	return v != 0;
}

void snap_get_bytes(struct snap_r *r, void *out, size_t n)
{
	const uint8_t *p = r_take(r, n);
	if (p)
		memcpy(out, p, n);
	else if (n)
		memset(out, 0, n);
}

void snap_get_str(struct snap_r *r, char *out, size_t cap)
{
	uint32_t n = snap_get_u32(r);
	if (cap)
		out[0] = 0;
	if (r->bad)
		return;
	if ((size_t)n >= cap) {
		snap_r_fail(r, "a string longer than its field");
		return;
	}
	const uint8_t *p = r_take(r, n);
	if (!p)
		return;
	if (memchr(p, 0, n)) {
		snap_r_fail(r, "a string holding a NUL");
		return;
	}
	memcpy(out, p, n);
	out[n] = 0;
}

void snap_r_fail(struct snap_r *r, const char *why)
{
	if (!r->bad)
		r->why = why;
	r->bad = true;
}

int snap_r_done(struct snap_r *r, char *err, size_t errlen)
{
	if (r->bad && r->why)
		FAIL("snapshot section %s (v%u): %s; the snapshot is corrupt or was made by "
		     "another mpvm", r->tag, r->version, r->why);
	if (r->bad)
		FAIL("snapshot section %s (v%u): truncated (%zu bytes hold less than the "
		     "section's state); the snapshot is corrupt", r->tag, r->version, r->len);
	if (r->off != r->len)
		FAIL("snapshot section %s (v%u): %zu bytes left unread of %zu; the snapshot "
		     "is corrupt or was made by another mpvm", r->tag, r->version,
		     r->len - r->off, r->len);
	return 0;
}
