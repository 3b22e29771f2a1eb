/* Typed cJSON getters with path-naming errors; see json_get.h. */
#include "config/json_get.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/utf8.h"

#define GOT_LEN 48
#define KEY_LEN 65 /* a key quoted in a path: 64 bytes, then "…" */

int jg_fail(struct jerr *e, const char *path, const char *key, const char *fmt, ...)
{
	char where[JG_PATH_LEN];
	va_list ap;

	if (key)
		jg_subpath(where, sizeof(where), path, key);
	else
		snprintf(where, sizeof(where), "%s", path);
	va_start(ap, fmt);
	err_vset(e->buf, e->len, fmt, ap);
	va_end(ap);
	return where[0] ? err_prefix(e->buf, e->len, "%s: ", where) : -1;
}

void jg_subpath(char *buf, size_t len, const char *path, const char *key)
{
	const char *sep = !path[0] ? "" : !strncmp(path, "--", 2) ? ": " : ".";

	char full[2 * JG_PATH_LEN];

	/* Keys come from the user (an unknown key is echoed): keep each short,
	 * and cut a deep path between characters too. */
	snprintf(full, sizeof(full), "%s%s%s", path, sep, UTF8_CLIP(key, KEY_LEN));
	utf8_clip(buf, len, full);
}

void jg_index(char *buf, size_t len, const char *path, size_t i)
{
	snprintf(buf, len, "%s[%zu]", path, i);
}

void jg_describe(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsObject(v)) {
		snprintf(buf, len, "an object");
	} else if (cJSON_IsArray(v)) {
		snprintf(buf, len, "an array");
	} else if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
		/* 1e999: strtod gives inf, which cJSON would print as null. */
		snprintf(buf, len, "a number out of range");
	} else if (cJSON_IsString(v) && strlen(v->valuestring) > GOT_LEN - 8) {
		/* Keep messages short: the string's start, cut between characters,
		 * then quoted and escaped as JSON. */
		jg_describe_str(UTF8_CLIP(v->valuestring, GOT_LEN - 7), buf, len);
	} else {
		char *p = cJSON_PrintUnformatted(v);

		/* Escaping can make it longer than buf: cut between characters. */
		utf8_clip(buf, len, p ? p : "?");
		cJSON_free(p);
	}
}

void jg_describe_str(const char *s, char *buf, size_t len)
{
	cJSON *v = cJSON_CreateString(s);

	if (v)
		jg_describe(v, buf, len);
	else
		snprintf(buf, len, "a string");
	cJSON_Delete(v);
}

/* One line of context from the error position, control chars blanked. */
static void near_text(const char *at, char *buf, size_t len)
{
	size_t i = 0;

	for (; at[i] && i + 1 < len && i < 24 && at[i] != '\n'; i++)
		buf[i] = isprint((unsigned char)at[i]) ? at[i] : ' ';
	buf[i] = 0;
}

/* cJSON decodes "\u0000" into a NUL that ends its C string, so "a\u0000b"
 * would quietly read as "a". Each such escape is replaced, in a copy, by
 * three overlong NULs (C0 80: six bytes like the escape, so error positions
 * stay right), which no valid UTF-8 text holds; check_text() turns them back
 * into NULs for utf8_check(). A backslash always starts a two-character
 * escape, so "\\u0000" (a backslash, then "u0000") is left alone. Returns
 * the copy, or NULL with *oom false when no escape needed it. */
static char *mark_nul_escapes(const char *text, bool *oom)
{
	char *copy;
	bool marked = false;

	*oom = false;
	if (!strstr(text, "\\u0000"))
		return NULL; /* the usual body: nothing to copy */
	if (!(copy = strdup(text))) {
		*oom = true;
		return NULL;
	}
	for (char *p = copy; *p; p++)
		if (*p == '\\' && !strncmp(p + 1, "u0000", 5))
			memcpy(p, "\xc0\x80\xc0\x80\xc0\x80", 6), p += 5, marked = true;
		else if (*p == '\\' && p[1])
			p++;
	if (!marked) { /* only "\\u0000": a backslash, then text */
		free(copy);
		return NULL;
	}
	return copy;
}

/* utf8_check() on a decoded string; `marked`: C0 80 stands for a NUL. */
static int check_text(const char *s, bool marked, char *why, size_t whylen)
{
	size_t n = strlen(s), m = 0;
	char *t;
	int rc;

	if (!marked || !strstr(s, "\xc0\x80"))
		return utf8_check(s, n, why, whylen);
	if (!(t = malloc(n)))
		return utf8_check(s, n, why, whylen); /* still refused, as 0xc0 */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] == 0xc0 && (unsigned char)s[i + 1] == 0x80)
			t[m++] = 0, i++;
		else
			t[m++] = s[i];
	}
	rc = utf8_check(t, m, why, whylen);
	free(t);
	return rc;
}

/* The text rule (base/utf8.h) on every key and string under v, naming the
 * first one that breaks it. */
static int check_strings(const cJSON *v, const char *path, bool marked, struct jerr *e)
{
	char why[96], sub[JG_PATH_LEN];
	size_t i = 0;

	for (const cJSON *c = v->child; c; c = c->next, i++) {
		if (cJSON_IsObject(v)) {
			if (check_text(c->string, marked, why, sizeof(why)))
				return jg_fail(e, path, NULL, "key \"%s\": %s",
					       UTF8_CLIP(c->string, KEY_LEN), why);
			jg_subpath(sub, sizeof(sub), path, c->string);
		} else {
			jg_index(sub, sizeof(sub), path, i);
		}
		if (cJSON_IsString(c) && check_text(c->valuestring, marked, why, sizeof(why)))
			return jg_fail(e, sub, NULL, "%s", why);
		if (c->child && check_strings(c, sub, marked, e))
			return -1;
	}
	return 0;
}

int jg_parse_object(const char *text, const char *what, cJSON **out, struct jerr *e)
{
	const char *end = NULL;
	bool oom;
	char *marked = mark_nul_escapes(text, &oom);
	const char *src = marked ? marked : text;
	/* The length includes the NUL: cJSON checks for it when asked to
	 * reject trailing garbage. */
	cJSON *j = oom ? NULL : cJSON_ParseWithLengthOpts(src, strlen(src) + 1, &end, 1);
	bool was_marked = marked != NULL;

	/* The copy has text's length: where cJSON stopped maps back by offset. */
	if (end && end >= src && end <= src + strlen(src))
		end = text + (end - src);
	else
		end = NULL;
	free(marked);
	if (oom)
		return jg_fail(e, what, NULL, "out of memory");
	if (!j) {
		unsigned line = 1, col = 1;
		char near[32];

		if (!end || end < text || end > text + strlen(text))
			end = text;
		for (const char *p = text; p < end; p++) {
			if (*p == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		near_text(end, near, sizeof(near));
		if (near[0])
			return jg_fail(e, what, NULL, "invalid JSON at line %u, column %u near '%s'",
				       line, col, near);
		return jg_fail(e, what, NULL,
			       "invalid JSON at line %u, column %u (at the end of the text)", line,
			       col);
	}
	if (!cJSON_IsObject(j)) {
		char got[64];

		jg_describe(j, got, sizeof(got));
		cJSON_Delete(j);
		return jg_fail(e, what, NULL, "expected a JSON object, got %s", got);
	}
	if (check_strings(j, what, was_marked, e)) {
		cJSON_Delete(j);
		return -1;
	}
	*out = j;
	return 0;
}

int jg_want_object(const cJSON *v, const char *path, struct jerr *e)
{
	char got[64];

	if (cJSON_IsObject(v))
		return 0;
	jg_describe(v, got, sizeof(got));
	return jg_fail(e, path, NULL, "expected an object, got %s", got);
}

static bool in_list(const char *k, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(k, *names))
			return true;
	return false;
}

int jg_check_keys(const cJSON *obj, const char *path, const char *const *allowed, struct jerr *e)
{
	for (const cJSON *it = obj->child; it; it = it->next) {
		if (!in_list(it->string, allowed)) {
			char list[256] = "";
			size_t n = 0;

			for (const char *const *a = allowed; *a && n < sizeof(list); a++)
				n += snprintf(list + n, sizeof(list) - n, "%s%s",
					      a == allowed ? "" : ", ", *a);
			return jg_fail(e, path, it->string, "unknown key (expected one of %s)", list);
		}
		/* Only allowed keys got here, so this scan stays short. */
		for (const cJSON *p = obj->child; p != it; p = p->next)
			if (!strcmp(p->string, it->string))
				return jg_fail(e, path, it->string, "key given twice");
	}
	return 0;
}

const cJSON *jg_get(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(v) ? NULL : v;
}

/* Shared front: NULL + 0 when absent and optional, -1 when absent and required. */
static int lookup(const cJSON *obj, const char *path, const char *key, unsigned flags,
		  const cJSON **v, struct jerr *e)
{
	*v = jg_get(obj, key);
	if (*v)
		return 1;
	if (flags & JG_REQUIRED)
		return jg_fail(e, path, key, "required field is missing");
	return 0;
}

bool jg_parse_u64(const char *s, int base, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (base == 16 && (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2)))
		s += 2;
	/* strtoull accepts leading space, signs and its own 0x: refuse them. */
	if (!isxdigit((unsigned char)s[0]) || (base == 10 && !isdigit((unsigned char)s[0])))
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || (base == 16 && (s[1] == 'x' || s[1] == 'X')))
		return false;
	*out = v;
	return true;
}

int jg_uint(const cJSON *obj, const char *path, const char *key, unsigned flags, uint64_t min,
	    uint64_t max, uint64_t *out, struct jerr *e)
{
	const cJSON *v;
	int r = lookup(obj, path, key, flags, &v, e);
	char got[64];
	uint64_t val;

	if (r <= 0)
		return r;
	if (max > JG_MAX_EXACT)
		max = JG_MAX_EXACT;
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		/* NaN and inf fail the range test; then the cast is defined. */
		if (d >= (double)min && d <= (double)max && (double)(uint64_t)d == d) {
			*out = (uint64_t)d;
			return 1;
		}
	} else if ((flags & JG_HEXSTR) && cJSON_IsString(v) &&
		   (!strncmp(v->valuestring, "0x", 2) || !strncmp(v->valuestring, "0X", 2)) &&
		   jg_parse_u64(v->valuestring, 16, &val) && val >= min && val <= max) {
		*out = val;
		return 1;
	}
	jg_describe(v, got, sizeof(got));
	return jg_fail(e, path, key, "expected an integer in %llu..%llu%s, got %s",
		       (unsigned long long)min, (unsigned long long)max,
		       (flags & JG_HEXSTR) ? " or a hex string like \"0xc0\"" : "", got);
}

int jg_bool(const cJSON *obj, const char *path, const char *key, unsigned flags, bool *out,
	    struct jerr *e)
{
	const cJSON *v;
	int r = lookup(obj, path, key, flags, &v, e);
	char got[64];

	if (r <= 0)
		return r;
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v);
		return 1;
	}
	jg_describe(v, got, sizeof(got));
	return jg_fail(e, path, key, "expected true or false, got %s", got);
}

int jg_str(const cJSON *obj, const char *path, const char *key, unsigned flags, char **out,
	   struct jerr *e)
{
	const cJSON *v;
	int r = lookup(obj, path, key, flags, &v, e);
	char got[64];
	char *copy;

	if (r <= 0)
		return r;
	if (!cJSON_IsString(v)) {
		jg_describe(v, got, sizeof(got));
		return jg_fail(e, path, key, "expected a string, got %s", got);
	}
	if ((flags & JG_NONEMPTY) && !v->valuestring[0])
		return jg_fail(e, path, key, "expected a non-empty string, got \"\"");
	copy = strdup(v->valuestring);
	if (!copy)
		return jg_fail(e, path, key, "out of memory");
	free(*out);
	*out = copy;
	return 1;
}

int jg_enum(const cJSON *obj, const char *path, const char *key, unsigned flags,
	    const char *const *names, int *out, struct jerr *e)
{
	const cJSON *v;
	int r = lookup(obj, path, key, flags, &v, e);
	char got[64], list[200] = "";
	size_t n = 0;

	if (r <= 0)
		return r;
	if (cJSON_IsString(v)) {
		for (int i = 0; names[i]; i++) {
			if (!strcasecmp(v->valuestring, names[i])) {
				*out = i;
				return 1;
			}
		}
	}
	for (int i = 0; names[i] && n < sizeof(list); i++)
		n += snprintf(list + n, sizeof(list) - n, "%s\"%s\"", i ? ", " : "", names[i]);
	jg_describe(v, got, sizeof(got));
	return jg_fail(e, path, key, "expected one of %s, got %s", list, got);
}

int jg_array(const cJSON *obj, const char *path, const char *key, unsigned flags, size_t max,
	     const char *what, const cJSON **out, struct jerr *e)
{
	const cJSON *v;
	int r = lookup(obj, path, key, flags, &v, e);
	char got[64];
	size_t n;

	if (r <= 0)
		return r;
	if (!cJSON_IsArray(v)) {
		jg_describe(v, got, sizeof(got));
		return jg_fail(e, path, key, "expected an array, got %s", got);
	}
	n = (size_t)cJSON_GetArraySize(v);
	if (n > max)
		return jg_fail(e, path, key, "at most %zu %s, got %zu", max, what, n);
	*out = v;
	return 1;
}

bool jg_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		char hex[3] = {p[0], p[1], 0};

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return false;
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return true;
}
