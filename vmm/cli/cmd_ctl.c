/* mpvm ctl: a small client of the control API for people at a shell.
 *
 * Each command is one HTTP request on the UNIX socket (Connection: close);
 * the response body (JSON) goes to stdout. Exit status: 0 for a 2xx answer,
 * 1 for an HTTP error (the fault JSON is printed too), 64 for a bad command
 * line, 69 when the socket cannot be reached or the answer is not HTTP.
 * `curl --unix-socket PATH http://localhost/...` does the same; this exists so
 * that nobody has to remember the bodies.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "base/exit_codes.h"
#include "cli/commands.h"

#define CTL_EXIT_HTTP 1
#define CTL_EXIT_UNAVAILABLE 69
#define CTL_MAX_RESPONSE (16u << 20)

struct verb {
	const char *name;
	const char *method;
	const char *path; /* NULL: taken from the command line */
	const char *body; /* NULL: none, or from the command line when args say so */
	int args;         /* extra arguments: 0, 1 (body) or 2 (path, body) / 1 path for get;
			   * -1: `build` makes the body from them */
	const char *help;
};

/* A JSON object from two paths and flags given as --name (true). */
static char *snapshot_body(int argc, char **argv, const char *k1, const char *k2,
			   const char *const *flags, const char *const *keys, const char *verb)
{
	if (argc < 2) {
		fprintf(stderr, "mpvm ctl: %s: SNAPSHOT and MEM_FILE are required\n", verb);
		return NULL;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, k1, argv[0]);
	cJSON_AddStringToObject(o, k2, argv[1]);
	for (int i = 2; i < argc; i++) {
		size_t k = 0;
		while (flags[k] && strcmp(argv[i], flags[k]))
			k++;
		if (!flags[k]) {
			fprintf(stderr, "mpvm ctl: %s: unknown option '%s'\n", verb, argv[i]);
			cJSON_Delete(o);
			return NULL;
		}
		if (!strcmp(keys[k], "snapshot_type"))
			cJSON_AddStringToObject(o, keys[k], "Diff");
		else
			cJSON_AddBoolToObject(o, keys[k], true);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static char *snapshot_create_body(int argc, char **argv)
{
	static const char *const flags[] = { "--diff", NULL }, *const keys[] = { "snapshot_type" };
	return snapshot_body(argc, argv, "snapshot_path", "mem_file_path", flags, keys,
			     "snapshot-create");
}

static char *snapshot_load_body(int argc, char **argv)
{
	static const char *const flags[] = { "--resume", "--track-dirty-pages", "--pmu-fallback",
					     NULL };
	static const char *const keys[] = { "resume_vm", "track_dirty_pages", "pmu_fallback" };
	/* mem_backend, not the deprecated mem_file_path: build it by hand. */
	char *s = snapshot_body(argc, argv, "snapshot_path", "mem_backend", flags, keys,
				"snapshot-load");
	cJSON *o = s ? cJSON_Parse(s) : NULL;
	free(s);
	if (!o)
		return NULL;
	cJSON *mb = cJSON_CreateObject();
	cJSON_AddStringToObject(mb, "backend_type", "File");
	cJSON_AddStringToObject(mb, "backend_path", argv[1]);
	cJSON_ReplaceItemInObject(o, "mem_backend", mb);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static const struct verb verbs[] = {
	{ "info", "GET", "/", NULL, 0, "instance id, state, version (GET /)" },
	{ "version", "GET", "/version", NULL, 0, "GET /version" },
	{ "config", "GET", "/vm/config", NULL, 0, "the effective configuration (GET /vm/config)" },
	{ "machine", "GET", "/machine-config", NULL, 0, "GET /machine-config" },
	{ "vcpus", "GET", "/vcpus", NULL, 0, "per vCPU: thread, state, exits (GET /vcpus)" },
	{ "pmu", "GET", "/pmu", NULL, 0, "guest PMU mode, CPUID, MSR routing (GET /pmu)" },
	{ "counters", "GET", "/pmu/counters", NULL, 0, "guest PMU counters (GET /pmu/counters)" },
	{ "host", "GET", "/pmu/host", NULL, 0, "the host PMU probe (GET /pmu/host)" },
	{ "filter", "PUT", "/pmu/filter", NULL, 1, "JSON|@FILE: replace the PMU event filter" },
	{ "start", "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 0, "boot the configured VM" },
	{ "pause", "PATCH", "/vm", "{\"state\":\"Paused\"}", 0, "stop every vCPU" },
	{ "resume", "PATCH", "/vm", "{\"state\":\"Resumed\"}", 0, "let the vCPUs run again" },
	{ "stop", "PUT", "/actions", "{\"action_type\":\"StopVmm\"}", 0, "end the VMM (exit status 0)" },
	{ "ctrl-alt-del", "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 0,
	  "press Ctrl-Alt-Del on the guest keyboard" },
	{ "flush-metrics", "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 0,
	  "write one metrics line now" },
	{ "mmds", "GET", "/mmds", NULL, 0, "the MMDS data store (GET /mmds)" },
	{ "mmds-put", "PUT", "/mmds", NULL, 1, "JSON|@FILE|-: replace the MMDS data store" },
	{ "mmds-patch", "PATCH", "/mmds", NULL, 1,
	  "JSON|@FILE|-: merge into the MMDS data store (RFC 7396)" },
	{ "mmds-config", "PUT", "/mmds/config", NULL, 1,
	  "JSON|@FILE|-: MMDS version, interfaces, address (before start)" },
	{ "serial", "PUT", "/serial", NULL, 1,
	  "JSON|@FILE|-: where COM1 goes ({\"serial_out_path\"} or {\"mode\"}; before start)" },
	{ "vsock", "PUT", "/vsock", NULL, 1,
	  "JSON|@FILE|-: {\"guest_cid\": N, \"uds_path\": P} (before start)" },
	{ "balloon", "GET", "/balloon", NULL, 0, "the balloon's settings (GET /balloon)" },
	{ "balloon-put", "PUT", "/balloon", NULL, 1,
	  "JSON|@FILE|-: {\"amount_mib\", \"deflate_on_oom\", ...} (before start)" },
	{ "balloon-set", "PATCH", "/balloon", NULL, 1, "JSON|@FILE|-: {\"amount_mib\": N}, any time" },
	{ "balloon-stats", "GET", "/balloon/statistics", NULL, 0,
	  "the guest's memory statistics (GET /balloon/statistics)" },
	{ "snapshot-create", "PUT", "/snapshot/create", NULL, -1,
	  "SNAPSHOT MEM_FILE [--diff]: snapshot the paused VM (Full, or Diff)" },
	{ "snapshot-load", "PUT", "/snapshot/load", NULL, -1,
	  "SNAPSHOT MEM_FILE [--resume] [--track-dirty-pages] [--pmu-fallback]: start from a "
	  "snapshot" },
	{ "get", "GET", NULL, NULL, 1, "PATH: any GET" },
	{ "put", "PUT", NULL, NULL, 2, "PATH JSON|@FILE|-: any PUT" },
	{ "patch", "PATCH", NULL, NULL, 2, "PATH JSON|@FILE|-: any PATCH" },
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

/* The verbs with args -1: their body from their arguments (malloc'd), or
 * NULL with a message printed. */
static const struct {
	const char *verb;
	char *(*build)(int argc, char **argv);
} builders[] = {
	{ "snapshot-create", snapshot_create_body },
	{ "snapshot-load", snapshot_load_body },
};

static char *build_body(const char *verb, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++)
		if (!strcmp(builders[i].verb, verb))
			return builders[i].build(argc, argv);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mpvm ctl [--api-sock PATH] [--timeout SECONDS] [--pretty] COMMAND [ARGS]\n"
		   "  --api-sock defaults to $MPVM_API_SOCK\n\ncommands:\n");
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(f, "  %-15s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\nexit status: 0 on HTTP 2xx, 1 on an HTTP error, 64 usage, 69 no answer\n");
}

/* JSON text, @FILE, or - (stdin). malloc'd, NULL with a message printed. */
static char *read_body(const char *arg)
{
	if (arg[0] != '@' && strcmp(arg, "-"))
		return strdup(arg);
	FILE *f = strcmp(arg, "-") ? fopen(arg + 1, "re") : stdin;
	if (!f) {
		fprintf(stderr, "mpvm ctl: %s: %s\n", arg + 1, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *nb = cap < CTL_MAX_RESPONSE ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				fprintf(stderr, "mpvm ctl: %s: too large\n", arg);
				free(buf);
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	if (buf)
		buf[len] = 0;
	return buf;
}

static int connect_to(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		return err_set(err, errlen, "%s: path too long for a UNIX socket", path);
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err_set(err, errlen, "%s: %s%s", path, strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ? " (is mpvm running with --api-sock?)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int wait_fd(int fd, short ev, const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return -1;
	struct pollfd p = { .fd = fd, .events = ev };
	int r;
	while ((r = poll(&p, 1, (int)ms)) < 0 && errno == EINTR)
		;
	return r > 0 ? 0 : -1;
}

/* One request; fills *status and *body (malloc'd, NUL-terminated). */
static int http(const char *sock, const char *method, const char *path, const char *body,
		int timeout_s, int *status, char **resp, char *err, size_t errlen)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	int fd = connect_to(sock, err, errlen);
	if (fd < 0)
		return -1;
	size_t blen = body ? strlen(body) : 0;
	char head[512];
	int hlen = snprintf(head, sizeof(head),
			    "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			    "Connection: close\r\n%sContent-Length: %zu\r\n\r\n",
			    method, path, blen ? "Content-Type: application/json\r\n" : "", blen);
	if (hlen < 0 || (size_t)hlen >= sizeof(head)) {
		err_set(err, errlen, "%s: path too long", path);
		close(fd);
		return -1;
	}
	const char *parts[2] = { head, body };
	size_t lens[2] = { (size_t)hlen, blen };
	for (int i = 0; i < 2; i++) {
		for (size_t off = 0; off < lens[i];) {
			ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				/* The server may answer (413/400) before taking the whole body. */
				goto read_answer;
			}
			off += (size_t)w;
		}
	}
read_answer:;
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (wait_fd(fd, POLLIN, &deadline)) {
			err_set(err, errlen, "%s: no complete answer within %d s", sock, timeout_s);
			goto fail;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len + 1 == cap) {
			if (cap >= CTL_MAX_RESPONSE)
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	fd = -1;
	if (!buf)
		goto fail;
	buf[len] = 0;
	char *sep = strstr(buf, "\r\n\r\n");
	int st = 0;
	if (sscanf(buf, "HTTP/1.%*c %3d", &st) != 1 || !sep) {
		err_set(err, errlen, "%s: the answer is not HTTP", sock);
		goto fail;
	}
	*status = st;
	*resp = strdup(sep + 4);
	free(buf);
	return *resp ? 0 : -1;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return -1;
}

static void print_body(const char *body, bool pretty)
{
	if (!body[0])
		return;
	cJSON *j = pretty ? cJSON_Parse(body) : NULL;
	char *p = j ? cJSON_Print(j) : NULL;
	printf("%s\n", p ? p : body);
	free(p);
	cJSON_Delete(j);
}

int cmd_ctl(int argc, char **argv)
{
	const char *sock = getenv("MPVM_API_SOCK");
	int timeout_s = 30;
	bool pretty = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--api-sock") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_s = atoi(argv[++i]);
			if (timeout_s <= 0) {
				fprintf(stderr, "mpvm ctl: --timeout: expected a positive number of seconds\n");
				return MPVM_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--pretty") || !strcmp(argv[i], "-p")) {
			pretty = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mpvm ctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return MPVM_EXIT_USAGE;
		}
	}
	if (i >= argc || !sock) {
		fprintf(stderr, "mpvm ctl: %s\n", !sock ? "--api-sock PATH (or MPVM_API_SOCK) is required"
						       : "a command is required");
		usage(stderr);
		return MPVM_EXIT_USAGE;
	}
	const struct verb *vb = NULL;
	for (size_t k = 0; k < NVERBS; k++)
		if (!strcmp(argv[i], verbs[k].name))
			vb = &verbs[k];
	int nargs = argc - i - 1;
	if (!vb || (vb->args >= 0 && nargs != vb->args)) {
		fprintf(stderr, vb ? "mpvm ctl: %s: wrong number of arguments\n"
				   : "mpvm ctl: unknown command '%s'\n", argv[i]);
		usage(stderr);
		return MPVM_EXIT_USAGE;
	}
	const char *path = vb->path ? vb->path : argv[i + 1];
	char *body = NULL;
	const char *body_arg = vb->args < 0 ? NULL : nargs == 2 ? argv[i + 2]
				 : (nargs == 1 && vb->path ? argv[i + 1] : NULL);
	if (vb->args < 0)
		body = build_body(vb->name, nargs, argv + i + 1);
	else if (body_arg)
		body = read_body(body_arg);
	if ((vb->args < 0 || body_arg) && !body)
		return MPVM_EXIT_USAGE;
	char err[512], *resp = NULL;
	int status = 0;
	int rc = http(sock, vb->method, path, body ? body : vb->body, timeout_s, &status, &resp, err,
		      sizeof(err));
	free(body);
	if (rc) {
		fprintf(stderr, "mpvm ctl: %s\n", err);
		return CTL_EXIT_UNAVAILABLE;
	}
	print_body(resp, pretty);
	free(resp);
	if (status >= 200 && status < 300)
		return 0;
	fprintf(stderr, "mpvm ctl: %s %s: HTTP %d\n", vb->method, path, status);
	return CTL_EXIT_HTTP;
}
