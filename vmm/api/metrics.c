#include "api/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "base/err.h"
#include "builder/vmm.h"
#include "core/event_loop.h"
#include "core/log.h"

#define MAX_ROUTE_STATS 128

struct route_stat {
	const char *route;
	int status;
	uint64_t count;
};

static struct {
	struct vmm *vmm;
	int fd;            /* metrics_path, -1: not configured */
	int timer_fd;
	struct ev_loop *loop;
	char *path;
	struct route_stat routes[MAX_ROUTE_STATS];
	unsigned nroutes;
	uint64_t requests, untracked;
	uint64_t flushes, dropped, write_errors;
} M = { .fd = -1, .timer_fd = -1 };

void metrics_attach(struct vmm *v) { M.vmm = v; }
bool metrics_enabled(void) { return M.fd >= 0; }

void metrics_count_request(const char *route, int status)
{
	M.requests++;
	for (unsigned i = 0; i < M.nroutes; i++) {
		if (M.routes[i].status == status && !strcmp(M.routes[i].route, route)) {
			M.routes[i].count++;
			return;
		}
	}
	if (M.nroutes == MAX_ROUTE_STATS) {
		M.untracked++;
		return;
	}
	M.routes[M.nroutes++] = (struct route_stat){ route, status, 1 };
}

static void add_api(cJSON *root)
{
	cJSON *api = cJSON_AddObjectToObject(root, "api_server");
	if (!api)
		return;
	cJSON_AddNumberToObject(api, "requests", (double)M.requests);
	if (M.untracked)
		cJSON_AddNumberToObject(api, "untracked", (double)M.untracked);
	cJSON *routes = cJSON_AddObjectToObject(api, "routes");
	for (unsigned i = 0; routes && i < M.nroutes; i++) {
		cJSON *r = cJSON_GetObjectItemCaseSensitive(routes, M.routes[i].route);
		if (!r)
			r = cJSON_AddObjectToObject(routes, M.routes[i].route);
		char code[8];
		snprintf(code, sizeof(code), "%d", M.routes[i].status);
		if (r)
			cJSON_AddNumberToObject(r, code, (double)M.routes[i].count);
	}
}

char *metrics_json(void)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	cJSON_AddNumberToObject(root, "utc_timestamp_ms",
				(double)tv.tv_sec * 1000.0 + (double)(tv.tv_usec / 1000));
	cJSON_AddNumberToObject(root, "uptime_us", (double)mpvm_uptime_us());
	if (M.vmm)
		cJSON_AddStringToObject(root, "state", api_vm_state(M.vmm));
	add_api(root);
	if (M.vmm)
		vmm_metrics_add(M.vmm, root); /* vCPUs, PMU, devices */
	cJSON *self = cJSON_AddObjectToObject(root, "metrics");
	if (self) {
		cJSON_AddNumberToObject(self, "flushes", (double)M.flushes);
		cJSON_AddNumberToObject(self, "dropped_lines", (double)M.dropped);
		cJSON_AddNumberToObject(self, "write_errors", (double)M.write_errors);
	}
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

int metrics_flush(char *err, size_t errlen)
{
	if (M.fd < 0) {
		return err_set(err, errlen, "metrics are not configured: PUT /metrics {\"metrics_path\": ...} first");
	}
	M.flushes++; /* counts the line being written */
	char *line = metrics_json();
	if (!line) {
		return err_set(err, errlen, "metrics: out of memory");
	}
	size_t len = strlen(line);
	line[len] = '\n'; /* overwrite the NUL: one write, one line */
	ssize_t w = write(M.fd, line, len + 1);
	int e = errno;
	free(line);
	if (w == (ssize_t)(len + 1))
		return 0;
	if (w < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
		/* A reader that does not keep up loses lines, the VMM does not wait. */
		M.dropped++;
		return 0;
	}
	M.write_errors++;
	return err_set(err, errlen, "metrics: writing %s: %s", M.path,
		       w < 0 ? strerror(e) : "short write");
}

static void on_timer(void *opaque, int fd, uint32_t events)
{
	uint64_t n;
	char err[256];
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	if (metrics_flush(err, sizeof(err)))
		log_warn("%s", err);
}

static int start_timer(struct ev_loop *loop, char *err, size_t errlen)
{
	long period = METRICS_PERIOD_S;
	const char *env = getenv("MPVM_METRICS_PERIOD_S");
	if (env && atol(env) > 0)
		period = atol(env);
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = { .it_value = { period, 0 }, .it_interval = { period, 0 } };
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) || ev_add(loop, fd, EPOLLIN, on_timer, NULL)) {
		err_set(err, errlen, "metrics: periodic timer: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	M.timer_fd = fd;
	M.loop = loop;
	return 0;
}

int metrics_open(struct vmm *v, const char *path, char *err, size_t errlen)
{
	/* O_RDWR: a FIFO opens without a reader (Firecracker's named-pipe use). */
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600);
	if (fd < 0) {
		return err_set(err, errlen, "metrics.metrics_path: cannot open %s: %s", path, strerror(errno));
	}
	char *p = strdup(path);
	if (!p) {
		close(fd);
		return err_set(err, errlen, "metrics: out of memory");
	}
	if (M.timer_fd < 0 && v && v->loop && start_timer(v->loop, err, errlen)) {
		close(fd);
		free(p);
		return -1;
	}
	if (M.fd >= 0)
		close(M.fd);
	free(M.path);
	M.fd = fd;
	M.path = p;
	if (v)
		M.vmm = v;
	return 0;
}

void metrics_close(void)
{
	char err[256];
	if (M.fd >= 0 && metrics_flush(err, sizeof(err)))
		log_warn("%s", err);
	if (M.timer_fd >= 0) {
		if (M.loop)
			ev_del(M.loop, M.timer_fd);
		close(M.timer_fd);
	}
	if (M.fd >= 0)
		close(M.fd);
	free(M.path);
	M.path = NULL;
	M.fd = M.timer_fd = -1;
	M.loop = NULL;
	M.vmm = NULL;
}
