/* virtio_net: exchanges frames with the host's network stack over virtio-net.
 *
 * The guest takes ip=A.B.C.D (default 10.0.0.2) and asks, by ARP, for
 * host=A.B.C.D (default 10.0.0.1); the host kernel answers from the tap.
 * Then it pings the host (ICMP echo) and checks the reply's payload. The MAC
 * comes from the device's config space (VIRTIO_NET_F_MAC). Frames it does
 * not care about (IPv6 chatter, ...) are skipped; every wait is bounded.
 * Prints "net: PASS" and exits 0 on success, 1 on failure.
 */
#include "lib/virtio_guest.h"

#define NET_F_MAC 5
#define RXQ 0
#define TXQ 1
#define NRX 16
#define RXBUF 0x02000000u /* 2 KiB per receive buffer */
#define RXLEN 1526        /* 12-byte header + 1514-byte frame */
#define TXBUF 0x02100000u
#define HDR_LEN 12

#define CHECK(cond, ...) do { if (!(cond)) { gprintf("net: FAIL: " __VA_ARGS__); gprintf("\n"); guest_exit(GUEST_EXIT_FAIL); } } while (0)

static struct vg_dev dev;
static uint8_t mac[6], host_mac[6];
static uint8_t my_ip[4] = { 10, 0, 0, 2 }, host_ip[4] = { 10, 0, 0, 1 };

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint16_t ip_csum(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;
	for (unsigned i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool parse_ip(const char *cmdline, const char *key, uint8_t out[4])
{
	char buf[20];
	if (!cmdline_get(cmdline, key, buf, sizeof(buf)))
		return false;
	const char *p = buf;
	for (int i = 0; i < 4; i++) {
		uint32_t v = 0;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			v = v * 10 + (uint32_t)(*p++ - '0');
		if (v > 255 || (i < 3 && *p++ != '.'))
			return false;
		out[i] = (uint8_t)v;
	}
	return true;
}

static uint8_t rx_slot[VG_QSIZE]; /* head -> receive buffer number */

static void post_rx(unsigned i)
{
	struct vg_buf b = { RXBUF + 2048 * i, RXLEN, true };
	int head = vg_add(&dev.q[RXQ], &b, 1);
	CHECK(head >= 0, "rx ring full");
	rx_slot[head] = (uint8_t)i;
}

static void send_frame(const uint8_t *frame, unsigned len)
{
	uint8_t *h = (uint8_t *)TXBUF;
	memset(h, 0, HDR_LEN);
	memcpy(h + HDR_LEN, frame, len);
	if (len < 60) {
		memset(h + HDR_LEN + len, 0, 60 - len);
		len = 60;
	}
	struct vg_buf b = { TXBUF, HDR_LEN + len, false };
	CHECK(vg_add(&dev.q[TXQ], &b, 1) >= 0, "tx ring full");
	vg_kick(&dev, &dev.q[TXQ]);
	CHECK(vg_wait(&dev.q[TXQ], 2000000, NULL, NULL), "transmit not completed");
}

/* Wait for a frame `match` accepts; other frames are dropped. */
static bool receive(bool (*match)(const uint8_t *f, unsigned len), uint32_t timeout_us)
{
	uint32_t start = time_us();
	while (time_us() - start < timeout_us) {
		uint32_t id, len;
		if (!vg_poll(&dev.q[RXQ], &id, &len)) {
			cpu_relax();
			continue;
		}
		CHECK(id < VG_QSIZE, "rx used id %u", id);
		unsigned i = rx_slot[id];
		CHECK(len >= HDR_LEN && len <= RXLEN, "rx length %u", len);
		const uint8_t *h = (const uint8_t *)(RXBUF + 2048 * i);
		CHECK(get16(h + 10) == 0x0100, "num_buffers is %u, not 1", h[10] | h[11] << 8);
		bool ok = match(h + HDR_LEN, len - HDR_LEN);
		post_rx(i);
		vg_kick(&dev, &dev.q[RXQ]);
		if (ok)
			return true;
	}
	return false;
}

static bool is_arp_reply(const uint8_t *f, unsigned len)
{
	if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 2 || memcmp(f + 28, host_ip, 4))
		return false;
	memcpy(host_mac, f + 22, 6);
	return true;
}

static bool is_echo_reply(const uint8_t *f, unsigned len)
{
	const uint8_t *ip = f + 14, *icmp = ip + 20;
	return len >= 14 + 20 + 8 + 16 && get16(f + 12) == 0x0800 && ip[9] == 1 &&
	       !memcmp(ip + 12, host_ip, 4) && icmp[0] == 0 && get16(icmp + 4) == 0x6d70 &&
	       !memcmp(icmp + 8, "mpvm ping 123456", 16);
}

static void arp(void)
{
	uint8_t f[42];
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);      /* Ethernet */
	put16(f + 16, 0x0800); /* IPv4 */
	f[18] = 6, f[19] = 4;
	put16(f + 20, 1);      /* request */
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, my_ip, 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, host_ip, 4);
	for (int attempt = 0; attempt < 3; attempt++) {
		send_frame(f, sizeof(f));
		if (receive(is_arp_reply, 1000000)) {
			gprintf("net: %u.%u.%u.%u is at %02x:%02x:%02x:%02x:%02x:%02x\n", host_ip[0], host_ip[1],
				host_ip[2], host_ip[3], host_mac[0], host_mac[1], host_mac[2], host_mac[3],
				host_mac[4], host_mac[5]);
			return;
		}
	}
	CHECK(false, "no ARP reply from the host");
}

static void ping(void)
{
	uint8_t f[14 + 20 + 8 + 16];
	uint8_t *ip = f + 14, *icmp = ip + 20;
	memcpy(f, host_mac, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + 16);
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, my_ip, 4);
	memcpy(ip + 16, host_ip, 4);
	put16(ip + 10, ip_csum(ip, 20));
	memset(icmp, 0, 8);
	icmp[0] = 8;             /* echo request */
	put16(icmp + 4, 0x6d70); /* id "mp" */
	put16(icmp + 6, 1);
	memcpy(icmp + 8, "mpvm ping 123456", 16);
	put16(icmp + 2, ip_csum(icmp, 8 + 16));
	for (int attempt = 0; attempt < 3; attempt++) {
		send_frame(f, sizeof(f));
		if (receive(is_echo_reply, 1000000)) {
			gprintf("net: echo reply from %u.%u.%u.%u\n", host_ip[0], host_ip[1], host_ip[2], host_ip[3]);
			return;
		}
	}
	CHECK(false, "no echo reply from the host");
}

void guest_main(const char *cmdline)
{
	time_init();
	parse_ip(cmdline, "ip", my_ip);
	parse_ip(cmdline, "host", host_ip);
	CHECK(vg_find(cmdline, VG_ID_NET, 0, &dev), "no virtio-net device");
	CHECK(vg_init(&dev, 1ull << NET_F_MAC, 2), "device init");
	CHECK(vg_has(&dev, NET_F_MAC), "no MAC in config space");
	for (int i = 0; i < 6; i++)
		mac[i] = vg_cfg8(&dev, (uint32_t)i);
	gprintf("net: at 0x%x, mac %02x:%02x:%02x:%02x:%02x:%02x, ip %u.%u.%u.%u\n", dev.base, mac[0], mac[1],
		mac[2], mac[3], mac[4], mac[5], my_ip[0], my_ip[1], my_ip[2], my_ip[3]);
	for (unsigned i = 0; i < NRX; i++)
		post_rx(i);
	vg_kick(&dev, &dev.q[RXQ]);
	arp();
	ping();
	gprintf("net: PASS\n");
	guest_exit(GUEST_EXIT_PASS);
}
