/* Firecracker's sections (boot-source, machine-config, drives, network
 * interfaces, entropy, logger, metrics) and mpvm's serial and debug: JSON
 * object -> struct, with every error naming its path. See config_int.h. */
#include "config/config_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cfg_huge_names[] = {"None", "2M", "Transparent", NULL};
const char *const cfg_mmds_version_names[] = {"V1", "V2", NULL};
/* Firecracker's static CPU templates: only "None" needs nothing mpvm lacks. */
static const char *const cpu_template_names[] = {"None", "C3", "T2", "T2S", "T2CL", "T2A",
						 "V1N1", NULL};
const char *const cfg_engine_names[] = {"Sync", "Async", NULL};
const char *const cfg_cache_names[] = {"Unsafe", "Writeback", NULL};
const char *const cfg_serial_names[] = {"stdio", "file", "socket", "none", NULL};
const char *const cfg_log_level_names[] = {"Off", "Error", "Warning", "Info", "Debug", "Trace",
					   "Warn", NULL};

void cfg_boot_free(struct cfg_boot_source *b)
{
	free(b->kernel_image_path);
	free(b->boot_args);
	free(b->initrd_path);
	memset(b, 0, sizeof(*b));
}

void cfg_drive_free(struct cfg_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

void cfg_net_free(struct cfg_net *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
	memset(n, 0, sizeof(*n));
}

void cfg_machine_defaults(struct cfg_machine *m)
{
	*m = (struct cfg_machine){.vcpu_count = 1, .mem_size_mib = 128,
				  .huge_pages = CFG_HUGE_NONE};
}

void cfg_drive_defaults(struct cfg_drive *d)
{
	*d = (struct cfg_drive){.cache_type = CFG_CACHE_UNSAFE, .io_engine = CFG_IO_SYNC};
}

void cfg_logger_defaults(struct cfg_logger *l)
{
	*l = (struct cfg_logger){.level = CFG_LOG_WARNING};
}

void cfg_debug_defaults(struct cfg_debug *d)
{
	*d = (struct cfg_debug){.exit_port = false, .boot_marker = true};
}

/* Required id string, checked for the characters API paths can carry. */
static int get_id(const cJSON *j, const char *path, const char *key, char **out, struct jerr *e)
{
	if (jg_str(j, path, key, JG_REQUIRED, out, e) < 0)
		return -1;
	return cfg_check_id(*out, path, key, e);
}

int sec_boot(const cJSON *j, const char *path, struct cfg_boot_source *b, struct jerr *e)
{
	static const char *const keys[] = {"kernel_image_path", "boot_args", "initrd_path", NULL};

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	if (jg_str(j, path, "kernel_image_path", JG_REQUIRED | JG_NONEMPTY,
		   &b->kernel_image_path, e) < 0 ||
	    jg_str(j, path, "boot_args", 0, &b->boot_args, e) < 0 ||
	    jg_str(j, path, "initrd_path", JG_NONEMPTY, &b->initrd_path, e) < 0)
		return -1;
	return 0;
}

int sec_machine(const cJSON *j, const char *path, bool partial, struct cfg_machine *m,
		struct jerr *e)
{
	static const char *const keys[] = {"vcpu_count", "mem_size_mib", "smt",
					   "track_dirty_pages", "huge_pages", "cpu_template", NULL};
	/* Firecracker's PUT requires both sizes; PATCH takes any subset. */
	unsigned req = partial ? 0 : JG_REQUIRED;
	uint64_t v;
	int r, hp;

	bool any = false;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	for (const char *const *k = keys; *k; k++)
		any |= jg_get(j, *k) != NULL;
	/* Firecracker refuses a PATCH that changes nothing, in these words. */
	if (partial && !any)
		return jg_fail(e, path, NULL, "Empty PATCH request.");
	if ((r = jg_uint(j, path, "vcpu_count", req, 1, CFG_MAX_VCPUS, &v, e)) < 0)
		return -1;
	if (r)
		m->vcpu_count = (uint32_t)v;
	if ((r = jg_uint(j, path, "mem_size_mib", req, 1, CFG_MAX_MEM_MIB, &v, e)) < 0)
		return -1;
	if (r)
		m->mem_size_mib = v;
	if (jg_bool(j, path, "smt", 0, &m->smt, e) < 0 ||
	    jg_bool(j, path, "track_dirty_pages", 0, &m->track_dirty_pages, e) < 0)
		return -1;
	if ((r = jg_enum(j, path, "huge_pages", 0, cfg_huge_names, &hp, e)) < 0)
		return -1;
	if (r)
		m->huge_pages = (enum cfg_huge_pages)hp;
	if ((r = jg_enum(j, path, "cpu_template", 0, cpu_template_names, &hp, e)) < 0)
		return -1;
	if (r && hp)
		return cfg_fail_missing(e, path, "cpu_template", CFG_FC_CPU_TEMPLATE);
	return cfg_check_machine(m, path, e);
}

static int sec_bucket(const cJSON *j, const char *path, const char *key,
		      struct cfg_token_bucket *b, struct jerr *e)
{
	static const char *const keys[] = {"size", "one_time_burst", "refill_time", NULL};
	const cJSON *v = jg_get(j, key);
	char p[JG_PATH_LEN];

	if (!v)
		return 0;
	jg_subpath(p, sizeof(p), path, key);
	*b = (struct cfg_token_bucket){.set = true};
	if (jg_want_object(v, p, e) || jg_check_keys(v, p, keys, e) ||
	    jg_uint(v, p, "size", JG_REQUIRED, 0, JG_MAX_EXACT, &b->size, e) < 0 ||
	    jg_uint(v, p, "one_time_burst", 0, 0, JG_MAX_EXACT, &b->one_time_burst, e) < 0 ||
	    jg_uint(v, p, "refill_time", JG_REQUIRED, 0, JG_MAX_EXACT, &b->refill_time_ms, e) < 0)
		return -1;
	return 0;
}

int sec_rate_limiter(const cJSON *j, const char *path, const char *key,
		     struct cfg_rate_limiter *rl, struct jerr *e)
{
	static const char *const keys[] = {"bandwidth", "ops", NULL};
	const cJSON *v = jg_get(j, key);
	char p[JG_PATH_LEN];

	*rl = (struct cfg_rate_limiter){0};
	if (!v)
		return 0;
	jg_subpath(p, sizeof(p), path, key);
	if (jg_want_object(v, p, e) || jg_check_keys(v, p, keys, e) ||
	    sec_bucket(v, p, "bandwidth", &rl->bandwidth, e) ||
	    sec_bucket(v, p, "ops", &rl->ops, e))
		return -1;
	return 0;
}

int sec_drive(const cJSON *j, const char *path, struct cfg_drive *d, struct jerr *e)
{
	static const char *const keys[] = {"drive_id", "path_on_host", "is_root_device",
					   "is_read_only", "partuuid", "cache_type", "io_engine",
					   "rate_limiter", "socket", NULL};
	int r, v;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    get_id(j, path, "drive_id", &d->drive_id, e) ||
	    (jg_get(j, "socket") && cfg_fail_missing(e, path, "socket", CFG_FC_VHOST_USER_BLK)) ||
	    jg_str(j, path, "path_on_host", JG_REQUIRED | JG_NONEMPTY, &d->path_on_host, e) < 0 ||
	    jg_bool(j, path, "is_root_device", JG_REQUIRED, &d->is_root_device, e) < 0 ||
	    jg_bool(j, path, "is_read_only", 0, &d->is_read_only, e) < 0 ||
	    jg_str(j, path, "partuuid", JG_NONEMPTY, &d->partuuid, e) < 0)
		return -1;
	if ((r = jg_enum(j, path, "cache_type", 0, cfg_cache_names, &v, e)) < 0)
		return -1;
	if (r)
		d->cache_type = (enum cfg_cache_type)v;
	if ((r = jg_enum(j, path, "io_engine", 0, cfg_engine_names, &v, e)) < 0)
		return -1;
	if (r)
		d->io_engine = (enum cfg_io_engine)v;
	return sec_rate_limiter(j, path, "rate_limiter", &d->rate_limiter, e);
}

int sec_net(const cJSON *j, const char *path, struct cfg_net *n, struct jerr *e)
{
	static const char *const keys[] = {"iface_id", "host_dev_name", "guest_mac",
					   "rx_rate_limiter", "tx_rate_limiter", "mtu", NULL};
	const cJSON *mac;
	char got[64];
	uint64_t mtu;
	int r;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    get_id(j, path, "iface_id", &n->iface_id, e) ||
	    jg_str(j, path, "host_dev_name", JG_REQUIRED, &n->host_dev_name, e) < 0 ||
	    cfg_check_tap(n->host_dev_name, path, "host_dev_name", e))
		return -1;
	mac = jg_get(j, "guest_mac");
	if (mac) {
		if (!cJSON_IsString(mac) || !jg_parse_mac(mac->valuestring, n->guest_mac)) {
			jg_describe(mac, got, sizeof(got));
			return jg_fail(e, path, "guest_mac",
				       "expected a MAC address like \"06:00:ac:10:00:02\", got %s",
				       got);
		}
		n->has_mac = true;
	}
	if (sec_rate_limiter(j, path, "rx_rate_limiter", &n->rx_rate_limiter, e) ||
	    sec_rate_limiter(j, path, "tx_rate_limiter", &n->tx_rate_limiter, e))
		return -1;
	/* Firecracker's range (IPv4's minimum to the largest frame). */
	if ((r = jg_uint(j, path, "mtu", 0, 68, 65535, &mtu, e)) < 0)
		return -1;
	return r ? cfg_fail_missing(e, path, "mtu", CFG_FC_NET_MTU) : 0;
}

int sec_entropy(const cJSON *j, const char *path, struct cfg_entropy *out, struct jerr *e)
{
	static const char *const keys[] = {"rate_limiter", NULL};

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    sec_rate_limiter(j, path, "rate_limiter", &out->rate_limiter, e))
		return -1;
	out->enabled = true;
	return 0;
}

int sec_balloon(const cJSON *j, const char *path, struct cfg_balloon *out, struct jerr *e)
{
	static const char *const keys[] = {"amount_mib", "deflate_on_oom",
					   "stats_polling_interval_s", "free_page_hinting",
					   "free_page_reporting", NULL};
	uint64_t amount, interval = 0;
	bool hinting = false, reporting = false;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    jg_uint(j, path, "amount_mib", JG_REQUIRED, 0, UINT32_MAX, &amount, e) < 0 ||
	    jg_bool(j, path, "deflate_on_oom", JG_REQUIRED, &out->deflate_on_oom, e) < 0 ||
	    jg_uint(j, path, "stats_polling_interval_s", 0, 0, UINT16_MAX, &interval, e) < 0 ||
	    jg_bool(j, path, "free_page_hinting", 0, &hinting, e) < 0 ||
	    jg_bool(j, path, "free_page_reporting", 0, &reporting, e) < 0)
		return -1;
	if (hinting)
		return cfg_fail_missing(e, path, "free_page_hinting", CFG_FC_BALLOON_HINTING);
	out->free_page_reporting = reporting;
	out->amount_mib = (uint32_t)amount;
	out->stats_polling_interval_s = (uint32_t)interval;
	out->enabled = true;
	return 0;
}

int sec_vsock(const cJSON *j, const char *path, struct cfg_vsock *out, struct jerr *e)
{
	static const char *const keys[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	uint64_t cid;

	/* CIDs 0-2 are the hypervisor's, reserved and the host's. The socket
	 * path leaves room for "_<port>" (guest-initiated connections). */
	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    jg_uint(j, path, "guest_cid", JG_REQUIRED, 3, UINT32_MAX, &cid, e) < 0 ||
	    jg_str(j, path, "uds_path", JG_REQUIRED | JG_NONEMPTY, &out->uds_path, e) < 0 ||
	    jg_str(j, path, "vsock_id", 0, &out->vsock_id, e) < 0)
		return -1;
	if (strlen(out->uds_path) > 96)
		return jg_fail(e, path, "uds_path", "a UNIX socket path of at most 96 bytes (room "
			       "for \"_<port>\" is needed), got %zu", strlen(out->uds_path));
	out->guest_cid = (uint32_t)cid;
	out->enabled = true;
	return 0;
}

int sec_logger(const cJSON *j, const char *path, struct cfg_logger *l, struct jerr *e)
{
	static const char *const keys[] = {"log_path", "level", "show_level", "show_log_origin",
					   "module", NULL};
	char *module = NULL;
	int r, lv;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    jg_str(j, path, "log_path", JG_NONEMPTY, &l->log_path, e) < 0 ||
	    jg_bool(j, path, "show_level", 0, &l->show_level, e) < 0 ||
	    jg_bool(j, path, "show_log_origin", 0, &l->show_log_origin, e) < 0)
		return -1;
	if ((r = jg_enum(j, path, "level", 0, cfg_log_level_names, &lv, e)) < 0)
		return -1;
	if (r)
		l->level = lv == CFG_LOG_LEVEL_WARN_ALIAS ? CFG_LOG_WARNING
							  : (enum cfg_log_level)(lv - 1);
	if ((r = jg_str(j, path, "module", 0, &module, e)) < 0)
		return -1;
	free(module);
	return r ? cfg_fail_missing(e, path, "module", CFG_FC_LOG_MODULE) : 0;
}

int sec_metrics(const cJSON *j, const char *path, struct cfg_metrics *m, struct jerr *e)
{
	static const char *const keys[] = {"metrics_path", NULL};

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    jg_str(j, path, "metrics_path", JG_REQUIRED | JG_NONEMPTY, &m->metrics_path, e) < 0)
		return -1;
	return 0;
}

/* Firecracker's PUT /serial: {"serial_out_path"?, "rate_limiter"?}. The
 * output goes to that file (mpvm's mode "file"); no path keeps the default. */
static int sec_fc_serial(const cJSON *j, const char *path, struct cfg_serial *s, struct jerr *e)
{
	int r;

	if (jg_get(j, "mode") || jg_get(j, "path"))
		return jg_fail(e, path, "serial_out_path",
			       "give either Firecracker's serial_out_path or mpvm's mode and path, "
			       "not both");
	if (jg_get(j, "rate_limiter"))
		return cfg_fail_missing(e, path, "rate_limiter", CFG_FC_SERIAL_LIMITER);
	if ((r = jg_str(j, path, "serial_out_path", JG_NONEMPTY, &s->path, e)) < 0)
		return -1;
	if (r)
		s->kind = CFG_SERIAL_FILE;
	return 0;
}

int sec_serial(const cJSON *j, const char *path, struct cfg_serial *s, struct jerr *e)
{
	static const char *const keys[] = {"mode", "path", "serial_out_path", "rate_limiter", NULL};
	int r, kind;

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e))
		return -1;
	if (jg_get(j, "serial_out_path") || jg_get(j, "rate_limiter"))
		return sec_fc_serial(j, path, s, e);
	if ((r = jg_enum(j, path, "mode", 0, cfg_serial_names, &kind, e)) < 0)
		return -1;
	if (r)
		s->kind = (enum cfg_serial_kind)kind;
	if (s->kind == CFG_SERIAL_FILE || s->kind == CFG_SERIAL_SOCKET) {
		if (jg_str(j, path, "path", JG_NONEMPTY, &s->path, e) < 0)
			return -1;
		return cfg_check_serial(s, path, e);
	}
	if (jg_get(j, "path"))
		return jg_fail(e, path, "path", "only valid with mode \"file\" or \"socket\"");
	return 0;
}

int sec_debug(const cJSON *j, const char *path, struct cfg_debug *d, struct jerr *e)
{
	static const char *const keys[] = {"exit_port", "boot_marker", NULL};

	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    jg_bool(j, path, "exit_port", 0, &d->exit_port, e) < 0 ||
	    jg_bool(j, path, "boot_marker", 0, &d->boot_marker, e) < 0)
		return -1;
	return 0;
}

void cfg_mmds_free(struct cfg_mmds *m)
{
	for (uint32_t i = 0; i < CFG_MAX_NETS; i++)
		free(m->ifaces[i]);
	memset(m, 0, sizeof(*m));
}

/* "169.254.x.y" with x in 1..254: Firecracker's link-local rule. */
static bool parse_link_local(const char *s, uint8_t ip[4])
{
	unsigned a, b, c, d;
	char end;

	/* Digits and dots only: sscanf alone would skip spaces and signs. */
	if (strspn(s, "0123456789.") != strlen(s) ||
	    sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end) != 4 || a != 169 || b != 254 ||
	    c < 1 || c > 254 || d > 255)
		return false;
	ip[0] = 169, ip[1] = 254, ip[2] = (uint8_t)c, ip[3] = (uint8_t)d;
	return true;
}

int sec_mmds_config(const cJSON *j, const char *path, struct cfg_mmds *m, struct jerr *e)
{
	static const char *const keys[] = {"version", "network_interfaces", "ipv4_address",
					   "imds_compat", NULL};
	const cJSON *arr, *ip;
	char p[JG_PATH_LEN], got[64];
	int r, v;
	size_t i = 0;

	cfg_mmds_free(m);
	*m = (struct cfg_mmds){.set = true, .ipv4 = {169, 254, 169, 254}};
	if (jg_want_object(j, path, e) || jg_check_keys(j, path, keys, e) ||
	    jg_array(j, path, "network_interfaces", JG_REQUIRED, CFG_MAX_NETS,
		     "network interfaces", &arr, e) < 0 ||
	    jg_bool(j, path, "imds_compat", 0, &m->imds_compat, e) < 0)
		return -1;
	if ((r = jg_enum(j, path, "version", 0, cfg_mmds_version_names, &v, e)) < 0)
		return -1;
	if (r)
		m->version = (enum cfg_mmds_version)v;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		jg_subpath(p, sizeof(p), path, "network_interfaces");
		jg_index(p + strlen(p), sizeof(p) - strlen(p), "", i);
		if (!cJSON_IsString(it)) {
			jg_describe(it, got, sizeof(got));
			return jg_fail(e, p, NULL, "expected an interface id, got %s", got);
		}
		if (!(m->ifaces[i] = strdup(it->valuestring)))
			return jg_fail(e, p, NULL, "out of memory");
		m->nifaces = (uint32_t)i + 1;
	}
	ip = jg_get(j, "ipv4_address");
	if (ip && (!cJSON_IsString(ip) || !parse_link_local(ip->valuestring, m->ipv4))) {
		jg_describe(ip, got, sizeof(got));
		return jg_fail(e, path, "ipv4_address",
			       "expected a link-local address 169.254.1.0 to 169.254.254.255, got %s",
			       got);
	}
	return 0;
}

int cfg_find_drive(const struct vm_config *c, const char *id)
{
	for (uint32_t i = 0; i < c->ndrives; i++)
		if (!strcmp(c->drives[i].drive_id, id))
			return (int)i;
	return -1;
}

int cfg_find_net(const struct vm_config *c, const char *id)
{
	for (uint32_t i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].iface_id, id))
			return (int)i;
	return -1;
}

int cfg_put_drive(struct vm_config *c, struct cfg_drive *d, const char *what,
		  const struct cfg_keys *k, struct jerr *e)
{
	int i = cfg_find_drive(c, d->drive_id);

	if (cfg_check_drive_against(c->drives, c->ndrives, d, what, k, e))
		return -1;
	if (i < 0) {
		if (c->ndrives >= CFG_MAX_DRIVES)
			return jg_fail(e, what, NULL, "at most %d drives", CFG_MAX_DRIVES);
		i = (int)c->ndrives++;
	} else {
		cfg_drive_free(&c->drives[i]);
	}
	c->drives[i] = *d;
	memset(d, 0, sizeof(*d));
	return 0;
}

int cfg_put_net(struct vm_config *c, struct cfg_net *n, const char *what,
		const struct cfg_keys *k, struct jerr *e)
{
	int i = cfg_find_net(c, n->iface_id);

	if (cfg_check_net_against(c->nets, c->nnets, n, what, k, e))
		return -1;
	if (i < 0) {
		if (c->nnets >= CFG_MAX_NETS)
			return jg_fail(e, what, NULL, "at most %d network interfaces",
				       CFG_MAX_NETS);
		i = (int)c->nnets++;
	} else {
		cfg_net_free(&c->nets[i]);
	}
	c->nets[i] = *n;
	memset(n, 0, sizeof(*n));
	return 0;
}
