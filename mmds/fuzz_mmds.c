/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the MMDS's network side and HTTP (mmds/tcp.c with
 * mmds/mmds.c as its application): the guest is the fuzzer.
 *
 * Input: a sequence of records. Byte 0 of a record picks its kind:
 *   even: a raw frame of the next byte's length (random bytes from the
 *         guest: ARP, IPv4, anything);
 *   odd:  a TCP segment to the MMDS built from the record (port, flags,
 *         sequence offset, payload), acknowledging what the stack sent last
 *         on that port or a bit off it, so that handshakes, data, FINs and
 *         resets come in every order.
 * After each record the stack's output is drained (as the guest's receive
 * queue would); every frame must fit and be well-formed. Requests of the
 * dictionary (tests/fuzz/mmds.dict) reach the HTTP side.
 */
#include "core/fuzz.h"
#include "core/metrics.h"
#include "mmds/mmds.h"
#include "mmds/tcp.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t IP[4] = { 169, 254, 169, 254 };
static const uint8_t GUEST_IP[4] = { 169, 254, 0, 2 };
static const uint8_t GUEST_MAC[6] = { 2, 0, 0, 0, 0, 1 };
#define PORTS 4

/* The counters the code under test adds to (core/metrics.c is not linked). */
struct metrics ember_metrics;

static struct mmds *store;
static uint32_t srv_nxt[PORTS], cli_seq[PORTS];

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void drain(struct tcp_stack *s)
{
	static uint8_t out[2048];

	for (int i = 0; i < 10000; i++) {
		size_t n = tcp_stack_output(s, out, sizeof(out));
		uint16_t port;

		if (!n)
			return;
		ASSERT(n >= 42 && n <= 14 + 20 + 24 + TCP_MSS);
		if (out[12] != 0x08 || out[13] != 0x00)
			continue; /* ARP */
		ASSERT(n >= 54 && (size_t)((out[14 + 2] << 8 | out[14 + 3]) + 14) == n);
		port = (uint16_t)(out[36] << 8 | out[37]);
		if (port >= 40000 && port < 40000 + PORTS) {
			size_t dlen = n - 34 - (size_t)(out[46] >> 4) * 4;

			srv_nxt[port - 40000] = get32(out + 38) + (uint32_t)dlen +
						!!(out[47] & 0x03);
		}
	}
	ASSERT(!"the stack never stops sending");
}

static size_t segment(uint8_t *f, const uint8_t *r, size_t avail)
{
	int p = r[1] % PORTS;
	uint8_t flags = r[2];
	int8_t seq_off = (int8_t)r[3], ack_off = (int8_t)r[4];
	size_t dlen = r[5] < avail - 6 ? r[5] : avail - 6;
	uint8_t *ip = f + 14, *t = ip + 20;

	memcpy(f, mmds_mac, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(40 + dlen));
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, GUEST_IP, 4);
	memcpy(ip + 16, IP, 4);
	memset(t, 0, 20);
	put16(t, (uint16_t)(40000 + p));
	put16(t + 2, (r[1] & 0x80) ? 81 : 80);
	if (flags & 0x02)
		cli_seq[p] = 1000u * (uint32_t)(p + 1);
	put32(t + 4, cli_seq[p] + (uint32_t)seq_off);
	put32(t + 8, srv_nxt[p] + (uint32_t)ack_off);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, (uint16_t)(r[0] << 8 | 0xff));
	memcpy(t + 20, r + 6, dlen);
	if (!seq_off)
		cli_seq[p] += (uint32_t)dlen + !!(flags & 0x02) + !!(flags & 0x01);
	return 54 + dlen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t f[2048];
	struct tcp_app app = { mmds_serve, NULL };
	struct tcp_stack *s;
	uint32_t ip;

	if (!store) {
		const char *doc = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":1,"
				  "\"a\":[\"x\",{\"y\":\"z\"}]}}}";
		cJSON *j = cJSON_Parse(doc);

		store = mmds_new(51200);
		ASSERT(store && j && mmds_put(store, j) == MMDS_OK);
		cJSON_Delete(j);
	}
	mmds_set_version(store, size && (data[0] & 1) ? MMDS_V2 : MMDS_V1, size > 1 && data[1] & 1);
	app.opaque = store;
	memcpy(&ip, IP, 4);
	s = tcp_stack_new(ip, mmds_mac, &app);
	ASSERT(s);
	memset(srv_nxt, 0, sizeof(srv_nxt));
	memset(cli_seq, 0, sizeof(cli_seq));
	for (size_t i = 0; i + 1 < size;) {
		size_t n;

		if (data[i] & 1) {
			if (size - i < 6)
				break;
			n = segment(f, data + i, size - i);
			i += 6 + (n - 54);
		} else {
			n = data[i + 1];
			i += 2;
			if (n > size - i)
				n = size - i;
			memcpy(f, data + i, n);
			i += n;
		}
		if (tcp_stack_wants(s, f, n))
			tcp_stack_input(s, f, n);
		drain(s);
	}
	tcp_stack_free(s);
	return 0;
}
