/* A stand-in guest for MMDS without KVM: the host kernel's own TCP/IP
 * stack, in a network namespace, plays the guest. This program opens a tap
 * there (no vnet header: the kernel hands over whole, checksummed frames)
 * and runs MMDS's stack on it exactly as virtio-net's transmit and receive
 * paths do (mmds/ns.h): frames to the MMDS address are answered, any other
 * frame is counted as one that would have reached the host network. So
 * curl and busybox wget in the namespace talk to mpvm's MMDS code over a
 * real Linux TCP stack, natively (test_mmds_standin.sh).
 *
 * Usage: mmds-standin TAP STORE.json V1|V2 [imds_compat]. Prints "ready"
 * once the tap is open; on SIGTERM prints "mmds-frames N other-frames M"
 * and the stack's counters, and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "mmds/ns.h"
#include "mmds/store.h"

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	static char json[MMDS_MAX_BYTES * 2];
	char err[256];
	if (argc < 4) {
		fprintf(stderr, "usage: mmds-standin TAP STORE.json V1|V2 [imds_compat]\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "r");
	size_t n = f ? fread(json, 1, sizeof(json) - 1, f) : 0;
	if (!f || (f && fclose(f)) || mmds_put(json, err, sizeof(err))) {
		fprintf(stderr, "mmds-standin: %s: %s\n", argv[2], f ? err : strerror(errno));
		return 1;
	}
	(void)n;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr)) {
		fprintf(stderr, "mmds-standin: tap %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct cfg_mmds m = { .set = true, .version = strcmp(argv[3], "V2") ? CFG_MMDS_V1 : CFG_MMDS_V2,
			      .ipv4 = { 169, 254, 169, 254 }, .imds_compat = argc > 4 };
	struct mmds_ns *ns = mmds_ns_create(&m);
	if (!ns)
		return 1;
	signal(SIGTERM, on_term);
	printf("ready\n");
	fflush(stdout);
	unsigned long long ours = 0, other = 0;
	uint8_t frame[2048];
	while (!stop) {
		/* The device sleeps on a timerfd until the stack's deadline; a
		 * 10 ms poll does the same job here. */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 10);
		if (p.revents & POLLIN) {
			ssize_t r = read(fd, frame, sizeof(frame));
			if (r > 0 && mmds_ns_tx(ns, frame, (size_t)r, false, mono_ns()))
				ours++;
			else if (r > 0)
				other++;
		}
		mmds_ns_tick(ns, mono_ns());
		size_t k;
		while ((k = mmds_ns_rx(ns, frame, 1514, mono_ns())) != 0)
			if (write(fd, frame, k) < 0)
				fprintf(stderr, "mmds-standin: write: %s\n", strerror(errno));
	}
	struct mmds_ns_stats st;
	mmds_ns_stats(ns, &st);
	printf("mmds-frames %llu other-frames %llu dropped %llu resets %llu evicted %llu\n", ours, other,
	       (unsigned long long)st.dropped, (unsigned long long)st.resets,
	       (unsigned long long)st.conns_evicted);
	mmds_ns_destroy(ns);
	return 0;
}
