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

#include <pthread.h>
#include <sched.h>
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
	unsigned out;          /* SQEs queued whose completion was not reaped yet */
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

/* The engine's mode from the environment (LVMM_BLK_IO=sync|uring|auto), for benchmarks; read once a device. */
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

/*
 * The copy engine, for large reads: the partition's own threads copy from
 * a read-only shared mapping of the image (the page cache itself) straight
 * into guest memory. A read from the page cache is a memory copy and
 * nothing else; the kernel's copy (preadv, io_uring's workers) pulls every
 * destination line into the cache before it overwrites it, which costs a
 * third of the bandwidth when the guest's buffers are not cached: the
 * engine stores those non-temporally, and uses plain stores only for a
 * destination it wrote lately (blk_io.c, "Which stores"). A page of the
 * mapping that is gone (the image shrank after setup) or cannot be read
 * raises SIGBUS inside the copy: that transfer fails with -EIO, nothing
 * else happens.
 *
 * Jobs and completions are fixed rings of cap entries, allocated at setup;
 * a completion that finds the ring empty makes efd readable.
 */
#define BLK_COPY_THREADS_MAX 8
#define BLK_COPY_HOT_SLOTS   256

enum blk_stores {
	BLK_STORES_AUTO,  /* plain into a destination written lately, else non-temporal */
	BLK_STORES_NT,    /* always non-temporal (LVMM_BLK_STORES=nt) */
	BLK_STORES_PLAIN, /* always plain (LVMM_BLK_STORES=plain) */
};

struct blk_copy_job {
	const struct iovec *iov;
	unsigned n;
	uint64_t off, len, tag;
};

struct blk_copy {
	bool on;
	const uint8_t *map;     /* the image, PROT_READ, MAP_SHARED */
	uint64_t map_len;
	unsigned prefetch;      /* copies prefetch the source this far ahead (0: not at all) */
	enum blk_stores stores; /* which stores copies use (LVMM_BLK_STORES) */
	/*
	 * Destination reuse, for the choice of stores (blk_io.c): pages copied
	 * so far, and per destination page hashed into a slot, page << 28 |
	 * that count when a copy last began there. Hints only: threads race
	 * on them with relaxed atomics, and a lost update costs speed.
	 */
	uint64_t clock;
	uint64_t hot[BLK_COPY_HOT_SLOTS];
	uint64_t plain_bytes, nt_bytes; /* copied with each kind of store */
	int efd;                /* readable while completions wait */
	unsigned nthreads, started;
	pthread_t th[BLK_COPY_THREADS_MAX];
	pthread_mutex_t lock;   /* jobs, completions, stop, started */
	pthread_cond_t cond;    /* a job was queued, stop was set, a thread started */
	bool stop;
	unsigned cap;
	struct blk_copy_job *jobs;
	unsigned jhead, jcount;
	uint64_t *dtags;
	int *dres;
	unsigned dhead, dcount;
};

/*
 * Map len bytes of image fd and start threads copy threads (pinned to cpus
 * if not NULL), with up to cap jobs in flight. threads may be 0: then only
 * blk_copy_read copies (on the caller's thread) and blk_copy_queue refuses.
 * 0 or -errno (the engine is then off, c->on false).
 */
int blk_copy_init(struct blk_copy *c, int fd, uint64_t len, unsigned threads, unsigned cap,
		  const cpu_set_t *cpus) MUST_CHECK;

/* Stop the threads (a copy under way finishes, queued jobs are dropped) and unmap. */
void blk_copy_exit(struct blk_copy *c);

/*
 * LVMM_BLK_COPY=N in lvmm's environment, for benchmarks: 0 for N = 0 (no
 * copy engine), else 1 with *threads set to N ("inline": 0, every copy on
 * the I/O thread); unset (or a value it does not take, warned about): -1,
 * *threads kept.
 */
int blk_copy_from_env(unsigned *threads);

/*
 * Queue a read of len bytes at off into iov for the threads (tag comes back
 * with its completion). 0, or -EBUSY (full, or no threads).
 */
int blk_copy_queue(struct blk_copy *c, const struct iovec *iov, unsigned n, uint64_t off,
		   uint64_t len, uint64_t tag);

/* Take up to max completions: tags[i], results[i] (len, or -EIO). Returns how many. */
unsigned blk_copy_reap(struct blk_copy *c, uint64_t *tags, int *results, unsigned max);

/* Completions wait (a hint without the lock, for polling). */
bool blk_copy_pending(const struct blk_copy *c);

/* Consume efd's wake-up (before reaping). */
void blk_copy_clear(struct blk_copy *c);

/* Copy len bytes at off from the mapping into iov on this thread. 0 or -EIO. */
int blk_copy_read(struct blk_copy *c, const struct iovec *iov, unsigned n, uint64_t off,
		  uint64_t len);

#endif
