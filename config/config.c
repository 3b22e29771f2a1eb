/* vm_config lifetime, the whole-file loader and the per-section entry points
 * the API uses. Every entry point parses into a private copy and commits only
 * on success, so a failed parse leaves the config as it was. */
#include "config/config_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_FILE_BYTES (4u << 20) /* far above any real config */

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	cfg_machine_defaults(&c->machine);
	cfg_logger_defaults(&c->logger);
	c->serial.kind = CFG_SERIAL_STDIO;
	cfg_pmu_defaults(&c->pmu);
	cfg_debug_defaults(&c->debug);
}

/* Calls fn on every owned string of c, so free and copy cannot miss one. */
static void for_each_string(struct vm_config *c, void (*fn)(char **s, bool *ok), bool *ok)
{
	fn(&c->boot.kernel_image_path, ok);
	fn(&c->boot.boot_args, ok);
	fn(&c->boot.initrd_path, ok);
	for (int i = 0; i < CFG_MAX_DRIVES; i++) {
		fn(&c->drives[i].drive_id, ok);
		fn(&c->drives[i].path_on_host, ok);
		fn(&c->drives[i].partuuid, ok);
	}
	for (int i = 0; i < CFG_MAX_NETS; i++) {
		fn(&c->nets[i].iface_id, ok);
		fn(&c->nets[i].host_dev_name, ok);
	}
	fn(&c->logger.log_path, ok);
	fn(&c->metrics.metrics_path, ok);
	fn(&c->serial.path, ok);
}

static void free_one(char **s, bool *ok)
{
	(void)ok;
	free(*s);
	*s = NULL;
}

static void dup_one(char **s, bool *ok)
{
	if (*s && !(*s = strdup(*s)))
		*ok = false; /* left NULL: the copy stays freeable */
}

void vm_config_free(struct vm_config *c)
{
	bool ok = true;

	for_each_string(c, free_one, &ok);
}

int vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	bool ok = true;

	*dst = *src;
	for_each_string(dst, dup_one, &ok);
	if (!ok) {
		vm_config_free(dst);
		return -1;
	}
	return 0;
}

/* Replace c's whole config by tmp's (tmp is consumed either way). */
static int commit(struct vm_config *c, struct vm_config *tmp, int rc)
{
	if (rc) {
		vm_config_free(tmp);
		return -1;
	}
	vm_config_free(c);
	*c = *tmp;
	return 0;
}

static int load_drives(struct vm_config *t, const cJSON *root, struct jerr *e)
{
	const cJSON *arr;
	char p[JG_PATH_LEN];
	size_t i = 0;

	if (jg_array(root, "", "drives", 0, CFG_MAX_DRIVES, "drives", &arr, e) <= 0)
		return -1 * (e->len && e->buf[0] != 0 && !jg_get(root, "drives") ? 0 : 1) +
		       (jg_get(root, "drives") ? 0 : 1);
	for (uint32_t k = 0; k < t->ndrives; k++)
		cfg_drive_free(&t->drives[k]);
	t->ndrives = 0;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		struct cfg_drive d;

		jg_index(p, sizeof(p), "drives", i);
		cfg_drive_defaults(&d);
		if (sec_drive(it, p, &d, e)) {
			cfg_drive_free(&d);
			return -1;
		}
		if (cfg_find_drive(t, d.drive_id) >= 0) {
			jg_fail(e, p, "drive_id", "\"%s\" is given twice", d.drive_id);
			cfg_drive_free(&d);
			return -1;
		}
		if (cfg_put_drive(t, &d, p, e)) {
			cfg_drive_free(&d);
			return -1;
		}
	}
	return 0;
}
