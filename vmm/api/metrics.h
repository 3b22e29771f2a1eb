/* Metrics: process-wide, like the logger. The API counts requests by route
 * and status; vCPU exit counts and the VM state are read from the VMM at
 * flush time. Each flush appends one JSON object and a newline to
 * metrics_path (Firecracker's format: newline-delimited JSON), every
 * METRICS_PERIOD_S seconds and on PUT /actions FlushMetrics. Values are
 * totals since mpvm started (a lost line loses nothing).
 *
 * Contract: main thread only (the API, the timer and the teardown run
 * there). Writing never blocks the VMM: the file is opened O_NONBLOCK, a
 * full pipe drops the line and counts it in "metrics.dropped_lines".
 */
#ifndef MPVM_METRICS_H
#define MPVM_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct vmm;

#define METRICS_PERIOD_S 60 /* env MPVM_METRICS_PERIOD_S overrides (tests) */

/* Open (create, append) `path` and flush periodically on v->loop (when
 * non-NULL). Replaces an earlier path. 0, or -1 with `err` naming the path
 * and errno; then the previous setup stays. */
int metrics_open(struct vmm *v, const char *path, char *err, size_t errlen);
bool metrics_enabled(void);
/* The VMM whose vCPUs and state a flush reports (metrics_open sets it too). */
void metrics_attach(struct vmm *v);
/* Write one line now. 0, or -1 with `err` set (not configured, write failed). */
int metrics_flush(char *err, size_t errlen);
/* Count one API request: `route` is a static string ("PATCH /vm"). */
void metrics_count_request(const char *route, int status);
/* Final flush and close (process exit). */
void metrics_close(void);
/* The current metrics object as JSON text (malloc'd, NULL if out of memory);
 * what a flush writes, without the newline. */
char *metrics_json(void);

#endif
