#include "devices/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/snap.h"
#include "core/log.h"

#define BUF_SIZE 32 /* room for a Ctrl-Alt-Del press+release (11 bytes) and more */

/* Status register. */
#define ST_OBF      0x01
#define ST_SYS      0x04
#define ST_CMD      0x08 /* last write went to the command port */
#define ST_UNLOCKED 0x10

/* Command byte. */
#define CTR_KBDINT 0x01
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

/* Keyboard replies. */
#define KBD_ACK      0xfa
#define KBD_BAT_OK   0xaa
#define KBD_ECHO     0xee
#define KBD_RELEASE2 0xf0 /* set 2/3 break prefix */

struct i8042 {
	struct vm *vm;
	int (*irq_line)(struct vm *vm, uint32_t gsi, int level);
	void (*request_exit)(struct vm *vm, int status, const char *fmt, ...);

	pthread_mutex_t lock;
	uint8_t ctr, outp;
	bool last_cmd;      /* ST_CMD */
	uint8_t ctl_pending; /* controller command waiting for its data byte */
	uint8_t kbd_pending; /* keyboard command waiting for its argument */
	uint8_t kbd_set;     /* keyboard's scan code set, 1..3 */
	bool xlat_release;   /* translation saw 0xF0: next byte is a break */
	uint8_t buf[BUF_SIZE];
	unsigned head, count;
	int irq_level;
};

/* The 8042's set 2 -> set 1 translation for 0x00-0x7f (IBM's table); bytes
 * above pass through except 0x83 (F7) and 0x84 (SysRq). */
static const uint8_t xlat[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static void set_irq(struct i8042 *k, int level)
{
	if (level == k->irq_level)
		return;
	k->irq_level = level;
	if (k->irq_line)
		k->irq_line(k->vm, I8042_IRQ, level);
}

static void update_irq(struct i8042 *k)
{
	set_irq(k, k->count && (k->ctr & CTR_KBDINT));
}

static void flush(struct i8042 *k)
{
	k->head = k->count = 0;
	k->xlat_release = false;
	update_irq(k);
}

/* A byte from the controller itself. */
static void push_ctl(struct i8042 *k, uint8_t b)
{
	if (k->count == BUF_SIZE)
		return; /* the guest is not reading; real hardware would drop too */
	k->buf[(k->head + k->count++) % BUF_SIZE] = b;
	update_irq(k);
}

/* A byte from the keyboard, through the controller's translation. */
static void push_kbd(struct i8042 *k, uint8_t b)
{
	if (k->ctr & CTR_XLATE) {
		if (b == KBD_RELEASE2) {
			k->xlat_release = true;
			return;
		}
		if (b < 0x80)
			b = xlat[b];
		else if (b == 0x83)
			b = 0x41;
		else if (b == 0x84)
			b = 0x54;
		if (k->xlat_release)
			b |= 0x80;
		k->xlat_release = false;
	}
	push_ctl(k, b);
}

/* Returns true if the guest asked for a reset. */
static bool controller_cmd(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: /* read command byte */
		flush(k);
		push_ctl(k, k->ctr);
		break;
	case 0x21 ... 0x3f: /* read controller RAM: nothing else is kept there */
		flush(k);
		push_ctl(k, 0);
		break;
	case 0x60 ... 0x7f: /* write command byte / RAM: data byte follows */
	case 0xd1:          /* write output port */
	case 0xd2:          /* write keyboard output buffer */
	case 0xd3:          /* write aux output buffer */
	case 0xd4:          /* write to aux device */
		k->ctl_pending = cmd;
		break;
	case 0xa7:
		k->ctr |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->ctr &= ~CTR_AUXDIS;
		break;
	case 0xa9: /* aux interface test: "clock line stuck low", i.e. no aux */
		flush(k);
		push_ctl(k, 0x01);
		break;
	case 0xaa: /* self-test */
		flush(k);
		k->ctr |= CTR_SYS;
		push_ctl(k, 0x55);
		break;
	case 0xab: /* keyboard interface test */
		flush(k);
		push_ctl(k, 0x00);
		break;
	case 0xad:
		k->ctr |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ctr &= ~CTR_KBDDIS;
		break;
	case 0xc0: /* input port: keyboard not inhibited */
		flush(k);
		push_ctl(k, 0x80);
		break;
	case 0xd0:
		flush(k);
		push_ctl(k, k->outp);
		break;
	case 0xe0: /* test inputs */
		flush(k);
		push_ctl(k, 0x00);
		break;
	case 0xf0 ... 0xff: /* pulse output lines low; bit 0 is the CPU reset */
		return !(cmd & 1);
	default:
		log_debug("i8042: ignoring controller command 0x%02x", cmd);
		break;
	}
	return false;
}

static void keyboard_cmd(struct i8042 *k, uint8_t b)
{
	/* A keyboard drops what it had not sent when it gets a command. */
	flush(k);
	if (k->kbd_pending) {
		uint8_t cmd = k->kbd_pending;
		k->kbd_pending = 0;
		push_kbd(k, KBD_ACK);
		if (cmd == 0xf0) {
			if (b == 0)
				push_kbd(k, k->kbd_set);
			else if (b <= 3)
				k->kbd_set = b;
		}
		return;
	}
	switch (b) {
	case 0xed: /* set LEDs */
	case 0xf0: /* get/set scan code set */
	case 0xf3: /* typematic rate */
		k->kbd_pending = b;
		push_kbd(k, KBD_ACK);
		break;
	case 0xee:
		push_kbd(k, KBD_ECHO);
		break;
	case 0xf2: /* identify: an MF2 keyboard */
		push_kbd(k, KBD_ACK);
		push_kbd(k, 0xab);
		push_kbd(k, 0x83);
		break;
	case 0xff: /* reset and self-test */
		k->kbd_set = 2;
		push_kbd(k, KBD_ACK);
		push_kbd(k, KBD_BAT_OK);
		break;
	default: /* enable/disable scanning, defaults, set-3 key modes, ... */
		push_kbd(k, KBD_ACK);
		break;
	}
}

/* Returns true if the guest asked for a reset. */
static bool data_write(struct i8042 *k, uint8_t b)
{
	uint8_t cmd = k->ctl_pending;
	k->ctl_pending = 0;
	switch (cmd) {
	case 0:
		keyboard_cmd(k, b);
		return false;
	case 0x60:
		k->ctr = b;
		update_irq(k);
		return false;
	case 0xd1:
		k->outp = b;
		return !(b & 1); /* output port bit 0 drives the CPU reset line */
	case 0xd2:
		push_ctl(k, b);
		return false;
	case 0xd3:
		/* Echoed without the aux flag: no aux port here. */
		flush(k);
		push_ctl(k, b);
		return false;
	default: /* RAM bytes and aux device bytes go nowhere */
		return false;
	}
}

uint8_t i8042_read(struct i8042 *k, uint16_t port)
{
	uint8_t v = 0;
	pthread_mutex_lock(&k->lock);
	if (port == I8042_CMD_PORT) {
		v = ST_UNLOCKED | (k->count ? ST_OBF : 0) | (k->last_cmd ? ST_CMD : 0) |
		    ((k->ctr & CTR_SYS) ? ST_SYS : 0);
	} else if (port == I8042_DATA_PORT && k->count) {
		v = k->buf[k->head];
		k->head = (k->head + 1) % BUF_SIZE;
		k->count--;
		/* The next byte moves into the output buffer: a new edge. */
		set_irq(k, 0);
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return v;
}

void i8042_write(struct i8042 *k, uint16_t port, uint8_t val)
{
	bool reset = false;
	pthread_mutex_lock(&k->lock);
	if (port == I8042_CMD_PORT) {
		k->last_cmd = true;
		k->ctl_pending = 0;
		reset = controller_cmd(k, val);
	} else if (port == I8042_DATA_PORT) {
		k->last_cmd = false;
		reset = data_write(k, val);
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		k->request_exit(k->vm, MPVM_EXIT_RESET, "guest requested reset (i8042)");
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* Ctrl, Alt, Del down, then up in reverse order, per scan code set. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
	static const uint8_t set3[] = { 0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11 };
	pthread_mutex_lock(&k->lock);
	const uint8_t *seq = k->kbd_set == 1 ? set1 : k->kbd_set == 3 ? set3 : set2;
	size_t n = k->kbd_set == 1 ? sizeof(set1) : k->kbd_set == 3 ? sizeof(set3) : sizeof(set2);
	int rc = -ENOSPC;
	if (BUF_SIZE - k->count >= n) {
		for (size_t i = 0; i < n; i++)
			push_kbd(k, seq[i]);
		rc = 0;
	}
	if (!(k->ctr & CTR_KBDINT))
		log_warn("i8042: Ctrl-Alt-Del queued but the guest has the keyboard interrupt off");
	pthread_mutex_unlock(&k->lock);
	return rc;
}

static void io_data(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		    bool is_write)
{
	if (is_write)
		i8042_write(opaque, I8042_DATA_PORT, data[0]);
	else {
		memset(data, 0xff, len);
		data[0] = i8042_read(opaque, I8042_DATA_PORT);
	}
}

static void io_cmd(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	if (is_write)
		i8042_write(opaque, I8042_CMD_PORT, data[0]);
	else {
		memset(data, 0xff, len);
		data[0] = i8042_read(opaque, I8042_CMD_PORT);
	}
}

struct i8042 *i8042_new(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->vm = vm;
	k->irq_line = vm_irq_line;
	k->request_exit = vm_request_exit;
	pthread_mutex_init(&k->lock, NULL);
	k->ctr = CTR_SYS | CTR_KBDINT;
	k->kbd_set = 2;
	return k;
}

void i8042_set_hooks(struct i8042 *k, int (*irq_line)(struct vm *, uint32_t, int),
		     void (*request_exit)(struct vm *, int, const char *, ...))
{
	pthread_mutex_lock(&k->lock);
	k->irq_line = irq_line;
	k->request_exit = request_exit;
	pthread_mutex_unlock(&k->lock);
}

struct i8042 *i8042_setup(struct vm *vm, struct io_bus *bus, char *err, size_t errlen)
{
	struct i8042 *k = i8042_new(vm);
	if (!k) {
		err_set(err, errlen, "i8042: out of memory");
		return NULL;
	}
	int rc = io_register(bus, IO_SPACE_PIO, I8042_DATA_PORT, 1, io_data, k, "i8042 data");
	if (rc) {
		i8042_free(k);
	} else {
		rc = io_register(bus, IO_SPACE_PIO, I8042_CMD_PORT, 1, io_cmd, k, "i8042 command");
		/* On failure the data port still points at k: k stays allocated. */
	}
	if (rc) {
		err_set(err, errlen, "i8042: I/O port 0x%x or 0x%x: %s", I8042_DATA_PORT,
			I8042_CMD_PORT, rc == -EEXIST ? "already taken by another device" : strerror(-rc));
		return NULL;
	}
	return k;
}

void i8042_free(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* ---- snapshots (i8042.h) ---- */

#define I8042_SNAP_VERSION 1

void i8042_snap_save(struct i8042 *k, struct snap_w *w)
{
	pthread_mutex_lock(&k->lock);
	size_t m = snap_section_begin(w, "KBDC", I8042_SNAP_VERSION);
	snap_put_u8(w, k->ctr);
	snap_put_u8(w, k->outp);
	snap_put_bool(w, k->last_cmd);
	snap_put_u8(w, k->ctl_pending);
	snap_put_u8(w, k->kbd_pending);
	snap_put_u8(w, k->kbd_set);
	snap_put_bool(w, k->xlat_release);
	snap_put_bool(w, k->irq_level);
	snap_put_u32(w, k->count);
	for (unsigned i = 0; i < k->count; i++)
		snap_put_u8(w, k->buf[(k->head + i) % BUF_SIZE]);
	snap_section_end(w, m);
	pthread_mutex_unlock(&k->lock);
}

int i8042_snap_restore(struct i8042 *k, const void *state, size_t len, char *err,
		       size_t errlen)
{
	struct snap_r r;
	if (snap_section_open(state, len, "KBDC", 0, I8042_SNAP_VERSION, &r, err, errlen))
		return -1;
	uint8_t ctr = snap_get_u8(&r), outp = snap_get_u8(&r);
	bool last_cmd = snap_get_bool(&r);
	uint8_t ctl_pending = snap_get_u8(&r), kbd_pending = snap_get_u8(&r);
	uint8_t kbd_set = snap_get_u8(&r);
	bool xlat_release = snap_get_bool(&r), irq = snap_get_bool(&r);
	uint8_t buf[BUF_SIZE];
	uint32_t count = snap_get_u32(&r);
	if (count > BUF_SIZE)
		snap_r_fail(&r, "more bytes in the output buffer than it holds");
	else
		snap_get_bytes(&r, buf, count);
	if (!r.bad && (kbd_set < 1 || kbd_set > 3))
		snap_r_fail(&r, "a keyboard scan code set other than 1, 2 or 3");
	if (snap_r_done(&r, err, errlen))
		return -1;

	pthread_mutex_lock(&k->lock);
	k->ctr = ctr;
	k->outp = outp;
	k->last_cmd = last_cmd;
	k->ctl_pending = ctl_pending;
	k->kbd_pending = kbd_pending;
	k->kbd_set = kbd_set;
	k->xlat_release = xlat_release;
	k->irq_level = irq; /* the irqchip's own state comes from the VM's section */
	k->head = 0;
	k->count = count;
	memcpy(k->buf, buf, count);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
