/* The control API: Firecracker's REST resources plus mpvm's own (/pmu...,
 * /vcpus), HTTP/1.1 with JSON bodies on a UNIX socket (docs/api.md).
 *
 * Contract:
 *  - Everything runs on the main thread's event loop: the server's epoll fd
 *    and a deadline timerfd are registered with ev_add, so handlers read and
 *    edit struct vmm exactly like the other loop callbacks do, with no lock
 *    and no extra thread. HTTP is parsed strictly by api/http_parse.c; a
 *    malformed request gets one JSON 400 and a close. Sockets are
 *    non-blocking: a slow client only holds its own connection, for at most
 *    API_REQUEST_TIMEOUT_S per request and API_CONN_TIMEOUT_S idle, and
 *    is evicted first when all API_MAX_CONNECTIONS slots are taken.
 *  - Request bodies go through config/'s cfg_parse_* functions (the same code
 *    as the config file); this module parses JSON only to route
 *    ({"action_type"}, {"state"}). A refused request changes nothing.
 *  - api_route() is the whole request path without a socket (method, path,
 *    body -> status, JSON body), so unit tests and fuzzers call it directly;
 *    every effect beyond v->cfg (the VM, log and metrics files) goes through
 *    `struct api_ops`, which tests and fuzzers fake.
 *  - The VMM can be stopped over the API: PUT /actions
 *    {"action_type": "StopVmm"}; mpvm then exits with status 0 once the 204
 *    has been sent.
 */
#ifndef MPVM_API_H
#define MPVM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmm;
struct ev_loop;
struct cfg_logger;

#define API_MAX_BODY 51200      /* Firecracker's default payload limit */
#define API_MAX_CONNECTIONS 64
#define API_CONN_TIMEOUT_S 30   /* idle keep-alive lifetime (env MPVM_API_TIMEOUT_S) */
/* A whole request (first byte to last) and the taking of its answer; never
 * longer than the idle timeout (env MPVM_API_REQUEST_TIMEOUT_S). */
#define API_REQUEST_TIMEOUT_S 10
/* The Firecracker API version whose resources mpvm mirrors (GET /version). */
#define API_FC_VERSION "1.7.0"
#define API_DEFAULT_ID "anonymous-instance"

/* What the API does to the VM. Each returns 0, or -1 with `err` set (the
 * fault_message); on -1 nothing must have changed. */
struct cfg_drive;
struct cfg_snapshot_req;

struct api_ops {
	/* Build and start the VM from vmm->cfg (InstanceStart). */
	int (*instance_start)(struct vmm *v, char *err, size_t errlen);
	/* All vCPUs out of KVM_RUN and parked before it returns / released. */
	int (*pause)(struct vmm *v, char *err, size_t errlen);
	int (*resume)(struct vmm *v, char *err, size_t errlen);
	int (*ctrl_alt_del)(struct vmm *v, char *err, size_t errlen);
	/* PUT /logger, PUT /metrics: open the file and take the settings. */
	int (*set_logger)(struct vmm *v, const struct cfg_logger *l, char *err, size_t errlen);
	int (*set_metrics)(struct vmm *v, const char *path, char *err, size_t errlen);
	/* Runtime PMU event filter; the filter is already validated. */
	int (*set_pmu_filter)(struct vmm *v, const void *cfg_pmu_filter, char *err, size_t errlen);
	/* PATCH /drives/{id} after start: give the running drive `d`'s
	 * path_on_host and rate limiter. May be NULL (not supported). */
	int (*update_drive)(struct vmm *v, const struct cfg_drive *d, char *err, size_t errlen);
	/* The running VM's balloon: a new target, a new statistics interval,
	 * its statistics. May be NULL (not supported). */
	int (*balloon_target)(struct vmm *v, uint32_t mib, char *err, size_t errlen);
	int (*balloon_interval)(struct vmm *v, uint32_t seconds, char *err, size_t errlen);
	char *(*balloon_stats)(struct vmm *v, char *err, size_t errlen); /* malloc'd JSON */
	/* PUT /snapshot/create (VM paused) and PUT /snapshot/load (nothing
	 * built yet): builder/vmm.h's vmm_snapshot_*. snapshot_create returns
	 * -EINVAL when the VM is in the wrong state. May be NULL. */
	int (*snapshot_create)(struct vmm *v, const struct cfg_snapshot_req *s, char *err,
			       size_t errlen);
	int (*snapshot_load)(struct vmm *v, const struct cfg_snapshot_req *s, char *err,
			     size_t errlen);
	/* End the VMM (status 0); called after the reply was sent. */
	void (*stop)(struct vmm *v);
};
extern const struct api_ops api_vmm_ops; /* the real thing (api_vmm.c) */

struct api_ctx {
	struct vmm *vmm;
	const struct api_ops *ops;
	const char *id;     /* instance id for GET / */
	/* A failed InstanceStart got as far as creating the VM and could not be
	 * undone: refuse further starts with this message. */
	char broken[256];
	/* A boot resource was configured (machine, boot source, drives ...):
	 * PUT /snapshot/load is refused from then on, as in Firecracker. */
	bool configured;
};

struct api_reply {
	int status;          /* HTTP status */
	char *body;          /* malloc'd JSON text; NULL: no body (204) */
	const char *route;   /* route name for metrics ("PUT /drives/{id}") */
	bool stop_after;     /* stop the VMM once this reply has been sent */
};

/* One request, no socket: `path` as sent, percent-encoded, without query
 * string; `body` of `len` bytes (need not be NUL-terminated; NULL when len
 * is 0). Always fills `r`; free r->body. Counts the request in the metrics.
 * Bodies and the {id} in a path must be valid UTF-8 without NUL
 * (base/utf8.h), or the answer is 400; every answer is valid UTF-8. */
void api_route(struct api_ctx *a, const char *method, const char *path, const char *body,
	       size_t len, struct api_reply *r);
/* {"fault_message": msg} as malloc'd text (NULL if out of memory). */
char *api_fault_json(const char *msg);
/* "Not started", "Running" or "Paused" (Firecracker's names). */
const char *api_vm_state(const struct vmm *v);

/* The HTTP server. api_server_new() binds `sock_path` (mode 0600; a stale
 * socket file whose server is gone is replaced, a live one or a non-socket is
 * an error) and, when `loop` is non-NULL, registers with it. `sock_path`
 * NULL: no listening socket, connections come from api_server_add_connection
 * (the request-path fuzzer). `ops` NULL means api_vmm_ops; `id` NULL means
 * API_DEFAULT_ID. Returns NULL with `err` set. */
struct api_server *api_server_new(struct vmm *v, struct ev_loop *loop, const char *sock_path,
				  const struct api_ops *ops, const char *id, char *err,
				  size_t errlen);
/* Serve one already-connected stream socket (ownership passes). 0 or -1. */
int api_server_add_connection(struct api_server *s, int fd);
/* Do pending socket work now (what the loop callback does). */
void api_server_run(struct api_server *s);
/* Close every connection and the socket, and remove the socket file if it is
 * still ours. NULL is fine. */
void api_server_free(struct api_server *s);

#endif
