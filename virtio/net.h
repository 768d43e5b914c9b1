/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (device id 1) backed by a host TAP device.
 *
 * Queue 0 receives (TAP -> guest), queue 1 transmits (guest -> TAP). Frames
 * cross the TAP with a 12-byte virtio_net_hdr_v1 in front (IFF_VNET_HDR), so
 * checksum and segmentation offloads pass through untouched: the guest's
 * TSO/CSUM frames go to the host kernel as they are, and the TAP hands the
 * guest the offloads it accepted (TUNSETOFFLOAD at activation).
 */
#ifndef EMBER_VIRTIO_NET_H
#define EMBER_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"

struct virtio_net;

/* Counters since creation (a device reset does not clear them). */
struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes; /* delivered to the guest (bytes without the header) */
	uint64_t rx_drops;            /* read from the TAP but not delivered */
	uint64_t rx_errors;           /* TAP read errors, unusable guest RX buffers */
	uint64_t tx_frames, tx_bytes; /* written to the TAP (bytes without the header) */
	uint64_t tx_drops;            /* sent by the guest but not written to the TAP */
	uint64_t tx_errors;           /* of those, refused by the TAP (write errors) */
	uint64_t detour_frames;       /* sent by the guest to the detour (the MMDS) */
};

/*
 * Open (or create, when allowed) the TAP device tap_name and make the
 * device: mac, or a random locally administered one when NULL. The TAP fd
 * joins loop. 0, or -1 with a one-line reason in err (e.g. "cannot open
 * TAP 'tap0': Operation not permitted").
 */
int virtio_net_create(struct virtio_net **out, const char *tap_name, const uint8_t mac[6],
		      const struct guest_mem *mem, struct evloop *loop,
		      char *err, size_t errlen);

/*
 * Whether the TAP tap_name can be opened as virtio_net_create() will (and
 * close it again): 0, or -1 with the reason, in Firecracker's words ("Open
 * tap device failed: ..."). For a configuration checked before boot.
 */
int virtio_net_tap_check(const char *tap_name, char *err, size_t errlen);

/*
 * The same over fd, already open: a TAP with a 12-byte vnet header and no
 * offloads, or anything that reads and writes whole frames the same way (a
 * SOCK_SEQPACKET socket in tests/unit/test_virtio_net.c). fd is the
 * device's from now on, closed on failure too. tap_name names it in
 * messages.
 */
int virtio_net_create_fd(struct virtio_net **out, int fd, const char *tap_name,
			 const uint8_t mac[6], const struct guest_mem *mem, struct evloop *loop,
			 char *err, size_t errlen);

/* Close the TAP and free a device that was never given to a transport. */
void virtio_net_destroy(struct virtio_net *n);

/*
 * Firecracker's "net" metrics; a device is its struct virtio_net.
 * virtio_net_metric_vals puts st in the order of the kind's names.
 */
struct metrics_kind;
extern const struct metrics_kind virtio_net_metrics;
void virtio_net_metric_vals(const struct virtio_net_stats *st, uint64_t *vals);

/* The device, for a transport (virtio_mmio_add). */
struct virtio_dev *virtio_net_dev(struct virtio_net *n);

/* The MAC the guest sees. */
void virtio_net_mac(struct virtio_net *n, uint8_t mac[6]);

/*
 * A detour: frames the guest sends that another party answers instead of
 * the TAP (the MMDS, mmds/tcp.h). wants() sees the first bytes of each
 * frame the guest sends (at most VIRTIO_NET_PEEK, without the virtio
 * header); a frame it wants goes whole to take() and never to the TAP.
 * give() is asked for frames for the guest before the TAP is read (at most
 * cap bytes; 0: none), whenever the guest has receive buffers and after
 * each frame take() got. The device calls them under its lock.
 */
#define VIRTIO_NET_PEEK 64
struct virtio_net_detour {
	bool (*wants)(void *opaque, const uint8_t *frame, size_t len);
	void (*take)(void *opaque, const uint8_t *frame, size_t len);
	size_t (*give)(void *opaque, uint8_t *buf, size_t cap);
	void *opaque;
};

/* Set the detour (before the guest runs). 0, or -1 (no memory). */
int virtio_net_set_detour(struct virtio_net *n, const struct virtio_net_detour *d);

/* A snapshot of the counters (takes the device lock). */
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st);

#endif
