/* mpvm: one binary, subcommands as files (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "base/exit_codes.h"
#include "cli/commands.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mpvm <command> [options]\n"
		"\n"
		"commands:\n"
		"  run       boot a microVM (mpvm run --help)\n"
		"  pmu       guest PMU tools (mpvm pmu probe [--json])\n"
		"  ctl       talk to a running mpvm's API socket (mpvm ctl --help)\n"
		"  snapshot-rebase --base MEM --diff DIFF\n"
		"            apply a Diff snapshot's memory file on top of its base\n"
		"  version   print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return MPVM_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "pmu"))
		return cmd_pmu(argc - 1, argv + 1);
	if (!strcmp(cmd, "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(cmd, "snapshot-rebase"))
		return cmd_snapshot_rebase(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("mpvm %s\n", MPVM_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mpvm: unknown command '%s'\n", cmd);
	usage(stderr);
	return MPVM_EXIT_USAGE;
}
