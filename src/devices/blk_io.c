// SPDX-License-Identifier: MIT
#include "devices/blk_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/iov.h"

enum blk_io_mode blk_io_mode_from_env(void)
{
	const char *v = getenv("LVMM_BLK_IO");

	if (v && !strcmp(v, "sync"))
		return BLK_IO_SYNC;
	if (v && !strcmp(v, "uring"))
		return BLK_IO_URING;
	return BLK_IO_AUTO;
}

/* The ring may do exactly what the sandbox lets the partition do on its image. */
static int restrict_ring(struct io_uring *ring)
{
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
		/* IOSQE_ASYNC only picks where a request runs (a kernel worker), not what it may do. */
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
		  .sqe_flags = IOSQE_FIXED_FILE | IOSQE_ASYNC },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
		/*
		 * The one register operation left: dropping the image at the end
		 * (blk_io_exit), which can only take away what the ring may do.
		 */
		{ .opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_UNREGISTER_FILES },
	};

	return io_uring_register_restrictions(ring, res, ARRAY_SIZE(res));
}

int blk_io_init(struct blk_io *io, int fd, unsigned depth, enum blk_io_mode mode, char *why,
		size_t whylen)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	int r;

	memset(io, 0, sizeof(*io));
	io->fd = fd;
	why[0] = 0;
	if (mode == BLK_IO_SYNC)
		return 0;
	/* Completions never outnumber requests in flight: a CQ of depth entries cannot overflow. */
	r = io_uring_queue_init_params(depth, &io->ring, &p);
	if (r) {
		snprintf(why, whylen, "io_uring_setup: %s", strerror(-r));
		return 0;
	}
	r = io_uring_register_files(&io->ring, &fd, 1);
	if (!r)
		r = restrict_ring(&io->ring);
	if (!r)
		r = io_uring_enable_rings(&io->ring);
	if (r) {
		/* A kernel without restrictions is not used at all: the ring must be locked down. */
		snprintf(why, whylen, "io_uring restrictions: %s", strerror(-r));
		io_uring_queue_exit(&io->ring);
		return 0;
	}
	io->uring = true;
	return 0;
}

void blk_io_exit(struct blk_io *io, unsigned inflight)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	unsigned guard;

	if (!io->uring)
		return;
	/* Bounded: the kernel finishes file I/O in far less; past that, cancelling is the exit's job. */
	for (guard = 0; inflight && guard < BLK_IO_EXIT_WAIT_S; guard++) {
		while (inflight && !io_uring_peek_cqe(&io->ring, &cqe)) {
			io_uring_cqe_seen(&io->ring, cqe);
			inflight--;
		}
		if (inflight && io_uring_wait_cqe_timeout(&io->ring, &cqe, &ts) == -ETIME)
			continue;
	}
	/*
	 * The ring's own reference to the image would outlive the ring's fd
	 * (its teardown runs later, in a kernel worker) and with it the
	 * image's lock: a restarted partition or the next `lvmm run` would
	 * find the disk in use. Dropping the file here puts it before we exit.
	 */
	io_uring_unregister_files(&io->ring);
	io_uring_queue_exit(&io->ring);
	io->uring = false;
}

int blk_io_queue(struct blk_io *io, enum blk_io_op op, const struct iovec *iov, unsigned n,
		 uint64_t off, uint64_t tag, bool async)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);

	if (!sqe)
		return -EBUSY;
	switch (op) {
	case BLK_IO_READ:
		io_uring_prep_readv(sqe, 0, iov, n, off);
		break;
	case BLK_IO_WRITE:
		io_uring_prep_writev(sqe, 0, iov, n, off);
		break;
	case BLK_IO_FLUSH:
	default:
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
		break;
	}
	/* Fixed file 0, the image: the only file the ring's restrictions allow. */
	sqe->flags |= IOSQE_FIXED_FILE;
	if (async)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data64(sqe, tag);
	io->queued++;
	return 0;
}

unsigned blk_io_space(const struct blk_io *io)
{
	return io_uring_sq_space_left(&io->ring);
}

int blk_io_submit(struct blk_io *io)
{
	unsigned guard;
	int r = 0;

	/* The kernel may take fewer than were queued (it stops at one it refuses): bounded retries. */
	for (guard = 0; io_uring_sq_ready(&io->ring) && guard < 8; guard++) {
		r = io_uring_submit(&io->ring);
		if (r == -EINTR || r == -EAGAIN || r == -EBUSY)
			continue;
		if (r <= 0)
			break;
	}
	io->queued = io_uring_sq_ready(&io->ring);
	return r < 0 ? r : 0;
}

unsigned blk_io_reap(struct blk_io *io, uint64_t *tags, int *results, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (n < max && !io_uring_peek_cqe(&io->ring, &cqe)) {
		tags[n] = io_uring_cqe_get_data64(cqe);
		results[n] = cqe->res;
		io_uring_cqe_seen(&io->ring, cqe);
		n++;
	}
	return n;
}

int blk_io_poll_fd(const struct blk_io *io)
{
	return io->uring ? io->ring.ring_fd : -1;
}

int blk_io_sync_rw(int fd, struct iovec *iov, unsigned n, uint64_t off, bool write)
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
