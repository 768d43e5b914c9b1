/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/i8042.h"
#include "core/ember.h"

#include <string.h>

#define DATA_PORT 0x60
#define CMD_PORT  0x64
#define KBD_IRQ   1

/* status register */
#define ST_OBF    0x01 /* output buffer full */
#define ST_SYS    0x04 /* system flag, set after the self-test */
#define ST_CMD    0x08 /* last write was to the command port */
#define ST_UNLOCK 0x10 /* keyboard not inhibited */
/* command byte */
#define CTR_KBDINT 0x01
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10

/* controller commands */
#define C_READ_CTR     0x20
#define C_WRITE_CTR    0x60
#define C_AUX_DISABLE  0xa7
#define C_AUX_ENABLE   0xa8
#define C_AUX_TEST     0xa9
#define C_SELF_TEST    0xaa
#define C_KBD_TEST     0xab
#define C_KBD_DISABLE  0xad
#define C_KBD_ENABLE   0xae
#define C_READ_OUTPORT 0xd0
#define C_WRITE_OUTPORT 0xd1
#define C_WRITE_KBD_BUF 0xd2
#define C_WRITE_AUX_BUF 0xd3
#define C_WRITE_AUX    0xd4
#define C_PULSE_RESET  0xfe

/* keyboard commands and replies */
#define K_SET_LEDS  0xed
#define K_ECHO      0xee
#define K_SCANSET   0xf0
#define K_GET_ID    0xf2
#define K_TYPEMATIC 0xf3
#define K_RESET     0xff
#define K_ACK       0xfa
#define K_BAT_OK    0xaa

static void push(struct i8042 *k, uint8_t b)
{
	if (k->count == I8042_BUF)
		return; /* a full controller drops, like the hardware */
	k->buf[(k->head + k->count++) % I8042_BUF] = b;
	k->status |= ST_OBF;
}

static void kick_irq(struct i8042 *k)
{
	if (k->count && (k->ctr & CTR_KBDINT) && !(k->ctr & CTR_KBDDIS))
		vm_irq_pulse(k->vm, KBD_IRQ);
}

static uint8_t pop(struct i8042 *k)
{
	uint8_t b;

	if (!k->count)
		return 0;
	b = k->buf[k->head];
	k->head = (k->head + 1) % I8042_BUF;
	if (!--k->count)
		k->status &= ~ST_OBF;
	return b;
}

static void kbd_write(struct i8042 *k, uint8_t b)
{
	if (k->pending_kbd) {
		/* the argument of LEDs/typematic/scan-set: acknowledge; set 2 it is */
		if (k->pending_kbd == K_SCANSET && b == 0) {
			push(k, K_ACK);
			push(k, 2);
		} else {
			push(k, K_ACK);
		}
		k->pending_kbd = 0;
		return;
	}
	switch (b) {
	case K_RESET:
		push(k, K_ACK);
		push(k, K_BAT_OK);
		break;
	case K_GET_ID:
		push(k, K_ACK);
		push(k, 0xab);
		push(k, 0x83);
		break;
	case K_ECHO:
		push(k, K_ECHO);
		break;
	case K_SET_LEDS:
	case K_TYPEMATIC:
	case K_SCANSET:
		k->pending_kbd = b;
		push(k, K_ACK);
		break;
	default: /* enable, disable, defaults, ...: acknowledged */
		push(k, K_ACK);
		break;
	}
}

static void command(struct i8042 *k, uint8_t c)
{
	switch (c) {
	case C_READ_CTR:
		push(k, k->ctr);
		break;
	case C_WRITE_CTR:
	case C_WRITE_OUTPORT:
	case C_WRITE_KBD_BUF:
	case C_WRITE_AUX_BUF:
	case C_WRITE_AUX:
		k->pending_cmd = c;
		break;
	case C_SELF_TEST:
		k->status |= ST_SYS;
		push(k, 0x55);
		break;
	case C_KBD_TEST:
		push(k, 0x00);
		break;
	case C_AUX_TEST:
		push(k, 0xff); /* no mouse port */
		break;
	case C_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case C_KBD_ENABLE:
		k->ctr &= ~CTR_KBDDIS;
		break;
	case C_READ_OUTPORT:
		push(k, 0x01); /* no reset asserted */
		break;
	case C_PULSE_RESET:
		vm_request_stop(EMBER_EXIT_OK, NULL);
		break;
	default: /* aux enable/disable and others: nothing to do */
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t b)
{
	uint8_t c = k->pending_cmd;

	k->pending_cmd = 0;
	switch (c) {
	case C_WRITE_CTR:
		k->ctr = b;
		break;
	case C_WRITE_OUTPORT:
		if (!(b & 0x01)) /* bit 0 low: reset the CPU */
			vm_request_stop(EMBER_EXIT_OK, NULL);
		break;
	case C_WRITE_KBD_BUF:
		push(k, b);
		break;
	case C_WRITE_AUX_BUF:
	case C_WRITE_AUX:
		break; /* no mouse */
	default:
		kbd_write(k, b);
		break;
	}
}

static void i8042_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	if (off == CMD_PORT - DATA_PORT) {
		if (is_write) {
			k->status |= ST_CMD;
			command(k, data[0]);
		} else {
			memset(data, 0, len);
			data[0] = k->status;
		}
	} else if (off == 0) {
		if (is_write) {
			k->status &= ~ST_CMD;
			data_write(k, data[0]);
		} else {
			memset(data, 0, len);
			data[0] = pop(k);
		}
	} else if (!is_write) {
		memset(data, 0xff, len); /* 0x61 (no PIT gate, no speaker), 0x62, 0x63: nothing */
	}
	kick_irq(k);
	pthread_mutex_unlock(&k->lock);
}

void i8042_init(struct i8042 *k, struct vm *vm)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->vm = vm;
	k->status = ST_UNLOCK;
	k->ctr = CTR_KBDINT | CTR_SYS;
	/* 0x61 inside this range is the PIT's gate and speaker: absent too (legacy.c) */
	if (bus_register(&vm->pio, DATA_PORT, CMD_PORT - DATA_PORT + 1, i8042_pio, k) < 0)
		die(EMBER_EXIT_HOST_ERROR, "i8042: ports 0x60-0x64 already taken");
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* scancode set 2: Ctrl, Alt, Del (E0 71) pressed, then released */
	static const uint8_t seq[] = { 0x14, 0x11, 0xe0, 0x71,
				       0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
	int r = -1;

	pthread_mutex_lock(&k->lock);
	if (I8042_BUF - k->count >= sizeof(seq)) {
		for (unsigned int i = 0; i < sizeof(seq); i++)
			push(k, seq[i]);
		r = 0;
	}
	kick_irq(k);
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* The controller's registers and output queue in a snapshot (SNAP_TAG_I8042). */
struct i8042_rec {
	uint8_t status, ctr, pending_cmd, pending_kbd;
	uint32_t head, count;
	uint8_t buf[I8042_BUF];
};

void i8042_save(struct i8042 *k, struct snap_writer *w)
{
	struct i8042_rec r;

	pthread_mutex_lock(&k->lock);
	r = (struct i8042_rec){ .status = k->status, .ctr = k->ctr, .pending_cmd = k->pending_cmd,
				.pending_kbd = k->pending_kbd, .head = k->head, .count = k->count };
	memcpy(r.buf, k->buf, sizeof(r.buf));
	pthread_mutex_unlock(&k->lock);
	snap_w_section(w, SNAP_TAG_I8042, &r, sizeof(r));
}

int i8042_restore(struct i8042 *k, const struct snap_section *sec, char *err, size_t errlen)
{
	struct i8042_rec r;

	if (sec->len != sizeof(r))
		return errorf(err, errlen, "the i8042's state is %llu bytes, not %zu",
			      (unsigned long long)sec->len, sizeof(r));
	memcpy(&r, sec->data, sizeof(r));
	if (r.head >= I8042_BUF || r.count > I8042_BUF)
		return errorf(err, errlen, "the i8042's state is out of range");
	pthread_mutex_lock(&k->lock);
	k->status = r.status, k->ctr = r.ctr;
	k->pending_cmd = r.pending_cmd, k->pending_kbd = r.pending_kbd;
	k->head = r.head, k->count = r.count;
	memcpy(k->buf, r.buf, sizeof(k->buf));
	pthread_mutex_unlock(&k->lock);
	return 0;
}
