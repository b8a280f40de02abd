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
#include <time.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/parse.h"
#include "shared/ratelimit.h"
#include "devices/blk_io.h"
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
/* Requests in flight at once (io_uring); each slot holds its iovec list. */
#define BLK_INFLIGHT        128
/*
 * A large read with few others in flight is split into pieces (each its
 * own SQE) that io_uring's kernel workers and the I/O thread copy in
 * parallel; the request completes when its last piece lands. Pieces
 * beyond a request's first come out of a shared budget (BLK_EXTRA), so
 * SQEs in flight never exceed the ring's size.
 */
#define BLK_PIECES_MAX      8                    /* tags hold the piece: a power of 2 */
#define BLK_PIECES          4                    /* pieces per split request */
#define BLK_PIECE_MIN       (128 * 1024)         /* no piece smaller than this */
#define BLK_SPLIT_INFLIGHT  2                    /* split only with at most this many requests out */
#define BLK_ASYNC_MIN       (64 * 1024)          /* a whole transfer this large goes to a worker */
/*
 * A read this large goes to the copy engine. Smaller ones stay on the
 * io_uring, whose submit copies a whole batch inside one system call: at
 * queue depth 32, 16 KiB reads ran at 6.3-7.0 GB/s there against 3.9-4.1
 * on the engine (a job's hand-off costs more than its copy), 64 KiB reads
 * at 4.8-5.3 against 9.6 (bench/blk.sh's guest, 2 CPUs).
 */
#define BLK_COPY_MIN        (64 * 1024)
/*
 * Without copy threads the I/O thread copies every large read itself,
 * this much per turn at most (about 3 ms here); more go to io_uring's
 * workers, so other devices and a stop are not kept waiting long. The
 * first read of a turn is always copied here, whatever its size.
 */
#define BLK_INLINE_MAX      (32ULL * 1024 * 1024)
/*
 * With no CPU to spare for a copy thread, reads this large still go to one:
 * it takes its time from the vCPU's CPU only while the guest has reads of
 * 1 MiB outstanding. 1 MiB reads at queue depth 32, 2 CPUs, a polling
 * guest, 4 alternating pairs: 6.2-6.4 GB/s with the I/O thread copying
 * alone, 7.4-7.6 with the thread beside it; 512 KiB and 256 KiB reads gained nothing handed off
 * (5.8-6.7 against 5.8-6.7, 6.1-6.4 against 5.8-6.3), 128 KiB ones lost
 * (4.6-4.8 against 5.2-5.6), so they stay with the I/O thread.
 */
#define BLK_SHARED_HANDOFF_MIN (1024 * 1024)
#define BLK_EXTRA           128
#define BLK_COPY_THREADS    4                    /* at most, by default (LVMM_BLK_COPY=N) */
#define BLK_SQES            (BLK_INFLIGHT + BLK_EXTRA)
/* A reset waits this long for requests in flight before it goes on without them. */
#define BLK_DRAIN_NS        (5 * 1000000000LL)

enum blk_kind {
	BLK_K_DONE,  /* answered while parsing (GET_ID, errors, unsupported) */
	BLK_K_READ,
	BLK_K_WRITE,
	BLK_K_FLUSH,
	BLK_K_DWZ,   /* discard / write zeroes: segments copied and checked */
};

/* blk_req.pending has a bit per piece; a tag is slot * BLK_PIECES_MAX + piece. */
_Static_assert(BLK_PIECES <= BLK_PIECES_MAX && BLK_PIECES_MAX <= 8, "pieces fit blk_req.pending");

/* A piece of a request's transfer in flight on the io_uring. */
struct blk_piece {
	uint64_t off, len;   /* what is left to transfer (a short transfer resumes) */
	struct iovec *cur;   /* into the request's iov[] */
	unsigned ncur;
};

/*
 * One request between pop and push. Everything the I/O needs was taken
 * out of the chain while parsing: the host iovecs of the data (guest RAM
 * never moves), the offset, the status byte's address; the segments of a
 * discard/write-zeroes were copied and validated.
 */
struct blk_req {
	uint16_t head;
	uint32_t generation; /* of the queue when popped: pushed only into the same ring */
	uint8_t kind;
	uint8_t st;          /* VIRTIO_BLK_S_* once known */
	uint8_t *status;
	uint32_t used;       /* bytes written into the chain, status included */
	uint64_t off, len;   /* the whole transfer */
	unsigned niov;
	uint8_t npieces;     /* io_uring: pieces the transfer went out as */
	uint8_t pending;     /* io_uring: bit i set while piece i is in the kernel */
	bool copy;           /* a read on the copy engine (else the io_uring) */
	bool wz;             /* BLK_K_DWZ: write zeroes (else discard) */
	unsigned nseg;
	struct blk_piece pc[BLK_PIECES_MAX];
	struct virtio_blk_discard_write_zeroes seg[BLK_DWZ_MAX_SEG];
	/* The data; a split cuts at most one element in two per extra piece. */
	struct iovec iov[BLK_IOV_MAX + BLK_PIECES_MAX];
};

struct blk_dev {
	struct virtio_dev vdev;
	int fd;
	bool readonly;
	uint64_t capacity; /* in sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config cfg;
	struct iovec iov[BLK_IOV_MAX];  /* the chain being parsed */
	struct blk_io io;
	struct blk_copy copy;           /* large reads (blk_io.h), if on */
	/*
	 * Copy pieces the I/O thread copies itself (tags). Without copy threads
	 * every piece of a split read lands here too: room for every piece
	 * that can exist (BLK_EXTRA bounds those beyond one per request).
	 */
	uint64_t inl[BLK_SQES];
	unsigned ninl;
	struct blk_req *reqs;           /* BLK_INFLIGHT slots */
	uint16_t free[BLK_INFLIGHT];
	unsigned nfree;
	unsigned inflight;              /* popped, not yet pushed */
	unsigned extra;                 /* pieces in flight beyond one per request */
	unsigned pieces;                /* a split read's pieces (LVMM_BLK_SPLIT; 1: never split) */
	uint64_t handoff_min;           /* copy reads smaller than this stay on the I/O thread */
	uint64_t inl_bytes;             /* kept for the I/O thread this turn (BLK_INLINE_MAX) */
	bool kicks_off;                 /* polling held the driver's kicks back (blk_idle) */
	bool polled;                    /* its poller and idle hook run: kicks may be held back */
	bool quiesce;                   /* a reset waits: pop nothing */
	pthread_cond_t idle;            /* inflight reached 0 */
	struct ratelimit rl;
	struct {
		uint64_t reads, writes, read_bytes, write_bytes, errors;
	} st;
};

static const uint8_t zero_block[64 * 1024];

static bool blk_range_ok(const struct blk_dev *b, uint64_t sector, uint64_t nsectors)
{
	return sector <= b->capacity && nsectors <= b->capacity - sector;
}

/* IN: the data is every writable byte but the status. */
static uint8_t blk_parse_in(struct blk_dev *b, const struct vq_chain *c, uint64_t sector,
			    struct blk_req *r)
{
	uint64_t len = c->in_len - 1; /* the last writable byte is the status */

	if (len % BLK_SECTOR || !blk_range_ok(b, sector, len / BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	r->niov = iov_slice(c->iov + c->n_out, c->n_in, 0, len, r->iov, BLK_IOV_MAX);
	r->off = sector * BLK_SECTOR;
	r->len = len;
	r->used = c->in_len;
	r->kind = BLK_K_READ;
	return VIRTIO_BLK_S_OK;
}

/* OUT: the data is every readable byte after the header. */
static uint8_t blk_parse_out(struct blk_dev *b, const struct vq_chain *c, uint64_t sector,
			     struct blk_req *r)
{
	uint64_t len = c->out_len - BLK_HDR_SIZE;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % BLK_SECTOR || !blk_range_ok(b, sector, len / BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	r->niov = iov_slice(c->iov, c->n_out, BLK_HDR_SIZE, len, r->iov, BLK_IOV_MAX);
	r->off = sector * BLK_SECTOR;
	r->len = len;
	r->kind = BLK_K_WRITE;
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

/* Copy and validate every segment before anything is changed. */
static uint8_t blk_parse_dwz(struct blk_dev *b, const struct vq_chain *c, uint32_t type,
			     struct blk_req *r)
{
	bool wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint64_t feature = wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;
	uint32_t bytes = c->out_len - BLK_HDR_SIZE;
	unsigned i, nseg;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!(b->vdev.features & VIRTIO_FBIT(feature)))
		return VIRTIO_BLK_S_UNSUPP;
	if (!bytes || bytes % sizeof(r->seg[0]))
		return VIRTIO_BLK_S_IOERR;
	nseg = bytes / sizeof(r->seg[0]);
	if (nseg > BLK_DWZ_MAX_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	iov_to_buf(c->iov, c->n_out, BLK_HDR_SIZE, r->seg, bytes);
	for (i = 0; i < nseg; i++) {
		uint32_t flags = le32toh(r->seg[i].flags);
		uint32_t num = le32toh(r->seg[i].num_sectors);

		if (flags & ~(wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0U))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > BLK_DWZ_MAX_SECTORS || !blk_range_ok(b, le64toh(r->seg[i].sector), num))
			return VIRTIO_BLK_S_IOERR;
	}
	r->wz = wz;
	r->nseg = nseg;
	r->kind = BLK_K_DWZ;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_exec_dwz(struct blk_dev *b, const struct blk_req *r)
{
	unsigned i;

	for (i = 0; i < r->nseg; i++) {
		uint64_t off = le64toh(r->seg[i].sector) * BLK_SECTOR;
		uint64_t len = (uint64_t)le32toh(r->seg[i].num_sectors) * BLK_SECTOR;

		if (!len)
			continue;
		if (r->wz) {
			if (blk_zero(b->fd, off, len,
				     le32toh(r->seg[i].flags) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
				return VIRTIO_BLK_S_IOERR;
		} else if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				     (off_t)len) && errno != EOPNOTSUPP) {
			/* Discard is a hint: a backend that cannot punch holes simply keeps the data. */
			return VIRTIO_BLK_S_IOERR;
		}
	}
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
 * Turn a popped chain into a request. Returns 0, or -EINVAL if the chain
 * has no room for a header or a status byte (the device then needs a
 * reset). Requests that need no I/O are answered here (kind BLK_K_DONE).
 */
static int blk_parse(struct blk_dev *b, const struct vq_chain *c, struct blk_req *r)
{
	struct virtio_blk_outhdr hdr;
	const struct iovec *last;
	uint64_t sector;
	uint32_t type;

	if (c->out_len < BLK_HDR_SIZE || c->in_len < 1)
		return -EINVAL;
	last = &c->iov[c->n_out + c->n_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->head = c->head;
	r->used = 1;
	r->kind = BLK_K_DONE;
	r->niov = 0;
	r->off = r->len = 0;
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
		r->st = VIRTIO_BLK_S_IOERR;
		return 0;
	}
	switch (type) {
	case VIRTIO_BLK_T_IN:
		r->st = blk_parse_in(b, c, sector, r);
		break;
	case VIRTIO_BLK_T_OUT:
		r->st = blk_parse_out(b, c, sector, r);
		break;
	case VIRTIO_BLK_T_FLUSH:
		r->st = VIRTIO_BLK_S_OK;
		r->kind = BLK_K_FLUSH;
		break;
	case VIRTIO_BLK_T_GET_ID:
		r->st = blk_get_id(b, c, &r->used);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		r->st = blk_parse_dwz(b, c, type, r);
		break;
	default:
		r->st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (r->st != VIRTIO_BLK_S_OK) {
		r->kind = BLK_K_DONE;
		r->used = 1;
	}
	return 0;
}

/* Plain calls, without the device lock: the vCPUs' register accesses go on meanwhile. */
static void blk_exec_sync(struct blk_dev *b, struct blk_req *r)
{
	switch (r->kind) {
	case BLK_K_READ:
	case BLK_K_WRITE:
		if (blk_io_sync_rw(b->fd, r->iov, r->niov, r->off, r->kind == BLK_K_WRITE))
			r->st = VIRTIO_BLK_S_IOERR;
		break;
	case BLK_K_FLUSH:
		r->st = fdatasync(b->fd) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case BLK_K_DWZ:
		r->st = blk_exec_dwz(b, r);
		break;
	case BLK_K_DONE:
	default:
		break;
	}
}

static void blk_count(struct blk_dev *b, const struct blk_req *r)
{
	if (r->st == VIRTIO_BLK_S_IOERR) {
		b->st.errors++;
		return;
	}
	if (r->st != VIRTIO_BLK_S_OK)
		return;
	if (r->kind == BLK_K_READ) {
		b->st.reads++;
		b->st.read_bytes += r->len;
	} else if (r->kind == BLK_K_WRITE) {
		b->st.writes++;
		b->st.write_bytes += r->len;
	} else if (r->kind == BLK_K_DWZ) {
		b->st.writes++;
	}
}

/*
 * Lock held. The request's I/O is over: status byte last (the driver may
 * look at the data once it sees it), then the used ring, published at
 * once (a store the driver may be polling); interrupts are the caller's,
 * once per batch. A ring that was reset or re-enabled since the pop gets
 * nothing.
 */
static void blk_complete(struct blk_dev *b, struct blk_req *r)
{
	struct virtqueue *vq = &b->vdev.vqs[0];

	blk_count(b, r);
	if (r->generation == vq->generation && vq->ready) {
		__atomic_store_n(r->status, r->st, __ATOMIC_RELEASE);
		vq_push(vq, r->head, r->used);
		vq_flush(vq);
	}
	b->free[b->nfree++] = (uint16_t)(r - b->reqs);
	if (!--b->inflight && b->quiesce)
		pthread_cond_broadcast(&b->idle);
}

/*
 * Cut the request's iov[] so that an element starts at byte at of the
 * transfer. Returns that element's index, or -1 if at is past the end or
 * iov[] is full.
 */
static int blk_iov_cut(struct blk_req *r, uint64_t at)
{
	unsigned i;

	for (i = 0; i < r->niov && at; i++) {
		if (at < r->iov[i].iov_len) {
			if (r->niov >= ARRAY_SIZE(r->iov))
				return -1;
			memmove(&r->iov[i + 2], &r->iov[i + 1], (r->niov - i - 1) * sizeof(r->iov[0]));
			r->iov[i + 1].iov_base = (uint8_t *)r->iov[i].iov_base + at;
			r->iov[i + 1].iov_len = r->iov[i].iov_len - at;
			r->iov[i].iov_len = at;
			r->niov++;
			return (int)i + 1;
		}
		at -= r->iov[i].iov_len;
	}
	return at ? -1 : (int)i;
}

/*
 * How many pieces a transfer goes out as. A large read with hardly any
 * other request in flight (a guest reading 1 MiB at queue depth 1) is
 * split: a kernel worker copied it alone, on one core, while the other
 * waited. Split, the workers copy pieces on every core and the I/O thread
 * copies the last one itself. With more requests in flight the workers
 * already run in parallel, and pieces would only add hand-offs. Writes
 * are never split: io_uring runs buffered writes to one file one after
 * the other anyway.
 */
static unsigned blk_npieces(const struct blk_dev *b, const struct blk_req *r)
{
	uint64_t n;

	if (r->kind != BLK_K_READ || b->inflight > BLK_SPLIT_INFLIGHT)
		return 1;
	n = MIN(r->len / BLK_PIECE_MIN, (uint64_t)b->pieces);
	n = MIN(n, (uint64_t)(BLK_EXTRA - b->extra) + 1);
	return n ? (unsigned)n : 1;
}

/*
 * Lock held, I/O thread: a newer copy read came in the same turn, so the
 * ones it kept go to the engine's threads. It copies only the turn's last
 * itself (blk_copy_inline): a hand-off costs a sleeping thread's wake-up
 * (~20 us here, as much as copying 256 KiB), and the I/O thread is awake
 * already. A lone read (queue depth 1) is copied without one (1 MiB at
 * qd1: 58 us round trip against 79 us handed off); with many in flight the
 * I/O thread copies beside the engine.
 */
static void blk_copy_hand_off(struct blk_dev *b)
{
	unsigned i, keep = 0;

	if (!b->copy.nthreads)
		return; /* none to hand to: the I/O thread copies them all */
	for (i = 0; i < b->ninl; i++) {
		struct blk_req *r = &b->reqs[b->inl[i] / BLK_PIECES_MAX];
		struct blk_piece *p = &r->pc[b->inl[i] % BLK_PIECES_MAX];

		/* Cannot fail (the engine holds as many jobs as pieces can exist); if it did, copy it here. */
		if (p->len < b->handoff_min ||
		    blk_copy_queue(&b->copy, p->cur, p->ncur, p->off, p->len, b->inl[i]))
			b->inl[keep++] = b->inl[i];
	}
	b->ninl = keep;
}

/* Lock held. Queue piece i of r (tag: slot and piece). false if the ring refused it. */
static bool blk_queue_piece(struct blk_dev *b, struct blk_req *r, unsigned i, bool async)
{
	static const enum blk_io_op ops[] = {
		[BLK_K_READ] = BLK_IO_READ, [BLK_K_WRITE] = BLK_IO_WRITE, [BLK_K_FLUSH] = BLK_IO_FLUSH,
	};
	struct blk_piece *p = &r->pc[i];
	uint64_t tag = (uint64_t)(r - b->reqs) * BLK_PIECES_MAX + i;

	if (r->copy && (!async || !b->copy.nthreads)) {
		blk_copy_hand_off(b);
		if (b->ninl == ARRAY_SIZE(b->inl))
			return false; /* cannot happen (see inl); the caller fails the request */
		b->inl[b->ninl++] = tag;
		b->inl_bytes += p->len;
	} else if (r->copy) {
		if (blk_copy_queue(&b->copy, p->cur, p->ncur, p->off, p->len, tag))
			return false;
	} else if (blk_io_queue(&b->io, ops[r->kind], p->cur, p->ncur, p->off, tag, async)) {
		return false;
	}
	r->pending |= (uint8_t)(1U << i);
	return true;
}

/*
 * Hand a request to the copy engine (a large read) or the io_uring, split
 * into pieces where that pays. false if it must run as plain calls.
 */
static bool blk_queue_async(struct blk_dev *b, struct blk_req *r)
{
	unsigned n, i, start[BLK_PIECES_MAX + 1];
	uint64_t plen;

	r->copy = b->copy.on && r->kind == BLK_K_READ && r->len >= BLK_COPY_MIN &&
		  ((b->copy.nthreads && r->len >= b->handoff_min) || !b->inl_bytes ||
		   b->inl_bytes + r->len <= BLK_INLINE_MAX);
	if (!r->copy && (!b->io.uring ||
			 (r->kind != BLK_K_READ && r->kind != BLK_K_WRITE && r->kind != BLK_K_FLUSH)))
		return false;
	n = blk_npieces(b, r);
	/*
	 * The SQ holds BLK_SQES entries (the copy engine's rings as many), and
	 * no more pieces than that are ever in flight.
	 */
	if (!r->copy && blk_io_space(&b->io) < n)
		return false;
	/* Whole pages per piece (all but the last), so no piece starts mid-page. */
	plen = (r->len / n + 4095) & ~4095ULL;
	start[0] = 0;
	for (i = 1; i < n; i++) {
		int at = blk_iov_cut(r, i * plen);

		if (at < 0)
			break;
		start[i] = (unsigned)at;
	}
	n = i;
	start[n] = r->niov;
	r->pending = 0;
	for (i = 0; i < n; i++) {
		struct blk_piece *p = &r->pc[i];
		/*
		 * Every piece but the last goes straight to a worker (the
		 * kernel's, or the copy engine's); the last one the I/O thread
		 * copies itself (inside io_uring_enter, or blk_copy_inline),
		 * meanwhile, without a hand-off. A whole request of its own that
		 * is large goes to a kernel worker too: several copy in parallel
		 * while the I/O thread takes the next kicks. A whole copy read
		 * stays with the I/O thread until a newer one comes (blk_copy_hand_off).
		 */
		bool async = n > 1 ? i + 1 < n : !r->copy && r->len >= BLK_ASYNC_MIN;

		p->off = r->off + i * plen;
		p->len = i + 1 < n ? plen : r->len - i * plen;
		p->cur = &r->iov[start[i]];
		p->ncur = start[i + 1] - start[i];
		if (!blk_queue_piece(b, r, i, async)) {
			/* Cannot happen (space was checked): the first piece may still go as plain calls. */
			if (!i)
				return false;
			r->st = VIRTIO_BLK_S_IOERR;
			break;
		}
	}
	r->npieces = (uint8_t)i;
	b->extra += i - 1;
	return true;
}

/*
 * Lock held, I/O thread: hand what was queued to the kernel, without the
 * lock (a submit may do the I/O itself, e.g. a read from the page cache).
 * Only the I/O thread ever touches the submission queue.
 */
static void blk_submit(struct blk_dev *b)
{
	int r;

	if (!b->io.queued)
		return;
	pthread_mutex_unlock(&b->vdev.lock);
	r = blk_io_submit(&b->io);
	pthread_mutex_lock(&b->vdev.lock);
	if (r)
		pr_warn_rl(&b->rl, "%s: io_uring submit: %s", b->vdev.name, strerror(-r));
}

/*
 * Lock held. Piece tag came back with res (bytes or -errno). On the I/O
 * thread (resubmit) a short transfer is queued again from where it
 * stopped; elsewhere (a reset on a vCPU) it fails. Returns 1 if that
 * completed its request, else 0.
 */
static unsigned blk_piece_done(struct blk_dev *b, uint64_t tag, int res, bool resubmit)
{
	unsigned piece = tag % BLK_PIECES_MAX;
	struct blk_piece *p;
	struct blk_req *r;

	if (tag >= (uint64_t)BLK_INFLIGHT * BLK_PIECES_MAX)
		return 0; /* not ours: the engines are only ever fed by blk_queue_piece */
	r = &b->reqs[tag / BLK_PIECES_MAX];
	if (!(r->pending & (1U << piece)))
		return 0;
	p = &r->pc[piece];
	if (res > 0 && r->kind != BLK_K_FLUSH && (uint64_t)res < p->len) {
		/* Short: resume after what was transferred (an image that shrank ends with 0). */
		p->len -= (uint64_t)res;
		p->off += (uint64_t)res;
		iov_advance(&p->cur, &p->ncur, (size_t)res);
		if (resubmit && !r->copy && blk_queue_piece(b, r, piece, false))
			return 0;
		res = -EIO;
	}
	if (res < 0 || (res == 0 && r->kind != BLK_K_FLUSH && p->len))
		r->st = VIRTIO_BLK_S_IOERR;
	r->pending &= (uint8_t)~(1U << piece);
	if (r->pending)
		return 0; /* the request completes with its last piece */
	b->extra -= r->npieces - 1U;
	blk_complete(b, r);
	return 1;
}

/*
 * Lock held. Take the completions the kernel and the copy engine have
 * posted (no system call). Returns how many requests were completed.
 */
static unsigned blk_reap(struct blk_dev *b, bool resubmit)
{
	uint64_t tags[32];
	int res[32];
	unsigned n, i, done = 0, guard;

	/* Bounded: at most BLK_SQES pieces exist, each completes once per (re)submission. */
	for (guard = 0; b->io.uring && guard < 4 * BLK_SQES; guard += n) {
		n = blk_io_reap(&b->io, tags, res, ARRAY_SIZE(tags));
		if (!n)
			break;
		for (i = 0; i < n; i++)
			done += blk_piece_done(b, tags[i], res[i], resubmit);
	}
	for (guard = 0; b->copy.on && guard < BLK_SQES; guard += n) {
		n = blk_copy_reap(&b->copy, tags, res, ARRAY_SIZE(tags));
		if (!n)
			break;
		for (i = 0; i < n; i++)
			done += blk_piece_done(b, tags[i], res[i], resubmit);
	}
	return done;
}

/*
 * Lock held, I/O thread: copy the pieces it keeps for itself, without the
 * lock (the vCPUs' register accesses go on), while the copy engine's
 * threads copy the others. Returns how many requests were completed.
 */
static unsigned blk_copy_inline(struct blk_dev *b)
{
	unsigned i, done = 0;

	/*
	 * In the order the driver made them available, and an interrupt (if
	 * the driver wants one) as each completes, not after the whole batch.
	 * Only the I/O thread touches inl[], so it stays put while unlocked.
	 */
	for (i = 0; i < b->ninl; i++) {
		uint64_t tag = b->inl[i];
		struct blk_req *r = &b->reqs[tag / BLK_PIECES_MAX];
		struct blk_piece *p = &r->pc[tag % BLK_PIECES_MAX];
		int res;

		pthread_mutex_unlock(&b->vdev.lock);
		res = blk_copy_read(&b->copy, p->cur, p->ncur, p->off, p->len);
		pthread_mutex_lock(&b->vdev.lock);
		if (blk_piece_done(b, tag, res ? res : (int)p->len, false)) {
			done++;
			if (i + 1 < b->ninl)
				virtio_notify(&b->vdev, 0);
		}
	}
	b->ninl = 0;
	b->inl_bytes = 0;
	return done;
}

/*
 * Lock held, I/O thread, after a submit and its reap: io_uring requests
 * still out run on the kernel's workers (every buffered write on ext4,
 * which cannot try one without blocking) or wait on the disk. A polling
 * I/O thread would only keep a worker off its CPU: 128 KiB writes at
 * queue depth 1 took p50 52-60 us polled against 30-46 without.
 */
static void blk_yield_to_workers(struct blk_dev *b)
{
	if (b->io.uring && b->io.out)
		iothread_yield_poll(&b->vdev.vm->io);
}

/*
 * Queue 0 was kicked, or requests completed (lock held, I/O thread): pop
 * what the guest made available, while slots are free and no reset
 * waits. Plain-call requests run one at a time without the lock; io_uring
 * requests of the whole turn go to the kernel with one io_uring_enter.
 * One interrupt (if the driver wants one) for everything completed.
 */
static void blk_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct blk_dev *b = vdev->priv;
	struct virtqueue *vq = &vdev->vqs[q];
	struct vq_chain c = { .iov = b->iov, .iov_cap = BLK_IOV_MAX };
	unsigned budget = BLK_BUDGET, done = blk_reap(b, true), guard;

	vq_disable_notify(vq);
	/* Bounded: each round pops a request or takes completions, and both are budgeted. */
	for (guard = 0; guard < 4 * BLK_BUDGET && !b->quiesce; guard++) {
		struct blk_req *r;
		unsigned got;

		if (!b->nfree) {
			/* Every slot in flight: hand the batch over and take what completed. */
			blk_submit(b);
			got = blk_reap(b, true);
			done += got;
			if (!got)
				break; /* the ring handler resumes when slots come back (kicks stay off) */
			continue;
		}
		if (virtio_pop_budget(vdev, q, &c, &budget) <= 0)
			break; /* empty (kicks back on), budget spent (requeued) or malformed */
		r = &b->reqs[b->free[--b->nfree]];
		r->generation = vq->generation;
		b->inflight++;
		if (blk_parse(b, &c, r)) {
			b->free[b->nfree++] = (uint16_t)(r - b->reqs);
			b->inflight--;
			virtio_dev_error(vdev, q, VIRTIO_ERR_REQUEST);
			break;
		}
		if (blk_queue_async(b, r))
			continue;
		if (r->kind != BLK_K_DONE) {
			pthread_mutex_unlock(&vdev->lock);
			blk_exec_sync(b, r);
			pthread_mutex_lock(&vdev->lock);
		}
		blk_complete(b, r);
		done++;
	}
	/*
	 * No kicks until the I/O thread goes to sleep (blk_idle; it polls the
	 * ring until then), and before anything of this turn completes: a
	 * driver that resubmits at once would otherwise kick for it, a VM exit
	 * (popping the ring empty above asked for kicks again).
	 */
	if (b->polled && vq->ready && !vq->broken) {
		vq_suppress_notify(vq);
		b->kicks_off = true;
	}
	if (b->io.queued || b->ninl) {
		/* One io_uring_enter for the turn; cached reads often complete inside it. */
		blk_submit(b);
		done += blk_copy_inline(b);
		done += blk_reap(b, true);
		blk_submit(b); /* short transfers resumed */
	}
	blk_yield_to_workers(b);
	if (done)
		virtio_notify(vdev, q);
}

/* Completions are waiting on the ring (I/O thread). */
static void blk_ring_handler(void *opaque, uint32_t events)
{
	struct blk_dev *b = opaque;
	struct virtio_dev *vdev = &b->vdev;

	(void)events;
	pthread_mutex_lock(&vdev->lock);
	if (b->inflight) {
		bool full = !b->nfree;
		unsigned done = blk_reap(b, true);

		blk_submit(b); /* short transfers resumed */
		blk_yield_to_workers(b);

		if (done)
			virtio_notify(vdev, 0);
		/* Slots freed after the ring filled up: the guest's next requests wait for us, not a kick. */
		if (full && b->nfree && virtio_running(vdev) && vdev->vqs[0].ready && !vdev->vqs[0].broken)
			blk_queue_notify(vdev, 0);
	}
	pthread_mutex_unlock(&vdev->lock);
}

/* The copy engine's threads completed reads (I/O thread). */
static void blk_copy_handler(void *opaque, uint32_t events)
{
	struct blk_dev *b = opaque;

	blk_copy_clear(&b->copy);
	blk_ring_handler(opaque, events);
}

/*
 * The I/O thread's polling (iothread.h): requests the guest made available
 * and completions the kernel posted are taken at once, without a kick or
 * the ring fd's wake-up.
 */
static bool blk_poll(void *opaque)
{
	struct blk_dev *b = opaque;
	struct virtio_dev *vdev = &b->vdev;
	struct virtqueue *vq = &vdev->vqs[0];
	bool work = false;

	pthread_mutex_lock(&vdev->lock);
	if (virtio_running(vdev) && vq->ready && !vq->broken && !b->quiesce &&
	    ((b->io.uring && b->inflight && io_uring_cq_ready(&b->io.ring)) ||
	     (b->copy.on && b->inflight && blk_copy_pending(&b->copy)) ||
	     (b->nfree && virtio_avail_count(vdev, 0)))) { /* reports a malformed index */
		work = true;
		blk_queue_notify(vdev, 0);
	}
	pthread_mutex_unlock(&vdev->lock);
	return work;
}

/* The I/O thread goes to sleep: kicks again, and true if requests came meanwhile. */
static bool blk_idle(void *opaque)
{
	struct blk_dev *b = opaque;
	struct virtio_dev *vdev = &b->vdev;
	struct virtqueue *vq = &vdev->vqs[0];
	bool more = false;

	pthread_mutex_lock(&vdev->lock);
	if (b->kicks_off) {
		b->kicks_off = false;
		more = vq_enable_notify(vq) && virtio_running(vdev) && !b->quiesce && b->nfree;
		/* A malformed avail index seen here first: no pop reports it (broken: skipped). */
		if (vq->broken && virtio_running(vdev))
			virtio_dev_error(vdev, 0, vq->err);
	}
	pthread_mutex_unlock(&vdev->lock);
	return more;
}

/*
 * Device reset (lock held, usually on a vCPU): the device must not touch
 * the rings or guest memory once the driver reads status 0, so it waits
 * for what is in flight (the I/O thread completes it into the old ring),
 * as QEMU drains its block requests. Bounded: a request stuck in the host
 * beyond BLK_DRAIN_NS is left behind (its completion finds a new ring
 * generation and is dropped).
 */
static void blk_reset(struct virtio_dev *vdev)
{
	struct blk_dev *b = vdev->priv;
	struct timespec until;
	int r = 0;

	if (!b->inflight)
		return;
	b->quiesce = true;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += BLK_DRAIN_NS / 1000000000LL;
	while (b->inflight && r != ETIMEDOUT) {
		/* On a single thread (tests), nobody else would take the completions. */
		if (blk_reap(b, false))
			continue;
		r = pthread_cond_timedwait(&b->idle, &vdev->lock, &until);
	}
	if (b->inflight)
		pr_warn_rl(&b->rl, "%s: reset with %u requests still in flight", vdev->name,
			   b->inflight);
	b->quiesce = false;
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
	.reset = blk_reset,
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
	enum blk_io_mode mode;
	uint64_t size, split;
	bool split_set;
	char why[128];
	unsigned i;
	int fd, fl, r, ring_fd;

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
	/* Only the slots in use are ever touched: the rest stays untouched virtual memory. */
	b->reqs = calloc(BLK_INFLIGHT, sizeof(*b->reqs));
	if (!b->reqs) {
		r = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < BLK_INFLIGHT; i++)
		b->free[i] = (uint16_t)(BLK_INFLIGHT - 1 - i);
	b->nfree = BLK_INFLIGHT;
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
	{
		pthread_condattr_t ca;

		/* CLOCK_MONOTONIC: a reset's bounded wait must not move with the wall clock. */
		r = pthread_condattr_init(&ca);
		if (!r)
			r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!r)
			r = pthread_cond_init(&b->idle, &ca);
		if (r) {
			r = -r;
			goto err_free;
		}
		pthread_condattr_destroy(&ca);
	}

	/* LVMM_BLK_SPLIT=N in lvmm's environment: N pieces (0: no split), for benchmarks. */
	split_set = knob_u64("LVMM_BLK_SPLIT", BLK_PIECES_MAX, &split);
	b->pieces = split_set ? (unsigned)MAX(1, split) : BLK_PIECES;
	mode = blk_io_mode_from_env();
	r = blk_io_init(&b->io, fd, BLK_SQES, mode, why, sizeof(why));
	if (r)
		goto err_cond;
	if (why[0])
		pr_debug("%s: plain system calls for I/O (%s)", cfg->id, why);
	r = virtio_dev_init(&b->vdev, &blk_virtio_ops, vm, &vm->gmem, cfg->id, b);
	if (r)
		goto err_io;
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

	if (mode != BLK_IO_SYNC) {
		cpu_set_t cpus;
		bool pin = false;
		unsigned n, ncpu;
		int copy;

		/* The host CPUs the partition may use: its dedicated ones, if any. */
		CPU_ZERO(&cpus);
		for (i = 0; i < vm->nr_vcpus && vm->cfg; i++) {
			if (vm->cfg->host_cpus[i] >= 0) {
				CPU_SET(vm->cfg->host_cpus[i], &cpus);
				pin = true;
			}
		}
		ncpu = pin ? (unsigned)CPU_COUNT(&cpus) : (unsigned)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
		/*
		 * Copy threads on the CPUs the partition's vCPUs and its I/O
		 * thread leave (the I/O thread copies the last read of each turn
		 * itself, all of them without threads): a copier more than that
		 * takes its time from a vCPU or the I/O thread. 128 KiB reads at
		 * queue depth 32, 2 CPUs, a polling guest: 10.8-13.9 GB/s with no
		 * thread, 8.4-12.5 with one, 8.3-9.5 with two, 4.9-7.2 with four.
		 */
		n = ncpu > vm->nr_vcpus + 1 ? MIN(ncpu - vm->nr_vcpus - 1, BLK_COPY_THREADS) : 0;
		/*
		 * None left (2 CPUs, 1 vCPU): one thread all the same, for reads of
		 * BLK_SHARED_HANDOFF_MIN and more only (LVMM_BLK_COPY=N hands off
		 * every read, as before).
		 */
		copy = blk_copy_from_env(&n);
		if (!n && ncpu > 1 && copy < 0)
			n = 1, b->handoff_min = BLK_SHARED_HANDOFF_MIN;
		if (copy &&
		    blk_copy_init(&b->copy, fd, b->capacity * BLK_SECTOR, n, BLK_SQES, pin ? &cpus : NULL))
			pr_debug("%s: no copy engine for reads", cfg->id);
		/*
		 * No split reads on the engine (LVMM_BLK_SPLIT=N asks for them):
		 * a piece's hand-off costs a thread's wake-up, and the core it
		 * would free is often the one a polling vCPU spins on. 1 MiB at
		 * queue depth 1: 58 us round trip whole on the I/O thread, 77-84
		 * split in two or three (2 CPUs).
		 */
		if (b->copy.on && !split_set)
			b->pieces = 1;
	}
	ring_fd = blk_io_poll_fd(&b->io);
	if (ring_fd >= 0) {
		r = iothread_add(&vm->io, ring_fd, EPOLLIN, blk_ring_handler, b);
		if (r)
			goto err_copy;
	}
	if (b->copy.on) {
		r = iothread_add(&vm->io, b->copy.efd, EPOLLIN, blk_copy_handler, b);
		if (r)
			goto err_ring;
	}
	r = virtio_mmio_create(vm, &b->vdev);
	if (r)
		goto err_efd;
	/*
	 * Pollers cannot be removed: a failed add only means no polling for
	 * this device, and then its kicks are never held back (nothing would
	 * ask for them again).
	 */
	b->polled = !iothread_add_poller(&vm->io, blk_poll, blk_idle, b);
	if (!b->polled)
		pr_debug("%s: no polling (poller table full)", cfg->id);
	pr_debug("%s: %s I/O", cfg->id, b->io.uring ? "io_uring" : "plain system call");
	*state = b;
	return 0;

err_efd:
	if (b->copy.on)
		iothread_del(&vm->io, b->copy.efd);
err_ring:
	if (ring_fd >= 0)
		iothread_del(&vm->io, ring_fd);
err_copy:
	blk_copy_exit(&b->copy);
	virtio_dev_uninit(&b->vdev);
err_io:
	blk_io_exit(&b->io, 0);
err_cond:
	pthread_cond_destroy(&b->idle);
err_free:
	free(b->reqs);
	free(b);
	return r;
}

static void blk_destroy(void *state)
{
	struct blk_dev *b = state;

	if (!b)
		return;
	virtio_mmio_destroy(&b->vdev);
	if (blk_io_poll_fd(&b->io) >= 0)
		iothread_del(&b->vdev.vm->io, blk_io_poll_fd(&b->io));
	if (b->copy.on)
		iothread_del(&b->vdev.vm->io, b->copy.efd);
	/* After the I/O thread stopped: copies under way and what is in the kernel finish first. */
	blk_copy_exit(&b->copy);
	blk_io_exit(&b->io, b->io.out);
	virtio_dev_uninit(&b->vdev);
	pthread_cond_destroy(&b->idle);
	/* b->fd belongs to the partition's config fds: the VM closes it. */
	free(b->reqs);
	free(b);
}

unsigned virtio_blk_inflight(void *state)
{
	struct blk_dev *b = state;
	unsigned n;

	pthread_mutex_lock(&b->vdev.lock);
	n = b->inflight;
	pthread_mutex_unlock(&b->vdev.lock);
	return n;
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
