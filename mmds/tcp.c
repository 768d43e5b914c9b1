/* SPDX-License-Identifier: Apache-2.0 */
/* The MMDS's ARP and TCP responder (see tcp.h). */
#include "mmds/tcp.h"
#include "core/ember.h"
#include "core/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ETH_HLEN   14
#define ETH_ARP    0x0806
#define ETH_IPV4   0x0800
#define ARP_LEN    28
#define IP_HLEN    20
#define TCP_HLEN   20
#define IP_TCP     6
#define MAX_OUT    (ETH_HLEN + IP_HLEN + TCP_HLEN + TCP_MSS)

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

enum conn_state { C_FREE, C_SYN_RCVD, C_OPEN };

struct conn {
	enum conn_state state;
	uint64_t used;              /* LRU stamp */
	uint64_t used_ms;           /* when (CLOCK_MONOTONIC) */
	uint8_t mac[6];             /* the guest's */
	uint32_t ip;                /* the guest's (network order) */
	uint16_t port;              /* the guest's (host order) */
	uint16_t mss;               /* what we send at most per segment */
	uint32_t wnd;               /* the guest's window */
	uint32_t iss, snd_una, snd_nxt, fin_seq;
	uint32_t snd_max;           /* the highest sent (snd_nxt goes back after a loss) */
	uint32_t rcv_nxt;
	bool need_ack, peer_fin, fin_sent, close_after;
	/* received, not yet answered */
	uint8_t in[TCP_RCV_BUF];
	size_t in_len;
	/* the response being sent: byte i has sequence number data_seq + i */
	uint8_t *out;
	size_t out_len;
	uint32_t data_seq;
};

struct arp_reply {
	uint8_t mac[6];
	uint32_t ip;
};

struct tcp_stack {
	uint32_t ip;
	uint8_t mac[6];
	struct tcp_app app;
	struct conn conns[TCP_MAX_CONNS];
	uint64_t clock;
	struct arp_reply arp[TCP_MAX_ARP];
	int narp;
	/* resets to send (for segments without a connection, evictions) */
	struct rst {
		bool with_ack;
		uint8_t mac[6];
		uint32_t ip, seq, ack;
		uint16_t port, our_port;
	} rst[TCP_MAX_RESETS];
	int nrst;
	int next;                   /* round-robin start of output */
	struct tcp_stats st;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* Sequence-number comparisons (mod 2^32). */
static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t random32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint32_t)(ts.tv_nsec * 2654435761u) ^ (uint32_t)ts.tv_sec;
	}
	return v;
}

struct tcp_stack *tcp_stack_new(uint32_t ip, const uint8_t mac[6], const struct tcp_app *app)
{
	struct tcp_stack *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ip = ip;
	memcpy(s->mac, mac, 6);
	s->app = *app;
	return s;
}

static void conn_free(struct conn *c)
{
	if (c->state != C_FREE)
		METRIC_INC(ember_metrics.mmds.connections_destroyed);
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
	c->in_len = 0;
	c->state = C_FREE;
}

void tcp_stack_free(struct tcp_stack *s)
{
	if (!s)
		return;
	for (int i = 0; i < TCP_MAX_CONNS; i++)
		conn_free(&s->conns[i]);
	free(s);
}

void tcp_stack_stats(const struct tcp_stack *s, struct tcp_stats *st)
{
	*st = s->st;
}

bool tcp_stack_wants(const struct tcp_stack *s, const uint8_t *f, size_t len)
{
	uint16_t type;

	if (len < ETH_HLEN)
		return false;
	type = get16(f + 12);
	if (type == ETH_ARP)
		return len >= ETH_HLEN + ARP_LEN && !memcmp(f + ETH_HLEN + 24, &s->ip, 4);
	if (type == ETH_IPV4)
		return len >= ETH_HLEN + IP_HLEN && !memcmp(f + ETH_HLEN + 16, &s->ip, 4);
	return false;
}

/* --- input ------------------------------------------------------------------ */

static void arp_input(struct tcp_stack *s, const uint8_t *a, size_t len)
{
	struct arp_reply *r;

	/* Ethernet/IPv4 requests only; a reply or anything else is dropped. */
	if (len < ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_IPV4 || a[4] != 6 ||
	    a[5] != 4 || get16(a + 6) != 1) {
		s->st.rx_bad++;
		METRIC_INC(ember_metrics.mmds.rx_accepted_unusual);
		return;
	}
	for (int i = 0; i < s->narp; i++)
		if (!memcmp(s->arp[i].mac, a + 8, 6) && !memcmp(&s->arp[i].ip, a + 14, 4))
			return; /* already due */
	if (s->narp == TCP_MAX_ARP)
		return; /* the guest asks again */
	r = &s->arp[s->narp++];
	memcpy(r->mac, a + 8, 6);
	memcpy(&r->ip, a + 14, 4);
}

static struct conn *conn_find(struct tcp_stack *s, uint32_t ip, uint16_t port)
{
	for (int i = 0; i < TCP_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (c->state != C_FREE && c->ip == ip && c->port == port)
			return c;
	}
	return NULL;
}

static void conn_reset(struct tcp_stack *s, struct conn *c);

/*
 * A free slot, or that of the least recently used connection if it was idle
 * for TCP_IDLE_MS (reset); NULL when every connection is busier.
 */
static struct conn *conn_slot(struct tcp_stack *s)
{
	struct conn *lru = &s->conns[0];

	for (int i = 0; i < TCP_MAX_CONNS; i++) {
		if (s->conns[i].state == C_FREE)
			return &s->conns[i];
		if (s->conns[i].used < lru->used)
			lru = &s->conns[i];
	}
	if (mono_ms() - lru->used_ms < TCP_IDLE_MS)
		return NULL;
	s->st.conns_evicted++;
	conn_reset(s, lru);
	return lru;
}

/* Queue a reset (at most TCP_MAX_RESETS; more are not sent). */
static void queue_reset(struct tcp_stack *s, const uint8_t *mac, uint32_t ip, uint16_t port,
			uint16_t our_port, bool with_ack, uint32_t seq, uint32_t ack)
{
	struct rst *r;

	if (s->nrst == TCP_MAX_RESETS)
		return;
	r = &s->rst[s->nrst++];
	memcpy(r->mac, mac, 6);
	r->ip = ip;
	r->port = port;
	r->our_port = our_port;
	r->with_ack = with_ack;
	r->seq = seq;
	r->ack = ack;
	s->st.resets_sent++;
}

/* Answer a segment that has no connection with a reset (RFC 9293 3.10.7.1). */
static void send_reset(struct tcp_stack *s, const uint8_t *mac, uint32_t ip, uint16_t port,
		       uint16_t our_port, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t seglen)
{
	if (flags & F_RST)
		return;
	if (flags & F_ACK)
		queue_reset(s, mac, ip, port, our_port, false, ack, 0);
	else
		queue_reset(s, mac, ip, port, our_port, true, 0,
			    seq + seglen + !!(flags & F_SYN) + !!(flags & F_FIN));
}

/* Drop a connection, telling the guest. */
static void conn_reset(struct tcp_stack *s, struct conn *c)
{
	queue_reset(s, c->mac, c->ip, c->port, TCP_PORT, true, c->snd_nxt, c->rcv_nxt);
	conn_free(c);
}


/* The MSS option of a SYN, or 536 (RFC 9293 3.7.1). */
static uint16_t syn_mss(const uint8_t *t, size_t hlen)
{
	size_t i = TCP_HLEN;

	while (i < hlen) {
		uint8_t kind = t[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || t[i + 1] < 2 || i + t[i + 1] > hlen)
			break;
		if (kind == 2 && t[i + 1] == 4) {
			uint16_t m = get16(t + i + 2);

			return m < 64 ? 64 : m;
		}
		i += t[i + 1];
	}
	return 536;
}

/* Give the application what the connection holds; queue its answer. */
static void conn_serve(struct tcp_stack *s, struct conn *c)
{
	while (c->state == C_OPEN && !c->out && !c->close_after && (c->in_len || c->peer_fin)) {
		size_t used = 0, outlen = 0;
		uint8_t *out = NULL;
		bool close = false;

		int r = s->app.serve(s->app.opaque, c->in, c->in_len, c->peer_fin, &used, &out,
				     &outlen, &close);

		if (r < 0 || (r == 0 && c->in_len == TCP_RCV_BUF)) {
			/* Refused, or a full buffer and still no request. */
			conn_reset(s, c);
			return;
		}
		if (r == 0) {
			if (c->peer_fin)
				c->in_len = 0; /* an unfinished request: the FIN closes */
			return;
		}
		if (used > c->in_len)
			used = c->in_len;
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (outlen) {
			c->out = out;
			c->out_len = outlen;
			c->data_seq = c->snd_nxt;
		} else {
			free(out);
		}
		if (close)
			c->close_after = true;
		if (!used && !outlen && !close)
			return; /* nothing done: do not loop */
	}
}

static void tcp_input(struct tcp_stack *s, const uint8_t *eth, const uint8_t *ip,
		      const uint8_t *t, size_t tlen)
{
	uint32_t src;
	uint16_t sport, dport, win;
	uint32_t seq, ack;
	uint8_t flags;
	size_t hlen, dlen;
	const uint8_t *data;
	struct conn *c;

	if (tlen < TCP_HLEN || (hlen = (size_t)(t[12] >> 4) * 4) < TCP_HLEN || hlen > tlen) {
		s->st.rx_bad++;
		METRIC_INC(ember_metrics.mmds.rx_accepted_err);
		return;
	}
	memcpy(&src, ip + 12, 4);
	sport = get16(t);
	dport = get16(t + 2);
	seq = get32(t + 4);
	ack = get32(t + 8);
	flags = t[13];
	win = get16(t + 14);
	data = t + hlen;
	dlen = tlen - hlen;

	if (dport != TCP_PORT) {
		s->st.rx_bad++; /* dropped without a word, as Firecracker's MMDS does */
		METRIC_INC(ember_metrics.mmds.rx_accepted_unusual);
		return;
	}
	c = conn_find(s, src, sport);
	if (c && (flags & F_SYN) && c->state == C_OPEN && seq != c->rcv_nxt - 1) {
		/* A SYN on an open connection: it is reset. */
		conn_reset(s, c);
		return;
	}
	if (!c) {
		if ((flags & (F_SYN | F_ACK | F_RST | F_FIN)) != F_SYN || dlen ||
		    !(c = conn_slot(s))) {
			send_reset(s, eth + 6, src, sport, dport, flags, seq, ack, dlen);
			return;
		}
		memset(c, 0, sizeof(*c));
		c->state = C_SYN_RCVD;
		memcpy(c->mac, eth + 6, 6);
		c->ip = src;
		c->port = sport;
		c->mss = syn_mss(t, hlen);
		if (c->mss > TCP_MSS)
			c->mss = TCP_MSS;
		c->iss = random32();
		c->snd_una = c->snd_nxt = c->snd_max = c->iss;
		c->rcv_nxt = seq + 1;
		c->wnd = win;
		c->used = ++s->clock;
		c->used_ms = mono_ms();
		s->st.conns_opened++;
		METRIC_INC(ember_metrics.mmds.connections_created);
		return; /* the SYN-ACK is output's */
	}
	c->used = ++s->clock;
	c->used_ms = mono_ms();
	if (flags & F_RST) {
		/* In the window only (RFC 5961 would ask for more; the guest is local). */
		if (seq_le(c->rcv_nxt, seq) && seq_lt(seq, c->rcv_nxt + TCP_RCV_BUF + 1))
			conn_free(c);
		return;
	}
	if (flags & F_SYN) {
		/* The SYN again: the SYN-ACK was lost; send it again. */
		if (c->state == C_SYN_RCVD)
			c->snd_nxt = c->iss;
		else
			c->need_ack = true;
		return;
	}
	if (!(flags & F_ACK))
		return;
	if (c->state == C_SYN_RCVD) {
		if (ack != c->iss + 1) {
			send_reset(s, eth + 6, src, sport, dport, flags, seq, ack, dlen);
			return;
		}
		c->state = C_OPEN;
		c->snd_una = ack;
	}
	/* What the guest acknowledges. */
	if (seq_lt(c->snd_una, ack) && seq_le(ack, c->snd_max)) {
		uint32_t end = c->data_seq + (uint32_t)c->out_len;

		c->snd_una = ack;
		if (seq_lt(c->snd_nxt, ack))
			c->snd_nxt = ack;
		if (c->out && seq_le(end, ack)) {
			free(c->out);
			c->out = NULL;
			c->out_len = 0;
		}
	} else if (ack == c->snd_una && c->snd_max != c->snd_una && !dlen && !(flags & F_FIN)) {
		/* A duplicate ACK: what followed was lost on the way (go back N). */
		c->snd_nxt = c->snd_una;
	}
	c->wnd = win;
	if (c->fin_sent && c->peer_fin && ack == c->fin_seq + 1 && !c->out) {
		conn_free(c);
		return;
	}
	/* What the guest sends: in order only. */
	if (dlen || (flags & F_FIN)) {
		c->need_ack = true;
		if (seq == c->rcv_nxt && !c->peer_fin) {
			size_t room = TCP_RCV_BUF - c->in_len;
			size_t take = dlen < room ? dlen : room;

			memcpy(c->in + c->in_len, data, take);
			c->in_len += take;
			c->rcv_nxt += (uint32_t)take;
			if ((flags & F_FIN) && take == dlen) {
				c->rcv_nxt++;
				c->peer_fin = true;
			}
		}
	}
	conn_serve(s, c);
}

void tcp_stack_input(struct tcp_stack *s, const uint8_t *f, size_t len)
{
	const uint8_t *ip;
	size_t ihl, total;

	if (!tcp_stack_wants(s, f, len)) {
		s->st.rx_bad++;
		METRIC_INC(ember_metrics.mmds.rx_bad_eth);
		return;
	}
	s->st.rx_frames++;
	METRIC_INC(ember_metrics.mmds.rx_accepted);
	if (get16(f + 12) == ETH_ARP) {
		arp_input(s, f + ETH_HLEN, len - ETH_HLEN);
		return;
	}
	ip = f + ETH_HLEN;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	total = get16(ip + 2);
	/* IPv4, a sane header, no fragments (MF or an offset), TCP. */
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || total < ihl || total > len - ETH_HLEN ||
	    (get16(ip + 6) & 0x3fff) || ip[9] != IP_TCP) {
		s->st.rx_bad++;
		METRIC_INC(ember_metrics.mmds.rx_accepted_err);
		return;
	}
	tcp_input(s, f, ip, ip + ihl, total - ihl);
}

/* --- output ------------------------------------------------------------------ */

/* Ethernet + IPv4 + TCP headers (and MSS option on a SYN) + data: the frame's length. */
static size_t build(const struct tcp_stack *s, uint8_t *b, const uint8_t *mac, uint32_t dst,
		    uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		    uint16_t win, const uint8_t *data, size_t dlen)
{
	size_t opt = (flags & F_SYN) ? 4 : 0;
	size_t tlen = TCP_HLEN + opt + dlen;
	uint8_t *ip = b + ETH_HLEN, *t = ip + IP_HLEN;
	uint32_t sum;

	memcpy(b, mac, 6);
	memcpy(b + 6, s->mac, 6);
	put16(b + 12, ETH_IPV4);
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_HLEN + tlen));
	ip[8] = 1; /* TTL 1: the MMDS is on the guest's link only */
	ip[9] = IP_TCP;
	memcpy(ip + 12, &s->ip, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
	memset(t, 0, TCP_HLEN + opt);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)(((TCP_HLEN + opt) / 4) << 4);
	t[13] = flags;
	put16(t + 14, win);
	if (opt) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, TCP_MSS);
	}
	if (dlen)
		memcpy(t + TCP_HLEN + opt, data, dlen);
	/* Pseudo-header: addresses, protocol, TCP length. */
	sum = csum_add(0, ip + 12, 8) + IP_TCP + (uint32_t)tlen;
	sum = csum_add(sum, t, tlen);
	put16(t + 16, csum_fold(sum));
	return ETH_HLEN + IP_HLEN + tlen;
}

static size_t conn_output(struct tcp_stack *s, struct conn *c, uint8_t *b)
{
	uint16_t win = (uint16_t)(TCP_RCV_BUF - c->in_len);
	uint32_t data_end, fin_seq;

	if (c->state == C_SYN_RCVD) {
		if (c->snd_nxt != c->iss)
			return 0;
		c->snd_nxt = c->iss + 1;
		c->need_ack = false;
		return build(s, b, c->mac, c->ip, TCP_PORT, c->port, c->iss, c->rcv_nxt,
			     F_SYN | F_ACK, win, NULL, 0);
	}
	/* Data, within the guest's window. */
	data_end = c->data_seq + (uint32_t)c->out_len;
	if (c->out && seq_lt(c->snd_nxt, data_end) &&
	    seq_lt(c->snd_nxt, c->snd_una + c->wnd)) {
		uint32_t off = c->snd_nxt - c->data_seq;
		size_t n = c->out_len - off, room = c->snd_una + c->wnd - c->snd_nxt;
		size_t len;
		uint8_t fl = F_ACK;

		if (n > c->mss)
			n = c->mss;
		if (n > room)
			n = room;
		if (c->snd_nxt + n == data_end)
			fl |= F_PSH;
		len = build(s, b, c->mac, c->ip, TCP_PORT, c->port, c->snd_nxt, c->rcv_nxt, fl,
			    win, c->out + off, n);
		c->snd_nxt += (uint32_t)n;
		c->need_ack = false;
		return len;
	}
	/*
	 * FIN, once everything is sent: asked for, or the guest closed and
	 * nothing is left; again only when going back to it.
	 */
	fin_seq = c->fin_sent ? c->fin_seq : c->out ? data_end : c->snd_nxt;
	if ((c->close_after || (c->peer_fin && !c->in_len)) && c->snd_nxt == fin_seq) {
		c->fin_sent = true;
		c->fin_seq = fin_seq;
		c->snd_nxt = fin_seq + 1;
		c->need_ack = false;
		return build(s, b, c->mac, c->ip, TCP_PORT, c->port, fin_seq, c->rcv_nxt,
			     F_FIN | F_ACK, win, NULL, 0);
	}
	if (c->need_ack) {
		c->need_ack = false;
		return build(s, b, c->mac, c->ip, TCP_PORT, c->port, c->snd_nxt, c->rcv_nxt,
			     F_ACK, win, NULL, 0);
	}
	return 0;
}

static size_t arp_output(struct tcp_stack *s, uint8_t *b)
{
	struct arp_reply r = s->arp[0];
	uint8_t *a = b + ETH_HLEN;

	memmove(s->arp, s->arp + 1, (size_t)(--s->narp) * sizeof(s->arp[0]));
	memcpy(b, r.mac, 6);
	memcpy(b + 6, s->mac, 6);
	put16(b + 12, ETH_ARP);
	put16(a, 1);
	put16(a + 2, ETH_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, s->mac, 6);
	memcpy(a + 14, &s->ip, 4);
	memcpy(a + 18, r.mac, 6);
	memcpy(a + 24, &r.ip, 4);
	return ETH_HLEN + ARP_LEN;
}

/* After a segment: the highest sequence number sent so far. */
static void conn_sent(struct conn *c)
{
	if (seq_lt(c->snd_max, c->snd_nxt))
		c->snd_max = c->snd_nxt;
}

size_t tcp_stack_output(struct tcp_stack *s, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	if (cap < MAX_OUT)
		return 0;
	if (s->narp) {
		len = arp_output(s, buf);
	} else if (s->nrst) {
		struct rst r = s->rst[0];

		memmove(s->rst, s->rst + 1, (size_t)(--s->nrst) * sizeof(s->rst[0]));
		len = build(s, buf, r.mac, r.ip, r.our_port, r.port, r.seq, r.with_ack ? r.ack : 0,
			    F_RST | (r.with_ack ? F_ACK : 0), 0, NULL, 0);
	} else {
		/* Round robin, so one busy connection does not starve the others. */
		for (int k = 0; k < TCP_MAX_CONNS && !len; k++) {
			struct conn *c = &s->conns[(s->next + k) % TCP_MAX_CONNS];

			if (c->state == C_FREE)
				continue;
			len = conn_output(s, c, buf);
			conn_sent(c);
			if (len)
				s->next = (s->next + k + 1) % TCP_MAX_CONNS;
			if (c->fin_sent && c->peer_fin && c->snd_una == c->snd_nxt && !c->out)
				conn_free(c);
		}
	}
	if (len) {
		s->st.tx_frames++;
		METRIC_INC(ember_metrics.mmds.tx_frames);
		METRIC_ADD(ember_metrics.mmds.tx_bytes, len);
	}
	return len;
}

