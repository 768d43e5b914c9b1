/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net over a TAP device.
 *
 * TX (queue 1, on the driver's kick): each chain is [virtio_net_hdr_v1 |
 * frame] in device-readable buffers and goes to the TAP with one writev()
 * straight from guest memory, and is completed (and signalled, if the
 * driver wants it) right after its write, before the next one. A frame the
 * TAP does not take is dropped and counted, never retried: a TAP write does
 * not block for lack of room (a TAP's send buffer is unlimited unless
 * TUNSETSNDBUF says otherwise, and the host side queues or drops on its
 * own), so EAGAIN only comes from memory pressure, where retrying would
 * spin; the guest's protocols retransmit.
 *
 * RX (queue 0): the TAP fd is watched on the VMM event loop. A readable TAP
 * gives one frame (header + up to MAX_FRAME bytes) into a host buffer,
 * which is then copied into the guest's RX chains: one chain, or with
 * MRG_RXBUF as many as it takes (num_buffers in the first header). When the
 * guest has no buffers, the frame stays in the host buffer, the TAP is no
 * longer watched, and the driver's next RX kick resumes delivery: no frame
 * is lost because the guest is slow, and the TAP's own queue (and the host
 * stack behind it) absorbs the backlog.
 *
 * A detour (virtio_net_set_detour: the MMDS) sees each TX frame's first
 * bytes; a frame it wants goes to it instead of the TAP, and the frames it
 * has for the guest are delivered before the TAP is read (after each TX
 * round that fed it, and whenever RX runs).
 *
 * Everything runs under dev->lock: the transport holds it for the ops, the
 * event-loop callbacks here take it.
 */
#include "virtio/net.h"
#include "core/ember.h"
#include "core/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>

/* Device feature bits (virtio 1.x, 5.1.3). */
#define NET_F_CSUM       (1ULL << 0)
#define NET_F_GUEST_CSUM (1ULL << 1)
#define NET_F_MAC        (1ULL << 5)
#define NET_F_GUEST_TSO4 (1ULL << 7)
#define NET_F_GUEST_TSO6 (1ULL << 8)
#define NET_F_HOST_TSO4  (1ULL << 11)
#define NET_F_HOST_TSO6  (1ULL << 12)
#define NET_F_MRG_RXBUF  (1ULL << 15)
#define NET_F_STATUS     (1ULL << 16)

#define NET_S_LINK_UP 1

/* struct virtio_net_hdr_v1 fields */
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define HDR_GSO_NONE     0
#define HDR_GSO_TCPV4    1
#define HDR_GSO_TCPV6    4

struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct vnet_hdr) == 12, "virtio_net_hdr_v1 is 12 bytes");

#define HDR_LEN    ((uint32_t)sizeof(struct vnet_hdr))
#define NUM_BUFFERS_OFF 10     /* offsetof(struct vnet_hdr, num_buffers) */
#define MIN_FRAME  14          /* an Ethernet header */
#define MAX_FRAME  65554       /* a 64 KiB GSO frame, its Ethernet header, a VLAN tag */
#define RX_QUEUE   0
#define TX_QUEUE   1
#define QUEUE_MAX  256
#define RX_BUDGET  64          /* frames per TAP event, then the loop runs others */
#define TX_BUDGET  128         /* chains per round, then the loop runs others */
#define RX_POPS    (2 * QUEUE_MAX) /* RX chains taken per round, likewise */

/* virtio_net_config: mac, status, max_virtqueue_pairs (little-endian). */
#define CONFIG_LEN 10

struct virtio_net {
	struct virtio_dev dev;
	char name[48];
	char tap[IFNAMSIZ];
	uint8_t config[CONFIG_LEN];
	int tap_fd;
	int kick_fd;            /* TX work left over after a round: run again */
	bool active;            /* between activate() and reset() */
	bool watching;          /* EPOLLIN on the TAP */
	bool tap_gone;          /* out of the event loop for good */
	unsigned int offloads;  /* the TAP's (TUNSETOFFLOAD), 0 when opened */
	bool warned_tx;

	/* RX: the frame read from the TAP and not yet given to the guest */
	uint8_t *rx_frame;      /* header + frame */
	uint32_t rx_len;        /* 0: none pending */
	uint32_t rx_off;        /* MRG_RXBUF: bytes already copied into rx_used chains */
	int rx_nused;
	struct vring_used_elem rx_used[QUEUE_MAX]; /* MRG_RXBUF: chains filled so far */
	uint8_t *rx_nbuf[2];    /* MRG_RXBUF: num_buffers in the first chain */
	struct virtq_chain *rx_chain;
	bool rx_chain_held;     /* rx_chain was popped and is still ours (no MRG_RXBUF) */
	int rx_pops;            /* chains this round may still take (RX_POPS) */

	struct virtq_chain *tx_chain;
	struct iovec tx_iov[VIRTQ_MAX_CHAIN];

	struct virtio_net_detour detour; /* .wants NULL: none */
	uint8_t *detour_buf;             /* MAX_FRAME bytes: a frame for it */

	struct virtio_net_stats st;
};

static inline struct virtio_net *to_net(struct virtio_dev *d)
{
	return d->priv;
}

/* --- the TAP in the event loop ------------------------------------------- */

static void rx_watch(struct virtio_net *n, bool on)
{
	if (n->tap_gone || n->watching == on)
		return;
	if (evloop_mod(n->dev.loop, n->tap_fd, on ? EPOLLIN : 0) < 0) {
		warn("%s: cannot %s watching the TAP: %s", n->name, on ? "start" : "stop",
		     strerror(errno));
		return;
	}
	n->watching = on;
}

/* The TAP went away (deleted, or failing): stop using it, say so once. */
static void tap_lost(struct virtio_net *n, const char *why)
{
	if (n->tap_gone)
		return;
	evloop_del(n->dev.loop, n->tap_fd);
	n->tap_gone = true;
	n->watching = false;
	warn("%s: TAP '%s' failed (%s): the guest's network is down; frames are dropped",
	     n->name, n->tap, why);
}

/* --- RX ------------------------------------------------------------------ */

/* Host address of byte off of a chain's writable part, or NULL. */
static uint8_t *chain_byte(const struct virtq_chain *c, uint64_t off)
{
	for (int k = c->nread; k < c->nread + c->nwrite; k++) {
		if (off < c->buf[k].len)
			return (uint8_t *)c->buf[k].host + off;
		off -= c->buf[k].len;
	}
	return NULL;
}

/* Forget the pending frame, giving back the chains it took (empty). */
static void rx_drop(struct virtio_net *n, bool *pushed)
{
	struct virtq *q = &n->dev.vq[RX_QUEUE];

	if (n->rx_nused) {
		for (int i = 0; i < n->rx_nused; i++)
			n->rx_used[i].len = 0;
		virtq_push_batch(q, n->rx_used, n->rx_nused);
		*pushed = true;
	}
	n->st.rx_drops++;
	n->rx_len = n->rx_off = 0;
	n->rx_nused = 0;
}

static void rx_done(struct virtio_net *n)
{
	n->st.rx_frames++;
	n->st.rx_bytes += n->rx_len - HDR_LEN;
	n->rx_len = n->rx_off = 0;
	n->rx_nused = 0;
}

/*
 * Make the TAP's header fit what the driver accepted: the TAP only hands
 * out offloads we enabled, but frames queued before a renegotiation may
 * still carry old ones. false: the frame cannot be given to this driver.
 */
static bool rx_fix_header(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	struct vnet_hdr h;

	memcpy(&h, n->rx_frame, HDR_LEN);
	switch (h.gso_type) {
	case HDR_GSO_NONE:
		break;
	case HDR_GSO_TCPV4:
		if (!virtio_has(d, NET_F_GUEST_TSO4))
			return false;
		break;
	case HDR_GSO_TCPV6:
		if (!virtio_has(d, NET_F_GUEST_TSO6))
			return false;
		break;
	default:
		return false; /* UDP, ECN: never offered */
	}
	if (virtio_has(d, NET_F_GUEST_CSUM)) {
		h.flags &= HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID;
	} else {
		if (h.flags & HDR_F_NEEDS_CSUM)
			return false;
		h.flags = 0;
	}
	/* The TAP leaves num_buffers unwritten; 1 unless MRG_RXBUF says more. */
	h.num_buffers = 1; /* little-endian host */
	memcpy(n->rx_frame, &h, HDR_LEN);
	return true;
}

/* A frame from the detour, if it has one: 1 pending, 0 none. */
static int rx_detour(struct virtio_net *n)
{
	size_t len;

	if (!n->detour.give)
		return 0;
	len = n->detour.give(n->detour.opaque, n->rx_frame + HDR_LEN, MAX_FRAME);
	if (len < MIN_FRAME || len > MAX_FRAME)
		return 0;
	/* Complete checksums, no offloads: the header is all zeroes but num_buffers. */
	memset(n->rx_frame, 0, HDR_LEN);
	n->rx_frame[NUM_BUFFERS_OFF] = 1;
	n->rx_len = HDR_LEN + (uint32_t)len;
	n->rx_off = 0;
	n->rx_nused = 0;
	return 1;
}

/* Read one frame from the TAP. 1: pending; 0: none now; -1: skipped one; -2: TAP failed. */
static int rx_read(struct virtio_net *n)
{
	ssize_t r;

	if (rx_detour(n))
		return 1;
	do
		r = read(n->tap_fd, n->rx_frame, HDR_LEN + MAX_FRAME);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN)
			return 0;
		n->st.rx_errors++;
		tap_lost(n, strerror(errno));
		return -2;
	}
	if (r < HDR_LEN + MIN_FRAME) {
		n->st.rx_errors++;
		return -1;
	}
	n->rx_len = r;
	n->rx_off = 0;
	n->rx_nused = 0;
	if (!rx_fix_header(n)) {
		bool none = false;

		rx_drop(n, &none);
		return -1;
	}
	return 1;
}

/*
 * The next RX chain, within the round's budget: 2 when it is spent (a driver
 * that keeps handing over unusable buffers cannot hold the VMM thread).
 */
static int rx_pop(struct virtio_net *n, struct virtq_chain *c)
{
	if (n->rx_pops == 0)
		return 2;
	n->rx_pops--;
	return virtio_dev_pop(&n->dev, RX_QUEUE, c);
}

/*
 * Deliver the pending frame: 1 done (or dropped), 0 no buffers, 2 the
 * round's budget is spent, -1 the driver broke the queue.
 * Without MRG_RXBUF: one chain takes the whole frame.
 */
static int rx_deliver_one(struct virtio_net *n, bool *pushed)
{
	struct virtq *q = &n->dev.vq[RX_QUEUE];
	struct virtq_chain *c = n->rx_chain;

	for (;;) {
		if (!n->rx_chain_held) {
			int r = rx_pop(n, c);

			if (r != 1)
				return r;
			n->rx_chain_held = true;
		}
		if (c->write_len >= HDR_LEN)
			break;
		/* Not even a header fits: a driver bug; give it back empty. */
		virtq_push(q, c->head, 0);
		n->rx_chain_held = false;
		n->st.rx_errors++;
		*pushed = true;
	}
	if (c->write_len < n->rx_len) {
		/* Too big for the driver's buffers: drop it, keep the chain for the next. */
		rx_drop(n, pushed);
		return 1;
	}
	virtq_chain_write(c, 0, n->rx_frame, n->rx_len);
	virtq_push(q, c->head, n->rx_len);
	n->rx_chain_held = false;
	*pushed = true;
	rx_done(n);
	return 1;
}

/* With MRG_RXBUF: as many chains as it takes, published together. */
static int rx_deliver_mrg(struct virtio_net *n, bool *pushed)
{
	struct virtq *q = &n->dev.vq[RX_QUEUE];
	struct virtq_chain *c = n->rx_chain;
	uint16_t nb;

	while (n->rx_off < n->rx_len) {
		uint32_t take;
		int r;

		if (n->rx_nused && ((uint32_t)n->rx_nused == q->size || n->rx_nused == QUEUE_MAX)) {
			/* Holding every buffer of the queue and still not done. */
			rx_drop(n, pushed);
			return 1;
		}
		r = rx_pop(n, c);
		if (r != 1)
			return r;
		if (n->rx_nused == 0 && c->write_len < HDR_LEN) {
			virtq_push(q, c->head, 0);
			n->st.rx_errors++;
			*pushed = true;
			continue;
		}
		take = n->rx_len - n->rx_off;
		if (c->write_len < take)
			take = c->write_len;
		virtq_chain_write(c, 0, n->rx_frame + n->rx_off, take);
		if (n->rx_nused == 0) {
			n->rx_nbuf[0] = chain_byte(c, NUM_BUFFERS_OFF);
			n->rx_nbuf[1] = chain_byte(c, NUM_BUFFERS_OFF + 1);
		}
		n->rx_used[n->rx_nused].id = c->head;
		n->rx_used[n->rx_nused].len = take;
		n->rx_nused++;
		n->rx_off += take;
	}
	nb = n->rx_nused;
	*n->rx_nbuf[0] = nb & 0xff;
	*n->rx_nbuf[1] = nb >> 8;
	virtq_push_batch(q, n->rx_used, n->rx_nused);
	*pushed = true;
	rx_done(n);
	return 1;
}

/* Move frames from the TAP to the guest until either runs dry. */
static void rx_run(struct virtio_net *n)
{
	struct virtq *q = &n->dev.vq[RX_QUEUE];
	bool mrg = virtio_has(&n->dev, NET_F_MRG_RXBUF);
	bool pushed = false;
	int budget = RX_BUDGET;

	if (!n->active)
		return;
	n->rx_pops = RX_POPS;
	for (;;) {
		int r;

		if (!n->rx_len) {
			if (budget-- == 0)
				break;
			if (n->tap_gone) {
				if (!rx_detour(n))
					break;
				r = 1;
			} else {
				r = rx_read(n);
			}
			if (r == -1)
				continue;
			if (r <= 0)
				break;
		}
		r = mrg ? rx_deliver_mrg(n, &pushed) : rx_deliver_one(n, &pushed);
		if (r < 0) {
			/* The driver broke the queue: nothing more until it resets us. */
			rx_drop(n, &pushed);
			break;
		}
		if (r == 2) {
			/* Budget spent: the frame waits for the next round. */
			virtio_dev_reschedule(&n->dev, RX_QUEUE);
			break;
		}
		if (r == 0) {
			/* No buffers: wait for the driver's kick, keeping the frame. */
			if (virtq_enable_notify(q))
				continue;
			break;
		}
	}
	if (pushed)
		virtio_dev_used(&n->dev, RX_QUEUE);
	rx_watch(n, !n->rx_len && q->ready && !q->broken);
}

/* --- TX ------------------------------------------------------------------ */

/* Whether the chain's frame is the detour's: then it has it. */
static bool tx_detour(struct virtio_net *n, const struct virtq_chain *c)
{
	uint8_t peek[HDR_LEN + VIRTIO_NET_PEEK];
	uint32_t plen = c->read_len < sizeof(peek) ? c->read_len : sizeof(peek);

	if (!n->detour.wants)
		return false;
	virtq_chain_read(c, 0, peek, plen);
	if (!n->detour.wants(n->detour.opaque, peek + HDR_LEN, plen - HDR_LEN))
		return false;
	virtq_chain_read(c, HDR_LEN, n->detour_buf, c->read_len - HDR_LEN);
	n->detour.take(n->detour.opaque, n->detour_buf, c->read_len - HDR_LEN);
	n->st.detour_frames++;
	return true;
}

/* One frame to the TAP (or the detour). true: the detour took it. */
static bool tx_one(struct virtio_net *n, const struct virtq_chain *c)
{
	ssize_t r;
	int err;

	if (c->read_len < HDR_LEN + MIN_FRAME || c->read_len > HDR_LEN + MAX_FRAME) {
		n->st.tx_drops++;
		return false;
	}
	if (tx_detour(n, c))
		return true;
	if (n->tap_gone) {
		n->st.tx_drops++;
		return false;
	}
	for (int i = 0; i < c->nread; i++) {
		n->tx_iov[i].iov_base = c->buf[i].host;
		n->tx_iov[i].iov_len = c->buf[i].len;
	}
	do
		r = writev(n->tap_fd, n->tx_iov, c->nread);
	while (r < 0 && errno == EINTR);
	if (r >= 0) {
		n->st.tx_frames++;
		n->st.tx_bytes += c->read_len - HDR_LEN;
		return false;
	}
	err = errno;
	n->st.tx_drops++;
	if (err == EAGAIN)
		return false;
	n->st.tx_errors++;
	if (err == EBADFD || err == EIO || err == ENODEV || err == ENXIO) {
		tap_lost(n, strerror(err));
	} else if (!n->warned_tx) {
		/* EINVAL: a header or frame the TAP refused (the guest's doing). */
		n->warned_tx = true;
		warn("%s: TAP '%s' refused a frame: %s (counted from now on, not reported)",
		     n->name, n->tap, strerror(err));
	}
	return false;
}

static void tx_run(struct virtio_net *n)
{
	struct virtq *q = &n->dev.vq[TX_QUEUE];
	bool detoured = false;
	int done = 0;

	if (!n->active)
		return;
	for (;;) {
		int r = virtio_dev_pop(&n->dev, TX_QUEUE, n->tx_chain);

		if (r < 0)
			break;
		if (r == 0) {
			if (virtq_enable_notify(q))
				continue;
			break;
		}
		detoured |= tx_one(n, n->tx_chain);
		virtq_push(q, n->tx_chain->head, 0);
		/*
		 * Each completion at once, not at the end of the round (the
		 * driver still decides, EVENT_IDX): a TCP sender keeps only a
		 * few frames queued (TCP small queues) and queues the next ones
		 * as these complete, while we write the rest. Those need no
		 * kick: notifications stay off until the ring is empty.
		 */
		virtio_dev_used(&n->dev, TX_QUEUE);
		if (++done == TX_BUDGET) {
			uint64_t one = 1;

			/* Let the loop serve others, then come back. */
			if (write(n->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				warn("%s: cannot reschedule TX: %s", n->name, strerror(errno));
			break;
		}
	}
	/* The detour's answers go out now, ahead of the TAP's frames. */
	if (detoured)
		rx_run(n);
}

/* --- event-loop callbacks (without dev->lock) ---------------------------- */

static void on_tap(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->dev.lock);
	if (events & (EPOLLERR | EPOLLHUP)) {
		n->st.rx_errors++;
		tap_lost(n, events & EPOLLHUP ? "hang-up" : "device error");
	} else if (n->active) {
		rx_run(n);
	} else {
		rx_watch(n, false);
	}
	pthread_mutex_unlock(&n->dev.lock);
}

static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	uint64_t v;

	(void)events;
	if (read(n->kick_fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&n->dev.lock);
	tx_run(n);
	pthread_mutex_unlock(&n->dev.lock);
}

/* --- device ops (dev->lock held) ----------------------------------------- */

static void net_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	memcpy(data, to_net(d)->config + off, len);
}

static int net_activate(struct virtio_dev *d)
{
	struct virtio_net *n = to_net(d);
	unsigned int off = 0;

	/* The TAP may only hand the guest offloads it accepted (TSO needs CSUM). */
	if (virtio_has(d, NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (virtio_has(d, NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (virtio_has(d, NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
	}
	if (!n->tap_gone && off != n->offloads) {
		if (ioctl(n->tap_fd, TUNSETOFFLOAD, off) == 0) {
			n->offloads = off;
		} else {
			warn("%s: cannot set the offloads of TAP '%s': %s", n->name, n->tap,
			     strerror(errno));
			if (ioctl(n->tap_fd, TUNSETOFFLOAD, 0) < 0)
				tap_lost(n, strerror(errno));
			n->offloads = 0;
		}
	}
	n->active = true;
	n->rx_len = n->rx_off = 0;
	n->rx_nused = 0;
	n->rx_chain_held = false;
	rx_watch(n, true);
	/*
	 * Frames queued before DRIVER_OK: sent from the VMM thread (this is a
	 * vCPU's register write, and the detour's answers need malloc).
	 */
	if (write(n->kick_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0 && errno != EAGAIN)
		warn("%s: cannot schedule TX: %s", n->name, strerror(errno));
	return 0;
}

static void net_notify(struct virtio_dev *d, int q)
{
	struct virtio_net *n = to_net(d);

	if (q == RX_QUEUE)
		rx_run(n);
	else if (q == TX_QUEUE)
		tx_run(n);
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = to_net(d);

	n->active = false;
	rx_watch(n, false);
	/* The queues are reset next: chains we held are simply forgotten. */
	if (n->rx_len)
		n->st.rx_drops++;
	n->rx_len = n->rx_off = 0;
	n->rx_nused = 0;
	n->rx_chain_held = false;
}

static const struct virtio_dev_ops net_ops = {
	.config_read = net_config_read,
	.activate = net_activate,
	.notify = net_notify,
	.reset = net_reset,
};

/* --- metrics ---------------------------------------------------------------- */

void virtio_net_metric_vals(const struct virtio_net_stats *st, uint64_t *v)
{
	const uint64_t vals[] = { st->rx_bytes, st->rx_frames, st->rx_errors, st->rx_drops,
				  st->tx_bytes, st->tx_frames, st->tx_errors, st->tx_drops };

	memcpy(v, vals, sizeof(vals));
}

static void metrics_read(void *dev, uint64_t *v)
{
	struct virtio_net_stats st;

	virtio_net_get_stats(dev, &st);
	virtio_net_metric_vals(&st, v);
}

static const char *const metric_names[] = {
	"rx_bytes_count", "rx_packets_count", "rx_fails", "rx_drops",
	"tx_bytes_count", "tx_packets_count", "tx_fails", "tx_drops",
};

const struct metrics_kind virtio_net_metrics = {
	.group = "net",
	.after = "logger",
	.names = metric_names,
	.n = ARRAY_SIZE(metric_names),
	.read = metrics_read,
};

/* --- creation -------------------------------------------------------------- */

static void random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, GRND_NONBLOCK) != 6) {
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() << 32 ^
		    (uint64_t)ts.tv_sec;
		memcpy(mac, &x, 6);
	}
	mac[0] = (mac[0] & ~1) | 2; /* unicast, locally administered */
}

static void net_free(struct virtio_net *n)
{
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	if (n->kick_fd >= 0)
		close(n->kick_fd);
	free(n->rx_frame);
	free(n->detour_buf);
	free(n->rx_chain);
	free(n->tx_chain);
	free(n);
}

/* Open the TAP tap_name with a 12-byte vnet header and no offloads: its fd, or -1. */
static int tap_open(const char *tap_name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int hdr_len = HDR_LEN, fd, e;
	size_t len = strlen(tap_name);

	if (len == 0 || len >= IFNAMSIZ) /* checked by api-socket/vm_config.c: a safeguard */
		return errorf(err, errlen, "bad TAP name '%.40s'", tap_name);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errorf(err, errlen, "cannot open TAP '%s': /dev/net/tun: %s", tap_name,
			      strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, tap_name, len);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		return errorf(err, errlen, "cannot open TAP '%s': %s%s", tap_name, strerror(e),
			      e == EPERM ? " (needs CAP_NET_ADMIN, or a TAP made for this user: "
					   "ip tuntap add NAME mode tap user USER)" :
			      e == EINVAL ? " (is it a single-queue TAP device?)" :
			      e == EBUSY ? " (already in use)" : "");
	}
	/* VERSION_1: the header is always the 12-byte virtio_net_hdr_v1. */
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl(fd, TUNSETOFFLOAD, 0U) < 0) {
		e = errno;
		close(fd);
		return errorf(err, errlen, "cannot set up TAP '%s': %s", tap_name, strerror(e));
	}
	return fd;
}

int virtio_net_tap_check(const char *tap_name, char *err, size_t errlen)
{
	char why[256];
	int fd = tap_open(tap_name, why, sizeof(why));

	if (fd < 0)
		return errorf(err, errlen, "Open tap device failed: %s", why);
	close(fd);
	return 0;
}

int virtio_net_create(struct virtio_net **out, const char *tap_name, const uint8_t mac[6],
		      const struct guest_mem *mem, struct evloop *loop,
		      char *err, size_t errlen)
{
	int fd = tap_open(tap_name, err, errlen);

	if (fd < 0)
		return -1;
	return virtio_net_create_fd(out, fd, tap_name, mac, mem, loop, err, errlen);
}

int virtio_net_create_fd(struct virtio_net **out, int fd, const char *tap_name,
			 const uint8_t mac[6], const struct guest_mem *mem, struct evloop *loop,
			 char *err, size_t errlen)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (!n) {
		close(fd);
		return errorf(err, errlen, "out of memory");
	}
	n->tap_fd = fd;
	n->kick_fd = -1;
	n->rx_frame = malloc(HDR_LEN + MAX_FRAME);
	n->rx_chain = malloc(sizeof(*n->rx_chain));
	n->tx_chain = malloc(sizeof(*n->tx_chain));
	if (!n->rx_frame || !n->rx_chain || !n->tx_chain) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(n->tap, sizeof(n->tap), "%s", tap_name);
	snprintf(n->name, sizeof(n->name), "virtio-net %s", n->tap);
	n->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->kick_fd < 0) {
		errorf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}

	if (mac)
		memcpy(n->config, mac, 6);
	else
		random_mac(n->config);
	n->config[6] = NET_S_LINK_UP;   /* status, le16 */
	n->config[7] = 0;
	n->config[8] = 1;               /* max_virtqueue_pairs, le16 (without MQ: informative) */
	n->config[9] = 0;

	virtio_dev_init(&n->dev, n->name, VIRTIO_ID_NET, 2, QUEUE_MAX, mem, loop);
	n->dev.ops = &net_ops;
	n->dev.priv = n;
	n->dev.config_len = CONFIG_LEN;
	n->dev.host_features = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX |
			       VIRTIO_F_RING_INDIRECT_DESC |
			       NET_F_MAC | NET_F_STATUS | NET_F_MRG_RXBUF |
			       NET_F_CSUM | NET_F_HOST_TSO4 | NET_F_HOST_TSO6 |
			       NET_F_GUEST_CSUM | NET_F_GUEST_TSO4 | NET_F_GUEST_TSO6;

	/* Not watched for input until the driver is ready (errors still arrive). */
	if (evloop_add(loop, n->tap_fd, 0, on_tap, n) < 0) {
		errorf(err, errlen, "cannot watch TAP '%s': %s", n->tap, strerror(errno));
		goto fail_lock;
	}
	if (evloop_add(loop, n->kick_fd, EPOLLIN, on_kick, n) < 0) {
		errorf(err, errlen, "cannot watch TAP '%s': %s", n->tap, strerror(errno));
		evloop_del(loop, n->tap_fd);
		goto fail_lock;
	}
	*out = n;
	return 0;

fail_lock:
	pthread_mutex_destroy(&n->dev.lock);
fail:
	net_free(n);
	return -1;
}

void virtio_net_destroy(struct virtio_net *n)
{
	evloop_del(n->dev.loop, n->tap_fd);
	evloop_del(n->dev.loop, n->kick_fd);
	pthread_mutex_destroy(&n->dev.lock);
	net_free(n);
}

struct virtio_dev *virtio_net_dev(struct virtio_net *n)
{
	return &n->dev;
}

void virtio_net_mac(struct virtio_net *n, uint8_t mac[6])
{
	memcpy(mac, n->config, 6);
}

int virtio_net_set_detour(struct virtio_net *n, const struct virtio_net_detour *d)
{
	if (!n->detour_buf && !(n->detour_buf = malloc(MAX_FRAME)))
		return -1;
	n->detour = *d;
	return 0;
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st)
{
	pthread_mutex_lock(&n->dev.lock);
	*st = n->st;
	pthread_mutex_unlock(&n->dev.lock);
}
