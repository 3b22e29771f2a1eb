/* The invariant check of the fuzz targets: a failed one names itself and
 * aborts, which libFuzzer reports as a crash and saves the input for. */
#ifndef MPVM_FUZZ_CHECK_H
#define MPVM_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                \
			abort();                                                       \
		}                                                                      \
	} while (0)

#endif
