/* SPDX-License-Identifier: Apache-2.0 */
/* A 16550A UART: output to a host fd, input from a host fd, THRE and RX interrupts. */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/snapfile.h"
#include "vmm/vm.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ  4
#define SERIAL_RX_FIFO   64

struct serial {
	pthread_mutex_t lock;
	struct vm *vm;
	int irq;
	int out_fd;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_pending;   /* THR-empty interrupt not yet acknowledged */
	bool irq_raised;    /* an interrupt condition was last reported */
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned int rx_head, rx_count;
	/* input side, driven by the VMM thread's event loop */
	struct evloop *loop;
	int in_fd;
	int space_fd;       /* eventfd: the guest made room while input was paused */
	bool in_paused;
};

/* Set up the UART and register it at base on the PIO bus. */
void serial_init(struct serial *s, struct vm *vm, uint16_t base, int irq, int out_fd);
/* Feed guest input from in_fd (a terminal, a pipe...) through the event loop. */
void serial_attach_input(struct serial *s, struct evloop *l, int in_fd);

/* Its state into a snapshot, and back (0, or -1 with a reason). */
void serial_save(struct serial *s, struct snap_writer *w);
int serial_restore(struct serial *s, const struct snap_section *sec, char *err, size_t errlen);

#endif
