/* SPDX-License-Identifier: MIT */
/* virtio-blk: one synchronous request at a time. */
#include "virtio.h"

#define VIRTIO_BLK_F_RO    (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)

#define VIRTIO_BLK_T_IN    0
#define VIRTIO_BLK_T_OUT   1
#define VIRTIO_BLK_T_FLUSH 4

#define BLK_TIMEOUT_US 5000000

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct blk_req_hdr req_hdr;
static volatile uint8_t req_status;

int vblk_open(struct vblk *b, int nth)
{
	return vblk_open_features(b, nth, 0);
}

int vblk_open_features(struct vblk *b, int nth, uint64_t extra)
{
	memset(b, 0, sizeof(*b));
	if (virtio_find(VIRTIO_ID_BLK, nth, &b->dev))
		return -1;
	if (virtio_init(&b->dev, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH | extra))
		return -1;
	if (virtq_setup(&b->dev, &b->q, 0, 16)) {
		virtio_fail(&b->dev);
		return -1;
	}
	virtio_driver_ok(&b->dev);
	virtio_config_read(&b->dev, 0, &b->capacity, 8);
	b->read_only = !!(b->dev.features & VIRTIO_BLK_F_RO);
	b->has_flush = !!(b->dev.features & VIRTIO_BLK_F_FLUSH);
	return 0;
}

static int request(struct vblk *b, uint32_t type, uint64_t sector,
		   void *buf, uint32_t bytes)
{
	req_hdr.type = type;
	req_hdr.reserved = 0;
	req_hdr.sector = sector;
	req_status = 0xff;
	struct virtq_buf bufs[3];
	int n = 0;
	bufs[n++] = (struct virtq_buf){ &req_hdr, sizeof(req_hdr), 0 };
	if (bytes)
		bufs[n++] = (struct virtq_buf){ buf, bytes, type == VIRTIO_BLK_T_IN };
	bufs[n++] = (struct virtq_buf){ (const void *)&req_status, 1, 1 };
	if (virtq_add(&b->q, bufs, n) < 0)
		return -1;
	virtq_kick(&b->q);
	if (virtq_wait(&b->q, NULL, BLK_TIMEOUT_US) < 0)
		return -1;
	return req_status;
}

int vblk_read(struct vblk *b, uint64_t sector, void *buf, uint32_t nsectors)
{
	if (!nsectors || nsectors > (1u << 22) / 512)
		return -1;
	return request(b, VIRTIO_BLK_T_IN, sector, buf, nsectors * 512);
}

int vblk_write(struct vblk *b, uint64_t sector, const void *buf,
	       uint32_t nsectors)
{
	if (!nsectors || nsectors > (1u << 22) / 512)
		return -1;
	return request(b, VIRTIO_BLK_T_OUT, sector, (void *)(uintptr_t)buf,
		       nsectors * 512);
}

int vblk_flush(struct vblk *b)
{
	return request(b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
}
