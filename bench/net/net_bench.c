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
#define MAX_RUNS 50
enum { TX_MBPS, TX_KPPS, RX_MBPS, RX_KPPS, NMETRIC };
static const char *const metric_name[NMETRIC] = { "tx_Mbps", "tx_kpps", "rx_Mbps", "rx_kpps" };

struct config {
	const char *name, *label;
	bool qemu;
	double v[NMETRIC][MAX_RUNS];
	int n, failures;
	char last_error[256];
};

static char *mpvm_bin = "build/mpvm", *qemu_bin = "qemu-system-x86_64";
static char *guest_dir = "build/tests/guests";
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

static bool parse(const char *out, double m[NMETRIC])
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

static void one_run(struct config *c, const char *guest)
{
	char params[128];
	snprintf(params, sizeof(params), "n=%u size=%u qd=%u ms=%u", nframes, fsize, qd, window_ms);
	char *mp[] = { mpvm_bin, "run", "--kernel", (char *)guest, "--exit-port", "--memory", "128",
		       "--serial", "stdio", "--net", "id=eth0,tap=" TAP ",mac=" GUEST_MAC,
		       "--cmdline", params, NULL };
	char *qm[] = { qemu_bin, "-M", "microvm", "-accel", "kvm", "-m", "128", "-smp", "1",
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
	int status = -1;
	bench_wait_exit(&p, 10000, &status);
	double m[NMETRIC];
	if (status != 1 || !parse(p.buf, m)) {
		c->failures++;
		snprintf(c->last_error, sizeof(c->last_error), "status %d: %.200s", status, p.buf);
		return;
	}
	for (int k = 0; k < NMETRIC; k++)
		c->v[k][c->n] = m[k];
	c->n++;
}

static double median(struct config *c, int k)
{
	return bench_median(c->v[k], c->n);
}


int main(int argc, char **argv)
{
	int runs = 5;
	const char *json = "bench/results/net.json";
	bool with_qemu = true;
	static const struct option opts[] = {
		{ "runs", 1, 0, 'n' }, { "mpvm", 1, 0, 'm' }, { "qemu", 1, 0, 'q' }, { "guests", 1, 0, 'g' },
		{ "json", 1, 0, 'j' }, { "no-qemu", 0, 0, 'Q' }, { "frames", 1, 0, 'f' }, { "size", 1, 0, 's' },
		{ "qd", 1, 0, 'd' }, { "window-ms", 1, 0, 'w' }, { 0 } };
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': runs = atoi(optarg); break;
		case 'm': mpvm_bin = optarg; break;
		case 'q': qemu_bin = optarg; break;
		case 'g': guest_dir = optarg; break;
		case 'j': json = optarg; break;
		case 'Q': with_qemu = false; break;
		case 'f': nframes = (unsigned)atoi(optarg); break;
		case 's': fsize = (unsigned)atoi(optarg); break;
		case 'd': qd = (unsigned)atoi(optarg); break;
		case 'w': window_ms = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: mpvm-bench-net [--runs N] [--mpvm BIN] [--qemu BIN] [--guests DIR] "
				"[--json FILE] [--no-qemu] [--frames N] [--size BYTES] [--qd N] [--window-ms MS]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS)
		runs = 5;
	if (fsize < 60 || fsize > 1514)
		fsize = 1514;
	/* JSON path is relative to where we started; open it before anything. */
	FILE *f = fopen(json, "w");
	if (!f) {
		perror(json);
		return 1;
	}
	if (setup_netns())
		return 1;
	char guest[512];
	snprintf(guest, sizeof(guest), "%s/virtio_net_bench.elf", guest_dir);
	static struct config cfg[] = {
		{ .name = "mpvm", .label = "mpvm" },
		{ .name = "qemu_microvm", .label = "QEMU microvm (vhost=off)", .qemu = true },
	};
	const int ncfg = with_qemu ? 2 : 1;
	for (int r = 0; r < runs; r++)
		for (int i = 0; i < ncfg; i++)
			one_run(&cfg[i], guest);

	bool emu = bench_cpl0_emulated();
	printf("virtio-net, guest-side: tx %u frames of %u bytes (qd %u); rx for %u ms while the host floods the tap\n\n",
	       nframes, fsize, qd, window_ms);
	printf("| VMM | runs | tx Mbit/s | tx kpps | rx Mbit/s | rx kpps |\n|---|---|---|---|---|---|\n");
	for (int i = 0; i < ncfg; i++) {
		struct config *c = &cfg[i];
		if (!c->n) {
			printf("| %s | 0 | failed: %.80s ||||\n", c->label, c->last_error);
			continue;
		}
		printf("| %s | %d | %.0f | %.1f | %.0f | %.1f |\n", c->label, c->n, median(c, TX_MBPS),
		       median(c, TX_KPPS), median(c, RX_MBPS), median(c, RX_KPPS));
	}
	if (with_qemu && cfg[0].n && cfg[1].n)
		printf("| mpvm / QEMU | | %.2fx | %.2fx | %.2fx | %.2fx |\n",
		       median(&cfg[0], TX_MBPS) / median(&cfg[1], TX_MBPS),
		       median(&cfg[0], TX_KPPS) / median(&cfg[1], TX_KPPS),
		       median(&cfg[0], RX_MBPS) / median(&cfg[1], RX_MBPS),
		       median(&cfg[0], RX_KPPS) / median(&cfg[1], RX_KPPS));
	printf("\nRatios above 1 favour mpvm. The host's sender, the vCPU and the device threads share the CPUs.\n");
	if (emu)
		printf("This host has no VT-x/AMD-V: guest CPL0 code is emulated (~4M instr/s) and dominates.\n");

	fprintf(f, "{\n  \"benchmark\": \"net\", \"guest\": \"virtio_net_bench.elf\",\n"
		"  \"params\": {\"frames\": %u, \"size\": %u, \"qd\": %u, \"window_ms\": %u, \"runs\": %d},\n"
		"  \"guest_cpl0_emulated\": %s,\n  \"results\": {\n",
		nframes, fsize, qd, window_ms, runs, emu ? "true" : "false");
	for (int i = 0; i < ncfg; i++) {
		struct config *c = &cfg[i];
		fprintf(f, "    \"%s\": {\"runs\": %d, \"failures\": %d", c->name, c->n, c->failures);
		for (int k = 0; k < NMETRIC && c->n; k++)
			fprintf(f, ", \"%s\": %.2f", metric_name[k], median(c, k));
		fprintf(f, "}%s\n", i + 1 < ncfg ? "," : "");
	}
	fprintf(f, "  }\n}\n");
	fclose(f);
	return cfg[0].n ? 0 : 1;
}
