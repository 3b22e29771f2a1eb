/* Boot-info parsing, console, formatting, exit and string helpers. */
#include "libguest.h"

#define COM1 0x3f8
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY  0x20

#define DEBUG_EXIT_PORT  0xf4
#define BOOT_MARKER_PORT 0x3f0
#define BOOT_MARKER_VAL  123

#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define PVH_START_MAGIC 0x336ec578u

struct boot_info guest_boot_info = { .cmdline = "" };

/* ---- boot ----------------------------------------------------------------- */

/* Layouts from the multiboot v1 spec and Xen's arch-x86/hvm/start_info.h. */
struct multiboot_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
} __attribute__((packed));

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
} __attribute__((packed));

/* The loader's pointers are guest-physical, and without paging physical =
 * linear, but only the low 4 GiB are reachable. */
static const char *phys_str(uint64_t paddr)
{
	if (paddr == 0 || paddr >= 0xFFFFFFFFull)
		return "";
	return phys_ptr((uint32_t)paddr);
}

static void parse_boot_info(enum boot_proto proto, uint32_t info)
{
	struct boot_info *bi = &guest_boot_info;

	bi->proto = proto;
	if (info == 0)
		return;
	if (proto == BOOT_PROTO_MULTIBOOT) {
		const struct multiboot_info *mbi = phys_ptr(info);
		if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
			bi->cmdline = phys_str(mbi->cmdline);
	} else if (proto == BOOT_PROTO_PVH) {
		const struct hvm_start_info *si = phys_ptr(info);
		if (si->magic != PVH_START_MAGIC) {
			gprintf("boot: bad hvm_start_info magic 0x%x at 0x%x\n", si->magic, info);
			return;
		}
		bi->cmdline = phys_str(si->cmdline_paddr);
		if (si->rsdp_paddr < 0xFFFFFFFFull)
			bi->rsdp_paddr = (uint32_t)si->rsdp_paddr;
	}
}

/* Called from start.S on the boot CPU with a flat GDT, a stack and a zeroed
 * .bss. */
__attribute__((noreturn, used)) void guest_boot(uint32_t proto, uint32_t info);
void guest_boot(uint32_t proto, uint32_t info)
{
	serial_init();
	idt_init();
	idt_load();
	parse_boot_info((enum boot_proto)proto, info);
	guest_main(guest_boot_info.cmdline);
	guest_exit(GUEST_EXIT_PASS);
}

/* ---- exit and markers ------------------------------------------------------- */

void guest_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_exit(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	/* No test-exit device (mpvm without --exit-port): end the VM anyway
	 * with a reset request, so a guest never lingers. */
	gprintf_unlocked("guest_exit(%u): no isa-debug-exit device at 0x%x, resetting\n",
			 code, DEBUG_EXIT_PORT);
	outb(0x64, 0xfe);
	guest_halt_forever();
}

void guest_boot_marker(void)
{
	outb(BOOT_MARKER_PORT, BOOT_MARKER_VAL);
}

/* ---- spinlock ----------------------------------------------------------------- */

void spin_lock(spinlock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (l->locked)
			cpu_relax();
}

void spin_unlock(spinlock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* ---- serial ------------------------------------------------------------------- */

void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00); /* polled: no UART interrupts */
	outb(COM1 + UART_LCR, 0x03); /* 8N1, DLAB off; the baud rate is moot */
	outb(COM1 + UART_MCR, 0x03); /* DTR | RTS, OUT2 off */
}

void serial_putc(char c)
{
	/* Bounded: a VMM without a UART reads 0xff (THR empty) anyway. */
	for (int i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_THR_EMPTY); i++)
		cpu_relax();
	outb(COM1 + UART_THR, (uint8_t)c);
}

int serial_try_getc(void)
{
	uint8_t lsr = inb(COM1 + UART_LSR);
	/* 0xff: no UART at all (floating bus), not "data ready". */
	if (lsr == 0xff || !(lsr & LSR_DATA_READY))
		return -1;
	return inb(COM1 + UART_RBR);
}

int serial_getc(void)
{
	int c;
	while ((c = serial_try_getc()) < 0)
		cpu_relax();
	return c;
}

size_t serial_read_line(char *buf, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	for (;;) {
		int c = serial_getc();
		/* A line ends with \n (a pipe) or \r (Enter on a raw terminal);
		 * the \n of a \r\n pair then reads as an empty line, which
		 * callers that wait for one line never see. */
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 < max)
			buf[n++] = (char)c;
		else
			break;
	}
	buf[n] = '\0';
	return n;
}

/* ---- formatting ------------------------------------------------------------------- */

struct sink {
	char *buf;   /* NULL: straight to the serial port */
	size_t size, pos;
};

static void sink_put(struct sink *s, char c)
{
	if (!s->buf)
		serial_putc(c);
	else if (s->pos + 1 < s->size)
		s->buf[s->pos] = c;
	s->pos++;
}

static void put_uint(struct sink *s, uint64_t v, unsigned base, int width, char pad)
{
	char tmp[24];
	int n = 0;

	/* 64-bit division would pull in libgcc's __udivdi3; split instead. */
	do {
		uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
		uint32_t qhi = hi / base, rhi = hi % base;
		/* (rhi * 2^32 + lo) / base, done 16 bits at a time. */
		uint32_t mid = (rhi << 16) | (lo >> 16);
		uint32_t qmid = mid / base, rmid = mid % base;
		uint32_t low = (rmid << 16) | (lo & 0xffff);
		uint32_t qlow = low / base, rlow = low % base;
		tmp[n++] = "0123456789abcdef"[rlow];
		v = ((uint64_t)qhi << 32) | (qmid << 16) | qlow;
	} while (v && n < (int)sizeof(tmp));
	while (width-- > n)
		sink_put(s, pad);
	while (n)
		sink_put(s, tmp[--n]);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			sink_put(s, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			int64_t v = longs >= 2 ? va_arg(ap, long long) : va_arg(ap, long);
			if (v < 0) {
				sink_put(s, '-');
				v = -v;
				if (width)
					width--;
			}
			put_uint(s, (uint64_t)v, 10, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs >= 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned long);
			put_uint(s, v, *fmt == 'u' ? 10 : 16, width, pad);
			break;
		}
		case 'p':
			sink_put(s, '0');
			sink_put(s, 'x');
			put_uint(s, (uintptr_t)va_arg(ap, void *), 16, 8, '0');
			break;
		case 'c':
			sink_put(s, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int len = (int)strlen(str);
			while (width-- > len)
				sink_put(s, ' ');
			while (*str)
				sink_put(s, *str++);
			break;
		}
		case '%':
			sink_put(s, '%');
			break;
		case '\0':
			return;
		default:
			sink_put(s, '%');
			sink_put(s, *fmt);
		}
	}
}

static spinlock_t console_lock;

void gvprintf(const char *fmt, va_list ap)
{
	struct sink s = { 0 };

	spin_lock(&console_lock);
	format(&s, fmt, ap);
	spin_unlock(&console_lock);
}

void gprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
}

void gprintf_unlocked(const char *fmt, ...)
{
	struct sink s = { 0 };
	va_list ap;

	va_start(ap, fmt);
	format(&s, fmt, ap);
	va_end(ap);
}

int gsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct sink s = { .buf = buf, .size = size };
	va_list ap;

	va_start(ap, fmt);
	format(&s, fmt, ap);
	va_end(ap);
	if (size)
		buf[s.pos < size ? s.pos : size - 1] = '\0';
	return (int)s.pos;
}

/* ---- strings (the compiler may emit calls to these) -------------------------- */

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	if (d < s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;
	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* ---- command line ------------------------------------------------------------------ */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* First whitespace-separated token starting with prefix (equal to it if exact). */
static const char *find_token(const char *s, const char *prefix, size_t plen, bool exact)
{
	while (s && *s) {
		while (is_space(*s))
			s++;
		const char *tok = s;
		while (*s && !is_space(*s))
			s++;
		size_t tlen = (size_t)(s - tok);
		if (tlen >= plen && memcmp(tok, prefix, plen) == 0 && (!exact || tlen == plen))
			return tok;
	}
	return NULL;
}

bool cmdline_get(const char *cmdline, const char *key, char *buf, size_t size)
{
	char prefix[64];
	size_t klen = strlen(key);

	if (klen + 2 > sizeof(prefix))
		return false;
	memcpy(prefix, key, klen);
	prefix[klen] = '=';
	const char *tok = find_token(cmdline, prefix, klen + 1, false);
	if (!tok)
		return false;
	tok += klen + 1;
	size_t n = 0;
	while (tok[n] && !is_space(tok[n]) && n + 1 < size) {
		buf[n] = tok[n];
		n++;
	}
	if (size)
		buf[n] = '\0';
	return true;
}

bool cmdline_get_u32(const char *cmdline, const char *key, uint32_t *out)
{
	char val[16];
	uint32_t v = 0, base = 10;
	const char *p = val;

	if (!cmdline_get(cmdline, key, val, sizeof(val)) || !val[0])
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p)
		return false;
	for (; *p; p++) {
		uint32_t d;
		if (*p >= '0' && *p <= '9')
			d = (uint32_t)(*p - '0');
		else if (base == 16 && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			d = (uint32_t)((*p | 0x20) - 'a' + 10);
		else
			return false;
		if (v > (0xFFFFFFFFu - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

bool cmdline_has(const char *cmdline, const char *token)
{
	return find_token(cmdline, token, strlen(token), true) != NULL;
}
