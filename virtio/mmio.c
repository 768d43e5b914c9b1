/* SPDX-License-Identifier: Apache-2.0 */
#include "virtio/mmio.h"
#include "core/ember.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum {
	REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008, REG_VENDOR_ID = 0x00c,
	REG_DEV_FEATURES = 0x010, REG_DEV_FEATURES_SEL = 0x014,
	REG_DRV_FEATURES = 0x020, REG_DRV_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034, REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050,
	REG_INT_STATUS = 0x060, REG_INT_ACK = 0x064, REG_STATUS = 0x070,
	REG_QUEUE_DESC_LO = 0x080, REG_QUEUE_DESC_HI = 0x084,
	REG_QUEUE_AVAIL_LO = 0x090, REG_QUEUE_AVAIL_HI = 0x094,
	REG_QUEUE_USED_LO = 0x0a0, REG_QUEUE_USED_HI = 0x0a4,
	REG_CONFIG_GEN = 0x0fc, REG_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC  0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x52424d45 /* "EMBR" */

static void signal_irq(struct virtio_dev *d, uint32_t why)
{
	struct virtio_mmio *m = d->transport;
	uint64_t one = 1;

	if (why & VIRTIO_INT_CONFIG)
		__atomic_add_fetch(&m->config_generation, 1, __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&m->int_status, why, __ATOMIC_SEQ_CST);
	if (write(m->irqfd, &one, sizeof(one)) < 0)
		warn("%s: cannot raise its interrupt: %s", d->name, strerror(errno));
}

static void reset(struct virtio_mmio *m)
{
	struct virtio_dev *d = m->dev;

	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		d->ops->reset(d);
	for (int i = 0; i < d->nqueues; i++)
		virtq_reset(&d->vq[i]);
	d->status = 0;
	d->driver_features = 0;
	m->dev_features_sel = m->drv_features_sel = m->queue_sel = 0;
	m->warned_status = false;
	__atomic_store_n(&m->int_status, 0, __ATOMIC_SEQ_CST);
}

static void write_status(struct virtio_mmio *m, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	uint8_t old = d->status;

	if (v == 0) {
		reset(m);
		return;
	}
	/*
	 * Bits are cleared by a reset only (virtio 1.1, 2.1.2): a driver that
	 * drops DRIVER_OK without one would leave the device half stopped.
	 */
	if ((old & ~VIRTIO_STATUS_NEEDS_RESET) & ~v) {
		if (!m->warned_status)
			guest_warn("%s: the driver cleared status bits (0x%x to 0x%x) without a "
				   "reset; ignored (reported once until the reset)",
				   d->name, old, v & 0xff);
		m->warned_status = true;
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		/* Only features we offered, and only the modern interface. */
		if ((d->driver_features & ~d->host_features) ||
		    !(d->driver_features & VIRTIO_F_VERSION_1))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	d->status = (v & 0xff) | (old & VIRTIO_STATUS_NEEDS_RESET);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(d->status & VIRTIO_STATUS_FEATURES_OK) || d->ops->activate(d) < 0)
			virtio_dev_needs_reset(d);
	}
}

static struct virtq *cur_queue(struct virtio_mmio *m)
{
	return m->queue_sel < (uint32_t)m->dev->nqueues ? &m->dev->vq[m->queue_sel] : NULL;
}

static uint32_t read_reg(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *d = m->dev;
	struct virtq *q = cur_queue(m);

	switch (off) {
	case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
	case REG_VERSION: return 2;
	case REG_DEVICE_ID: return d->device_id;
	case REG_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case REG_DEV_FEATURES:
		return m->dev_features_sel < 2 ? d->host_features >> (32 * m->dev_features_sel) : 0;
	case REG_QUEUE_NUM_MAX: return q ? d->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INT_STATUS: return __atomic_load_n(&m->int_status, __ATOMIC_SEQ_CST);
	case REG_STATUS: return d->status;
	case REG_CONFIG_GEN: return __atomic_load_n(&m->config_generation, __ATOMIC_SEQ_CST);
	default: return 0;
	}
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? (*v & 0xffffffffULL) | (uint64_t)val << 32 : (*v & ~0xffffffffULL) | val;
}

static void mmio_reschedule(struct virtio_dev *d, int q);

static void write_reg(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	struct virtq *q = cur_queue(m);
	/* Queue set-up is only allowed while the queue is not live. */
	bool q_setup = q && !q->ready && (d->status & VIRTIO_STATUS_FEATURES_OK) &&
		       !(d->status & VIRTIO_STATUS_DRIVER_OK);

	switch (off) {
	case REG_DEV_FEATURES_SEL: m->dev_features_sel = v; break;
	case REG_DRV_FEATURES_SEL: m->drv_features_sel = v; break;
	case REG_DRV_FEATURES:
		if (m->drv_features_sel < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			bool high = m->drv_features_sel == 1;

			set_half(&d->driver_features, high, v);
		}
		break;
	case REG_QUEUE_SEL: m->queue_sel = v; break;
	case REG_QUEUE_NUM: if (q_setup) q->size = v; break;
	case REG_QUEUE_DESC_LO: case REG_QUEUE_DESC_HI:
		if (q_setup) set_half(&q->desc_gpa, off == REG_QUEUE_DESC_HI, v);
		break;
	case REG_QUEUE_AVAIL_LO: case REG_QUEUE_AVAIL_HI:
		if (q_setup) set_half(&q->avail_gpa, off == REG_QUEUE_AVAIL_HI, v);
		break;
	case REG_QUEUE_USED_LO: case REG_QUEUE_USED_HI:
		if (q_setup) set_half(&q->used_gpa, off == REG_QUEUE_USED_HI, v);
		break;
	case REG_QUEUE_READY:
		if (!q)
			break;
		if (v == 1 && q_setup) {
			if (q->size > d->queue_max) {
				/* Once until the reset (the driver may insist). */
				if (!q->broken)
					guest_warn("%s: queue size %u is over the maximum %u; the "
						   "queue is stopped until the device is reset",
						   q->name, q->size, d->queue_max);
				q->broken = true;
				break;
			}
			q->event_idx = virtio_has(d, VIRTIO_F_RING_EVENT_IDX);
			if (virtq_activate(q, d->mem) == 0)
				q->ready = true;
		} else if (v == 0) {
			q->ready = false;
		}
		break;
	case REG_QUEUE_NOTIFY:
		/*
		 * Normally caught by the ioeventfd; a stray one (another width)
		 * goes through it too, so that the device runs on the VMM thread
		 * only (a vCPU thread's seccomp filter has no malloc, the MMDS's
		 * answers need it).
		 */
		if (v < (uint32_t)d->nqueues && (d->status & VIRTIO_STATUS_DRIVER_OK))
			mmio_reschedule(d, (int)v);
		break;
	case REG_INT_ACK: __atomic_and_fetch(&m->int_status, ~v, __ATOMIC_SEQ_CST); break;
	case REG_STATUS: write_status(m, v); break;
	default: break; /* read-only or unknown: ignored */
	}
}

void virtio_mmio_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *d = m->dev;
	uint32_t v = 0;

	/*
	 * The interrupt status and its acknowledgement are atomics: no lock,
	 * so that the driver's interrupt handler never waits for a device
	 * busy with its backend (a TAP write, a disk read) under the lock.
	 */
	if (off == REG_INT_STATUS && len == 4 && !is_write) {
		v = __atomic_load_n(&m->int_status, __ATOMIC_SEQ_CST);
		memcpy(data, &v, 4);
		return;
	}
	if (off == REG_INT_ACK && len == 4 && is_write) {
		memcpy(&v, data, 4);
		__atomic_and_fetch(&m->int_status, ~v, __ATOMIC_SEQ_CST);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off >= REG_CONFIG) {
		uint64_t coff = off - REG_CONFIG;

		/* Config space: byte-wise access allowed; writes are not supported. */
		if (!is_write) {
			memset(data, 0, len);
			if (coff < d->config_len && len <= d->config_len - coff)
				d->ops->config_read(d, coff, data, len);
		}
	} else if (len != 4 || off % 4) {
		/* Registers are 32-bit; anything else is ignored. */
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&v, data, 4);
		write_reg(m, off, v);
	} else {
		v = read_reg(m, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

/* Another round for queue q: its notify eventfd, as if the guest kicked it. */
static void mmio_reschedule(struct virtio_dev *d, int q)
{
	struct virtio_mmio *m = d->transport;
	uint64_t one = 1;

	if (write(m->notify_fd[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		warn("%s: cannot reschedule queue %d: %s", d->name, q, strerror(errno));
}

struct notify_ctx {
	struct virtio_mmio *m;
	int q;
};

static void on_notify(void *opaque, uint32_t events)
{
	struct notify_ctx *n = opaque;
	struct virtio_dev *d = n->m->dev;
	uint64_t count;

	(void)events;
	if (read(n->m->notify_fd[n->q], &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		d->ops->notify(d, n->q);
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_param(int n, char *buf, size_t size)
{
	if (n < 0 || n >= VIRTIO_MMIO_MAX_DEVS)
		return -1;
	snprintf(buf, size, "virtio_mmio.device=4K@0x%llx:%d",
		 VIRTIO_MMIO_BASE + (unsigned long long)n * VIRTIO_MMIO_SIZE,
		 VIRTIO_MMIO_FIRST_GSI + n);
	return 0;
}

int virtio_mmio_init(struct virtio_mmio *m, struct vm *vm, int n, struct virtio_dev *dev)
{
	if (n < 0 || n >= VIRTIO_MMIO_MAX_DEVS)
		return -1;
	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->vm = vm;
	m->base = VIRTIO_MMIO_BASE + (uint64_t)n * VIRTIO_MMIO_SIZE;
	m->gsi = VIRTIO_MMIO_FIRST_GSI + n;
	m->irqfd = -1;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->notify_fd[q] = -1;
	dev->transport = m;
	dev->signal = signal_irq;
	dev->reschedule = mmio_reschedule;
	return 0;
}

void virtio_mmio_add(struct vm *vm, int n, struct virtio_dev *dev)
{
	struct virtio_mmio *m = calloc(1, sizeof(*m));
	struct kvm_irqfd irqfd = { 0 };

	if (!m)
		die(EMBER_EXIT_HOST_ERROR, "out of memory");
	if (virtio_mmio_init(m, vm, n, dev) < 0)
		die(EMBER_EXIT_HOST_ERROR, "%s: no virtio-mmio slot %d (0 to %d)", dev->name, n,
		    VIRTIO_MMIO_MAX_DEVS - 1);

	m->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	irqfd.fd = m->irqfd;
	irqfd.gsi = m->gsi;
	if (m->irqfd < 0 || ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		die(EMBER_EXIT_HOST_ERROR, "%s: KVM_IRQFD failed: %s", dev->name, strerror(errno));
	for (int q = 0; q < dev->nqueues; q++) {
		struct notify_ctx *n = calloc(1, sizeof(*n));
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = m->base + REG_QUEUE_NOTIFY,
			.len = 4,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};

		m->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		io.fd = m->notify_fd[q];
		if (!n || m->notify_fd[q] < 0 || ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
			die(EMBER_EXIT_HOST_ERROR, "%s: KVM_IOEVENTFD failed: %s", dev->name,
			    strerror(errno));
		n->m = m;
		n->q = q;
		if (evloop_add(dev->loop, m->notify_fd[q], EPOLLIN, on_notify, n) < 0)
			die(EMBER_EXIT_HOST_ERROR, "%s: cannot watch its queue: %s", dev->name,
			    strerror(errno));
	}
	if (bus_register(&vm->mmio, m->base, VIRTIO_MMIO_SIZE, virtio_mmio_access, m) < 0)
		die(EMBER_EXIT_HOST_ERROR, "%s: MMIO slot taken", dev->name);
}

/* One device's transport and queues in a snapshot (SNAP_TAG_VIRTIO). */
struct virtio_rec {
	uint32_t slot, device_id, nqueues, dev_features_sel, drv_features_sel, queue_sel;
	uint32_t int_status, config_generation;
	uint64_t driver_features;
	uint8_t status, reserved[7];
	struct {
		uint64_t desc, avail, used;
		uint32_t size;
		uint16_t last_avail, used_idx, signalled_used;
		uint8_t ready, broken, event_idx, signalled_valid, reserved[4];
	} q[VIRTIO_MAX_QUEUES];
};

void virtio_mmio_save(struct virtio_dev *d, struct snap_writer *w)
{
	struct virtio_mmio *m = d->transport;
	struct virtio_rec r;

	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&d->lock);
	r.slot = (uint32_t)((m->base - VIRTIO_MMIO_BASE) / VIRTIO_MMIO_SIZE);
	r.device_id = d->device_id;
	r.nqueues = (uint32_t)d->nqueues;
	r.dev_features_sel = m->dev_features_sel;
	r.drv_features_sel = m->drv_features_sel;
	r.queue_sel = m->queue_sel;
	r.int_status = __atomic_load_n(&m->int_status, __ATOMIC_SEQ_CST);
	r.config_generation = __atomic_load_n(&m->config_generation, __ATOMIC_SEQ_CST);
	r.driver_features = d->driver_features;
	r.status = d->status;
	for (int i = 0; i < d->nqueues; i++) {
		const struct virtq *q = &d->vq[i];

		/* The used ring is ember's to write: a diff snapshot must hold it. */
		if (q->ready && !q->broken)
			gm_mark_dirty(d->mem, q->used, 6 + 8 * (uint64_t)q->size);
		r.q[i].desc = q->desc_gpa, r.q[i].avail = q->avail_gpa, r.q[i].used = q->used_gpa;
		r.q[i].size = q->size;
		r.q[i].last_avail = q->last_avail, r.q[i].used_idx = q->used_idx;
		r.q[i].signalled_used = q->signalled_used;
		r.q[i].ready = q->ready, r.q[i].broken = q->broken, r.q[i].event_idx = q->event_idx;
		r.q[i].signalled_valid = q->signalled_valid;
	}
	pthread_mutex_unlock(&d->lock);
	snap_w_section(w, SNAP_TAG_VIRTIO, &r, sizeof(r));
}

int virtio_mmio_restore(struct virtio_dev *d, const struct snap_section *sec, char *err,
			size_t errlen)
{
	struct virtio_mmio *m = d->transport;
	struct virtio_rec r;
	uint32_t slot = (uint32_t)((m->base - VIRTIO_MMIO_BASE) / VIRTIO_MMIO_SIZE);

	if (sec->len != sizeof(r))
		return errorf(err, errlen, "%s: its state is %llu bytes, not %zu", d->name,
			      (unsigned long long)sec->len, sizeof(r));
	memcpy(&r, sec->data, sizeof(r));
	if (r.slot != slot || r.device_id != d->device_id || r.nqueues != (uint32_t)d->nqueues)
		return errorf(err, errlen, "%s: the snapshot has device %u with %u queues on slot "
			      "%u here", d->name, r.device_id, r.nqueues, slot);
	if ((r.driver_features & ~d->host_features) || r.queue_sel > 0xffff)
		return errorf(err, errlen, "%s: the snapshot's features or registers are not "
			      "this device's", d->name);
	pthread_mutex_lock(&d->lock);
	m->dev_features_sel = r.dev_features_sel;
	m->drv_features_sel = r.drv_features_sel;
	m->queue_sel = r.queue_sel;
	__atomic_store_n(&m->int_status, r.int_status & (VIRTIO_INT_VRING | VIRTIO_INT_CONFIG),
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&m->config_generation, r.config_generation, __ATOMIC_SEQ_CST);
	d->driver_features = r.driver_features;
	d->status = r.status;
	for (int i = 0; i < d->nqueues; i++) {
		struct virtq *q = &d->vq[i];

		virtq_reset(q);
		q->desc_gpa = r.q[i].desc, q->avail_gpa = r.q[i].avail, q->used_gpa = r.q[i].used;
		q->size = r.q[i].size;
		q->event_idx = r.q[i].event_idx;
		if (r.q[i].ready && !r.q[i].broken) {
			/* The rings are checked and mapped again, as at QueueReady. */
			if (q->size > d->queue_max || virtq_activate(q, d->mem) < 0) {
				pthread_mutex_unlock(&d->lock);
				return errorf(err, errlen, "%s: the snapshot's queue %d does not fit "
					      "guest memory", d->name, i);
			}
			q->ready = true;
		}
		q->broken = r.q[i].broken;
		q->last_avail = r.q[i].last_avail, q->used_idx = r.q[i].used_idx;
		q->signalled_used = r.q[i].signalled_used;
		q->signalled_valid = r.q[i].signalled_valid;
	}
	if ((d->status & VIRTIO_STATUS_DRIVER_OK) && d->ops->activate(d) < 0) {
		pthread_mutex_unlock(&d->lock);
		return errorf(err, errlen, "%s: cannot start serving again", d->name);
	}
	pthread_mutex_unlock(&d->lock);
	/* What the guest made available but was not served yet: served after the resume. */
	for (int i = 0; i < d->nqueues; i++)
		if (d->vq[i].ready && (d->status & VIRTIO_STATUS_DRIVER_OK))
			mmio_reschedule(d, i);
	return 0;
}
