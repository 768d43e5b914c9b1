/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/serial.h"
#include "core/ember.h"
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* Register offsets (DLAB=0 unless noted) and bits. */
enum { RBR_THR_DLL = 0, IER_DLM = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define IER_RDI      0x01
#define IER_THRI     0x02
#define IER_MASK     0x0f
#define IIR_NONE     0x01
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_FIFO     0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB     0x80
#define MCR_DTR      0x01
#define MCR_RTS      0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define LSR_DR       0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MSR_CTS      0x10
#define MSR_DSR      0x20
#define MSR_RI       0x40
#define MSR_DCD      0x80

static uint8_t iir(struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thr_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Raise an edge on the line when an interrupt condition appears. */
static void update_irq(struct serial *s)
{
	bool pending = !(iir(s) & IIR_NONE);

	if (pending && !s->irq_raised)
		vm_irq_pulse(s->vm, s->irq);
	s->irq_raised = pending;
}

static void rx_push(struct serial *s, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n && s->rx_count < SERIAL_RX_FIFO; i++)
		s->rx[(s->rx_head + s->rx_count++) % SERIAL_RX_FIFO] = b[i];
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t b;

	if (!s->rx_count)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	s->rx_count--;
	if (s->in_paused) {
		uint64_t one = 1;

		s->in_paused = false;
		if (write(s->space_fd, &one, sizeof(one)) < 0)
			warn("serial: cannot wake the console input: %s", strerror(errno));
	}
	return b;
}

static void transmit(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, &b, 1);
		return;
	}
	/*
	 * The output never blocks (serial_init): a console whose reader is
	 * slow, gone or absent loses bytes, counted, never stalls the vCPU.
	 */
	for (;;) {
		ssize_t n = write(s->out_fd, &b, 1);

		if (n == 1) {
			METRIC_INC(ember_metrics.uart.write_count);
			return;
		}
		if (n < 0 && errno == EINTR && !vm_stop_requested())
			continue;
		METRIC_INC(ember_metrics.uart.missed_write_count);
		return;
	}
}

static uint8_t reg_read(struct serial *s, unsigned int reg)
{
	uint8_t v;

	switch (reg) {
	case RBR_THR_DLL:
		return (s->lcr & LCR_DLAB) ? s->dll : rx_pop(s);
	case IER_DLM:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case IIR_FCR:
		v = iir(s);
		if ((v & 0x0f) == IIR_THRI)
			s->thr_pending = false;
		return v;
	case LCR:
		return s->lcr;
	case MCR:
		return s->mcr;
	case LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case MSR:
		if (s->mcr & MCR_LOOP)
			return (s->mcr & MCR_RTS ? MSR_CTS : 0) | (s->mcr & MCR_DTR ? MSR_DSR : 0) |
			       (s->mcr & MCR_OUT1 ? MSR_RI : 0) | (s->mcr & MCR_OUT2 ? MSR_DCD : 0);
		return MSR_DCD | MSR_DSR | MSR_CTS;
	default:
		return s->scr;
	}
}

static void reg_write(struct serial *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case RBR_THR_DLL:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
		} else {
			transmit(s, v);
			s->thr_pending = true;
		}
		break;
	case IER_DLM:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling THRI with the THR empty asks for an interrupt. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thr_pending = true;
			s->ier = v & IER_MASK;
		}
		break;
	case IIR_FCR:
		s->fcr = v & ~0x06;
		if (v & FCR_CLEAR_RX)
			while (s->rx_count)
				rx_pop(s);
		break;
	case LCR:
		s->lcr = v;
		break;
	case MCR:
		s->mcr = v & 0x1f;
		break;
	case SCR:
		s->scr = v;
		break;
	default: /* LSR, MSR: read-only */
		break;
	}
}

static void serial_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	/* Registers are bytes; a wider access touches consecutive ones. */
	for (uint32_t i = 0; i < len; i++) {
		unsigned int reg = (off + i) & 7;

		if (is_write)
			reg_write(s, reg, data[i]);
		else
			data[i] = reg_read(s, reg);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/*
 * A non-blocking descriptor for the console output out_fd. Pipes, FIFOs and
 * terminals are opened anew through /proc (a file description of our own, so
 * the shell's stays blocking); regular files never block; anything else (a
 * socket, or no /proc, as in a jail) gets O_NONBLOCK on out_fd itself.
 */
static int output_fd(int out_fd)
{
	struct stat st;
	char p[32];
	int fd, fl;

	if (fstat(out_fd, &st) < 0 || S_ISREG(st.st_mode))
		return out_fd;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", out_fd);
		fd = open(p, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	fl = fcntl(out_fd, F_GETFL);
	if (fl < 0 || fcntl(out_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		warn("serial: cannot make the console output non-blocking: %s", strerror(errno));
	return out_fd;
}

void serial_init(struct serial *s, struct vm *vm, uint16_t base, int irq, int out_fd)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->irq = irq;
	s->out_fd = output_fd(out_fd);
	s->in_fd = -1;
	s->space_fd = -1;
	s->mcr = MCR_OUT2;
	if (bus_register(&vm->pio, base, 8, serial_pio, s) < 0)
		die(EMBER_EXIT_HOST_ERROR, "serial: port 0x%x already taken", base);
}

static void on_input(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[SERIAL_RX_FIFO];
	ssize_t n;

	(void)events;
	pthread_mutex_lock(&s->lock);
	if (s->rx_count == SERIAL_RX_FIFO) {
		/* Full (the guest may fill it itself, in loopback): wait for room. */
		s->in_paused = true;
		evloop_mod(s->loop, s->in_fd, 0);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	n = read(s->in_fd, buf, SERIAL_RX_FIFO - s->rx_count);
	if (n > 0) {
		rx_push(s, buf, n);
		update_irq(s);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		/* End of input: the guest keeps running without a keyboard. */
		evloop_del(s->loop, s->in_fd);
		s->in_fd = -1;
	}
	if (s->in_fd >= 0 && s->rx_count == SERIAL_RX_FIFO) {
		/* Stop reading until the guest drains the FIFO. */
		s->in_paused = true;
		evloop_mod(s->loop, s->in_fd, 0);
	}
	pthread_mutex_unlock(&s->lock);
}

static void on_space(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint64_t v;

	(void)events;
	if (read(s->space_fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->in_fd >= 0 && !s->in_paused)
		evloop_mod(s->loop, s->in_fd, EPOLLIN);
	pthread_mutex_unlock(&s->lock);
}

void serial_attach_input(struct serial *s, struct evloop *l, int in_fd)
{
	s->loop = l;
	s->space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->space_fd < 0 || evloop_add(l, s->space_fd, EPOLLIN, on_space, s) < 0)
		die(EMBER_EXIT_HOST_ERROR, "serial: cannot set up input: %s", strerror(errno));
	/* Input that cannot be polled (a regular file, /dev/null) is simply not read. */
	if (evloop_add(l, in_fd, EPOLLIN, on_input, s) == 0)
		s->in_fd = in_fd;
}

/* The UART's registers and input FIFO in a snapshot (SNAP_TAG_SERIAL). */
struct serial_rec {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, thr_pending, irq_raised, reserved[3];
	uint32_t rx_head, rx_count;
	uint8_t rx[SERIAL_RX_FIFO];
};

void serial_save(struct serial *s, struct snap_writer *w)
{
	struct serial_rec r = { 0 };

	pthread_mutex_lock(&s->lock);
	r = (struct serial_rec){ .ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .scr = s->scr,
				 .dll = s->dll, .dlm = s->dlm, .fcr = s->fcr,
				 .thr_pending = s->thr_pending, .irq_raised = s->irq_raised,
				 .rx_head = s->rx_head, .rx_count = s->rx_count };
	memcpy(r.rx, s->rx, sizeof(r.rx));
	pthread_mutex_unlock(&s->lock);
	snap_w_section(w, SNAP_TAG_SERIAL, &r, sizeof(r));
}

int serial_restore(struct serial *s, const struct snap_section *sec, char *err, size_t errlen)
{
	struct serial_rec r;

	if (sec->len != sizeof(r))
		return errorf(err, errlen, "the serial port's state is %llu bytes, not %zu",
			      (unsigned long long)sec->len, sizeof(r));
	memcpy(&r, sec->data, sizeof(r));
	if (r.rx_head >= SERIAL_RX_FIFO || r.rx_count > SERIAL_RX_FIFO || r.thr_pending > 1 ||
	    r.irq_raised > 1)
		return errorf(err, errlen, "the serial port's state is out of range");
	pthread_mutex_lock(&s->lock);
	s->ier = r.ier, s->lcr = r.lcr, s->mcr = r.mcr, s->scr = r.scr;
	s->dll = r.dll, s->dlm = r.dlm, s->fcr = r.fcr;
	s->thr_pending = r.thr_pending, s->irq_raised = r.irq_raised;
	s->rx_head = r.rx_head, s->rx_count = r.rx_count;
	memcpy(s->rx, r.rx, sizeof(s->rx));
	pthread_mutex_unlock(&s->lock);
	return 0;
}
