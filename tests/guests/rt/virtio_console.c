/* SPDX-License-Identifier: MIT */
/* virtio-console, port 0 only (no VIRTIO_CONSOLE_F_MULTIPORT). */
#include "virtio.h"

int vcons_open(struct vcons *c, int nth)
{
	memset(&c->dev, 0, sizeof(c->dev));
	if (virtio_find(VIRTIO_ID_CONSOLE, nth, &c->dev))
		return -1;
	if (virtio_init(&c->dev, 0))
		return -1;
	if (virtq_setup(&c->dev, &c->rx, 0, VCONS_RX_BUFS) ||
	    virtq_setup(&c->dev, &c->tx, 1, 4)) {
		virtio_fail(&c->dev);
		return -1;
	}
	for (int i = 0; i < c->rx.size && i < VCONS_RX_BUFS; i++) {
		struct virtq_buf b = { c->rx_buf[i], VCONS_BUF_SIZE, 1 };
		virtq_add(&c->rx, &b, 1);
	}
	c->cur = -1;
	virtio_driver_ok(&c->dev);
	virtq_kick(&c->rx);
	return 0;
}

int vcons_write(struct vcons *c, const void *buf, uint32_t len)
{
	return vcons_write_timeout(c, buf, len, 1000000);
}

int vcons_write_timeout(struct vcons *c, const void *buf, uint32_t len,
			uint64_t timeout_us)
{
	const uint8_t *p = buf;
	while (len) {
		while (c->tx.num_free < c->tx.size)
			if (virtq_wait(&c->tx, NULL, timeout_us) < 0)
				return -1;
		uint32_t chunk = len < VCONS_BUF_SIZE ? len : VCONS_BUF_SIZE;
		memcpy(c->tx_buf, p, chunk);
		struct virtq_buf b = { c->tx_buf, chunk, 0 };
		if (virtq_add(&c->tx, &b, 1) < 0)
			return -1;
		virtq_kick(&c->tx);
		p += chunk;
		len -= chunk;
	}
	/* Let the caller reuse its buffer and see the bytes gone. */
	while (c->tx.num_free < c->tx.size)
		if (virtq_wait(&c->tx, NULL, timeout_us) < 0)
			return -1;
	return 0;
}

int vcons_read(struct vcons *c, void *buf, uint32_t max, uint64_t timeout_us)
{
	if (c->cur < 0) {
		uint32_t len;
		int h = virtq_wait(&c->rx, &len, timeout_us);
		if (h < 0)
			return 0;
		uint64_t off = c->rx.desc[h].addr - (uint64_t)(uintptr_t)c->rx_buf;
		if (off % VCONS_BUF_SIZE || off / VCONS_BUF_SIZE >= VCONS_RX_BUFS)
			return 0;
		c->cur = (int)(off / VCONS_BUF_SIZE);
		c->cur_len = len > VCONS_BUF_SIZE ? VCONS_BUF_SIZE : len;
		c->cur_off = 0;
	}
	uint32_t n = c->cur_len - c->cur_off;
	if (n > max)
		n = max;
	memcpy(buf, c->rx_buf[c->cur] + c->cur_off, n);
	c->cur_off += n;
	if (c->cur_off >= c->cur_len) {
		struct virtq_buf b = { c->rx_buf[c->cur], VCONS_BUF_SIZE, 1 };
		virtq_add(&c->rx, &b, 1);
		virtq_kick(&c->rx);
		c->cur = -1;
	}
	return (int)n;
}
