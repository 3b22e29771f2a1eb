/* The UART and the keyboard controller across a snapshot: restored into
 * fresh devices (a new process's), the guest reads the same registers and
 * the bytes that were waiting; a corrupt section is refused and leaves the
 * device as it was. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "base/snap.h"
#include "devices/i8042.h"
#include "devices/serial.h"

enum { THR = 0, RBR = 0, IER = 1, LCR = 3, MCR = 4, LSR = 5, SCR = 7 };
#define DATA 0x60
#define CMD 0x64

static char err[256];

static int no_irq(struct vm *vm, uint32_t gsi, int level)
{
	(void)vm, (void)gsi, (void)level;
	return 0;
}

static struct serial *uart(void)
{
	struct serial *s = serial_new(NULL, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, -1, -1, NULL);
	ck_assert_ptr_nonnull(s);
	serial_set_hooks(s, no_irq, NULL);
	return s;
}

START_TEST(bytes_in_the_uart_fifo_and_its_registers_survive)
{
	struct serial *a = uart();
	serial_write(a, LCR, 0x03);         /* 8N1 */
	serial_write(a, SCR, 0x5a);
	serial_write(a, IER, 0x01);
	serial_write(a, MCR, 0x10 | 0x0b);  /* loopback: what we send, we receive */
	serial_write(a, THR, 'h');
	serial_write(a, THR, 'i');
	struct snap_w w;
	snap_w_init(&w);
	serial_snap_save(a, &w);
	serial_free(a);

	struct serial *b = uart();
	ck_assert_msg(serial_snap_restore(b, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(serial_read(b, SCR), 0x5a);
	ck_assert_uint_eq(serial_read(b, LCR), 0x03);
	ck_assert_uint_eq(serial_read(b, IER), 0x01);
	ck_assert_uint_eq(serial_read(b, LSR) & 1, 1); /* data ready */
	ck_assert_uint_eq(serial_read(b, RBR), 'h');
	ck_assert_uint_eq(serial_read(b, RBR), 'i');
	ck_assert_uint_eq(serial_read(b, LSR) & 1, 0);
	serial_free(b);
	snap_w_free(&w);
}
END_TEST

START_TEST(a_uart_section_claiming_a_wild_fifo_is_refused)
{
	struct serial *a = uart();
	struct snap_w w;
	snap_w_init(&w);
	serial_snap_save(a, &w);
	/* rx_count sits after the 16-byte header, base (2), 9 registers, 2 flags. */
	uint32_t wild = 100000;
	memcpy(w.buf + 16 + 2 + 9 + 2, &wild, 4);
	serial_write(a, SCR, 0x77);
	ck_assert_int_eq(serial_snap_restore(a, w.buf, w.len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "UART"));
	ck_assert_uint_eq(serial_read(a, SCR), 0x77); /* untouched */
	/* Cut at every length: an error each time, never a read past the end. */
	for (size_t n = 0; n < w.len; n++) {
		uint8_t *cut = malloc(n + 1);
		memcpy(cut, w.buf, n);
		if (n >= 16) {
			uint64_t body = n - 16;
			memcpy(cut + 8, &body, 8);
		}
		ck_assert_int_eq(serial_snap_restore(a, cut, n, err, sizeof(err)), -1);
		free(cut);
	}
	serial_free(a);
	snap_w_free(&w);
}
END_TEST

START_TEST(keys_waiting_in_the_keyboard_controller_survive)
{
	struct i8042 *a = i8042_new(NULL);
	i8042_set_hooks(a, no_irq, NULL);
	ck_assert_int_eq(i8042_send_ctrl_alt_del(a), 0);
	i8042_read(a, DATA); /* the guest took one byte before the snapshot */
	struct snap_w w;
	snap_w_init(&w);
	i8042_snap_save(a, &w);
	/* What the guest would have read next from the old controller. */
	uint8_t rest[16];
	unsigned n = 0;
	while ((i8042_read(a, CMD) & 1) && n < sizeof(rest))
		rest[n++] = i8042_read(a, DATA);
	ck_assert_uint_gt(n, 5);
	i8042_free(a);

	struct i8042 *b = i8042_new(NULL);
	i8042_set_hooks(b, no_irq, NULL);
	ck_assert_msg(i8042_snap_restore(b, w.buf, w.len, err, sizeof(err)) == 0, "%s", err);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(i8042_read(b, CMD) & 1, 1);
		ck_assert_uint_eq(i8042_read(b, DATA), rest[i]);
	}
	ck_assert_uint_eq(i8042_read(b, CMD) & 1, 0);
	i8042_free(b);
	snap_w_free(&w);
}
END_TEST

START_TEST(a_keyboard_section_with_an_unknown_scan_code_set_is_refused)
{
	struct i8042 *a = i8042_new(NULL);
	i8042_set_hooks(a, no_irq, NULL);
	struct snap_w w;
	snap_w_init(&w);
	i8042_snap_save(a, &w);
	w.buf[16 + 5] = 7; /* kbd_set: after ctr, outp, last_cmd, ctl_pending, kbd_pending */
	ck_assert_int_eq(i8042_snap_restore(a, w.buf, w.len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "scan code set"));
	i8042_free(a);
	snap_w_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("legacy_snapshot");
	TCase *tc = tcase_create("legacy_snapshot");
	tcase_add_test(tc, bytes_in_the_uart_fifo_and_its_registers_survive);
	tcase_add_test(tc, a_uart_section_claiming_a_wild_fifo_is_refused);
	tcase_add_test(tc, keys_waiting_in_the_keyboard_controller_survive);
	tcase_add_test(tc, a_keyboard_section_with_an_unknown_scan_code_set_is_refused);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
