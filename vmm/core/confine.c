#include "core/confine.h"

#include <unistd.h>

#include "base/exit_codes.h"
#include "core/log.h"

/* Set before any thread that reads it is created (pthread_create orders
 * the write before the thread's reads). */
static confine_hook hook;

void confine_set_hook(confine_hook h)
{
	hook = h;
}

void confine_thread(const char *kind)
{
	if (!hook)
		return;
	char err[256];
	if (hook(kind, err, sizeof(err))) {
		/* Fail closed: an unconfined device or vCPU thread is what the
		 * sandbox exists to prevent. */
		log_err("%s thread: %s (run with --no-seccomp to do without)", kind, err);
		_exit(MPVM_EXIT_ERROR);
	}
}
