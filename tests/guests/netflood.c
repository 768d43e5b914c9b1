/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netflood: a guest that keeps both queues of ember's virtio-net full. TX:
 * the same 60-byte broadcast frame (ethertype 0x88b6), made available again
 * as soon as there is room; RX: every used buffer posted again at once, so
 * a host that floods the TAP (tests/api: flood_net) always finds room. A
 * device without a budget on either path would never leave its handler and
 * the VMM thread would serve nothing else.
 *
 * Command line: rounds=N (default 1000000) times both rings are topped up;
 * then it resets the device. Prints "NETFLOOD start" once the first frame
 * was sent, "NETFLOOD done T R" (the TX used index, frames received) at the end,
 * "FAIL netflood: ..." when the device does not serve.
 */
#include "virtio.h"

const char guest_name[] = "netflood";

#define RX_Q        0
#define TX_Q        1
#define HDR_LEN     12   /* virtio_net_hdr_v1 */
#define ETH_MIN     60
#define RX_BUF_LEN  (HDR_LEN + 1514)
#define VRING_USED_F_NO_NOTIFY 1

static struct vq_rings rx_rings, tx_rings;
static uint8_t rx_buf[VQ_SIZE][RX_BUF_LEN] __attribute__((aligned(16)));
static uint8_t tx_hdr[HDR_LEN] __attribute__((aligned(16)));
static uint8_t tx_frame[ETH_MIN] __attribute__((aligned(16)));

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	volatile struct vq_rings *rx = &rx_rings, *tx = &tx_rings;
	struct vdev dev;
	struct vq rxq, txq;
	uint64_t rounds, received = 0;
	uint32_t id, len, st;

	if (cmdline_u64(cl, "rounds", 1000000, &rounds)) {
		fail("bad rounds= on the command line");
		return;
	}
	if (virtio_find(cl, VIRTIO_ID_NET, 0, &dev) < 0) {
		fail("no virtio-net device announced: \"%s\"", cl);
		return;
	}
	if (virtio_negotiate(&dev, VIRTIO_F_VERSION_1) < 0 ||
	    vq_setup(&dev, RX_Q, &rxq, &rx_rings) < 0 || vq_setup(&dev, TX_Q, &txq, &tx_rings) < 0 ||
	    virtio_driver_ok(&dev) < 0)
		return;
	for (unsigned i = 0; i < VQ_SIZE; i++) {
		vq_desc(&rxq, i, rx_buf[i], RX_BUF_LEN, VRING_DESC_F_WRITE, 0);
		vq_post(&rxq, (uint16_t)i);
	}
	vq_kick(&rxq);
	memset(tx_frame, 0xff, 6);
	tx_frame[6] = 0x02;
	tx_frame[12] = 0x88;
	tx_frame[13] = 0xb6;
	vq_desc(&txq, 0, tx_hdr, HDR_LEN, VRING_DESC_F_NEXT, 1);
	vq_desc(&txq, 1, tx_frame, sizeof(tx_frame), 0, 0);
	vq_post(&txq, 0);
	vq_kick(&txq);
	if (vq_wait(&txq, POLLS_DONE, &id, &len, &st) != 1) {
		fail("the first frame was not sent (status 0x%x)", st);
		return;
	}
	print("NETFLOOD start\n");
	for (uint64_t i = 0; i < rounds; i++) {
		while ((uint16_t)(txq.avail_idx - tx->used.idx) < VQ_SIZE)
			vq_post(&txq, 0);
		/* No exit while the device is busy: it polls the ring then. */
		if (!(tx->used.flags & VRING_USED_F_NO_NOTIFY))
			vq_kick(&txq);
		if (rxq.used_seen != rx->used.idx) {
			while (rxq.used_seen != rx->used.idx) {
				barrier();
				id = rx->used.ring[rxq.used_seen % VQ_SIZE].id;
				rxq.used_seen++;
				received++;
				if (id >= VQ_SIZE) {
					fail("RX: used id %u", id);
					return;
				}
				vq_post(&rxq, (uint16_t)id);
			}
			if (!(rx->used.flags & VRING_USED_F_NO_NOTIFY))
				vq_kick(&rxq);
		}
	}
	len = tx->used.idx;
	virtio_reset(&dev);
	print("NETFLOOD done %u %lu\n", len, received);
}
