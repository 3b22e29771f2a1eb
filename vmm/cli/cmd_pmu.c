/* mpvm pmu ...: guest PMU tools (implemented in pmu/). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "pmu/pmu.h"
#include "core/vm.h"

int cmd_pmu(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "probe"))
		return pmu_probe_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: mpvm pmu probe [--json] [--root DIR]\n");
	return MPVM_EXIT_USAGE;
}
