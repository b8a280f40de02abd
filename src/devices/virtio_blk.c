// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio 1.x section 5.2) on a raw image file or block device.
 *
 * One request queue, served on the I/O thread. A request is a 16-byte
 * header, data, and a status byte that is the very last writable byte;
 * buffer boundaries carry no meaning (VERSION_1 implies ANY_LAYOUT). Data
 * moves with preadv/pwritev straight between the image and the translated
 * guest buffers. Every request is bounds-checked against the image size
 * (whole 512-byte sectors only): no request touches bytes past the end.
 * The status byte is stored after the I/O completed.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/registry.h"
#include "virtio/iov.h"
#include "virtio/mmio.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define BLK_SECTOR          512ULL
#define BLK_QUEUE_SIZE      256
#define BLK_SEG_MAX         254                  /* data segments per request (seg_max) */
#define BLK_SIZE_MAX        (512 * 1024)         /* bytes per segment (size_max) */
#define BLK_IOV_MAX         (BLK_SEG_MAX + 2)    /* + header, + status */
/* Largest legal chain: all data segments full, plus header and status. */
#define BLK_MAX_CHAIN_BYTES (BLK_SEG_MAX * BLK_SIZE_MAX + 4096)
#define BLK_DWZ_MAX_SECTORS (1U << 16)           /* 32 MiB per discard/write-zeroes segment */
#define BLK_DWZ_MAX_SEG     16
#define BLK_DWZ_ALIGN       8                    /* sectors: 4 KiB, a typical fs block */
#define BLK_BUDGET          128                  /* requests per turn on the I/O thread */
#define BLK_HDR_SIZE        16

struct blk_dev {
	struct virtio_dev vdev;
	int fd;
	bool readonly;
	uint64_t capacity; /* in sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config cfg;
	struct iovec iov[BLK_IOV_MAX];  /* the popped chain */
	struct iovec data[BLK_IOV_MAX]; /* its data part, consumed by partial transfers */
	struct {
		uint64_t reads, writes, read_bytes, write_bytes, errors;
	} st;
};

static const uint8_t zero_block[64 * 1024];

static bool blk_range_ok(const struct blk_dev *b, uint64_t sector, uint64_t nsectors)
{
	return sector <= b->capacity && nsectors <= b->capacity - sector;
}

/* Transfer a whole iovec list at off, continuing after short transfers. 0 or -errno. */
static int blk_rw(int fd, struct iovec *iov, unsigned n, uint64_t off, bool write)
{
	while (n) {
		ssize_t r = write ? pwritev(fd, iov, (int)n, (off_t)off)
				  : preadv(fd, iov, (int)n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* the image shrank under us */
		off += (uint64_t)r;
		iov_advance(&iov, &n, (size_t)r);
	}
	return 0;
}

static uint8_t blk_in(struct blk_dev *b, const struct vq_chain *c, uint64_t sector,
		      uint32_t *used)
{
	const struct iovec *win = c->iov + c->n_out;
	uint64_t len = c->in_len - 1; /* the last writable byte is the status */
	unsigned n;

	if (len % BLK_SECTOR || !blk_range_ok(b, sector, len / BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	n = iov_slice(win, c->n_in, 0, len, b->data, BLK_IOV_MAX);
	if (blk_rw(b->fd, b->data, n, sector * BLK_SECTOR, false))
		return VIRTIO_BLK_S_IOERR;
	b->st.reads++;
	b->st.read_bytes += len;
	*used = c->in_len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_out(struct blk_dev *b, const struct vq_chain *c, uint64_t sector)
{
	uint64_t len = c->out_len - BLK_HDR_SIZE;
	unsigned n;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % BLK_SECTOR || !blk_range_ok(b, sector, len / BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	n = iov_slice(c->iov, c->n_out, BLK_HDR_SIZE, len, b->data, BLK_IOV_MAX);
	if (blk_rw(b->fd, b->data, n, sector * BLK_SECTOR, true))
		return VIRTIO_BLK_S_IOERR;
	b->st.writes++;
	b->st.write_bytes += len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(struct blk_dev *b, const struct vq_chain *c, uint32_t *used)
{
	size_t n = MIN((size_t)c->in_len - 1, sizeof(b->id));

	iov_from_buf(c->iov + c->n_out, c->n_in, 0, b->id, n);
	*used = (uint32_t)n + 1;
	return VIRTIO_BLK_S_OK;
}

static int write_zeroes_slow(int fd, uint64_t off, uint64_t len)
{
	while (len) {
		size_t chunk = (size_t)MIN(len, (uint64_t)sizeof(zero_block));
		ssize_t r = pwrite(fd, zero_block, chunk, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

static int blk_zero(int fd, uint64_t off, uint64_t len, bool unmap)
{
	/* Punching a hole reads back as zeroes, and the spec allows it only with UNMAP. */
	if (unmap && !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				(off_t)len))
		return 0;
	if (!fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENODEV)
		return -errno;
	return write_zeroes_slow(fd, off, len);
}

static uint8_t blk_discard_wz(struct blk_dev *b, const struct vq_chain *c, uint32_t type)
{
	struct virtio_blk_discard_write_zeroes seg[BLK_DWZ_MAX_SEG];
	bool wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint64_t feature = wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;
	uint32_t bytes = c->out_len - BLK_HDR_SIZE;
	unsigned i, nseg;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!(b->vdev.features & VIRTIO_FBIT(feature)))
		return VIRTIO_BLK_S_UNSUPP;
	if (!bytes || bytes % sizeof(seg[0]))
		return VIRTIO_BLK_S_IOERR;
	nseg = bytes / sizeof(seg[0]);
	if (nseg > BLK_DWZ_MAX_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	/* One copy of every segment, validated as a whole before anything is changed. */
	iov_to_buf(c->iov, c->n_out, BLK_HDR_SIZE, seg, bytes);
	for (i = 0; i < nseg; i++) {
		uint32_t flags = le32toh(seg[i].flags);
		uint32_t num = le32toh(seg[i].num_sectors);

		if (flags & ~(wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0U))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > BLK_DWZ_MAX_SECTORS || !blk_range_ok(b, le64toh(seg[i].sector), num))
			return VIRTIO_BLK_S_IOERR;
	}
	for (i = 0; i < nseg; i++) {
		uint64_t off = le64toh(seg[i].sector) * BLK_SECTOR;
		uint64_t len = (uint64_t)le32toh(seg[i].num_sectors) * BLK_SECTOR;

		if (!len)
			continue;
		if (wz) {
			if (blk_zero(b->fd, off, len,
				     le32toh(seg[i].flags) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
				return VIRTIO_BLK_S_IOERR;
		} else if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				     (off_t)len) && errno != EOPNOTSUPP) {
			/* Discard is a hint: a backend that cannot punch holes simply keeps the data. */
			return VIRTIO_BLK_S_IOERR;
		}
	}
	b->st.writes++;
	return VIRTIO_BLK_S_OK;
}

static bool blk_layout_ok(uint32_t type, const struct vq_chain *c)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		return c->out_len == BLK_HDR_SIZE;
	case VIRTIO_BLK_T_FLUSH:
		return c->out_len == BLK_HDR_SIZE && c->in_len == 1;
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return c->in_len == 1;
	default:
		return true; /* answered UNSUPP whatever the layout */
	}
}

/*
 * Serve one request. Returns the used length, or -EINVAL if the chain has
 * no room for a header or a status byte (the device then needs a reset).
 */
static int blk_request(struct blk_dev *b, const struct vq_chain *c)
{
	struct virtio_blk_outhdr hdr;
	const struct iovec *last;
	uint8_t *status, st;
	uint32_t used = 1, type;
	uint64_t sector;

	if (c->out_len < BLK_HDR_SIZE || c->in_len < 1)
		return -EINVAL;
	last = &c->iov[c->n_out + c->n_in - 1];
	status = (uint8_t *)last->iov_base + last->iov_len - 1;
	iov_to_buf(c->iov, c->n_out, 0, &hdr, sizeof(hdr));
	sector = le64toh(hdr.sector);
	type = le32toh(hdr.type);

	/*
	 * Data direction must match the type (spec 5.2.6): IN and GET_ID have
	 * nothing readable after the header, OUT-like requests nothing
	 * writable before the status. A read into device-readable buffers
	 * must fail, not "succeed" with no data.
	 */
	if (!blk_layout_ok(type, c)) {
		st = VIRTIO_BLK_S_IOERR;
		b->st.errors++;
		goto done;
	}
	switch (type) {
	case VIRTIO_BLK_T_IN:
		st = blk_in(b, c, sector, &used);
		break;
	case VIRTIO_BLK_T_OUT:
		st = blk_out(b, c, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = fdatasync(b->fd) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		st = blk_get_id(b, c, &used);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = blk_discard_wz(b, c, type);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (st == VIRTIO_BLK_S_IOERR)
		b->st.errors++;
done:
	/* Last, after the data: the driver may look at the data once it sees the status. */
	__atomic_store_n(status, st, __ATOMIC_RELEASE);
	return (int)used;
}

static void blk_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct blk_dev *b = vdev->priv;
	struct virtqueue *vq = &vdev->vqs[q];
	struct vq_chain c = { .iov = b->iov, .iov_cap = BLK_IOV_MAX };
	unsigned budget = BLK_BUDGET;
	bool pushed = false;

	vq_disable_notify(vq);
	while (virtio_pop_budget(vdev, q, &c, &budget) > 0) {
		int used = blk_request(b, &c);

		if (used < 0) {
			virtio_dev_error(vdev, q, VIRTIO_ERR_REQUEST);
			break;
		}
		virtio_push(vdev, q, c.head, (uint32_t)used);
		pushed = true;
	}
	if (pushed)
		virtio_flush(vdev, q);
}

static void blk_config_read(struct virtio_dev *vdev, uint32_t off, void *data, uint32_t len)
{
	struct blk_dev *b = vdev->priv;

	virtio_config_copy(&b->cfg, sizeof(b->cfg), off, data, len);
}

static const struct virtio_dev_ops blk_virtio_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = VIRTIO_FBIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_FBIT(VIRTIO_BLK_F_SEG_MAX) |
		    VIRTIO_FBIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_FBIT(VIRTIO_BLK_F_FLUSH),
	.num_queues = 1,
	.queue_max_size = BLK_QUEUE_SIZE,
	.max_chain_bytes = BLK_MAX_CHAIN_BYTES,
	.config_size = sizeof(struct virtio_blk_config),
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
};

static int blk_image_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -EINVAL;
}

static int blk_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct blk_dev *b;
	uint64_t size;
	int fd, fl, r;

	if (!memchr(cfg->id, 0, sizeof(cfg->id)))
		return -EINVAL;
	r = virtio_cfg_fd(vm, cfg, 0, &fd);
	if (r)
		return r;
	r = blk_image_size(fd, &size);
	if (r) {
		pr_err("%s: image: %s", cfg->id, strerror(-r));
		return r;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = fd;
	b->capacity = size / BLK_SECTOR;
	b->readonly = (cfg->flags & LVMM_DEV_F_READONLY) || (fl & O_ACCMODE) == O_RDONLY;
	if (!(cfg->flags & LVMM_DEV_F_READONLY) && b->readonly)
		pr_warn("%s: image opened read-only: the device is read-only", cfg->id);
	if (size % BLK_SECTOR)
		pr_warn("%s: image size %" PRIu64 " is not a multiple of 512; the tail is not visible",
			cfg->id, size);
	/* GET_ID: up to 20 bytes, NUL-padded, not necessarily NUL-terminated (spec 5.2.6). */
	memcpy(b->id, cfg->id, MIN(strlen(cfg->id), sizeof(b->id)));

	r = virtio_dev_init(&b->vdev, &blk_virtio_ops, vm, &vm->gmem, cfg->id, b);
	if (r)
		goto err_free;
	if (b->readonly)
		b->vdev.host_features |= VIRTIO_FBIT(VIRTIO_BLK_F_RO);
	else
		b->vdev.host_features |= VIRTIO_FBIT(VIRTIO_BLK_F_DISCARD) |
					 VIRTIO_FBIT(VIRTIO_BLK_F_WRITE_ZEROES);
	b->cfg.capacity = htole64(b->capacity);
	b->cfg.size_max = htole32(BLK_SIZE_MAX);
	b->cfg.seg_max = htole32(BLK_SEG_MAX);
	b->cfg.blk_size = htole32(BLK_SECTOR);
	b->cfg.max_discard_sectors = htole32(BLK_DWZ_MAX_SECTORS);
	b->cfg.max_discard_seg = htole32(BLK_DWZ_MAX_SEG);
	b->cfg.discard_sector_alignment = htole32(BLK_DWZ_ALIGN);
	b->cfg.max_write_zeroes_sectors = htole32(BLK_DWZ_MAX_SECTORS);
	b->cfg.max_write_zeroes_seg = htole32(BLK_DWZ_MAX_SEG);
	b->cfg.write_zeroes_may_unmap = 1;

	r = virtio_mmio_create(vm, &b->vdev);
	if (r)
		goto err_uninit;
	*state = b;
	return 0;

err_uninit:
	virtio_dev_uninit(&b->vdev);
err_free:
	free(b);
	return r;
}

static void blk_destroy(void *state)
{
	struct blk_dev *b = state;

	if (!b)
		return;
	virtio_mmio_destroy(&b->vdev);
	virtio_dev_uninit(&b->vdev);
	/* b->fd belongs to the partition's config fds: the VM closes it. */
	free(b);
}

static void blk_stats(void *state, struct lvmm_dev_stats *out)
{
	struct blk_dev *b = state;

	pthread_mutex_lock(&b->vdev.lock);
	snprintf(out->id, sizeof(out->id), "%s", b->vdev.name);
	out->reads = b->st.reads;
	out->writes = b->st.writes;
	out->read_bytes = b->st.read_bytes;
	out->write_bytes = b->st.write_bytes;
	out->errors = b->st.errors + b->vdev.errors;
	pthread_mutex_unlock(&b->vdev.lock);
}

const struct device_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.create = blk_create,
	.destroy = blk_destroy,
	.stats = blk_stats,
};
