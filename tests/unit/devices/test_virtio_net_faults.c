/* virtio-net when the host side misbehaves, on a real tap inside a private
 * network namespace (each Check test is its own forked process):
 *  - the tap interface is deleted under a running device: receive stops for
 *    good (logged once) instead of spinning the worker on EBADFD or on the
 *    error condition epoll keeps reporting; transmit still completes chains.
 * Needs root; skips otherwise. */
#include <check.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>

#include "check_main.h"
#include "devices/virtio/net.h"
#include "test_netns.h"
#include "test_virtio_driver.h"

#define TAP "mpvmf0"
#define ETH_TEST 0x88b5 /* IEEE local experimental ethertype */
#define TXBUF (SIM_DATA + 0x1000)
#define RXBUF(i) (SIM_DATA + 0x10000 + (i) * 0x1000ull)

static struct sim s;
static char err[512];
static int ifindex;

/* New netns, the device (creating the tap), tap up, driver initialised. */
static void start(void)
{
	enter_private_netns();
	struct cfg_net c = { .iface_id = "eth0", .host_dev_name = TAP };
	sim_mem_init(&s);
	s.dev = virtio_net_create(&c, &s.mem, err, sizeof(err));
	ck_assert_msg(s.dev != NULL, "%s", err);
	ck_assert_int_eq(virtio_dev_start(s.dev, err, sizeof(err)), 0);
	link_up(TAP);
	ifindex = (int)if_nametoindex(TAP);
	ck_assert_int_gt(ifindex, 0);
	sim_init(&s, ~0ull);
}

static void stop(void)
{
	virtio_dev_destroy(s.dev);
	gm_destroy(&s.mem);
}

/* `ip link del`, by rtnetlink: what a host administrator does to a tap a
 * VM still holds open (the fd stays, detached: reads fail with EBADFD). */
static void delete_tap(void)
{
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ck_assert_int_ge(sk, 0);
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_DELLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};
	ck_assert_int_eq(send(sk, &req, sizeof(req), 0), (ssize_t)sizeof(req));
	union {
		char buf[512];
		struct nlmsghdr h;
	} ack;
	ck_assert_int_gt(recv(sk, ack.buf, sizeof(ack.buf), 0), 0);
	ck_assert_int_eq(ack.h.nlmsg_type, NLMSG_ERROR);
	ck_assert_int_eq(((struct nlmsgerr *)NLMSG_DATA(&ack.h))->error, 0);
	close(sk);
	ck_assert_uint_eq(if_nametoindex(TAP), 0);
}

static double cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void post_rx_buffer(unsigned i, uint32_t len)
{
	struct sim_buf b = { RXBUF(i), len, true };
	sim_chain(&s, VIRTIO_NET_RXQ, &b, 1);
	sim_kick(&s, VIRTIO_NET_RXQ);
}

static size_t test_frame(uint8_t *f, size_t len, const char *text)
{
	memset(f, 0, len);
	memset(f, 0xff, 6); /* broadcast */
	f[6] = 0x02;        /* locally administered source */
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	memcpy(f + 14, text, strlen(text));
	return len;
}

/* _i = 0: the guest has receive buffers posted, so the worker watches the
 * tap when it goes: epoll then reports an error condition, forever.
 * _i = 1: no buffers (the tap is not watched); the read after the guest
 * posts some is what fails (EBADFD), and would fail again at once. */
START_TEST(deleted_tap_stops_receive_without_spinning)
{
	SKIP_UNLESS_NETNS();
	start();
	if (_i == 0)
		for (unsigned i = 0; i < 4; i++)
			post_rx_buffer(i, 2048);
	usleep(50 * 1000);
	delete_tap();
	if (_i == 1)
		for (unsigned i = 0; i < 4; i++)
			post_rx_buffer(i, 2048);
	usleep(100 * 1000); /* the worker notices */

	/* An idle worker uses no CPU; a spinning one uses all of a core. */
	double c0 = cpu_ms();
	usleep(300 * 1000);
	double used = cpu_ms() - c0;
	ck_assert_msg(used < 60, "the process used %.0f ms of CPU in 300 ms with a dead tap", used);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.io_errors), 1);
	ck_assert_uint_eq(sim_used_idx(&s, VIRTIO_NET_RXQ), 0);

	/* Transmit goes on, dropping frames the dead tap refuses. */
	uint8_t f[64];
	size_t n = test_frame(f, sizeof(f), "into the void");
	struct virtio_net_hdr_v1 h = { 0 };
	gm_write(&s.mem, TXBUF, &h, sizeof(h));
	gm_write(&s.mem, TXBUF + 64, f, n);
	struct sim_buf b[2] = { { TXBUF, sizeof(h), false }, { TXBUF + 64, (uint32_t)n, false } };
	uint16_t head = sim_chain(&s, VIRTIO_NET_TXQ, b, 2);
	sim_kick(&s, VIRTIO_NET_TXQ);
	uint32_t id;
	ck_assert(sim_wait_used(&s, VIRTIO_NET_TXQ, 5000, &id, NULL));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.dropped), 1);

	/* A driver reset and re-initialisation neither hang nor revive the spin. */
	sim_init(&s, ~0ull);
	post_rx_buffer(0, 2048);
	c0 = cpu_ms();
	usleep(200 * 1000);
	used = cpu_ms() - c0;
	ck_assert_msg(used < 40, "the process used %.0f ms of CPU in 200 ms after a reset", used);
	ck_assert_uint_eq(atomic_load(&s.dev->stats.io_errors), 1);
	stop();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_net_faults");
	TCase *tc = tcase_create("net_faults");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, deleted_tap_stops_receive_without_spinning, 0, 2);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
