/* SPDX-License-Identifier: MIT */
/* virtio-net: raw Ethernet frames behind the 12-byte virtio_net_hdr. */
#include "virtio.h"

#define VIRTIO_NET_F_MAC (1ULL << 5)

int vnet_open(struct vnet *n, int nth)
{
	memset(&n->dev, 0, sizeof(n->dev));
	if (virtio_find(VIRTIO_ID_NET, nth, &n->dev))
		return -1;
	if (virtio_init(&n->dev, VIRTIO_NET_F_MAC))
		return -1;
	if (virtq_setup(&n->dev, &n->rx, 0, VNET_RX_BUFS) ||
	    virtq_setup(&n->dev, &n->tx, 1, 4)) {
		virtio_fail(&n->dev);
		return -1;
	}
	if (n->dev.features & VIRTIO_NET_F_MAC) {
		virtio_config_read(&n->dev, 0, n->mac, 6);
	} else {
		static const uint8_t fallback[6] = { 0x52, 0x54, 0x00, 0x6c, 0x76, 0x6d };
		memcpy(n->mac, fallback, 6);
	}
	for (int i = 0; i < n->rx.size && i < VNET_RX_BUFS; i++) {
		struct virtq_buf b = { n->rx_buf[i], VNET_BUF_SIZE, 1 };
		virtq_add(&n->rx, &b, 1);
	}
	virtio_driver_ok(&n->dev);
	virtq_kick(&n->rx);
	return 0;
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	if (len > VNET_BUF_SIZE - VNET_HDR_LEN)
		return -1;
	/* Wait for the previous frame: one tx buffer. */
	while (n->tx.num_free < n->tx.size)
		if (virtq_wait(&n->tx, NULL, 1000000) < 0)
			return -1;
	memset(n->tx_buf, 0, VNET_HDR_LEN);  /* no offloads, num_buffers 0 */
	memcpy(n->tx_buf + VNET_HDR_LEN, frame, len);
	struct virtq_buf b = { n->tx_buf, VNET_HDR_LEN + len, 0 };
	if (virtq_add(&n->tx, &b, 1) < 0)
		return -1;
	virtq_kick(&n->tx);
	return 0;
}

int vnet_recv(struct vnet *n, void *buf, uint32_t max, uint64_t timeout_us)
{
	uint32_t len;
	int h = virtq_wait(&n->rx, &len, timeout_us);
	if (h < 0)
		return -1;
	/* One descriptor per buffer; the descriptor still names it. */
	uint64_t off = n->rx.desc[h].addr - (uint64_t)(uintptr_t)n->rx_buf;
	int bi = (int)(off / VNET_BUF_SIZE);
	if (off % VNET_BUF_SIZE || bi >= VNET_RX_BUFS)
		return 0;
	int ret = 0;
	if (len >= VNET_HDR_LEN && len <= VNET_BUF_SIZE) {
		uint32_t flen = len - VNET_HDR_LEN;
		if (flen > max)
			flen = max;
		memcpy(buf, n->rx_buf[bi] + VNET_HDR_LEN, flen);
		ret = (int)flen;
	}
	struct virtq_buf b = { n->rx_buf[bi], VNET_BUF_SIZE, 1 };
	virtq_add(&n->rx, &b, 1);
	virtq_kick(&n->rx);
	return ret;
}
