/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net: drives ember's virtio-net as a minimal polled driver would, against
 * tests/guests/netpeer.py on the host side of the TAP.
 *
 * Command line: mac=XX:XX:XX:XX:XX:XX, the MAC ember was given.
 * The guest checks the MAC in config space, posts RX_BUFS receive buffers,
 * sends one broadcast frame (ethertype 0x88b5, payload "EMBER-NET-TEST"),
 * then waits for a frame of ethertype 0x88b5 addressed to its MAC, whose
 * payload must be "EMBER-NET-REPLY" (other frames are counted, skipped and
 * their buffers reposted).
 *
 * Prints "FAIL net: ..." per failed check, "PASS net" if none, resets.
 */
#include "virtio.h"

const char guest_name[] = "net";

#define NET_F_MAC   (1ULL << 5)
#define RX_Q        0
#define TX_Q        1
#define HDR_LEN     12   /* virtio_net_hdr_v1 */
#define ETH_HLEN    14
#define ETH_MIN     60   /* without the FCS */
#define ETHERTYPE   0x88b5
#define RX_BUF_LEN  (HDR_LEN + 1514)
#define RX_BUFS     4
#define MAX_SKIPPED 64

static const char ping[] = "EMBER-NET-TEST";
static const char pong[] = "EMBER-NET-REPLY";

static struct vq_rings rx_rings, tx_rings;
static uint8_t rx_buf[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(16)));
static uint8_t tx_hdr[HDR_LEN] __attribute__((aligned(16)));
static uint8_t tx_frame[ETH_MIN] __attribute__((aligned(16)));

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	if (len != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void print_mac(const uint8_t m[6])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 6; i++) {
		putc_serial(hex[m[i] >> 4]);
		putc_serial(hex[m[i] & 15]);
		if (i < 5)
			putc_serial(':');
	}
}

/* Checks a frame of ethertype 0x88b5 to us; returns 0 if it is the reply. */
static int check_reply(const uint8_t *hdr, uint32_t len)
{
	const uint8_t *f = hdr + HDR_LEN;
	uint32_t flen = len - HDR_LEN, plen = sizeof(pong) - 1;
	char text[sizeof(pong)];

	print("net: frame from ");
	print_mac(f + 6);
	print(", %u bytes\n", flen);
	if (hdr[0] != 0 || hdr[1] != 0)
		fail("reply header: flags 0x%x gso_type 0x%x, want 0 and 0", hdr[0], hdr[1]);
	if (rd16(hdr + 10) != 1)
		fail("reply header: num_buffers %u, want 1", rd16(hdr + 10));
	if (flen < ETH_HLEN + plen) {
		fail("reply frame of %u bytes is too short", flen);
		return -1;
	}
	memcpy(text, f + ETH_HLEN, plen);
	text[plen] = '\0';
	for (uint32_t i = 0; i < plen; i++)
		if (text[i] < 0x20 || text[i] > 0x7e)
			text[i] = '?';
	print("net: payload \"%s\"\n", text);
	if (memcmp(f + ETH_HLEN, pong, plen) != 0) {
		fail("reply payload \"%s\", want \"%s\"", text, pong);
		return -1;
	}
	return 0;
}

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	struct vdev dev;
	struct vq rxq, txq;
	uint8_t mac[6], cfg_mac[6];
	size_t len;
	const char *m = cmdline_get(cl, "mac", &len);

	if (!m || parse_mac(m, len, mac) < 0) {
		fail("need mac=XX:XX:XX:XX:XX:XX on the command line: \"%s\"", cl);
		return;
	}
	if (virtio_find(cl, VIRTIO_ID_NET, 0, &dev) < 0) {
		fail("no virtio-net device (id 1) announced: \"%s\"", cl);
		return;
	}
	print("net: virtio-net at 0x%lx gsi %u\n", dev.base, dev.gsi);
	if (virtio_negotiate(&dev, VIRTIO_F_VERSION_1 | NET_F_MAC) < 0)
		return;
	print("net: device features 0x%lx\n", dev.offered);
	for (int i = 0; i < 6; i++)
		cfg_mac[i] = vcfg8(&dev, (uint32_t)i);
	print("net: config MAC ");
	print_mac(cfg_mac);
	putc_serial('\n');
	if (memcmp(cfg_mac, mac, 6) != 0) {
		fail("config space MAC differs from mac= on the command line");
		return;
	}
	if (vq_setup(&dev, RX_Q, &rxq, &rx_rings) < 0 || vq_setup(&dev, TX_Q, &txq, &tx_rings) < 0 ||
	    virtio_driver_ok(&dev) < 0)
		return;

	/* Receive buffers first: the reply may come right after our frame. */
	for (unsigned i = 0; i < RX_BUFS; i++) {
		vq_desc(&rxq, i, rx_buf[i], RX_BUF_LEN, VRING_DESC_F_WRITE, 0);
		vq_post(&rxq, (uint16_t)i);
	}
	vq_kick(&rxq);

	/* One frame: header (all zero: no offloads) and frame in two buffers. */
	memset(tx_frame, 0, sizeof(tx_frame));
	memset(tx_frame, 0xff, 6);
	memcpy(tx_frame + 6, mac, 6);
	tx_frame[12] = ETHERTYPE >> 8;
	tx_frame[13] = ETHERTYPE & 0xff;
	memcpy(tx_frame + ETH_HLEN, ping, sizeof(ping) - 1);
	vq_desc(&txq, 0, tx_hdr, HDR_LEN, VRING_DESC_F_NEXT, 1);
	vq_desc(&txq, 1, tx_frame, sizeof(tx_frame), 0, 0);
	vq_post(&txq, 0);
	vq_kick(&txq);
	uint32_t id, ulen, st = 0;
	int r = vq_wait(&txq, POLLS_DONE, &id, &ulen, &st);
	if (r != 1) {
		fail("TX: frame not sent back to the driver after %lu polls (Status 0x%x)",
		     POLLS_DONE, st);
		return;
	}
	if (id != 0)
		fail("TX: used id %u, want 0", id);
	print("net: sent \"%s\" to ff:ff:ff:ff:ff:ff\n", ping);

	/* Wait for the reply, skipping (and reposting) anything else. */
	for (unsigned skipped = 0;; skipped++) {
		r = vq_wait(&rxq, POLLS_DONE, &id, &ulen, &st);
		if (r != 1) {
			fail("RX: no reply after %lu polls (Status 0x%x, %u other frames)",
			     POLLS_DONE, st, skipped);
			return;
		}
		if (id >= RX_BUFS || ulen > RX_BUF_LEN || ulen < HDR_LEN + ETH_HLEN) {
			fail("RX: used id %u length %u (buffers 0..%u of %u bytes)", id, ulen,
			     RX_BUFS - 1, RX_BUF_LEN);
			return;
		}
		const uint8_t *f = rx_buf[id] + HDR_LEN;
		unsigned et = (unsigned)f[12] << 8 | f[13];
		if (et == ETHERTYPE && memcmp(f, mac, 6) == 0) {
			check_reply(rx_buf[id], ulen);
			break;
		}
		print("net: skipping a frame of ethertype 0x%x\n", et);
		if (skipped == MAX_SKIPPED) {
			fail("RX: %u frames, none the reply", MAX_SKIPPED);
			return;
		}
		vq_post(&rxq, (uint16_t)id);
		vq_kick(&rxq);
	}

	virtio_reset(&dev);
	if (failures == 0)
		print("PASS net\n");
}
