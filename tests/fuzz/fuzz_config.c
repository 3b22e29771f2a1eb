/* libFuzzer: config validation, the one path that the config file, the CLI's
 * file and every API body go through. First byte picks the entry point, the
 * rest is the JSON text. Oracles: no crash, an error always has a message in
 * valid UTF-8 (it becomes a fault_message), and a config that loads prints
 * (vm_config_to_json) to UTF-8 JSON that loads back to the same config.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "config/config.h"

static int load(struct vm_config *c, int which, const char *json, char *err, size_t n)
{
	static struct cfg_pmu_filter f;
	switch (which) {
	case 0: return vm_config_load_json(c, json, err, n);
	case 1: return cfg_parse_boot_source(c, json, err, n);
	case 2: return cfg_parse_machine(c, json, false, err, n);
	case 3: return cfg_parse_machine(c, json, true, err, n);
	case 4: return cfg_parse_drive(c, json, NULL, err, n);
	case 5: return cfg_parse_drive(c, json, "rootfs", err, n);
	case 6: return cfg_patch_drive(c, json, NULL, err, n);
	case 7: return cfg_parse_net(c, json, NULL, err, n);
	case 8: return cfg_parse_entropy(c, json, err, n);
	case 9: return cfg_parse_logger(c, json, err, n);
	case 10: return cfg_parse_metrics(c, json, err, n);
	case 11: return cfg_parse_serial(c, json, err, n);
	case 12: return cfg_parse_debug(c, json, err, n);
	case 13: return cfg_parse_pmu(c, json, err, n);
	default: return cfg_parse_pmu_filter(&f, json, err, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *json = malloc(size);
	if (!json)
		return 0;
	memcpy(json, data + 1, size - 1);
	json[size - 1] = 0;
	char err[CFG_ERR_LEN] = "";
	struct vm_config c;
	vm_config_init(&c);
	if (load(&c, data[0] % 15, json, err, sizeof(err))) {
		if (!err[0])
			abort(); /* a refusal must say why */
		if (utf8_check(err, strlen(err), NULL, 0)) {
			fprintf(stderr, "the error is not UTF-8: %s\n", err);
			abort();
		}
	} else {
		vm_config_validate(&c, err, sizeof(err));
		char *a = vm_config_to_json(&c);
		if (a && utf8_check(a, strlen(a), NULL, 0))
			abort(); /* strings got in that GET /vm/config cannot show */
		struct vm_config back;
		vm_config_init(&back);
		if (!a || vm_config_load_json(&back, a, err, sizeof(err))) {
			fprintf(stderr, "round trip: %s\n%s\n", err, a ? a : "(null)");
			abort();
		}
		char *b = vm_config_to_json(&back);
		if (!b || strcmp(a, b)) {
			fprintf(stderr, "round trip differs:\n%s\n%s\n", a, b ? b : "(null)");
			abort();
		}
		free(a);
		free(b);
		vm_config_free(&back);
	}
	vm_config_free(&c);
	free(json);
	return 0;
}
