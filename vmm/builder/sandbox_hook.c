/* The release build's sandbox_test_hook(): nothing. Kept alone in its
 * object file so that a test binary's own definition wins at link time
 * (the static library's copy is then never pulled in). */
#include "builder/sandbox.h"

void sandbox_test_hook(const char *kind)
{
	(void)kind;
}
