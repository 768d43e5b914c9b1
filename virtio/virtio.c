/* SPDX-License-Identifier: Apache-2.0 */
#include "virtio/virtio.h"
#include "core/ember.h"

#include <stdio.h>
#include <string.h>

void virtio_dev_init(struct virtio_dev *d, const char *name, uint32_t device_id,
		     int nqueues, uint16_t queue_max, const struct guest_mem *mem,
		     struct evloop *loop)
{
	d->name = name;
	d->device_id = device_id;
	/* a device's own constant: more would be a bug in ember, not input */
	if (nqueues < 1 || nqueues > VIRTIO_MAX_QUEUES)
		die(EMBER_EXIT_HOST_ERROR, "%s: %d queues (1 to %d)", name, nqueues,
		    VIRTIO_MAX_QUEUES);
	d->nqueues = nqueues;
	d->queue_max = queue_max;
	d->mem = mem;
	d->loop = loop;
	pthread_mutex_init(&d->lock, NULL);
	for (int i = 0; i < nqueues; i++) {
		snprintf(d->qname[i], sizeof(d->qname[i]), "%s queue %d", name, i);
		d->vq[i].name = d->qname[i];
	}
}

int virtio_dev_pop(struct virtio_dev *d, int q, struct virtq_chain *c)
{
	int r = virtq_pop(&d->vq[q], d->mem, c);

	if (r < 0 && !(d->status & VIRTIO_STATUS_NEEDS_RESET))
		virtio_dev_needs_reset(d);
	return r;
}

void virtio_dev_used(struct virtio_dev *d, int q)
{
	if (virtq_needs_interrupt(&d->vq[q]) && d->signal)
		d->signal(d, VIRTIO_INT_VRING);
}

void virtio_dev_reschedule(struct virtio_dev *d, int q)
{
	if (d->reschedule)
		d->reschedule(d, q);
}

void virtio_dev_config_changed(struct virtio_dev *d)
{
	if (d->signal)
		d->signal(d, VIRTIO_INT_CONFIG);
}

void virtio_dev_needs_reset(struct virtio_dev *d)
{
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	virtio_dev_config_changed(d);
}
