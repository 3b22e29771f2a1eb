/* mpvm pmu ...: guest PMU tools (implemented in pmu/, reached through the
 * VMM interface like everything a front end does). */
#include <stdio.h>
#include <string.h>

#include "base/exit_codes.h"
#include "builder/vmm.h"
#include "cli/commands.h"

int cmd_pmu(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "probe"))
		return vmm_pmu_probe_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: mpvm pmu probe [--json] [--root DIR]\n");
	return MPVM_EXIT_USAGE;
}
