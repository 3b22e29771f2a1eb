/* mpvm configuration: one plain struct that the rest of the VMM reads.
 *
 * Contract: the config file (`--config-file`, Firecracker's shape plus mpvm's
 * own keys), the CLI flags and the API bodies all go through the functions
 * here; nothing else parses JSON. Parsing validates fully: on error the
 * function returns -1 and `err` names the JSON path of the bad field and what
 * was expected (`machine-config.vcpu_count: expected an integer in 1..32, got
 * "two"`), and the target struct is left unchanged. Unknown keys are errors.
 * Strings are owned by the struct (freed by vm_config_free).
 */
#ifndef MPVM_CONFIG_H
#define MPVM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_MAX_VCPUS 32
#define CFG_MAX_MEM_MIB (1024 * 1024) /* 1 TiB */
#define CFG_MAX_DRIVES 8
#define CFG_MAX_NETS 4
#define CFG_ERR_LEN 512
/* drive_id, iface_id and the instance id: 1..CFG_ID_MAX_LEN characters of
 * [A-Za-z0-9_-], since they appear in API paths. */
#define CFG_ID_MAX_LEN 64
#define CFG_TAP_MAX_LEN 15 /* IFNAMSIZ without the NUL */

struct cfg_token_bucket {
	bool set;
	uint64_t size;           /* tokens (bytes or ops) */
	uint64_t one_time_burst; /* extra initial tokens */
	uint64_t refill_time_ms;
};

struct cfg_rate_limiter {
	struct cfg_token_bucket bandwidth;
	struct cfg_token_bucket ops;
};

struct cfg_boot_source {
	char *kernel_image_path;
	char *boot_args;   /* NULL: mpvm's default command line */
	char *initrd_path; /* NULL: none */
};

/* "Transparent" and "2M" both ask the host for huge pages with
 * madvise(MADV_HUGEPAGE) (core/guest_mem.c); "2M" also keeps Firecracker's
 * rule that memory is a multiple of 2 MiB. */
enum cfg_huge_pages { CFG_HUGE_NONE, CFG_HUGE_2M, CFG_HUGE_TRANSPARENT };

struct cfg_machine {
	uint32_t vcpu_count;   /* 1..CFG_MAX_VCPUS, default 1 */
	uint64_t mem_size_mib; /* default 128 */
	bool smt;
	bool track_dirty_pages;
	enum cfg_huge_pages huge_pages;
};

enum cfg_io_engine { CFG_IO_SYNC, CFG_IO_ASYNC };
enum cfg_cache_type { CFG_CACHE_UNSAFE, CFG_CACHE_WRITEBACK };

struct cfg_drive {
	char *drive_id;          /* CFG_ID_MAX_LEN rule: it appears in API paths */
	char *path_on_host;
	char *partuuid;          /* NULL: none (root=PARTUUID= for the guest) */
	bool is_root_device;
	bool is_read_only;
	enum cfg_cache_type cache_type;
	enum cfg_io_engine io_engine;
	struct cfg_rate_limiter rate_limiter;
};

struct cfg_net {
	char *iface_id;
	char *host_dev_name;     /* tap name, 1..CFG_TAP_MAX_LEN chars */
	bool has_mac;
	uint8_t guest_mac[6];
	struct cfg_rate_limiter rx_rate_limiter;
	struct cfg_rate_limiter tx_rate_limiter;
};

struct cfg_entropy {
	bool enabled;
	struct cfg_rate_limiter rate_limiter;
};

/* Firecracker's "balloon": a virtio-balloon device (devices/virtio/balloon.h). */
struct cfg_balloon {
	bool enabled;
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s;  /* 0: no statistics */
	bool free_page_reporting;  /* VIRTIO_BALLOON_F_REPORTING: free pages go back to the host */
};

/* Firecracker's "vsock": a virtio-vsock device whose host side is the UNIX
 * socket uds_path (devices/virtio/vsock.h). */
struct cfg_vsock {
	bool enabled;
	uint32_t guest_cid;  /* 3..2^32-1 */
	char *uds_path;
	char *vsock_id;      /* accepted and shown, as Firecracker (deprecated there) */
};

/* Firecracker's set (case-insensitive, "Warn" = "Warning"). Off is -1 so
 * that `level >= CFG_LOG_INFO` style comparisons keep working. */
enum cfg_log_level {
	CFG_LOG_OFF = -1, CFG_LOG_ERROR, CFG_LOG_WARNING, CFG_LOG_INFO, CFG_LOG_DEBUG, CFG_LOG_TRACE
};

struct cfg_logger {
	char *log_path; /* NULL: stderr */
	enum cfg_log_level level;
	bool show_level;
	bool show_log_origin;
};

struct cfg_metrics {
	char *metrics_path; /* NULL: no metrics */
};

/* MMDS (Firecracker's "mmds-config"): which interfaces may reach the
 * metadata service and at which address (mmds/: the data store and the
 * guest-side stack that virtio-net runs on those interfaces). The
 * interface ids must name configured network interfaces. */
enum cfg_mmds_version { CFG_MMDS_V1, CFG_MMDS_V2 };
struct cfg_mmds {
	bool set;
	enum cfg_mmds_version version;
	char *ifaces[CFG_MAX_NETS]; /* iface_id of each interface, NULL past niface */
	uint32_t nifaces;
	uint8_t ipv4[4];            /* 169.254.169.254 by default */
	bool imds_compat;
};

/* Serial console (mpvm key "serial"): where COM1 goes. */
enum cfg_serial_kind { CFG_SERIAL_STDIO, CFG_SERIAL_FILE, CFG_SERIAL_SOCKET, CFG_SERIAL_NONE };
struct cfg_serial {
	enum cfg_serial_kind kind;
	char *path; /* file or UNIX socket path */
};

/* PMU (mpvm key "pmu"); semantics in pmu/ and the README. */
enum cfg_pmu_mode { CFG_PMU_AUTO, CFG_PMU_OFF, CFG_PMU_MEDIATED, CFG_PMU_LEGACY, CFG_PMU_SOFT };
enum cfg_filter_action { CFG_FILTER_ALLOW, CFG_FILTER_DENY };
#define CFG_PMU_MAX_FILTER_EVENTS 300 /* KVM_PMU_EVENT_FILTER limit */
/* The most a config may ask for at all; whether the host can give it is
 * pmu/'s decision, made after probing the host. */
#define CFG_PMU_MAX_VERSION 5
#define CFG_PMU_MAX_COUNTERS 32
#define CFG_PMU_MAX_WIDTH 64           /* bits */
#define CFG_PMU_MAX_EVENT_SELECT 0xfff /* AMD's 12-bit event select */

struct cfg_pmu_event {
	uint16_t event_select; /* 8 bits Intel; up to 12 bits AMD */
	uint8_t unit_mask;
	bool masked;        /* masked-event entry (KVM_PMU_EVENT_FLAG_MASKED_EVENTS) */
	uint8_t mask;       /* for masked entries: unit mask mask */
	bool exclude;       /* for masked entries */
};

struct cfg_pmu_filter {
	bool set;
	enum cfg_filter_action action;
	uint32_t nevents;
	struct cfg_pmu_event events[CFG_PMU_MAX_FILTER_EVENTS];
	uint32_t fixed_counter_bitmap;
	bool masked_events; /* entries are masked events */
};

/* Leaf 0xA EBX bit numbers, in the SDM's order; names as in the config. */
enum cfg_pmu_arch_event {
	CFG_PMU_EV_CORE_CYCLES, CFG_PMU_EV_INSTRUCTIONS, CFG_PMU_EV_REFERENCE_CYCLES,
	CFG_PMU_EV_LLC_REFERENCES, CFG_PMU_EV_LLC_MISSES, CFG_PMU_EV_BRANCHES,
	CFG_PMU_EV_BRANCH_MISSES, CFG_PMU_NUM_ARCH_EVENTS
};
#define CFG_PMU_ARCH_EVENTS_MASK ((1u << CFG_PMU_NUM_ARCH_EVENTS) - 1)

struct cfg_pmu {
	enum cfg_pmu_mode mode;
	int version;         /* -1: host's (capped at 2) */
	int gp_counters;     /* -1: host's */
	int fixed_counters;  /* -1: host's */
	int gp_width;        /* -1: host's (soft: 48) */
	int fixed_width;     /* -1: host's (soft: 48) */
	/* Architectural events the guest must see as unavailable: CPUID leaf
	 * 0xA EBX bits (CFG_PMU_EV_*), ORed into what the host (or the soft
	 * model) cannot count anyway. Only ever hides events. */
	uint32_t unavailable_events;
	bool trap_event_selects;
	struct cfg_pmu_filter filter;
};

/* Test/measurement ports (mpvm key "debug"). */
struct cfg_debug {
	bool exit_port;    /* isa-debug-exit compatible at 0xf4 */
	bool boot_marker;  /* write of 123 to 0x3f0 logs boot time; default on */
};

struct vm_config {
	struct cfg_boot_source boot;
	struct cfg_machine machine;
	struct cfg_drive drives[CFG_MAX_DRIVES];
	uint32_t ndrives;
	struct cfg_net nets[CFG_MAX_NETS];
	uint32_t nnets;
	struct cfg_entropy entropy;
	struct cfg_vsock vsock;
	struct cfg_balloon balloon;
	struct cfg_logger logger;
	struct cfg_metrics metrics;
	struct cfg_mmds mmds;
	struct cfg_serial serial;
	struct cfg_pmu pmu;
	struct cfg_debug debug;
};

/* Defaults: 1 vCPU, 128 MiB, no huge pages, pmu auto with every number -1
 * (host-derived), serial stdio, exit port off, boot marker on, log level
 * Warning. */
void vm_config_init(struct vm_config *c);
void vm_config_free(struct vm_config *c);
/* Deep copy (dst is overwritten, not freed). -1 only when out of memory. */
int vm_config_copy(struct vm_config *dst, const struct vm_config *src);

/* Whole config file / JSON text (one object, keys as in the file). Sections
 * present replace the same sections of `c` (a "drives" array replaces the
 * whole drive list); sections absent keep their current value. Errors from a
 * file are prefixed with its path; malformed JSON names line and column. */
int vm_config_load_file(struct vm_config *c, const char *path, char *err, size_t errlen);
int vm_config_load_json(struct vm_config *c, const char *json, char *err, size_t errlen);

/* One section: the API's PUT bodies go through these same functions. `json`
 * is the section's object text. PUT replaces the section (omitted optional
 * fields get their defaults); PATCH (`partial`) keeps fields the body omits.
 * Error paths start with the resource name: "boot-source", "machine-config",
 * "drive", "network-interface", "entropy", "logger", "metrics", "serial",
 * "debug", "pmu", "pmu.filter", "mmds-config".
 *
 * cfg_parse_drive/cfg_parse_net: when `id_from_path` is non-NULL (PUT
 * /drives/{id}) the body's id must equal it. An entry with the same id is
 * replaced, otherwise the entry is appended (CFG_MAX_DRIVES / CFG_MAX_NETS).
 * cfg_patch_drive: PATCH /drives/{id} after start; the drive must exist and
 * only path_on_host and rate_limiter may change. */
int cfg_parse_boot_source(struct vm_config *c, const char *json, char *err, size_t errlen);
int cfg_parse_machine(struct vm_config *c, const char *json, bool partial, char *err, size_t errlen);
int cfg_parse_drive(struct vm_config *c, const char *json, const char *id_from_path, char *err, size_t errlen);
int cfg_patch_drive(struct vm_config *c, const char *json, const char *id_from_path, char *err, size_t errlen);
int cfg_parse_net(struct vm_config *c, const char *json, const char *id_from_path, char *err, size_t errlen);
int cfg_parse_entropy(struct vm_config *c, const char *json, char *err, size_t errlen);
int cfg_parse_vsock(struct vm_config *c, const char *json, char *err, size_t errlen);
int cfg_parse_balloon(struct vm_config *c, const char *json, char *err, size_t errlen);
/* PATCH /balloon {"amount_mib"} and PATCH /balloon/statistics
 * {"stats_polling_interval_s"}: the one field, checked. */
int cfg_parse_balloon_amount(const char *json, uint32_t *mib, char *err, size_t errlen);
int cfg_parse_balloon_interval(const char *json, uint32_t *seconds, char *err, size_t errlen);
int cfg_parse_logger(struct vm_config *c, const char *json, char *err, size_t errlen);
int cfg_parse_metrics(struct vm_config *c, const char *json, char *err, size_t errlen);
int cfg_parse_serial(struct vm_config *c, const char *json, char *err, size_t errlen);
int cfg_parse_debug(struct vm_config *c, const char *json, char *err, size_t errlen);
/* PUT /mmds/config: the interfaces must already be configured. */
int cfg_parse_mmds_config(struct vm_config *c, const char *json, char *err, size_t errlen);
/* Firecracker's resources mpvm does not implement: "balloon", "vsock",
 * "cpu-config", "pmem" (one device, as in PUT /pmem/{id}) and
 * "memory-hotplug". The body is checked as Firecracker defines it (a wrong
 * type or unknown key is named as usual); then the answer is -1 with
 * "<resource>: <feature> is not supported by mpvm yet (Firecracker feature:
 * ...)", or 0 when the body asks for nothing mpvm lacks (a cpu-config
 * without modifiers). Nothing is stored. */
int cfg_check_fc_only(const char *resource, const char *json, char *err, size_t errlen);
/* Firecracker features mpvm lacks, for the API's answers: the words after
 * the resource ("memory hotplug is not supported by mpvm yet (Firecracker
 * feature: memory-hotplug)"). */
enum cfg_fc_feature {
	CFG_FC_BALLOON_HINTING, CFG_FC_CPU_CONFIG, CFG_FC_CPU_TEMPLATE, CFG_FC_PMEM,
	CFG_FC_MEM_HOTPLUG, CFG_FC_VHOST_USER_BLK, CFG_FC_NET_MTU, CFG_FC_LOG_MODULE,
	CFG_FC_SERIAL_LIMITER, CFG_FC_NET_UPDATE,
};
const char *cfg_fc_missing(enum cfg_fc_feature f);
/* pmu: only checks that need no host (the CFG_PMU_MAX_* limits); pmu/
 * checks the host's. */
int cfg_parse_pmu(struct vm_config *c, const char *json, char *err, size_t errlen);
int cfg_parse_pmu_filter(struct cfg_pmu_filter *f, const char *json, char *err, size_t errlen);
/* PUT /snapshot/create and PUT /snapshot/load bodies (Firecracker's
 * SnapshotCreateParams / SnapshotLoadParams): create takes snapshot_path,
 * mem_file_path and snapshot_type Full|Diff (`diff`); load takes
 * snapshot_path, one of mem_backend {backend_type File, backend_path} or
 * the deprecated mem_file_path (`mem_file_path` either way; Uffd is
 * refused), enable_diff_snapshots / track_dirty_pages, resume_vm and
 * mpvm's pmu_fallback.
 * On error `out` is untouched; free with cfg_snapshot_req_free(). */
struct cfg_snapshot_req {
	char *snapshot_path;
	char *mem_file_path;
	bool diff;              /* create: snapshot_type Diff */
	bool track_dirty_pages; /* load */
	bool resume_vm;         /* load */
	/* load, mpvm's own key "pmu_fallback": a host that cannot give the
	 * snapshot's PMU mode restores with the PMU it can (GET /pmu says
	 * what changed) instead of refusing the load. */
	bool pmu_fallback;
};
int cfg_parse_snapshot_create(const char *json, struct cfg_snapshot_req *out, char *err,
			      size_t errlen);
int cfg_parse_snapshot_load(const char *json, struct cfg_snapshot_req *out, char *err,
			    size_t errlen);
void cfg_snapshot_req_free(struct cfg_snapshot_req *s);

/* The API's routing bodies ({"action_type": ...}, {"state": ...}): one
 * object whose only key is `key`, a string, which must be one of `names`
 * (NULL-terminated, matched exactly, as Firecracker does). *out is the
 * index. `what` names the resource in errors ("actions"). */
int cfg_parse_choice(const char *json, const char *what, const char *key,
		     const char *const *names, int *out, char *err, size_t errlen);

/* Free-form JSON that the VMM keeps as data rather than configuration
 * (the MMDS data store): one object, under the same text rule and with
 * errors worded like any body's ("mmds: invalid JSON at line 1, ...").
 * *out is the caller's to cJSON_Delete(). */
struct cJSON;
int cfg_parse_data_object(const char *json, const char *what, struct cJSON **out, char *err,
			  size_t errlen);

/* The whole effective config as JSON (same shape as the file; GET /vm/config;
 * loads back to the same config). Unset optional values are omitted (pmu
 * numbers that are -1, NULL paths, empty rate limiters). Caller free()s.
 * NULL only when out of memory. */
char *vm_config_to_json(const struct vm_config *c);

/* The one validator, run before boot on whatever built the struct (file,
 * flags, API, or code filling it directly): every rule of config/rules.c
 * over the whole config (kernel set, ranges, ids valid and unique, at most
 * one root device, taps and MACs not shared, serial path for file/socket,
 * PMU limits). The parsers apply the same rules as they go, so an error is
 * reported as early as possible and in the same words. */
int vm_config_validate(const struct vm_config *c, char *err, size_t errlen);

/* Canonical names, as written in the config file. */
const char *cfg_pmu_mode_name(enum cfg_pmu_mode m);
/* "core_cycles", "instructions", ... for a CFG_PMU_EV_* bit; NULL if none. */
const char *cfg_pmu_arch_event_name(unsigned bit);
const char *cfg_log_level_name(enum cfg_log_level l);
const char *cfg_serial_kind_name(enum cfg_serial_kind k);

/* `mpvm run` command line. */
struct run_opts {
	char *config_file; /* --config-file, NULL if none */
	char *api_sock;    /* --api-sock, NULL if none */
	bool no_api;       /* --no-api */
	bool no_seccomp;   /* --no-seccomp */
	char *id;          /* --id (instance id for GET /), NULL: default */
	char *restore;     /* --restore SNAPSHOT, NULL: boot */
	char *mem_file;    /* --restore-mem (with --restore) */
	bool resume;       /* --resume (with --restore) */
	bool track_dirty_pages; /* --track-dirty-pages (with --restore) */
	bool pmu_fallback; /* --pmu-fallback (with --restore) */
	bool help;         /* -h/--help: usage printed, nothing else applied */
};

/* Parses `argv[1..argc)` (argv[0] is the command name and is skipped):
 * first loads --config-file into `c`, then applies every other flag on top,
 * in order (flags override the file; --drive/--net with an existing id
 * replace that entry, otherwise append). Long flags must be spelled out (no
 * getopt prefixes). `o` must be zeroed or hold an earlier result; it is
 * replaced by this command line's options.
 * Returns 0 on success; 1 for -h/--help (usage printed to stdout, `c`
 * untouched); -1 for a bad flag, `err` naming it (`--cpus: expected an
 * integer in 1..32, got "x"`); -2 when the config file cannot be read or is
 * invalid (`err` starts with its path). On error `c` and `o` are unchanged.
 * Does not call vm_config_validate(): the API may still fill in the rest.
 * Not thread-safe (getopt). */
int cfg_parse_run_args(struct vm_config *c, struct run_opts *o, int argc, char **argv,
		       char *err, size_t errlen);
void run_opts_free(struct run_opts *o);
void cfg_print_run_usage(FILE *f);

#endif
