/* libFuzzer: `mpvm run`'s flags (config/cli.c: getopt_long, every flag's
 * value parser, --drive/--net key=value lists, the PMU event lists). Input:
 * the arguments after "mpvm run", separated by NUL bytes. --config-file is
 * left out (it would open whatever path the fuzzer wrote); the config file
 * has fuzz_config.
 *
 * Oracles: the result is 0, 1 (--help) or -1; a refusal says why in valid
 * UTF-8 and leaves the config as it was; an accepted command line gives a
 * config whose JSON (GET /vm/config) is valid UTF-8 and loads back to the
 * same config.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"
#include "config/config.h"

#define MAX_ARGS 64

static void fail(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz_cli: %s\n%s\n%s\n", what, a ? a : "(null)", b ? b : "(null)");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) { /* --help prints the usage to stdout, every time */
		int fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			abort();
		close(fd);
		quiet = true;
	}
	if (memmem(data, size, "config-file", 11))
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *argv[MAX_ARGS + 2] = { "run" };
	int argc = 1;
	for (char *p = buf; p <= buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	struct vm_config c;
	struct run_opts o = { 0 };
	char err[CFG_ERR_LEN] = "";
	vm_config_init(&c);
	char *before = vm_config_to_json(&c);
	int r = cfg_parse_run_args(&c, &o, argc, argv, err, sizeof(err));
	char *after = vm_config_to_json(&c);
	if (!before || !after)
		abort();
	if (r != 0 && r != 1 && r != -1)
		fail("unexpected result", err, NULL);
	if (r == -1 && (!err[0] || utf8_check(err, strlen(err), NULL, 0)))
		fail("refused without a valid message", err, NULL);
	if (r != 0 && strcmp(before, after))
		fail("a refusal changed the config", before, after);
	if (r == 0) {
		if (utf8_check(after, strlen(after), NULL, 0))
			fail("GET /vm/config would not be UTF-8", after, NULL);
		struct vm_config back;
		vm_config_init(&back);
		if (vm_config_load_json(&back, after, err, sizeof(err)))
			fail("the config does not load back", after, err);
		char *again = vm_config_to_json(&back);
		if (!again || strcmp(after, again))
			fail("the config loads back different", after, again);
		free(again);
		vm_config_free(&back);
	}
	free(before);
	free(after);
	run_opts_free(&o);
	vm_config_free(&c);
	free(buf);
	return 0;
}
