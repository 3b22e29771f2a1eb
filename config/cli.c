/* `mpvm run` flags -> vm_config. The config file is loaded first, whatever
 * its position on the line, and every other flag is then applied on top in
 * the order given, so flags always win over the file. */
#include "config/config_int.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/utf8.h"

enum {
	OPT_CONFIG = 256, OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_HUGE,
	OPT_SERIAL, OPT_EXIT_PORT, OPT_NO_EXIT_PORT, OPT_BOOT_MARKER, OPT_NO_BOOT_MARKER,
	OPT_PMU, OPT_PMU_GP, OPT_PMU_FIXED, OPT_PMU_VERSION, OPT_PMU_GP_WIDTH,
	OPT_PMU_FIXED_WIDTH, OPT_PMU_TRAP, OPT_PMU_ALLOW, OPT_PMU_DENY, OPT_PMU_UNAVAIL, OPT_DRIVE, OPT_NET,
	OPT_ENTROPY, OPT_LOG_LEVEL, OPT_LOG_PATH, OPT_METRICS_PATH, OPT_API_SOCK, OPT_NO_API, OPT_NO_SECCOMP,
	OPT_ID, OPT_RESTORE, OPT_MEM_FILE, OPT_RESUME, OPT_TRACK_DIRTY, OPT_PMU_FALLBACK,
};

static const struct option long_opts[] = {
	{"config-file", required_argument, NULL, OPT_CONFIG},
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"boot-args", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"huge-pages", no_argument, NULL, OPT_HUGE},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"exit-port", no_argument, NULL, OPT_EXIT_PORT},
	{"no-exit-port", no_argument, NULL, OPT_NO_EXIT_PORT},
	{"boot-marker", no_argument, NULL, OPT_BOOT_MARKER},
	{"no-boot-marker", no_argument, NULL, OPT_NO_BOOT_MARKER},
	{"pmu", required_argument, NULL, OPT_PMU},
	{"pmu-gp-counters", required_argument, NULL, OPT_PMU_GP},
	{"pmu-fixed-counters", required_argument, NULL, OPT_PMU_FIXED},
	{"pmu-version", required_argument, NULL, OPT_PMU_VERSION},
	{"pmu-gp-width", required_argument, NULL, OPT_PMU_GP_WIDTH},
	{"pmu-fixed-width", required_argument, NULL, OPT_PMU_FIXED_WIDTH},
	{"pmu-trap-event-selects", no_argument, NULL, OPT_PMU_TRAP},
	{"pmu-filter-allow", required_argument, NULL, OPT_PMU_ALLOW},
	{"pmu-filter-deny", required_argument, NULL, OPT_PMU_DENY},
	{"pmu-unavailable-events", required_argument, NULL, OPT_PMU_UNAVAIL},
	{"drive", required_argument, NULL, OPT_DRIVE},
	{"net", required_argument, NULL, OPT_NET},
	{"entropy", no_argument, NULL, OPT_ENTROPY},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"log-path", required_argument, NULL, OPT_LOG_PATH},
	{"metrics-path", required_argument, NULL, OPT_METRICS_PATH},
	{"api-sock", required_argument, NULL, OPT_API_SOCK},
	{"no-api", no_argument, NULL, OPT_NO_API},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
	{"id", required_argument, NULL, OPT_ID},
	{"restore", required_argument, NULL, OPT_RESTORE},
	{"restore-mem", required_argument, NULL, OPT_MEM_FILE},
	{"resume", no_argument, NULL, OPT_RESUME},
	{"track-dirty-pages", no_argument, NULL, OPT_TRACK_DIRTY},
	{"pmu-fallback", no_argument, NULL, OPT_PMU_FALLBACK},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

void cfg_print_run_usage(FILE *f)
{
	fputs("usage: mpvm run [--config-file FILE] [flags]\n"
	      "Flags override the config file (Firecracker's JSON shape plus mpvm's keys).\n"
	      "  --config-file FILE        load FILE first\n"
	      "  --kernel PATH             kernel image (boot-source.kernel_image_path)\n"
	      "  --initrd PATH             initrd\n"
	      "  --cmdline STR             kernel command line (alias --boot-args)\n"
	      "  --cpus N                  vCPUs, 1.." CFG_STR(CFG_MAX_VCPUS) " (default 1)\n"
	      "  --memory SIZE             RAM: 512, 512M or 2G (default 128M)\n"
	      "  --huge-pages              back RAM with 2M huge pages\n"
	      "  --serial WHERE            stdio | none | file:PATH | socket:PATH\n"
	      "  --exit-port, --no-exit-port   isa-debug-exit device at port 0xf4\n"
	      "  --boot-marker, --no-boot-marker  log boot time on a write to port 0x3f0\n"
	      "  --pmu MODE                auto | off | mediated | legacy | soft\n"
	      "  --pmu-version N           architectural PMU version shown to the guest, 0.."
	      CFG_STR(CFG_PMU_MAX_VERSION) "\n"
	      "  --pmu-gp-counters N       general-purpose counters, 0.." CFG_STR(CFG_PMU_MAX_COUNTERS) "\n"
	      "  --pmu-fixed-counters N    fixed counters, 0.." CFG_STR(CFG_PMU_MAX_COUNTERS) "\n"
	      "  --pmu-gp-width N, --pmu-fixed-width N   counter widths in bits, 1.."
	      CFG_STR(CFG_PMU_MAX_WIDTH) "\n"
	      "  --pmu-trap-event-selects  route event-select writes through mpvm\n"
	      "  --pmu-filter-allow LIST   only these events count: EVENT[:UMASK],... in hex\n"
	      "  --pmu-filter-deny LIST    these events do not count\n"
	      "  --pmu-unavailable-events LIST  architectural events the guest sees as\n"
	      "                            unavailable (CPUID 0xA EBX): core_cycles,\n"
	      "                            instructions, reference_cycles, llc_references,\n"
	      "                            llc_misses, branches, branch_misses; or 0xMASK\n"
	      "  --drive id=ID,path=P[,ro][,root][,engine=sync|async][,cache=unsafe|writeback]\n"
	      "                            virtio-blk drive (repeatable)\n"
	      "  --net id=ID,tap=NAME[,mac=aa:bb:cc:dd:ee:ff]   virtio-net (repeatable)\n"
	      "  --entropy                 virtio-rng device\n"
	      "  --log-level L             Off|Error|Warning|Info|Debug|Trace (default Warning)\n"
	      "  --log-path P              log file (default stderr)\n"
	      "  --metrics-path P          metrics file (newline-delimited JSON)\n"
	      "  --api-sock PATH           serve the API on this UNIX socket\n"
	      "  --no-api                  no API socket\n"
	      "  --no-seccomp              do not confine mpvm with its seccomp filter (debugging)\n"
	      "  --id ID                   instance id reported by GET /\n"
	      "  --restore SNAPSHOT        start from a snapshot (PUT /snapshot/create) instead of\n"
	      "                            booting; with --restore-mem MEM, its memory file; the VM\n"
	      "                            stays Paused unless --resume; --track-dirty-pages for\n"
	      "                            Diff snapshots later; --pmu-fallback accepts another\n"
	      "                            PMU mode when this host lacks the snapshot's (no other\n"
	      "                            VM flag may be given)\n"
	      "  -h, --help                this text\n",
	      f);
}

static int fail(struct jerr *e, const char *flag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct jerr *e, const char *flag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e->buf, e->len, fmt, ap);
	va_end(ap);
	return err_prefix(e->buf, e->len, "%s: ", flag);
}

static int set_str(char **dst, const char *v, const char *flag, struct jerr *e)
{
	char *copy;

	if (!v[0])
		return fail(e, flag, "expected a non-empty value");
	if (!(copy = strdup(v)))
		return fail(e, flag, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

static int get_uint(const char *v, uint64_t min, uint64_t max, const char *flag, uint64_t *out,
		    struct jerr *e)
{
	if (jg_parse_u64(v, 10, out) && *out >= min && *out <= max)
		return 0;
	return fail(e, flag, "expected an integer in %llu..%llu, got \"%s\"",
		    (unsigned long long)min, (unsigned long long)max, v);
}

static int set_int(int *dst, const char *v, uint64_t min, uint64_t max, const char *flag,
		   struct jerr *e)
{
	uint64_t n;

	if (get_uint(v, min, max, flag, &n, e))
		return -1;
	*dst = (int)n;
	return 0;
}

/* "512", "512M", "512MiB", "2G", "2GiB" -> MiB. */
static int set_memory(struct cfg_machine *m, const char *v, const char *flag, struct jerr *e)
{
	char num[24];
	size_t n = strspn(v, "0123456789");
	const char *suf = v + n;
	uint64_t mib, mult;

	if (!strcasecmp(suf, "") || !strcasecmp(suf, "M") || !strcasecmp(suf, "MiB"))
		mult = 1;
	else if (!strcasecmp(suf, "G") || !strcasecmp(suf, "GiB"))
		mult = 1024;
	else
		mult = 0;
	if (n && n < sizeof(num) && mult) {
		memcpy(num, v, n);
		num[n] = 0;
		if (jg_parse_u64(num, 10, &mib) && mib >= 1 && mib <= CFG_MAX_MEM_MIB / mult) {
			m->mem_size_mib = mib * mult;
			return 0;
		}
	}
	return fail(e, flag, "expected a size like 512, 512M or 2G (1..%d MiB), got \"%s\"",
		    CFG_MAX_MEM_MIB, v);
}

static int set_serial(struct cfg_serial *s, const char *v, const char *flag, struct jerr *e)
{
	const char *colon = strchr(v, ':');
	enum cfg_serial_kind kind;
	char *path = NULL;

	if (!strcmp(v, "stdio"))
		kind = CFG_SERIAL_STDIO;
	else if (!strcmp(v, "none"))
		kind = CFG_SERIAL_NONE;
	else if (colon && colon[1] && !strncmp(v, "file:", 5))
		kind = CFG_SERIAL_FILE;
	else if (colon && colon[1] && !strncmp(v, "socket:", 7))
		kind = CFG_SERIAL_SOCKET;
	else
		return fail(e, flag, "expected stdio, none, file:PATH or socket:PATH, got \"%s\"",
			    v);
	if ((kind == CFG_SERIAL_FILE || kind == CFG_SERIAL_SOCKET) && !(path = strdup(colon + 1)))
		return fail(e, flag, "out of memory");
	free(s->path);
	s->kind = kind;
	s->path = path;
	return 0;
}

static int set_enum(int *dst, const char *v, const char *const *names, const char *flag,
		    struct jerr *e)
{
	char list[160] = "";
	size_t n = 0;

	for (int i = 0; names[i]; i++) {
		if (!strcasecmp(v, names[i])) {
			*dst = i;
			return 0;
		}
		if (n < sizeof(list))
			n += snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", names[i]);
	}
	return fail(e, flag, "expected one of %s, got \"%s\"", list, v);
}

/* "c0,3c:00,0x2e:0x4f": the first filter flag replaces the file's filter,
 * later ones of the same action add to it. */
static int set_filter(struct cfg_pmu_filter *f, bool *from_cli, enum cfg_filter_action action,
		      const char *v, const char *flag, struct jerr *e)
{
	char *list = strdup(v), *save = NULL;
	int rc = 0;

	if (!list)
		return fail(e, flag, "out of memory");
	if (*from_cli && f->action != action)
		rc = fail(e, flag, "conflicts with --pmu-filter-%s: a filter has one action",
			  f->action == CFG_FILTER_ALLOW ? "allow" : "deny");
	if (!*from_cli)
		*f = (struct cfg_pmu_filter){.set = true, .action = action};
	*from_cli = true;
	if (!rc && !v[0])
		rc = fail(e, flag, "expected a list of EVENT[:UMASK] in hex, got \"\"");
	for (char *t = strtok_r(list, ",", &save); !rc && t; t = strtok_r(NULL, ",", &save)) {
		char *um = strchr(t, ':');
		uint64_t ev, mask = 0;

		if (um)
			*um++ = 0;
		if (!jg_parse_u64(t, 16, &ev) || ev > CFG_PMU_MAX_EVENT_SELECT ||
		    (um && (!jg_parse_u64(um, 16, &mask) || mask > 0xff))) {
			if (um)
				um[-1] = ':';
			rc = fail(e, flag,
				  "expected EVENT[:UMASK] in hex (like c0 or 2e:4f), got \"%s\"", t);
		} else if (f->nevents >= CFG_PMU_MAX_FILTER_EVENTS) {
			rc = fail(e, flag, "at most %d events (KVM_PMU_EVENT_FILTER limit)",
				  CFG_PMU_MAX_FILTER_EVENTS);
		} else {
			f->events[f->nevents++] = (struct cfg_pmu_event){
				.event_select = (uint16_t)ev, .unit_mask = (uint8_t)mask};
		}
	}
	free(list);
	return rc;
}

/* Splits "k=v,flag,..." and calls fn for each item; v is NULL for bare flags. */
static int each_item(const char *v, const char *flag, struct jerr *e, void *ctx,
		     int (*fn)(void *ctx, const char *k, const char *val, const char *flag,
			       struct jerr *e))
{
	char *s = strdup(v), *save = NULL;
	int rc = 0;

	if (!s)
		return fail(e, flag, "out of memory");
	for (char *t = strtok_r(s, ",", &save); !rc && t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');

		if (eq)
			*eq++ = 0;
		rc = fn(ctx, t, eq, flag, e);
	}
	free(s);
	return rc;
}

static int need_value(const char *k, const char *val, const char *flag, struct jerr *e)
{
	if (!val || !val[0])
		return fail(e, flag, "%s: expected %s=VALUE", k, k);
	return 0;
}

static int no_value(const char *k, const char *val, const char *flag, struct jerr *e)
{
	if (val)
		return fail(e, flag, "%s: takes no value, got \"%s=%s\"", k, k, val);
	return 0;
}

static int drive_item(void *ctx, const char *k, const char *val, const char *flag,
		      struct jerr *e)
{
	struct cfg_drive *d = ctx;
	int v;

	if (!strcmp(k, "id"))
		return need_value(k, val, flag, e) || cfg_check_id(val, flag, k, e) ||
		       set_str(&d->drive_id, val, flag, e);
	if (!strcmp(k, "path"))
		return need_value(k, val, flag, e) || set_str(&d->path_on_host, val, flag, e);
	if (!strcmp(k, "ro"))
		return no_value(k, val, flag, e) ? -1 : (d->is_read_only = true, 0);
	if (!strcmp(k, "root"))
		return no_value(k, val, flag, e) ? -1 : (d->is_root_device = true, 0);
	if (!strcmp(k, "engine")) {
		static const char *const n[] = {"sync", "async", NULL};

		if (need_value(k, val, flag, e) || set_enum(&v, val, n, flag, e))
			return -1;
		d->io_engine = (enum cfg_io_engine)v;
		return 0;
	}
	if (!strcmp(k, "cache")) {
		static const char *const n[] = {"unsafe", "writeback", NULL};

		if (need_value(k, val, flag, e) || set_enum(&v, val, n, flag, e))
			return -1;
		d->cache_type = (enum cfg_cache_type)v;
		return 0;
	}
	return fail(e, flag, "unknown item \"%s\" (expected id=, path=, ro, root, engine=, "
		    "cache=)", k);
}

static int add_drive(struct vm_config *t, const char *v, const char *flag, struct jerr *e)
{
	struct cfg_drive d;
	int rc;

	cfg_drive_defaults(&d);
	rc = each_item(v, flag, e, &d, drive_item);
	if (!rc && (!d.drive_id || !d.path_on_host))
		rc = fail(e, flag, "needs id=ID and path=PATH, got \"%s\"", v);
	if (!rc)
		rc = cfg_put_drive(t, &d, flag, &cfg_cli_keys, e);
	cfg_drive_free(&d);
	return rc;
}

static int net_item(void *ctx, const char *k, const char *val, const char *flag, struct jerr *e)
{
	struct cfg_net *n = ctx;

	if (need_value(k, val, flag, e))
		return -1;
	if (!strcmp(k, "id"))
		return cfg_check_id(val, flag, k, e) || set_str(&n->iface_id, val, flag, e);
	if (!strcmp(k, "tap"))
		return cfg_check_tap(val, flag, k, e) || set_str(&n->host_dev_name, val, flag, e);
	if (!strcmp(k, "mac")) {
		if (!jg_parse_mac(val, n->guest_mac))
			return fail(e, flag, "mac: expected a MAC address like 06:00:ac:10:00:02, "
				    "got \"%s\"", val);
		n->has_mac = true;
		return 0;
	}
	return fail(e, flag, "unknown item \"%s\" (expected id=, tap=, mac=)", k);
}

static int add_net(struct vm_config *t, const char *v, const char *flag, struct jerr *e)
{
	struct cfg_net n = {0};
	int rc = each_item(v, flag, e, &n, net_item);

	if (!rc && (!n.iface_id || !n.host_dev_name))
		rc = fail(e, flag, "needs id=ID and tap=NAME, got \"%s\"", v);
	if (!rc)
		rc = cfg_put_net(t, &n, flag, &cfg_cli_keys, e);
	cfg_net_free(&n);
	return rc;
}

struct parsed {
	int id;
	const char *flag; /* "--name" as matched, for errors */
	const char *arg;
};

struct apply_ctx {
	struct vm_config *t;
	struct run_opts *o;
	bool filter_from_cli;
};

static int apply_one(struct apply_ctx *x, const struct parsed *p, struct jerr *e)
{
	struct vm_config *t = x->t;
	const char *v = p->arg, *f = p->flag;
	int n;

	switch (p->id) {
	case OPT_KERNEL: return set_str(&t->boot.kernel_image_path, v, f, e);
	case OPT_INITRD: return set_str(&t->boot.initrd_path, v, f, e);
	case OPT_CMDLINE: {
		char *copy = strdup(v); /* "" is a valid command line */

		if (!copy)
			return fail(e, f, "out of memory");
		free(t->boot.boot_args);
		t->boot.boot_args = copy;
		return 0;
	}
	case OPT_CPUS: {
		uint64_t cpus;

		if (get_uint(v, 1, CFG_MAX_VCPUS, f, &cpus, e))
			return -1;
		t->machine.vcpu_count = (uint32_t)cpus;
		return 0;
	}
	case OPT_MEMORY: return set_memory(&t->machine, v, f, e);
	case OPT_HUGE: t->machine.huge_pages = CFG_HUGE_2M; return 0;
	case OPT_SERIAL: return set_serial(&t->serial, v, f, e);
	case OPT_EXIT_PORT: t->debug.exit_port = true; return 0;
	case OPT_NO_EXIT_PORT: t->debug.exit_port = false; return 0;
	case OPT_BOOT_MARKER: t->debug.boot_marker = true; return 0;
	case OPT_NO_BOOT_MARKER: t->debug.boot_marker = false; return 0;
	case OPT_PMU:
		if (set_enum(&n, v, cfg_pmu_mode_names, f, e))
			return -1;
		t->pmu.mode = (enum cfg_pmu_mode)n;
		return 0;
	case OPT_PMU_GP:
		return set_int(&t->pmu.gp_counters, v, 0, CFG_PMU_MAX_COUNTERS, f, e);
	case OPT_PMU_FIXED:
		return set_int(&t->pmu.fixed_counters, v, 0, CFG_PMU_MAX_COUNTERS, f, e);
	case OPT_PMU_VERSION: return set_int(&t->pmu.version, v, 0, CFG_PMU_MAX_VERSION, f, e);
	case OPT_PMU_GP_WIDTH: return set_int(&t->pmu.gp_width, v, 1, CFG_PMU_MAX_WIDTH, f, e);
	case OPT_PMU_FIXED_WIDTH:
		return set_int(&t->pmu.fixed_width, v, 1, CFG_PMU_MAX_WIDTH, f, e);
	case OPT_PMU_TRAP: t->pmu.trap_event_selects = true; return 0;
	case OPT_PMU_ALLOW:
	case OPT_PMU_DENY:
		return set_filter(&t->pmu.filter, &x->filter_from_cli,
				  p->id == OPT_PMU_ALLOW ? CFG_FILTER_ALLOW : CFG_FILTER_DENY, v,
				  f, e);
	case OPT_PMU_UNAVAIL: {
		char why[300];
		uint32_t mask;

		if (cfg_pmu_parse_event_list(v, &mask, why, sizeof(why)))
			return fail(e, f, "%s", why);
		t->pmu.unavailable_events = mask;
		return 0;
	}
	case OPT_DRIVE: return add_drive(t, v, f, e);
	case OPT_NET: return add_net(t, v, f, e);
	case OPT_ENTROPY: t->entropy.enabled = true; return 0;
	case OPT_LOG_LEVEL:
		if (set_enum(&n, v, cfg_log_level_names, f, e))
			return -1;
		t->logger.level = n == CFG_LOG_LEVEL_WARN_ALIAS ? CFG_LOG_WARNING
								: (enum cfg_log_level)(n - 1);
		return 0;
	case OPT_LOG_PATH: return set_str(&t->logger.log_path, v, f, e);
	case OPT_METRICS_PATH: return set_str(&t->metrics.metrics_path, v, f, e);
	case OPT_API_SOCK: return set_str(&x->o->api_sock, v, f, e);
	case OPT_NO_API: x->o->no_api = true; return 0;
	case OPT_NO_SECCOMP: x->o->no_seccomp = true; return 0;
	case OPT_ID:
		return cfg_check_id(v, f, NULL, e) || set_str(&x->o->id, v, f, e);
	case OPT_RESTORE: return set_str(&x->o->restore, v, f, e);
	case OPT_MEM_FILE: return set_str(&x->o->mem_file, v, f, e);
	case OPT_RESUME: x->o->resume = true; return 0;
	case OPT_TRACK_DIRTY: x->o->track_dirty_pages = true; return 0;
	case OPT_PMU_FALLBACK: x->o->pmu_fallback = true; return 0;
	}
	return fail(e, f, "internal error: unhandled flag");
}

/* Why getopt refused argv[optind - 1]. */
static int bad_option(const char *arg, struct jerr *e)
{
	const char *eq = strchr(arg, '=');

	if (!strncmp(arg, "--", 2) && eq) {
		for (const struct option *lo = long_opts; lo->name; lo++)
			if (lo->has_arg == no_argument && strlen(lo->name) == (size_t)(eq - arg - 2) &&
			    !strncmp(lo->name, arg + 2, (size_t)(eq - arg - 2)))
				return jg_fail(e, "", NULL, "--%s: takes no value, got \"%s\"",
					       lo->name, UTF8_CLIP(arg, 129));
	}
	return jg_fail(e, "", NULL, "unknown or ambiguous option \"%s\" (see mpvm run --help)",
		       UTF8_CLIP(arg, 129));
}

/* getopt_long takes unique prefixes ("--cpu" for "--cpus"); refusing them
 * keeps scripts working when a later flag makes a prefix ambiguous. */
static int check_exact(char **argv, const char *name, struct jerr *e)
{
	const char *t = argv[optind - 1];
	size_t len;

	if (optarg && t == optarg) /* value was the next argument */
		t = argv[optind - 2];
	if (strncmp(t, "--", 2))
		return 0;
	len = strcspn(t + 2, "=");
	if (len == strlen(name) && !strncmp(t + 2, name, len))
		return 0;
	return jg_fail(e, "", NULL, "unknown option \"%s\" (did you mean --%s?)",
		       utf8_clip_n((char[129]){0}, 129, t, len + 2), name);
}

/* Every flag's value obeys the text rule (base/utf8.h), like the file's and
 * the API's strings: it may end up in GET /vm/config's JSON. */
static int check_value(const char *name, const char *v, struct jerr *e)
{
	char why[96];

	if (!utf8_check(v, strlen(v), why, sizeof(why)))
		return 0;
	return jg_fail(e, "", NULL, "--%s: %s", name, why);
}

/* --restore takes the VM from the snapshot: flags that configure a VM
 * would be ignored, so they are refused (as the API refuses a load after
 * boot resources), and --restore-mem is required. */
static int check_restore(const struct run_opts *o, const struct parsed *list, size_t n,
			 struct jerr *e)
{
	static const int allowed[] = { OPT_RESTORE, OPT_MEM_FILE, OPT_RESUME, OPT_TRACK_DIRTY,
				       OPT_PMU_FALLBACK,
				       OPT_LOG_LEVEL, OPT_LOG_PATH, OPT_METRICS_PATH, OPT_API_SOCK,
				       OPT_NO_API, OPT_NO_SECCOMP, OPT_ID };
	if (!o->restore) {
		for (size_t i = 0; i < n; i++)
			if (list[i].id == OPT_MEM_FILE || list[i].id == OPT_RESUME ||
			    list[i].id == OPT_TRACK_DIRTY || list[i].id == OPT_PMU_FALLBACK)
				return jg_fail(e, "", NULL, "--%s: only with --restore", list[i].flag);
		return 0;
	}
	if (!o->mem_file)
		return jg_fail(e, "", NULL, "--restore: needs --restore-mem (the snapshot's memory file)");
	if (o->config_file)
		return jg_fail(e, "", NULL, "--restore: conflicts with --config-file (the snapshot "
			       "holds the VM's config)");
	for (size_t i = 0; i < n; i++) {
		bool ok = false;
		for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
			ok |= list[i].id == allowed[k];
		if (!ok)
			return jg_fail(e, "", NULL, "--%s: conflicts with --restore (the snapshot holds "
				       "the VM's config)", list[i].flag);
	}
	return 0;
}

void run_opts_free(struct run_opts *o)
{
	free(o->config_file);
	free(o->api_sock);
	free(o->id);
	free(o->restore);
	free(o->mem_file);
	memset(o, 0, sizeof(*o));
}

int cfg_parse_run_args(struct vm_config *c, struct run_opts *o, int argc, char **argv,
		       char *err, size_t errlen)
{
	struct jerr e = {err, errlen};
	struct parsed *list = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*list));
	struct run_opts no = {0};
	struct vm_config tmp;
	struct apply_ctx x = {.t = &tmp, .o = &no};
	size_t n = 0;
	int opt, idx, rc = 0;

	if (!list)
		return jg_fail(&e, "", NULL, "out of memory");
	/* First pass: syntax only, so that --config-file applies before any
	 * flag wherever it sits. '+' stops at the first non-option instead of
	 * permuting argv. */
	optind = 0;
	opterr = 0;
	while (!rc && (opt = getopt_long(argc, argv, "+:h", long_opts, &idx)) != -1) {
		const char *name = opt >= OPT_CONFIG ? long_opts[idx].name : "help";

		if (opt == '?')
			rc = bad_option(argv[optind - 1], &e);
		else if (opt != ':' && opt != 'h' && (rc = check_exact(argv, name, &e)))
			break;
		else if (opt == ':')
			rc = jg_fail(&e, "", NULL, "%s: expected a value",
				     UTF8_CLIP(argv[optind - 1], 129));
		else if (optarg && (rc = check_value(name, optarg, &e)))
			break;
		else if (opt == 'h')
			no.help = true;
		else if (opt == OPT_CONFIG && no.config_file)
			rc = jg_fail(&e, "", NULL, "--config-file: given twice");
		else if (opt == OPT_CONFIG)
			rc = set_str(&no.config_file, optarg, "--config-file", &e);
		else
			list[n++] = (struct parsed){.id = opt, .arg = optarg, .flag = name};
	}
	if (!rc && optind < argc)
		rc = jg_fail(&e, "", NULL, "unexpected argument \"%s\" (flags start with --)",
			     UTF8_CLIP(argv[optind], 129));
	if (rc || no.help) {
		free(list);
		if (!rc) {
			cfg_print_run_usage(stdout);
			run_opts_free(o);
			*o = no;
			return 1;
		}
		run_opts_free(&no);
		return -1;
	}
	if (vm_config_copy(&tmp, c)) {
		free(list);
		run_opts_free(&no);
		return jg_fail(&e, "", NULL, "out of memory");
	}
	/* -2 tells the caller the file, not a flag, was wrong (exit codes differ). */
	if (no.config_file && vm_config_load_file(&tmp, no.config_file, err, errlen))
		rc = -2;
	for (size_t i = 0; !rc && i < n; i++) {
		char flag[64];
		struct parsed p = list[i];

		snprintf(flag, sizeof(flag), "--%s", p.flag);
		p.flag = flag;
		rc = apply_one(&x, &p, &e);
	}
	if (!rc && no.no_api && no.api_sock)
		rc = jg_fail(&e, "", NULL, "--no-api: conflicts with --api-sock");
	if (!rc)
		rc = check_restore(&no, list, n, &e);
	free(list);
	if (rc) {
		vm_config_free(&tmp);
		run_opts_free(&no);
		return rc == -2 ? -2 : -1;
	}
	vm_config_free(c);
	*c = tmp;
	run_opts_free(o);
	*o = no;
	return 0;
}
