/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The i8042 keyboard controller with a keyboard behind it: enough for
 * Linux's i8042 and atkbd drivers (self-tests, the command byte, keyboard
 * commands answered with ACKs, scancode set 2 without translation), a reset
 * through command 0xFE that ends the VM cleanly, and Ctrl-Alt-Del pressed
 * on the API's request. No mouse: the guest runs with i8042.noaux.
 */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/snapfile.h"
#include "vmm/vm.h"

#define I8042_BUF 16

struct i8042 {
	pthread_mutex_t lock;
	struct vm *vm;
	uint8_t status;
	uint8_t ctr;            /* the controller command byte */
	uint8_t pending_cmd;    /* controller command awaiting its data byte */
	uint8_t pending_kbd;    /* keyboard command awaiting its argument */
	uint8_t buf[I8042_BUF]; /* output buffer queue */
	unsigned int head, count;
};

void i8042_init(struct i8042 *k, struct vm *vm);
/* Queue Ctrl-Alt-Del key presses and releases; -1 if the queue is full. */
int i8042_ctrl_alt_del(struct i8042 *k);

/* Its state into a snapshot, and back (0, or -1 with a reason). */
void i8042_save(struct i8042 *k, struct snap_writer *w);
int i8042_restore(struct i8042 *k, const struct snap_section *sec, char *err, size_t errlen);

#endif
