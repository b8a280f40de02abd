/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk's I/O engines: plain system calls on the I/O thread (preadv,
 * pwritev, fdatasync), or an io_uring that keeps many requests in flight
 * and submits a whole batch with one io_uring_enter.
 *
 * The io_uring is set up before the partition's sandbox and locked down
 * for good: created disabled, the image registered as fixed file 0, then
 * IORING_REGISTER_RESTRICTIONS allows only READV, WRITEV and FSYNC, only
 * on a fixed file (IOSQE_FIXED_FILE required; IOSQE_ASYNC, which only
 * chooses a kernel worker to run it, the one other SQE flag), and no
 * register operation but IORING_UNREGISTER_FILES (used once, at the end);
 * only then is it enabled. So the ring can do
 * exactly what the preadv/pwritev/fdatasync the sandbox allows can do, on
 * the one file the partition was given, and nothing else (no open, no
 * socket, no other fd: the io-wq workers that run punted requests are
 * not under the partition's seccomp filter, but under these restrictions).
 * The sandbox adds io_uring_enter, and io_uring_register for
 * IORING_UNREGISTER_FILES only (docs/sandbox.md).
 */
#ifndef LVMM_BLK_IO_H
#define LVMM_BLK_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

#include "common/util.h"

enum blk_io_mode {
	BLK_IO_AUTO = 0, /* io_uring where the host has it, else plain calls */
	BLK_IO_SYNC,
	BLK_IO_URING,
};

enum blk_io_op { BLK_IO_READ, BLK_IO_WRITE, BLK_IO_FLUSH };


struct blk_io {
	bool uring;            /* the io_uring engine is in use */
	int fd;                /* the image */
	struct io_uring ring;
	unsigned queued;       /* SQEs prepared, not yet submitted */
};

/*
 * Set up the engine for image fd with up to depth requests in flight.
 * AUTO and URING fall back to plain calls when the host has no usable
 * io_uring (reason in why, for a log line). 0 or -errno.
 */
int blk_io_init(struct blk_io *io, int fd, unsigned depth, enum blk_io_mode mode, char *why,
		size_t whylen) MUST_CHECK;

/*
 * Release the engine after the I/O thread stopped: wait (bounded) for the
 * inflight requests still in the kernel, drop the image from the ring, and
 * close it.
 */
void blk_io_exit(struct blk_io *io, unsigned inflight);

#define BLK_IO_EXIT_WAIT_S 5

/* The engine's mode from the environment (LVMM_BLK_IO=sync|uring|auto), for benchmarks. */
enum blk_io_mode blk_io_mode_from_env(void);

/*
 * io_uring: queue one request (tag comes back with its completion); async
 * sends it straight to one of io_uring's kernel workers (IOSQE_ASYNC)
 * instead of trying it inline in io_uring_enter first. 0, or -EBUSY when
 * the submission queue is full (submit first).
 */
int blk_io_queue(struct blk_io *io, enum blk_io_op op, const struct iovec *iov, unsigned n,
		 uint64_t off, uint64_t tag, bool async);

/* io_uring: how many more requests can be queued before a submit. */
unsigned blk_io_space(const struct blk_io *io);

/* io_uring: hand every queued request to the kernel (one system call). 0 or -errno. */
int blk_io_submit(struct blk_io *io);

/*
 * io_uring: take up to max completions already posted (no system call):
 * tags[i] and results[i] (bytes or -errno). Returns how many.
 */
unsigned blk_io_reap(struct blk_io *io, uint64_t *tags, int *results, unsigned max);

/* io_uring: the fd that polls readable while completions wait (-1 for plain calls). */
int blk_io_poll_fd(const struct blk_io *io);

/* Plain calls: transfer the whole iovec list at off, continuing after short transfers. 0 or -errno. */
int blk_io_sync_rw(int fd, struct iovec *iov, unsigned n, uint64_t off, bool write);

#endif
