/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MMDS's ARP/TCP responder (mmds/tcp.c), driven by a guest written in
 * the test: frames built by hand, the answers parsed and checked (headers,
 * checksums, sequence numbers). ARP; the handshake; a request answered in
 * MSS-sized segments within the guest's window; a lost segment sent again
 * on the third duplicate ACK; the guest's FIN and ours; resets for other
 * ports and unknown connections; the connection limit; malformed frames.
 */
#include "mmds/tcp.h"
#include "tests/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t MMDS_MAC[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };
static const uint8_t GUEST_MAC[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const uint8_t MMDS_IP[4] = { 169, 254, 169, 254 };
static const uint8_t GUEST_IP[4] = { 169, 254, 0, 2 };

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The application: answers each line "GET n\n" with n bytes of a pattern; "CLOSE\n": FIN. */
static int serves;
static int app_serve(void *opaque, const uint8_t *in, size_t len, bool eof, size_t *consumed,
		     uint8_t **out, size_t *outlen, bool *close)
{
	const uint8_t *nl = memchr(in, '\n', len);
	unsigned n = 0;

	(void)opaque;
	if (!nl) {
		if (!eof)
			return 0;
		*consumed = len;
		*close = true;
		return 1;
	}
	serves++;
	*consumed = (size_t)(nl - in) + 1;
	if (!strncmp((const char *)in, "CLOSE", 5)) {
		*close = true;
		return 1;
	}
	if (sscanf((const char *)in, "GET %u", &n) != 1)
		n = 0;
	*out = malloc(n ? n : 1);
	for (unsigned i = 0; i < n; i++)
		(*out)[i] = (uint8_t)('a' + i % 26);
	*outlen = n;
	return 1;
}

static struct tcp_stack *new_stack(void)
{
	uint32_t ip;
	struct tcp_app app = { app_serve, NULL };

	memcpy(&ip, MMDS_IP, 4);
	serves = 0;
	return tcp_stack_new(ip, MMDS_MAC, &app);
}

/* A TCP segment from the guest (port sport -> dport). */
static size_t seg(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		  uint8_t flags, uint16_t win, const void *data, size_t dlen)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	size_t opt = (flags & 0x02) ? 4 : 0;  /* a SYN says MSS 1460 */
	size_t tlen = 20 + opt + dlen;

	memcpy(f, MMDS_MAC, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tlen));
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, GUEST_IP, 4);
	memcpy(ip + 16, MMDS_IP, 4);
	memset(t, 0, 20);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)((20 + opt) / 4 << 4);
	t[13] = flags;
	put16(t + 14, win);
	if (opt) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, 1460);
	}
	if (dlen)
		memcpy(t + 20 + opt, data, dlen);
	return 14 + 20 + tlen;
}

struct rx {
	size_t len;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win, sport, dport, mss;
	const uint8_t *data;
	size_t dlen;
	uint8_t f[2048];
};

/* The next frame the stack gives, checked as a TCP segment to the guest. */
static int next_seg(struct tcp_stack *s, struct rx *r)
{
	uint8_t *ip = r->f + 14, *t = ip + 20;
	uint32_t sum = 0;
	size_t tlen, hlen;

	r->len = tcp_stack_output(s, r->f, sizeof(r->f));
	if (!r->len)
		return 0;
	CHECK(!memcmp(r->f, GUEST_MAC, 6) && !memcmp(r->f + 6, MMDS_MAC, 6));
	CHECK_EQ(get16(r->f + 12), 0x0800);
	CHECK_EQ(csum(0, ip, 20), 0);
	CHECK(!memcmp(ip + 12, MMDS_IP, 4) && !memcmp(ip + 16, GUEST_IP, 4));
	CHECK_EQ(get16(ip + 2), r->len - 14);
	tlen = r->len - 34;
	for (int i = 0; i < 8; i += 2)
		sum += get16(ip + 12 + i);
	sum += 6 + (uint32_t)tlen;
	CHECK_EQ(csum(sum, t, tlen), 0);
	hlen = (size_t)(t[12] >> 4) * 4;
	r->sport = get16(t);
	r->dport = get16(t + 2);
	r->seq = get32(t + 4);
	r->ack = get32(t + 8);
	r->flags = t[13];
	r->win = get16(t + 14);
	r->mss = hlen == 24 && t[20] == 2 ? get16(t + 22) : 0;
	r->data = t + hlen;
	r->dlen = tlen - hlen;
	return 1;
}

static void input(struct tcp_stack *s, const uint8_t *f, size_t len)
{
	CHECK(tcp_stack_wants(s, f, len));
	tcp_stack_input(s, f, len);
}

/* Handshake on port sport: our ISN 1000; returns the stack's ISN + 1. */
static uint32_t connect(struct tcp_stack *s, uint16_t sport)
{
	uint8_t f[128];
	struct rx r;

	input(s, f, seg(f, sport, 80, 1000, 0, 0x02, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x12);
	CHECK_EQ(r.ack, 1001);
	CHECK_EQ(r.mss, 1460);
	CHECK_EQ(r.sport, 80);
	CHECK_EQ(r.dport, sport);
	input(s, f, seg(f, sport, 80, 1001, r.seq + 1, 0x10, 65535, NULL, 0));
	CHECK(!next_seg(s, &r));
	return r.seq + 1;
}

static void test_arp(void)
{
	struct tcp_stack *s = new_stack();
	uint8_t f[64] = { 0 }, *a = f + 14;
	uint8_t out[2048];
	size_t n;

	memset(f, 0xff, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	put16(f + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, GUEST_MAC, 6);
	memcpy(a + 14, GUEST_IP, 4);
	memcpy(a + 24, MMDS_IP, 4);
	input(s, f, 42);
	n = tcp_stack_output(s, out, sizeof(out));
	CHECK_EQ(n, 42);
	CHECK(!memcmp(out, GUEST_MAC, 6) && !memcmp(out + 6, MMDS_MAC, 6));
	CHECK_EQ(get16(out + 14 + 6), 2);
	CHECK(!memcmp(out + 14 + 8, MMDS_MAC, 6) && !memcmp(out + 14 + 14, MMDS_IP, 4));
	CHECK(!memcmp(out + 14 + 18, GUEST_MAC, 6) && !memcmp(out + 14 + 24, GUEST_IP, 4));
	CHECK_EQ(tcp_stack_output(s, out, sizeof(out)), 0);
	/* Another address: not ours. A reply: ours, but nothing to say. */
	a[27] = 1;
	CHECK(!tcp_stack_wants(s, f, 42));
	a[27] = 254;
	put16(a + 6, 2);
	input(s, f, 42);
	CHECK_EQ(tcp_stack_output(s, out, sizeof(out)), 0);
	/* Other frames: not ours. */
	put16(f + 12, 0x86dd);
	CHECK(!tcp_stack_wants(s, f, 60));
	CHECK(!tcp_stack_wants(s, f, 10));
	tcp_stack_free(s);
}

static void test_request_segments_and_window(void)
{
	struct tcp_stack *s = new_stack();
	uint8_t f[2048];
	struct rx r;
	uint32_t isn = connect(s, 40000), got = 0, seq = 1001;
	int frames = 0;

	/* 4000 bytes answered, the guest's window 2000: two segments, then wait. */
	input(s, f, seg(f, 40000, 80, seq, isn, 0x18, 2000, "GET 4000\n", 9));
	seq += 9;
	while (next_seg(s, &r)) {
		CHECK_EQ(r.ack, seq);
		if (r.dlen) {
			CHECK_EQ(r.seq, isn + got);
			CHECK(r.dlen <= 1460);
			for (size_t i = 0; i < r.dlen; i++)
				CHECK_EQ(r.data[i], 'a' + (got + i) % 26);
			got += (uint32_t)r.dlen;
		}
		frames++;
	}
	CHECK_EQ(got, 2000);
	CHECK_EQ(serves, 1);
	/* The guest acknowledges: the rest comes, the last segment with PSH. */
	input(s, f, seg(f, 40000, 80, seq, isn + got, 0x10, 65535, NULL, 0));
	while (next_seg(s, &r)) {
		if (r.dlen) {
			CHECK_EQ(r.seq, isn + got);
			got += (uint32_t)r.dlen;
			if (got == 4000)
				CHECK(r.flags & 0x08);
		}
	}
	CHECK_EQ(got, 4000);
	/* A lost segment: a duplicate ACK brings everything after it again. */
	input(s, f, seg(f, 40000, 80, seq, isn + 4000, 0x18, 65535, "GET 3000\n", 9));
	seq += 9;
	got = 0;
	while (next_seg(s, &r))
		got += (uint32_t)r.dlen;
	CHECK_EQ(got, 3000);
	input(s, f, seg(f, 40000, 80, seq, isn + 4000, 0x10, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.seq, isn + 4000);
	CHECK_EQ(r.dlen, 1460);
	input(s, f, seg(f, 40000, 80, seq, isn + 7000, 0x10, 65535, NULL, 0));
	while (next_seg(s, &r))
		CHECK_EQ(r.dlen, 0);
	/* The guest closes: FIN acknowledged and ours sent; its ACK ends the connection. */
	input(s, f, seg(f, 40000, 80, seq, isn + 7000, 0x11, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x11);
	CHECK_EQ(r.ack, seq + 1);
	CHECK_EQ(r.seq, isn + 7000);
	input(s, f, seg(f, 40000, 80, seq + 1, isn + 7001, 0x10, 65535, NULL, 0));
	CHECK(!next_seg(s, &r));
	/* Gone: a segment on it gets a reset. */
	input(s, f, seg(f, 40000, 80, seq + 1, isn + 7001, 0x10, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x04);
	CHECK_EQ(r.seq, isn + 7001);
	(void)frames;
	tcp_stack_free(s);
}

static void test_close_by_app_and_out_of_order(void)
{
	struct tcp_stack *s = new_stack();
	uint8_t f[2048];
	struct rx r;
	uint32_t isn = connect(s, 40001);

	/* Out of order: acknowledged, not taken. */
	input(s, f, seg(f, 40001, 80, 1005, isn, 0x18, 65535, "GET 5\n", 6));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x10);
	CHECK_EQ(r.ack, 1001);
	CHECK_EQ(serves, 0);
	/* A request in two pieces, then CLOSE: the answer, then our FIN. */
	input(s, f, seg(f, 40001, 80, 1001, isn, 0x18, 65535, "GET ", 4));
	input(s, f, seg(f, 40001, 80, 1005, isn, 0x18, 65535, "5\nCLOSE\n", 8));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.dlen, 5);
	CHECK_EQ(r.ack, 1013);
	CHECK(!next_seg(s, &r));
	input(s, f, seg(f, 40001, 80, 1013, isn + 5, 0x10, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x11);
	CHECK_EQ(r.seq, isn + 5);
	CHECK_EQ(serves, 2);
	/* The guest's FIN+ACK: acknowledged, the connection ends. */
	input(s, f, seg(f, 40001, 80, 1013, isn + 6, 0x11, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x10);
	CHECK_EQ(r.ack, 1014);
	CHECK(!next_seg(s, &r));
	input(s, f, seg(f, 40001, 80, 1014, isn + 6, 0x10, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x04);
	tcp_stack_free(s);
}

static void test_resets_and_limits(void)
{
	struct tcp_stack *s = new_stack();
	uint8_t f[2048], big[TCP_RCV_BUF + 100];
	struct rx r;
	struct tcp_stats st;
	uint32_t isn;

	/* Another port: dropped without a word (as Firecracker's MMDS does). */
	input(s, f, seg(f, 40002, 81, 5000, 0, 0x02, 65535, NULL, 0));
	CHECK(!next_seg(s, &r));
	/* A segment on no connection: a reset at its ACK, or acknowledging it. */
	input(s, f, seg(f, 40002, 80, 5000, 777, 0x18, 65535, "x", 1));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x04);
	CHECK_EQ(r.seq, 777);
	CHECK_EQ(r.sport, 80);
	input(s, f, seg(f, 40002, 80, 5000, 0, 0x08, 65535, "x", 1));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x14);
	CHECK_EQ(r.ack, 5001);
	/* A reset is never answered. */
	input(s, f, seg(f, 40002, 80, 5000, 0, 0x04, 65535, NULL, 0));
	CHECK(!next_seg(s, &r));
	/* The connection limit: none idle for 10 s, so a new SYN gets a reset. */
	for (int i = 0; i < TCP_MAX_CONNS; i++)
		connect(s, (uint16_t)(41000 + i));
	input(s, f, seg(f, 41100, 80, 7000, 0, 0x02, 65535, NULL, 0));
	CHECK(next_seg(s, &r));
	CHECK_EQ(r.flags, 0x14);
	CHECK_EQ(r.dport, 41100);
	tcp_stack_stats(s, &st);
	CHECK_EQ(st.conns_evicted, 0);
	tcp_stack_free(s);
	s = new_stack();
	/* More than the buffer without a line: taken up to the window, then reset. */
	isn = connect(s, 42000);
	memset(big, 'x', sizeof(big));
	input(s, f, seg(f, 42000, 80, 1001, isn, 0x18, 65535, big, 1400));
	input(s, f, seg(f, 42000, 80, 2401, isn, 0x18, 65535, big, 1400));
	while (next_seg(s, &r))
		if (r.flags & 0x04)
			break;
	CHECK_EQ(r.flags, 0x14);
	CHECK_EQ(r.seq, isn);
	/* Malformed: a short TCP header, a fragment, UDP (dropped, counted). */
	seg(f, 42001, 80, 1, 0, 0x02, 65535, NULL, 0);
	put16(f + 16, 30);
	input(s, f, 44);
	put16(f + 16, 40);
	put16(f + 20, 0x2000);
	input(s, f, 54);
	put16(f + 20, 0);
	f[23] = 17;
	input(s, f, 54);
	CHECK(!next_seg(s, &r));
	tcp_stack_stats(s, &st);
	CHECK_EQ(st.rx_bad, 3);
	tcp_stack_free(s);
}

UNIT_MAIN(TEST(test_arp), TEST(test_request_segments_and_window),
	  TEST(test_close_by_app_and_out_of_order), TEST(test_resets_and_limits))
