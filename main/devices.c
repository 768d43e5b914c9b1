/* SPDX-License-Identifier: Apache-2.0 */
/* The device table (see devices.h): virtio-blk and virtio-net. */
#include "main/devices.h"
#include "core/ember.h"
#include "virtio/blk.h"
#include "mmds/mmds.h"
#include "mmds/tcp.h"
#include "virtio/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- virtio-blk: one per drive, the root drive first (/dev/vda) ----------- */

static int blk_count(const struct vm_config *c)
{
	return c->ndrives;
}

/*
 * Slot i serves drive i: the configuration keeps Firecracker's order, the
 * root drive first, whether it came from the API, the config file or
 * --drive.
 */
static int blk_open(struct vm_device *d, const struct vm_config *c, int i,
		    const struct guest_mem *mem, struct evloop *loop, char *err, size_t errlen)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return errorf(err, errlen, "out of memory");
	if (virtio_blk_create(b, &c->drives[i], mem, loop, err, errlen) < 0) {
		free(b);
		return -1;
	}
	d->obj = b;
	d->dev = &b->dev;
	d->metrics_obj = &b->stats;
	snprintf(d->id, sizeof(d->id), "%s", b->spec.id);
	return 0;
}

static const char *blk_cmdline(const struct vm_device *d, const struct vm_config *c, int i)
{
	const struct virtio_blk *b = d->obj;

	(void)c;
	(void)i;
	if (!b->spec.root)
		return NULL;
	return b->spec.read_only ? "root=/dev/vda ro" : "root=/dev/vda rw";
}

static void blk_close(struct vm_device *d)
{
	struct virtio_blk *b = d->obj;

	close(b->fd);
	free(b);
}

const struct device_kind device_virtio_blk = {
	.name = "virtio-blk",
	.metrics = &virtio_blk_metrics,
	.count = blk_count,
	.open = blk_open,
	.cmdline = blk_cmdline,
	.close = blk_close,
};

/* --- virtio-net: one per interface, after the drives ----------------------- */

static int net_count(const struct vm_config *c)
{
	return c->nnets;
}

/* A NIC and, when the MMDS answers on it, the MMDS's network side. */
struct net_dev {
	struct virtio_net *n;
	struct tcp_stack *mmds;
};

static bool mmds_wants(void *s, const uint8_t *frame, size_t len)
{
	return tcp_stack_wants(s, frame, len);
}

static void mmds_take(void *s, const uint8_t *frame, size_t len)
{
	tcp_stack_input(s, frame, len);
}

static size_t mmds_give(void *s, uint8_t *buf, size_t cap)
{
	return tcp_stack_output(s, buf, cap);
}

static int net_open(struct vm_device *d, const struct vm_config *c, int i,
		    const struct guest_mem *mem, struct evloop *loop, char *err, size_t errlen)
{
	const struct net_spec *s = &c->nets[i];
	struct net_dev *nd = calloc(1, sizeof(*nd));

	if (!nd)
		return errorf(err, errlen, "out of memory");
	if (virtio_net_create(&nd->n, s->tap, s->has_mac ? s->mac : NULL, mem, loop, err,
			      errlen) < 0) {
		free(nd);
		return -1;
	}
	if (s->mmds && c->mmds) {
		struct tcp_app app = { mmds_serve, c->mmds };
		struct virtio_net_detour det = { mmds_wants, mmds_take, mmds_give, NULL };

		nd->mmds = tcp_stack_new(c->mmds_ip, mmds_mac, &app);
		det.opaque = nd->mmds;
		if (!nd->mmds || virtio_net_set_detour(nd->n, &det) < 0) {
			tcp_stack_free(nd->mmds);
			virtio_net_destroy(nd->n);
			free(nd);
			return errorf(err, errlen, "out of memory");
		}
	}
	d->obj = nd;
	d->dev = virtio_net_dev(nd->n);
	d->metrics_obj = nd->n;
	snprintf(d->id, sizeof(d->id), "%s", s->id[0] ? s->id : s->tap);
	return 0;
}

static void net_close(struct vm_device *d)
{
	struct net_dev *nd = d->obj;

	virtio_net_destroy(nd->n);
	tcp_stack_free(nd->mmds);
	free(nd);
}

static const struct device_kind device_virtio_net = {
	.name = "virtio-net",
	.metrics = &virtio_net_metrics,
	.count = net_count,
	.open = net_open,
	.close = net_close,
};

const struct device_kind *const device_kinds[] = {
	&device_virtio_blk,
	&device_virtio_net,
	NULL,
};
