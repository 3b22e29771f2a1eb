/* The 16550A model and its host side, without /dev/kvm: IRQ levels and exit
 * requests are captured through serial_set_hooks(). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "core/event_loop.h"
#include "devices/serial.h"
#include "devices/term.h"
#include "test_util.h"

enum { THR = 0, RBR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

static atomic_int irq_level = -1, irq_rises, irq_gsi = -1;
static atomic_int exit_status = -1;
static char exit_reason[128];

static int fake_irq(struct vm *vm, uint32_t gsi, int level)
{
	atomic_store(&irq_gsi, (int)gsi);
	if (level && atomic_load(&irq_level) != 1)
		atomic_fetch_add(&irq_rises, 1);
	atomic_store(&irq_level, level);
	return 0;
}

static void fake_exit(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(exit_reason, sizeof(exit_reason), fmt, ap);
	va_end(ap);
	atomic_store(&exit_status, status);
}

static struct serial *uart(int out_fd, int in_fd, struct ev_loop *loop)
{
	struct serial *s = serial_new(NULL, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, out_fd, in_fd, loop);
	ck_assert_ptr_nonnull(s);
	serial_set_hooks(s, fake_irq, fake_exit);
	return s;
}

/* The event loop on its own thread, as the main thread runs it in mpvm. */
struct loop_thread {
	struct ev_loop *loop;
	pthread_t thread;
};

static void *loop_main(void *p)
{
	ev_run(p);
	return NULL;
}

static void loop_start(struct loop_thread *lt)
{
	lt->loop = ev_new();
	ck_assert_ptr_nonnull(lt->loop);
}

static void loop_run(struct loop_thread *lt)
{
	ck_assert_int_eq(pthread_create(&lt->thread, NULL, loop_main, lt->loop), 0);
}

static void loop_stop(struct loop_thread *lt)
{
	ev_stop(lt->loop);
	pthread_join(lt->thread, NULL);
}

/* A UART whose host input is a pipe the test writes to (in_w), served by
 * the event loop. The loop is created but not yet running, so a test can
 * set the UART up first; loop_run(&u->lt) starts it. */
struct piped_uart {
	struct loop_thread lt;
	struct serial *s;
	int in_r, in_w;
};

static struct serial *piped_uart_new(struct piped_uart *u)
{
	int p[2];
	loop_start(&u->lt);
	ck_assert_int_eq(pipe(p), 0);
	u->in_r = p[0];
	u->in_w = p[1];
	u->s = uart(-1, u->in_r, u->lt.loop);
	return u->s;
}

static void piped_uart_free(struct piped_uart *u)
{
	loop_stop(&u->lt);
	serial_free(u->s);
	ev_free(u->lt.loop);
	close(u->in_r);
	close(u->in_w);
}

/* What a polling guest driver does: wait for LSR.DR. */
static bool wait_rx(struct serial *s, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (!(serial_read(s, LSR) & 0x01)) {
		if (now_ms() > end)
			return false;
		usleep(1000);
	}
	return true;
}

static void guest_puts(struct serial *s, const char *str)
{
	for (; *str; str++)
		serial_write(s, THR, (uint8_t)*str);
}

/* n bytes as a polling guest driver reads them: each after LSR.DR. */
static void guest_gets(struct serial *s, char *buf, int n)
{
	for (int i = 0; i < n; i++) {
		ck_assert(wait_rx(s, 5000));
		buf[i] = (char)serial_read(s, RBR);
	}
}

START_TEST(power_on_registers_look_like_an_idle_16550)
{
	struct serial *s = uart(-1, -1, NULL);
	ck_assert_uint_eq(serial_read(s, LSR), 0x60); /* THRE | TEMT, no data */
	ck_assert_uint_eq(serial_read(s, IIR), 0x01); /* nothing pending, FIFOs off */
	ck_assert_uint_eq(serial_read(s, LCR), 0x03); /* 8N1 */
	ck_assert_uint_eq(serial_read(s, MCR), 0x08); /* OUT2 */
	ck_assert_uint_eq(serial_read(s, MSR), 0xb0); /* DCD DSR CTS */
	serial_write(s, SCR, 0x5a);
	ck_assert_uint_eq(serial_read(s, SCR), 0x5a);
	serial_free(s);
}
END_TEST

START_TEST(dlab_selects_the_divisor_latch)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	struct serial *s = uart(p[1], -1, NULL);
	ck_assert_uint_eq(serial_read(s, IER), 0);
	serial_write(s, LCR, 0x83); /* DLAB + 8N1 */
	ck_assert_uint_eq(serial_read(s, DLL), 12); /* 9600 baud at power-on */
	serial_write(s, DLL, 0x01);                 /* 115200 baud */
	serial_write(s, DLM, 0x02);
	ck_assert_uint_eq(serial_read(s, DLL), 0x01);
	ck_assert_uint_eq(serial_read(s, DLM), 0x02);
	serial_write(s, LCR, 0x03);
	/* Same offsets, other registers: IER untouched, nothing transmitted. */
	ck_assert_uint_eq(serial_read(s, IER), 0);
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), -1);
	serial_write(s, IER, 0x05);
	serial_write(s, LCR, 0x83);
	ck_assert_uint_eq(serial_read(s, DLM), 0x02);
	serial_write(s, LCR, 0x03);
	ck_assert_uint_eq(serial_read(s, IER), 0x05);
	/* A 16550A implements only IER bits 0-3 (Linux probes for this). */
	serial_write(s, IER, 0xff);
	ck_assert_uint_eq(serial_read(s, IER), 0x0f);
	serial_free(s);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(thr_bytes_reach_the_sink_in_order)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	struct serial *s = uart(p[1], -1, NULL);
	struct io_bus *bus = io_bus_new();
	ck_assert_int_eq(io_register(bus, IO_SPACE_PIO, SERIAL_COM1_BASE, SERIAL_NREGS, serial_io, s,
				     "serial"), 0);
	const char *msg = "Linux version 6.1\r\n";
	for (const char *c = msg; *c; c++) {
		uint8_t b = (uint8_t)*c;
		ck_assert(io_dispatch(bus, IO_SPACE_PIO, NULL, 0x3f8, &b, 1, true));
	}
	char buf[64] = { 0 };
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), (ssize_t)strlen(msg));
	ck_assert_str_eq(buf, msg);
	io_bus_free(bus);
	serial_free(s);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(thre_interrupt_follows_16550_rules)
{
	struct serial *s = uart(-1, -1, NULL);
	serial_write(s, IER, 0x02); /* ETBEI with THR empty: pending at once */
	ck_assert_int_eq(irq_level, 1);
	ck_assert_int_eq(irq_gsi, 4);
	ck_assert_uint_eq(serial_read(s, IIR), 0x02);
	/* The IIR read that reported THRE acknowledged it. */
	ck_assert_int_eq(irq_level, 0);
	ck_assert_uint_eq(serial_read(s, IIR), 0x01);
	/* A transmitted byte empties THR again: a new THRE interrupt. */
	serial_write(s, THR, 'x');
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(serial_read(s, IIR), 0x02);
	/* Masking drops the line; unmasking with THR empty raises it again
	 * even though the IIR read cleared it (Linux's THRE startup test). */
	serial_write(s, THR, 'y');
	serial_write(s, IER, 0x00);
	ck_assert_int_eq(irq_level, 0);
	ck_assert_uint_eq(serial_read(s, IIR), 0x01);
	serial_write(s, IER, 0x02);
	ck_assert_int_eq(irq_level, 1);
	ck_assert_int_eq(irq_rises, 4);
	serial_free(s);
}
END_TEST

START_TEST(fcr_enables_fifos_and_reports_16550a)
{
	struct serial *s = uart(-1, -1, NULL);
	serial_write(s, FCR, 0x07);
	ck_assert_uint_eq(serial_read(s, IIR), 0xc1);
	/* Linux's probe: with DLAB set, offset 2 still reads IIR (no EFR). */
	serial_write(s, LCR, 0xbf);
	ck_assert_uint_eq(serial_read(s, IIR), 0xc1);
	serial_write(s, LCR, 0x03);
	serial_write(s, FCR, 0x00);
	ck_assert_uint_eq(serial_read(s, IIR), 0x01);
	serial_free(s);
}
END_TEST

START_TEST(host_input_raises_rx_interrupt_and_lsr_dr)
{
	struct piped_uart u;
	struct serial *s = piped_uart_new(&u);
	loop_run(&u.lt);
	serial_write(s, IER, 0x01);
	ck_assert_int_eq(irq_level, -1); /* never raised: nothing to report */
	ck_assert_int_eq(write(u.in_w, "ok\n", 3), 3);
	ck_assert(wait_rx(s, 5000));
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(serial_read(s, IIR), 0x04);
	char got[4] = { 0 };
	guest_gets(s, got, 3);
	ck_assert_str_eq(got, "ok\n");
	ck_assert_uint_eq(serial_read(s, LSR) & 0x01, 0);
	ck_assert_int_eq(irq_level, 0);
	ck_assert_uint_eq(serial_read(s, IIR), 0x01);
	piped_uart_free(&u);
}
END_TEST

START_TEST(fifo_below_trigger_level_reports_character_timeout)
{
	struct piped_uart u;
	struct serial *s = piped_uart_new(&u);
	loop_run(&u.lt);
	serial_write(s, FCR, 0xc1); /* FIFOs on, trigger at 14 bytes */
	serial_write(s, IER, 0x01);
	ck_assert_int_eq(write(u.in_w, "abc", 3), 3);
	ck_assert(wait_rx(s, 5000));
	usleep(20000);
	ck_assert_uint_eq(serial_read(s, IIR), 0xcc);
	ck_assert_int_eq(write(u.in_w, "defghijklmnop", 13), 13);
	uint64_t end = now_ms() + 5000;
	while ((serial_read(s, IIR) & 0x0f) != 0x04 && now_ms() < end)
		usleep(1000);
	ck_assert_uint_eq(serial_read(s, IIR), 0xc4);
	piped_uart_free(&u);
}
END_TEST

START_TEST(loopback_turns_output_into_input)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	struct serial *s = uart(p[1], -1, NULL);
	/* Linux's probe: LOOP | OUT2 | RTS must read back as DCD | CTS. */
	serial_write(s, MCR, 0x1a);
	ck_assert_uint_eq(serial_read(s, MSR) & 0xf0, 0x90);
	/* DSR fell when DTR (0) looped onto it: DDSR was latched, then cleared. */
	ck_assert_uint_eq(serial_read(s, MSR), 0x90);
	serial_write(s, MCR, 0x1f); /* + DTR, OUT1 */
	ck_assert_uint_eq(serial_read(s, MSR), 0xf2); /* all lines, DDSR */
	serial_write(s, MCR, 0x1b); /* OUT1 off: RI trailing edge */
	ck_assert_uint_eq(serial_read(s, MSR), 0xb4);

	serial_write(s, IER, 0x01);
	serial_write(s, THR, 'Q');
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), -1); /* nothing left the UART */
	ck_assert_uint_eq(serial_read(s, LSR), 0x61);
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(serial_read(s, RBR), 'Q');
	ck_assert_int_eq(irq_level, 0);

	/* More than the FIFO holds: the extra byte is an overrun. */
	serial_write(s, IER, 0x05);
	for (int i = 0; i < 65; i++)
		serial_write(s, THR, (uint8_t)i);
	ck_assert_uint_eq(serial_read(s, IIR), 0x06); /* line status first */
	ck_assert_uint_eq(serial_read(s, LSR), 0x63);
	ck_assert_uint_eq(serial_read(s, LSR), 0x61); /* OE clears on read */
	ck_assert_uint_eq(serial_read(s, RBR), 0);

	serial_write(s, MCR, 0x08);
	ck_assert_uint_eq(serial_read(s, MSR) & 0xf0, 0xb0);
	serial_write(s, THR, 'Z');
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'Z');
	serial_free(s);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(slow_guest_loses_no_input)
{
	enum { N = 16384 };
	static uint8_t sent[N], got[N];
	for (int i = 0; i < N; i++)
		sent[i] = (uint8_t)(i * 7 + i / 251);
	struct piped_uart u;
	struct serial *s = piped_uart_new(&u);
	ck_assert_int_ge(fcntl(u.in_w, F_SETPIPE_SZ, 65536), N);
	loop_run(&u.lt);
	ck_assert_int_eq(write(u.in_w, sent, N), N);
	/* Before the guest reads anything the host takes only what its 4 KiB
	 * buffer holds (the FIFO is filled from it); the rest waits in the
	 * pipe, where the kernel holds it for us. */
	usleep(200000);
	int left = 0;
	ck_assert_int_eq(ioctl(u.in_r, FIONREAD, &left), 0);
	ck_assert_int_eq(left, N - 4096);

	int n = 0;
	uint64_t end = now_ms() + 60000;
	while (n < N && now_ms() < end) {
		if (!(serial_read(s, LSR) & 0x01)) {
			usleep(100);
			continue;
		}
		got[n++] = serial_read(s, RBR);
		if (n % 512 == 0)
			usleep(2000); /* a guest busy with something else */
	}
	ck_assert_int_eq(n, N);
	ck_assert_mem_eq(got, sent, N);
	piped_uart_free(&u);
}
END_TEST

/* PATCH /vm Paused: input typed meanwhile is not delivered (no data, no
 * interrupt) but kept host-side, and arrives in order at resume. */
START_TEST(input_while_paused_waits_for_resume)
{
	enum { N = 6000 }; /* more than the 4 KiB host buffer */
	static uint8_t sent[N], got[N];
	for (int i = 0; i < N; i++)
		sent[i] = (uint8_t)(i * 11 + 3);
	struct piped_uart u;
	struct serial *s = piped_uart_new(&u);
	loop_run(&u.lt);
	serial_write(s, IER, 0x01);
	serial_pause(s);
	serial_pause(s); /* idempotent */
	ck_assert_int_eq(write(u.in_w, sent, N), N);
	usleep(200000);
	ck_assert_uint_eq(serial_read(s, LSR) & 0x01, 0);
	ck_assert_uint_eq(serial_read(s, IIR), 0x01);
	ck_assert_int_eq(irq_level, -1); /* never raised */
	/* Held by the host side: 4 KiB in the UART's buffer, the rest in the pipe. */
	int left = 0;
	ck_assert_int_eq(ioctl(u.in_r, FIONREAD, &left), 0);
	ck_assert_int_eq(left, N - 4096);

	serial_resume(s);
	ck_assert_int_eq(irq_level, 1);
	int n = 0;
	uint64_t end = now_ms() + 10000;
	while (n < N && now_ms() < end) {
		if (serial_read(s, LSR) & 0x01)
			got[n++] = serial_read(s, RBR);
		else
			usleep(100);
	}
	ck_assert_int_eq(n, N);
	ck_assert_mem_eq(got, sent, N);
	serial_resume(s); /* resuming a running UART changes nothing */
	ck_assert_int_eq(write(u.in_w, "z", 1), 1);
	ck_assert(wait_rx(s, 5000));
	ck_assert_uint_eq(serial_read(s, RBR), 'z');
	piped_uart_free(&u);
}
END_TEST

START_TEST(ctrl_a_escapes)
{
	struct piped_uart u;
	struct serial *s = piped_uart_new(&u);
	serial_set_escape(s, true);
	loop_run(&u.lt);
	/* a, Ctrl-A Ctrl-A (one literal Ctrl-A), Ctrl-A z (dropped), b */
	ck_assert_int_eq(write(u.in_w, "a\001\001\001zb", 6), 6);
	char got[3];
	guest_gets(s, got, 3);
	ck_assert_mem_eq(got, "a\001b", 3);
	ck_assert_int_eq(exit_status, -1);
	ck_assert_int_eq(write(u.in_w, "\001x", 2), 2);
	uint64_t end = now_ms() + 5000;
	while (exit_status == -1 && now_ms() < end)
		usleep(1000);
	ck_assert_int_eq(exit_status, 130);
	ck_assert_ptr_nonnull(strstr(exit_reason, "Ctrl-A x"));
	ck_assert_uint_eq(serial_read(s, LSR) & 0x01, 0); /* the escape is not input */
	piped_uart_free(&u);
}
END_TEST

START_TEST(regular_file_input_is_read_on_demand)
{
	char path[] = "/tmp/mpvm-serial-inXXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	static char text[6000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	ck_assert_int_eq(write(fd, text, sizeof(text)), (ssize_t)sizeof(text));
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	struct ev_loop *loop = ev_new(); /* epoll refuses the file: no loop needed */
	struct serial *s = uart(-1, fd, loop);
	size_t n = 0;
	while (n < sizeof(text) && (serial_read(s, LSR) & 0x01))
		ck_assert_int_eq(serial_read(s, RBR), text[n++]);
	ck_assert_uint_eq(n, sizeof(text));
	serial_free(s);
	ev_free(loop);
	close(fd);
}
END_TEST

START_TEST(config_file_mode_appends)
{
	char path[] = "/tmp/mpvm-serial-outXXXXXX";
	make_tmp_file(path, "old\n", 4);
	struct io_bus *bus = io_bus_new();
	struct cfg_serial cfg = { .kind = CFG_SERIAL_FILE, .path = path };
	char err[256];
	struct serial *s = serial_setup_from_config(NULL, bus, NULL, &cfg, err, sizeof(err));
	ck_assert_msg(s, "%s", err);
	serial_set_hooks(s, fake_irq, fake_exit);
	for (const char *c = "new\n"; *c; c++) {
		uint8_t b = (uint8_t)*c;
		io_dispatch(bus, IO_SPACE_PIO, NULL, 0x3f8, &b, 1, true);
	}
	serial_free(s);
	char buf[16] = { 0 };
	int fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 8);
	ck_assert_str_eq(buf, "old\nnew\n");
	close(fd);
	unlink(path);

	/* Bad paths are reported with the field and the reason. */
	cfg.path = "/nonexistent-dir/console.log";
	ck_assert_ptr_null(serial_setup_from_config(NULL, bus, NULL, &cfg, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "serial.path /nonexistent-dir/console.log"));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	io_bus_free(bus);

	/* "none": no device at all (and no error). */
	bus = io_bus_new();
	cfg.kind = CFG_SERIAL_NONE;
	ck_assert_ptr_null(serial_setup_from_config(NULL, bus, NULL, &cfg, err, sizeof(err)));
	ck_assert_str_eq(err, "");
	uint8_t b;
	ck_assert(!io_dispatch(bus, IO_SPACE_PIO, NULL, 0x3fd, &b, 1, false));
	io_bus_free(bus);
}
END_TEST

static int connect_to(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void recv_exactly(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ck_assert_int_eq(poll(&p, 1, 5000), 1);
		ssize_t r = read(fd, buf + got, n - got);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
}

START_TEST(socket_mode_serves_one_client_at_a_time)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/mpvm-serial-%d.sock", (int)getpid());
	/* A stale socket file from an earlier run is replaced. */
	int stale = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ck_assert_int_eq(bind(stale, (struct sockaddr *)&a, sizeof(a)), 0);
	close(stale);

	struct loop_thread lt;
	loop_start(&lt);
	struct io_bus *bus = io_bus_new();
	struct cfg_serial cfg = { .kind = CFG_SERIAL_SOCKET, .path = path };
	char err[256];
	struct serial *s = serial_setup_from_config(NULL, bus, lt.loop, &cfg, err, sizeof(err));
	ck_assert_msg(s, "%s", err);
	serial_set_hooks(s, fake_irq, fake_exit);
	/* A second mpvm on the same path is refused, the live socket kept. */
	ck_assert_ptr_null(serial_setup_from_config(NULL, bus, lt.loop, &cfg, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "another process is listening"));
	loop_run(&lt);

	guest_puts(s, "lost"); /* nobody connected: dropped */
	int c1 = connect_to(path);
	usleep(100000); /* let the loop accept */
	guest_puts(s, "hello");
	char buf[64] = { 0 };
	recv_exactly(c1, buf, 5);
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(write(c1, "ls\r", 3), 3);
	char in[4] = { 0 };
	guest_gets(s, in, 3);
	ck_assert_str_eq(in, "ls\r");

	int c2 = connect_to(path);
	memset(buf, 0, sizeof(buf));
	recv_exactly(c2, buf, 10);
	ck_assert_ptr_nonnull(strstr(buf, "mpvm: this"));
	close(c2);

	close(c1); /* the next client takes over */
	usleep(100000);
	int c3 = connect_to(path);
	usleep(100000);
	guest_puts(s, "again");
	memset(buf, 0, sizeof(buf));
	recv_exactly(c3, buf, 5);
	ck_assert_str_eq(buf, "again");
	close(c3);

	loop_stop(&lt);
	serial_free(s);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), -1); /* the socket file is gone */
	ev_free(lt.loop);
	io_bus_free(bus);
}
END_TEST

START_TEST(terminal_raw_mode_keeps_output_processing_and_restores)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(grantpt(m), 0);
	ck_assert_int_eq(unlockpt(m), 0);
	int tty = open(ptsname(m), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(tty, 0);
	struct termios before, t;
	ck_assert_int_eq(tcgetattr(tty, &before), 0);

	ck_assert_int_eq(term_raw(tty), 1);
	ck_assert(term_is_raw());
	ck_assert_int_eq(tcgetattr(tty, &t), 0);
	ck_assert_uint_eq(t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0); /* Ctrl-C to the guest */
	ck_assert_uint_eq(t.c_iflag & (ICRNL | IXON), 0);
	ck_assert_uint_eq(t.c_oflag & (OPOST | ONLCR), OPOST | ONLCR); /* "\n" still renders */
	ck_assert_uint_eq(t.c_cflag & CSIZE, CS8);

	term_restore();
	term_restore(); /* idempotent: exit paths may all call it */
	ck_assert(!term_is_raw());
	ck_assert_int_eq(tcgetattr(tty, &t), 0);
	ck_assert_uint_eq(t.c_lflag, before.c_lflag);
	ck_assert_uint_eq(t.c_iflag, before.c_iflag);
	ck_assert_uint_eq(t.c_oflag, before.c_oflag);

	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(term_raw(p[0]), 0); /* not a terminal: left alone */
	ck_assert(!term_is_raw());
	close(p[0]);
	close(p[1]);
	close(tty);
	close(m);
}
END_TEST

/* The guest's THR writes on their own thread, as a vCPU makes them, so
 * that a write stuck on the host fails the test instead of hanging it. */
struct guest_output {
	struct serial *s;
	const uint8_t *p;
	size_t n;
	uint64_t slowest_ms;
	atomic_bool done;
};

static void *guest_output_main(void *a)
{
	struct guest_output *g = a;
	for (size_t i = 0; i < g->n; i++) {
		uint64_t t = now_ms();
		serial_write(g->s, THR, g->p[i]);
		if (now_ms() - t > g->slowest_ms)
			g->slowest_ms = now_ms() - t;
	}
	atomic_store(&g->done, true);
	return NULL;
}

/* Writes n bytes as the guest; true if all returned within `ms`. */
static bool guest_writes_within(struct serial *s, const uint8_t *p, size_t n, unsigned ms,
				uint64_t *slowest_ms)
{
	struct guest_output g = { .s = s, .p = p, .n = n };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, guest_output_main, &g), 0);
	uint64_t end = now_ms() + ms;
	while (!atomic_load(&g.done) && now_ms() < end)
		usleep(1000);
	if (!atomic_load(&g.done)) {
		pthread_detach(t); /* stuck in the UART: the test fails, its process ends */
		return false;
	}
	pthread_join(t, NULL);
	if (slowest_ms)
		*slowest_ms = g.slowest_ms;
	return true;
}

/* A stdout pipe nobody drains (mpvm ... | a stuck reader): the guest keeps
 * running, what does not fit is dropped and counted, and once the reader
 * drains, output resumes in order. */
START_TEST(output_to_a_sink_nobody_reads_never_blocks_the_guest)
{
	struct loop_thread lt;
	loop_start(&lt);
	int p[2];
	ck_assert_int_eq(pipe(p), 0); /* blocking, as a shell hands stdout over */
	int cap = fcntl(p[1], F_GETPIPE_SZ);
	ck_assert_int_gt(cap, 0);
	enum { BUF = 65536, EXTRA = 50000 };
	size_t n = (size_t)cap + BUF + EXTRA;
	uint8_t *sent = malloc(n), *got = malloc(n);
	for (size_t i = 0; i < n; i++)
		sent[i] = (uint8_t)(i * 13 + i / 256);
	struct serial *s = uart(p[1], -1, lt.loop);
	loop_run(&lt);

	uint64_t slowest = 0;
	ck_assert_msg(guest_writes_within(s, sent, n, 20000, &slowest),
		      "the guest's THR writes blocked on a full sink");
	ck_assert_uint_lt(slowest, 1000);
	/* The pipe and the 64 KiB buffer are full; the rest was dropped. */
	int in_pipe = 0;
	ck_assert_int_eq(ioctl(p[0], FIONREAD, &in_pipe), 0);
	ck_assert_int_gt(in_pipe, 0);
	uint64_t dropped = serial_output_dropped(s);
	ck_assert_uint_ge(dropped, EXTRA);
	size_t kept = n - (size_t)dropped;
	ck_assert_uint_eq(kept, (size_t)in_pipe + BUF);
	/* The caller's fd keeps its flags: stdout is shared with the shell. */
	ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);

	/* The reader wakes up: the oldest bytes first, then what waited. */
	size_t have = 0;
	while (have < kept) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		ck_assert_msg(poll(&pf, 1, 5000) == 1, "output stalled after %zu of %zu bytes", have, kept);
		ssize_t r = read(p[0], got + have, kept - have);
		ck_assert_int_gt(r, 0);
		have += (size_t)r;
	}
	ck_assert_mem_eq(got, sent, kept);
	guest_puts(s, "resumed\n");
	char tail[9] = { 0 };
	recv_exactly(p[0], tail, 8);
	ck_assert_str_eq(tail, "resumed\n");
	ck_assert_uint_eq(serial_output_dropped(s), dropped);

	loop_stop(&lt);
	serial_free(s);
	ev_free(lt.loop);
	close(p[0]);
	close(p[1]);
	free(sent);
	free(got);
}
END_TEST

/* Without an event loop nobody watches the sink: what waited goes out,
 * still in order, when the guest writes again. */
START_TEST(without_a_loop_buffered_output_goes_out_on_the_next_write)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	int cap = fcntl(p[1], F_SETPIPE_SZ, 4096);
	ck_assert_int_gt(cap, 0);
	size_t n = (size_t)cap + 1000;
	uint8_t *sent = malloc(n + 1), *got = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		sent[i] = (uint8_t)(i * 7 + 1);
	sent[n] = '!';
	struct serial *s = uart(p[1], -1, NULL);
	ck_assert(guest_writes_within(s, sent, n, 10000, NULL));
	ck_assert_uint_eq(serial_output_dropped(s), 0); /* 1000 bytes fit in the buffer */
	recv_exactly(p[0], (char *)got, (size_t)cap);
	serial_write(s, THR, '!');
	recv_exactly(p[0], (char *)got + cap, n + 1 - (size_t)cap);
	ck_assert_mem_eq(got, sent, n + 1);
	serial_free(s);
	close(p[0]);
	close(p[1]);
	free(sent);
	free(got);
}
END_TEST

/* --serial socket:PATH with a client that connects and never reads: the
 * guest keeps running and serial_free() (mpvm's exit) does not wait on it. */
START_TEST(socket_client_that_never_reads_does_not_stall_the_guest)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/mpvm-serial-stuck-%d.sock", (int)getpid());
	struct loop_thread lt;
	loop_start(&lt);
	struct io_bus *bus = io_bus_new();
	struct cfg_serial cfg = { .kind = CFG_SERIAL_SOCKET, .path = path };
	char err[256];
	struct serial *s = serial_setup_from_config(NULL, bus, lt.loop, &cfg, err, sizeof(err));
	ck_assert_msg(s, "%s", err);
	serial_set_hooks(s, fake_irq, fake_exit);
	loop_run(&lt);
	int c = connect_to(path);
	usleep(100000); /* let the loop accept */
	guest_puts(s, "first");
	char buf[6] = { 0 };
	recv_exactly(c, buf, 5); /* connected and served */
	ck_assert_str_eq(buf, "first");

	enum { N = 1 << 20 };
	uint8_t *line = malloc(N);
	for (size_t i = 0; i < N; i++)
		line[i] = (uint8_t)('a' + i % 26);
	ck_assert_msg(guest_writes_within(s, line, N, 30000, NULL),
		      "the guest's THR writes blocked on a client that does not read");
	ck_assert_uint_gt(serial_output_dropped(s), 0);

	loop_stop(&lt);
	uint64_t t = now_ms();
	serial_free(s);
	ck_assert_uint_lt(now_ms() - t, 2000);
	/* What the client got is the start of the stream, in order. */
	uint8_t *rx = malloc(N);
	size_t have = 0;
	ssize_t r;
	while (have < N && (r = read(c, rx + have, N - have)) > 0)
		have += (size_t)r;
	ck_assert_uint_gt(have, 0);
	ck_assert_mem_eq(rx, line, have);
	close(c);
	ev_free(lt.loop);
	io_bus_free(bus);
	free(line);
	free(rx);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("serial");
	TCase *regs = tcase_create("registers");
	tcase_add_test(regs, power_on_registers_look_like_an_idle_16550);
	tcase_add_test(regs, dlab_selects_the_divisor_latch);
	tcase_add_test(regs, thr_bytes_reach_the_sink_in_order);
	tcase_add_test(regs, thre_interrupt_follows_16550_rules);
	tcase_add_test(regs, fcr_enables_fifos_and_reports_16550a);
	tcase_add_test(regs, loopback_turns_output_into_input);
	suite_add_tcase(su, regs);
	TCase *host = tcase_create("host");
	tcase_set_timeout(host, 90);
	tcase_add_test(host, host_input_raises_rx_interrupt_and_lsr_dr);
	tcase_add_test(host, fifo_below_trigger_level_reports_character_timeout);
	tcase_add_test(host, slow_guest_loses_no_input);
	tcase_add_test(host, input_while_paused_waits_for_resume);
	tcase_add_test(host, ctrl_a_escapes);
	tcase_add_test(host, regular_file_input_is_read_on_demand);
	tcase_add_test(host, config_file_mode_appends);
	tcase_add_test(host, socket_mode_serves_one_client_at_a_time);
	tcase_add_test(host, terminal_raw_mode_keeps_output_processing_and_restores);
	suite_add_tcase(su, host);
	TCase *out = tcase_create("output");
	tcase_set_timeout(out, 90);
	tcase_add_test(out, output_to_a_sink_nobody_reads_never_blocks_the_guest);
	tcase_add_test(out, without_a_loop_buffered_output_goes_out_on_the_next_write);
	tcase_add_test(out, socket_client_that_never_reads_does_not_stall_the_guest);
	suite_add_tcase(su, out);
	return run_suite(su);
}
