#include "devices/term.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

/* Static so that a signal handler can restore without allocating. */
static struct termios saved;
static atomic_int raw_fd = -1;
static bool atexit_done;

int term_raw(int fd)
{
	if (atomic_load(&raw_fd) >= 0)
		return 1;
	if (!isatty(fd))
		return 0;
	struct termios t;
	if (tcgetattr(fd, &t))
		return -errno;
	saved = t;
	/* cfmakeraw() minus the output side: log lines must keep rendering. */
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag |= OPOST | ONLCR;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &t))
		return -errno;
	atomic_store(&raw_fd, fd);
	if (!atexit_done) {
		atexit_done = true;
		atexit(term_restore);
	}
	return 1;
}

bool term_is_raw(void)
{
	return atomic_load(&raw_fd) >= 0;
}

void term_restore(void)
{
	int saved_errno = errno; /* may run inside a signal handler */
	int fd = atomic_exchange(&raw_fd, -1);
	if (fd >= 0)
		tcsetattr(fd, TCSANOW, &saved);
	errno = saved_errno;
}
