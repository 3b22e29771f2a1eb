/* bench/net: guest-side virtio-net throughput, mpvm against QEMU.
 *
 * Runs inside a network namespace of its own (unshare; needs root), with a
 * persistent tap that each VMM attaches to in turn, so no frame leaves the
 * machine. The guest (tests/guests/virtio_net_bench.c) times transmitting n
 * frames itself; for receive, this program floods the tap from an
 * AF_PACKET socket while the guest counts what reaches it in a fixed
 * window. QEMU runs -M microvm with virtio-net-device on a tap netdev
 * (vhost=off: this host has no vhost-net). Medians of interleaved runs, a
 * Markdown table with mpvm/QEMU ratios, and JSON.
 *
 * Honesty notes (printed too): the host sender, the vCPU and the device's
 * I/O thread share this machine's cores; frames the guest cannot take in
 * time are dropped by the tap, which is the point of a receive-rate test;
 * on hosts without VT-x/AMD-V the guest's emulated CPL0 code dominates.
 */
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>

#include "bench_util.h"

#define TAP "mpvmbench0"
#define GUEST_MAC "52:54:00:00:00:01"
enum { TX_MBPS, TX_KPPS, RX_MBPS, RX_KPPS, NMETRIC };
_Static_assert(NMETRIC <= BENCH_MAX_METRICS, "struct bench_config holds the metrics");
static const char *const metric_name[NMETRIC] = { "tx_Mbps", "tx_kpps", "rx_Mbps", "rx_kpps" };

static struct bench_opts opt = BENCH_OPTS_DEFAULT(5, "bench/results/net.json");
static unsigned nframes = 20000, fsize = 1514, qd = 64, window_ms = 1000;
static atomic_bool flooding;

static void write_file(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = write(fd, v, strlen(v));
		(void)r;
		close(fd);
	}
}

/* Private netns with a persistent, up tap. */
static int setup_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET) (run as root)");
		return -1;
	}
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", TAP);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETPERSIST, 1)) {
		perror("tap " TAP);
		return -1;
	}
	close(fd);
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", TAP);
	ioctl(sk, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	int r = ioctl(sk, SIOCSIFFLAGS, &ifr);
	close(sk);
	if (r)
		perror("bring " TAP " up");
	return r;
}

static void *flood(void *arg)
{
	int sk = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(TAP) };
	if (sk < 0 || bind(sk, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("packet socket");
		return NULL;
	}
	static uint8_t frame[1514];
	static const uint8_t dst[6] = { 0x52, 0x54, 0, 0, 0, 0x01 };
	memcpy(frame, dst, 6);
	frame[6] = 0x02, frame[11] = 0x02;
	frame[12] = 0x88, frame[13] = 0xb5;
	enum { BATCH = 64 };
	struct iovec iov = { frame, fsize };
	struct mmsghdr msgs[BATCH];
	for (int i = 0; i < BATCH; i++)
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
	while (atomic_load(&flooding))
		if (sendmmsg(sk, msgs, BATCH, 0) < 0)
			usleep(10); /* tap queue full (ENOBUFS): let the guest catch up */
	close(sk);
	return NULL;
}

static bool parse(const char *out, double *m)
{
	unsigned frames, bytes, us;
	const char *t = strstr(out, "bench: tx frames="), *r = strstr(out, "bench: rx frames=");
	if (!t || !r || sscanf(t, "bench: tx frames=%u bytes=%u us=%u", &frames, &bytes, &us) != 3 || !us)
		return false;
	m[TX_MBPS] = bytes * 8.0 / us;
	m[TX_KPPS] = frames * 1e3 / us;
	if (sscanf(r, "bench: rx frames=%u bytes=%u us=%u", &frames, &bytes, &us) != 3 || !us)
		return false;
	m[RX_MBPS] = bytes * 8.0 / us;
	m[RX_KPPS] = frames * 1e3 / us;
	return true;
}

static void one_run(struct bench_config *c, const char *guest)
{
	char params[128];
	snprintf(params, sizeof(params), "n=%u size=%u qd=%u ms=%u", nframes, fsize, qd, window_ms);
	char *mp[] = { opt.mpvm_bin, "run", "--kernel", (char *)guest, "--exit-port", "--memory", "128",
		       "--serial", "stdio", "--net", "id=eth0,tap=" TAP ",mac=" GUEST_MAC,
		       "--cmdline", params, NULL };
	char *qm[] = { opt.qemu_bin, "-M", "microvm", "-accel", "kvm", "-m", "128", "-smp", "1",
		       "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
		       "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		       "-global", "virtio-mmio.force-legacy=false",
		       "-netdev", "tap,id=n0,ifname=" TAP ",script=no,downscript=no,vhost=off",
		       "-device", "virtio-net-device,netdev=n0,mac=" GUEST_MAC,
		       "-kernel", (char *)guest, "-append", params, NULL };
	struct proc p;
	if (bench_spawn(&p, c->qemu ? qm : mp)) {
		c->failures++;
		return;
	}
	pthread_t th;
	bool started = false;
	if (bench_wait_text(&p, "bench: rx ready", 120000)) {
		atomic_store(&flooding, true);
		started = !pthread_create(&th, NULL, flood, NULL);
		bench_wait_text(&p, "bench: done", 30000);
	}
	atomic_store(&flooding, false);
	if (started)
		pthread_join(th, NULL);
	bench_collect(c, &p, parse, NMETRIC);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		BENCH_OPTIONS, { "frames", 1, 0, 'f' }, { "size", 1, 0, 's' }, { "qd", 1, 0, 'd' },
		{ "window-ms", 1, 0, 'w' }, { 0 } };
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (bench_common_opt(&opt, ch, optarg))
			continue;
		switch (ch) {
		case 'f': nframes = (unsigned)atoi(optarg); break;
		case 's': fsize = (unsigned)atoi(optarg); break;
		case 'd': qd = (unsigned)atoi(optarg); break;
		case 'w': window_ms = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: mpvm-bench-net " BENCH_USAGE " [--frames N] [--size BYTES] [--qd N] "
				"[--window-ms MS]\n");
			return 2;
		}
	}
	if (opt.runs < 1 || opt.runs > BENCH_MAX_RUNS)
		opt.runs = 5;
	if (fsize < 60 || fsize > 1514)
		fsize = 1514;
	/* JSON path is relative to where we started; open it before anything. */
	FILE *f = fopen(opt.json, "w");
	if (!f) {
		perror(opt.json);
		return 1;
	}
	if (setup_netns())
		return 1;
	char guest[512];
	snprintf(guest, sizeof(guest), "%s/virtio_net_bench.elf", opt.guest_dir);
	static struct bench_config cfg[] = {
		{ .name = "mpvm", .label = "mpvm" },
		{ .name = "qemu_microvm", .label = "QEMU microvm (vhost=off)", .qemu = true },
	};
	const int ncfg = opt.with_qemu ? 2 : 1;
	for (int r = 0; r < opt.runs; r++)
		for (int i = 0; i < ncfg; i++)
			one_run(&cfg[i], guest);

	bool emu = bench_cpl0_emulated();
	printf("virtio-net, guest-side: tx %u frames of %u bytes (qd %u); rx for %u ms while the host floods the tap\n\n",
	       nframes, fsize, qd, window_ms);
	printf("| VMM | runs | tx Mbit/s | tx kpps | rx Mbit/s | rx kpps |\n|---|---|---|---|---|---|\n");
	for (int i = 0; i < ncfg; i++) {
		const struct bench_config *c = &cfg[i];
		if (!c->n) {
			printf("| %s | 0 | failed: %.80s ||||\n", c->label, c->last_error);
			continue;
		}
		printf("| %s | %d | %.0f | %.1f | %.0f | %.1f |\n", c->label, c->n, c->median[TX_MBPS],
		       c->median[TX_KPPS], c->median[RX_MBPS], c->median[RX_KPPS]);
	}
	const double *m = cfg[0].median, *q = cfg[1].median;
	if (opt.with_qemu && cfg[0].n && cfg[1].n)
		printf("| mpvm / QEMU | | %.2fx | %.2fx | %.2fx | %.2fx |\n", m[TX_MBPS] / q[TX_MBPS],
		       m[TX_KPPS] / q[TX_KPPS], m[RX_MBPS] / q[RX_MBPS], m[RX_KPPS] / q[RX_KPPS]);
	printf("\nRatios above 1 favour mpvm. The host's sender, the vCPU and the device threads share the CPUs.\n");
	if (emu)
		printf("This host has no VT-x/AMD-V: guest CPL0 code is emulated (~4M instr/s) and dominates.\n");

	fprintf(f, "{\n  \"benchmark\": \"net\", \"guest\": \"virtio_net_bench.elf\",\n"
		"  \"params\": {\"frames\": %u, \"size\": %u, \"qd\": %u, \"window_ms\": %u, \"runs\": %d},\n"
		"  \"guest_cpl0_emulated\": %s,\n",
		nframes, fsize, qd, window_ms, opt.runs, emu ? "true" : "false");
	bench_json_results(f, cfg, ncfg, metric_name, NMETRIC);
	fprintf(f, "}\n");
	fclose(f);
	return cfg[0].n ? 0 : 1;
}
