#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static enum log_level level = LOG_WARNING;
static FILE *out;
static int show_level = 1, show_origin;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void log_set_level(enum log_level l) { level = l; }
enum log_level log_get_level(void) { return level; }

void log_set_format(int lvl, int origin)
{
	show_level = lvl;
	show_origin = origin;
}

int log_set_path(const char *path)
{
	FILE *f = NULL;
	if (path) {
		/* Append: a FIFO or a shared log file keeps earlier lines. */
		f = fopen(path, "ae");
		if (!f)
			return -errno;
		setvbuf(f, NULL, _IOLBF, 0);
	}
	pthread_mutex_lock(&lock);
	if (out && out != stderr)
		fclose(out);
	out = f;
	pthread_mutex_unlock(&lock);
	return 0;
}

void log_msg(enum log_level l, const char *origin, const char *fmt, ...)
{
	if (l > level || l < LOG_ERROR)
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[32];
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&lock);
	FILE *f = out ? out : stderr;
	fprintf(f, "%s.%06ld [mpvm", ts, (long)tv.tv_usec);
	if (show_origin)
		fprintf(f, ":%s", origin);
	if (show_level)
		fprintf(f, ":%s", names[l]);
	fputs("] ", f);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	/* The terminal keeps output processing in raw mode (see devices/serial.c),
	 * so "\n" is enough. */
	fputc('\n', f);
	pthread_mutex_unlock(&lock);
}
