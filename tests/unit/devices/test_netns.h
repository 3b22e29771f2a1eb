/* Network-namespace helpers for unit tests that create real taps: each test
 * runs in a namespace of its own (Check forks per test), so nothing it sends
 * can leave the machine. Header-only, like check_main.h. */
#ifndef TEST_NETNS_H
#define TEST_NETNS_H

#include <check.h>
#include "check_main.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Namespaces and taps need root and /dev/net/tun; a test without them is
 * skipped (check_main.h), never passed. */
#define SKIP_UNLESS_NETNS()                                                               \
	do {                                                                              \
		SKIP_UNLESS_ROOT("a network namespace and a tap");                        \
		SKIP_UNLESS(access("/dev/net/tun", R_OK | W_OK) == 0, "no /dev/net/tun"); \
	} while (0)

static inline void write_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = write(fd, v, strlen(v));
		(void)r;
		close(fd);
	}
}

/* A fresh network namespace with IPv6 off: otherwise the kernel sends its
 * own frames (router solicitations, DAD) to the tap and into the test. */
static inline void enter_private_netns(void)
{
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

/* ioctl(req) on interface `name` through a throwaway socket. */
static inline void ifreq_ioctl_on(const char *name, unsigned long req, struct ifreq *ifr)
{
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
	ck_assert_msg(ioctl(sk, req, ifr) == 0, "ioctl 0x%lx on %s: %s", req, name, strerror(errno));
	close(sk);
}

static inline void link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	ifreq_ioctl_on(name, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ifreq_ioctl_on(name, SIOCSIFFLAGS, &ifr);
}

#endif
