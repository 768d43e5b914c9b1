/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MMDS's network side: a minimal, bounded responder for one IPv4
 * address on one guest interface. It answers ARP requests for that address
 * and serves TCP connections to it on port 80 to an application (the MMDS's
 * HTTP, mmds.h); every other frame is the caller's (the TAP's).
 *
 * Pure code over frames: the network device hands over each Ethernet frame
 * the guest sends that tcp_stack_wants(), and asks tcp_stack_output() for
 * the next frame to give the guest (pull: nothing is queued beyond what the
 * connections hold, so a guest without receive buffers costs nothing).
 *
 * Bounded as Firecracker's MMDS is: at most TCP_MAX_CONNS connections (a
 * new one takes the place of the least recently used if that one was idle
 * for TCP_IDLE_MS, which is reset; else the new one is reset), TCP_RCV_BUF
 * bytes of unanswered request per connection (the window we advertise; a
 * full buffer without a request is reset), one response at a time,
 * TCP_MAX_ARP pending ARP replies, TCP_MAX_RESETS pending resets. Segments
 * to other ports and other IP protocols are dropped silently. No timers:
 * the guest's virtio queue does not lose frames, and a segment lost anyway
 * is sent again on the guest's first duplicate ACK (or when it sends its
 * data again: we acknowledge again). Checksums of the guest's frames are
 * not checked (virtio does not corrupt them, and with checksum offload they
 * are partial); ours are complete. Our packets have TTL 1.
 */
#ifndef EMBER_MMDS_TCP_H
#define EMBER_MMDS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_MAX_CONNS 30     /* Firecracker's MMDS: 30 */
#define TCP_RCV_BUF   2500   /* a request's bytes not yet answered (Firecracker: 2500) */
#define TCP_IDLE_MS   10000  /* a connection idle this long may be evicted */
#define TCP_MAX_RESETS 100
#define TCP_MSS       1460
#define TCP_MAX_ARP   8
#define TCP_PORT      80

/*
 * The application: given the bytes a connection has received and not yet
 * consumed (eof: the guest sent FIN after them), either wait for more
 * (return 0), refuse the connection (-1: it is reset), or answer: *consumed
 * bytes used, *out a malloc'd response of *outlen bytes (may be 0), *close
 * to send FIN after it. Return 1.
 */
struct tcp_app {
	int (*serve)(void *opaque, const uint8_t *in, size_t len, bool eof, size_t *consumed,
		     uint8_t **out, size_t *outlen, bool *close);
	void *opaque;
};

struct tcp_stats {
	uint64_t rx_frames;       /* frames taken from the guest */
	uint64_t tx_frames;       /* frames given to the guest */
	uint64_t rx_bad;          /* taken but malformed or refused */
	uint64_t conns_opened, conns_evicted, resets_sent;
};

struct tcp_stack;

/* ip in network byte order; mac: the address the MMDS answers from. */
struct tcp_stack *tcp_stack_new(uint32_t ip, const uint8_t mac[6], const struct tcp_app *app);
void tcp_stack_free(struct tcp_stack *s);

/*
 * Whether the frame is the MMDS's: an ARP packet asking for ip, or an IPv4
 * packet to ip. Needs the first 42 bytes (fewer: false, unless the frame is
 * that short).
 */
bool tcp_stack_wants(const struct tcp_stack *s, const uint8_t *frame, size_t len);

/* A frame the MMDS wants (anything else is counted as bad and ignored). */
void tcp_stack_input(struct tcp_stack *s, const uint8_t *frame, size_t len);

/* The next frame for the guest into buf (cap >= 1514): its length, or 0 for none. */
size_t tcp_stack_output(struct tcp_stack *s, uint8_t *buf, size_t cap);

void tcp_stack_stats(const struct tcp_stack *s, struct tcp_stats *st);

#endif
