/* The error helper (base/err.h). */
#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_vset(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	return -1;
}

int err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int err_prefix(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return -1;
	char *old = strdup(err);
	if (!old)
		return -1; /* out of memory: the message stays as it was */
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, "%s", old);
	free(old);
	return -1;
}

int err_append(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return -1;
	size_t n = strnlen(err, errlen);
	if (n + 1 < errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

const char *err_errno(int e, char *buf, size_t len)
{
	const char *name = strerrorname_np(e);
	char tmp[128];
	const char *text = strerror_r(e, tmp, sizeof(tmp)); /* GNU: may not use tmp */
	if (name)
		snprintf(buf, len, "%s (%s)", text, name);
	else
		snprintf(buf, len, "%s", text);
	return buf;
}
