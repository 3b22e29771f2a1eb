/* Logger with Firecracker's levels. Thread-safe; one line per message:
 * "2026-11-21T07:40:28.123456 [mpvm:main:WARN] message" (level and origin
 * shown per config). Default: Warning and above to stderr.
 */
#ifndef MPVM_LOG_H
#define MPVM_LOG_H

enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level l);
enum log_level log_get_level(void);
/* path NULL: stderr. Returns 0 or -errno. */
int log_set_path(const char *path);
void log_set_format(int show_level, int show_origin);
void log_msg(enum log_level l, const char *origin, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)   log_msg(LOG_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __func__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __func__, __VA_ARGS__)

#endif
