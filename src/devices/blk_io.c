// SPDX-License-Identifier: MIT
#include "devices/blk_io.h"

#include <cpuid.h>
#include <emmintrin.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shared/parse.h"
#include "virtio/iov.h"

enum blk_io_mode blk_io_mode_from_env(void)
{
	static const char *const names[] = { "sync", "uring", "auto" };
	int k = knob_choice("LVMM_BLK_IO", names, ARRAY_SIZE(names));

	return k == 0 ? BLK_IO_SYNC : k == 1 ? BLK_IO_URING : BLK_IO_AUTO;
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
	io->out++;
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
	io->out -= MIN(n, io->out);
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

/* The copy under way on this thread: a SIGBUS inside it lands here. */
static __thread sigjmp_buf *copy_jb;
static struct sigaction copy_old_bus;

static void copy_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (copy_jb)
		siglongjmp(*copy_jb, 1);
	/* Not a copy's: whoever handled SIGBUS before, else the default's outcome. */
	if ((copy_old_bus.sa_flags & SA_SIGINFO) && copy_old_bus.sa_sigaction)
		copy_old_bus.sa_sigaction(sig, si, uc);
	else if (!(copy_old_bus.sa_flags & SA_SIGINFO) && copy_old_bus.sa_handler != SIG_DFL &&
		 copy_old_bus.sa_handler != SIG_IGN)
		copy_old_bus.sa_handler(sig);
	else
		abort();
}

static int copy_install_sigbus(void)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
	static bool done;
	/* SA_NODEFER: the handler leaves by siglongjmp, and SIGBUS must not stay blocked after. */
	struct sigaction sa = { .sa_sigaction = copy_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };
	int r = 0;

	pthread_mutex_lock(&once);
	if (!done) {
		sigemptyset(&sa.sa_mask);
		r = sigaction(SIGBUS, &sa, &copy_old_bus) ? -errno : 0;
		done = !r;
	}
	pthread_mutex_unlock(&once);
	return r;
}

/*
 * Each line is loaded after a prefetch of the line this far ahead. The
 * image's page-cache pages are not contiguous, and the hardware's stream
 * prefetcher stops at every 4 KiB page, so without it each page starts
 * with a wait on memory. 2 CPUs, a polling guest, 6 alternating runs, MiB/s:
 * 128 KiB reads at queue depth 32 4,650-5,980 -> 5,810-6,390, 1 MiB at
 * depth 1 5,720-6,430 -> 6,410-7,540 (2 or 8 KiB ahead, or into L2 only,
 * did no better; a non-temporal prefetch gained nothing).
 */
#define COPY_PREFETCH 4096 /* LVMM_BLK_PREFETCH=N: N bytes ahead, 0 none (bench/blk.sh's effect row) */
/*
 * An AMD host's prefetchers do better with a shorter lead: 1 KiB ahead
 * (2026-12-04, AMD EPYC, 2 CPUs, 3 runs each, MiB/s) 14,100-14,550 against
 * 12,080-13,260 at 4 KiB and 13,520-13,880 with none for 128 KiB reads at
 * queue depth 32, 12,790-13,920 against 11,490-12,170 for 1 MiB at depth
 * 32, 10,180-13,150 against 11,040-11,370 for 1 MiB at depth 1 (512 B to
 * 2 KiB tried: 2 KiB fell back to 10,420-13,320).
 */
#define COPY_PREFETCH_AMD 1024

/* The default lead for this host's CPU vendor. */
static unsigned copy_prefetch_default(void)
{
	unsigned a, b, c, d;

	/* "AuthenticAMD" in EBX, EDX, ECX. */
	if (__get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163)
		return COPY_PREFETCH_AMD;
	return COPY_PREFETCH;
}

/*
 * Which stores. Non-temporal ones send the destination to memory without
 * reading its lines into the cache first, which a destination that is not
 * cached needs: a guest filling fresh page-cache pages. Plain stores win
 * where the destination is cached already: a guest reading into the same
 * buffers again (an O_DIRECT buffer pool, fio, bench/blk.sh's guest), and
 * non-temporal stores there pay memory's write bandwidth, which the host's
 * other tenants share. One thread copying 128 KiB pieces from the image's
 * mapping (2026-12-04, 2 CPUs, 2 MiB L2 each, MiB/s): into a 2 GiB window
 * (nothing cached) non-temporal 10,020-10,640, plain 6,340-6,550; into a
 * 64 MiB window 7,550-7,670 against 6,600-6,680; into 8-32 MiB windows
 * 9,850-11,130 against 9,660-10,930; into a 4 MiB one 6,980-7,150 against
 * 9,290-9,360 in one hour, 10,100-10,210 against 10,320-10,420 the next.
 * So a copy that begins at a destination page another copy began at less
 * than COPY_HOT_PAGES ago (pages copied since, by this device) gets plain
 * stores; any other, non-temporal ones. Decided per read, by its first
 * buffer: a read into fresh pages is fresh throughout.
 */
#define COPY_HOT_PAGES   (8u * 1024 * 1024 / 4096)
#define COPY_STAMP_BITS  28 /* the count wraps there: a false match once per TiB copied */
#define COPY_STAMP_MASK  ((1ULL << COPY_STAMP_BITS) - 1)
_Static_assert((BLK_COPY_HOT_SLOTS & (BLK_COPY_HOT_SLOTS - 1)) == 0, "a power of two");

/* Note a copy of len bytes beginning at d; true if d was such a beginning lately. */
static bool copy_dst_hot(struct blk_copy *c, const void *d, uint64_t len)
{
	/* A user address is below 2^47: the page number fits above the stamp. */
	uint64_t page = (uintptr_t)d >> 12;
	uint64_t *slot = &c->hot[(page * 0x9e3779b97f4a7c15ULL) >> 56 & (BLK_COPY_HOT_SLOTS - 1)];
	uint64_t now = __atomic_fetch_add(&c->clock, (len + 4095) >> 12, __ATOMIC_RELAXED);
	uint64_t e = __atomic_load_n(slot, __ATOMIC_RELAXED);

	__atomic_store_n(slot, page << COPY_STAMP_BITS | (now & COPY_STAMP_MASK), __ATOMIC_RELAXED);
	return e >> COPY_STAMP_BITS == page && ((now - e) & COPY_STAMP_MASK) < COPY_HOT_PAGES;
}

/*
 * Copy n bytes, nt: with non-temporal stores (16-byte ones: 256-bit ones
 * copied faster alone but moved no device figure). `ahead` is how much of
 * the request's source there is from s on (at least n): nothing past it is
 * prefetched. Specialised for each nt by the compiler (always inlined).
 */
static inline __attribute__((always_inline)) void copy_lines(uint8_t *d, const uint8_t *s,
							     size_t n, uint64_t ahead,
							     unsigned pf, const bool nt)
{
	size_t head = (16 - ((uintptr_t)d & 15)) & 15;

	if (n < 4096) {
		memcpy(d, s, n);
		return;
	}
	memcpy(d, s, head);
	d += head;
	s += head;
	n -= head;
	ahead -= head;
	for (; n >= 64; d += 64, s += 64, n -= 64, ahead -= 64) {
		if (pf && ahead > pf)
			_mm_prefetch((const char *)s + pf, _MM_HINT_T0);
		__m128i a = _mm_loadu_si128((const __m128i *)s);
		__m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)(s + 48));

		if (nt) {
			_mm_stream_si128((__m128i *)d, a);
			_mm_stream_si128((__m128i *)(d + 16), b);
			_mm_stream_si128((__m128i *)(d + 32), c);
			_mm_stream_si128((__m128i *)(d + 48), e);
		} else {
			_mm_store_si128((__m128i *)d, a);
			_mm_store_si128((__m128i *)(d + 16), b);
			_mm_store_si128((__m128i *)(d + 32), c);
			_mm_store_si128((__m128i *)(d + 48), e);
		}
	}
	memcpy(d, s, n);
}

static __attribute__((noinline)) void copy_iov(const uint8_t *src, const struct iovec *iov,
					       unsigned n, uint64_t len, unsigned pf, bool nt)
{
	unsigned i;

	for (i = 0; i < n && len; i++) {
		size_t k = (size_t)MIN((uint64_t)iov[i].iov_len, len);

		if (nt)
			copy_lines(iov[i].iov_base, src, k, len, pf, true);
		else
			copy_lines(iov[i].iov_base, src, k, len, pf, false);
		src += k;
		len -= k;
	}
	/* Non-temporal stores are weakly ordered: all of them before the completion is published. */
	if (nt)
		_mm_sfence();
}

int blk_copy_read(struct blk_copy *c, const struct iovec *iov, unsigned n, uint64_t off,
		  uint64_t len)
{
	sigjmp_buf jb;
	bool nt;

	/* The device checked every request against the capacity, the mapping's length. */
	if (off > c->map_len || len > c->map_len - off)
		return -EIO;
	if (sigsetjmp(jb, 0)) {
		copy_jb = NULL;
		return -EIO;
	}
	nt = c->stores == BLK_STORES_NT ||
	     (c->stores == BLK_STORES_AUTO && n && !copy_dst_hot(c, iov[0].iov_base, len));
	__atomic_fetch_add(nt ? &c->nt_bytes : &c->plain_bytes, len, __ATOMIC_RELAXED);
	copy_jb = &jb;
	copy_iov(c->map + off, iov, n, len, c->prefetch, nt);
	copy_jb = NULL;
	return 0;
}

static void *copy_main(void *arg)
{
	struct blk_copy *c = arg;

	pthread_setname_np(pthread_self(), "blk-copy");
	pthread_mutex_lock(&c->lock);
	/* glibc's thread start-up is over: the sandbox may come (blk_copy_init waits for this). */
	c->started++;
	pthread_cond_broadcast(&c->cond);
	for (;;) {
		static const uint64_t one = 1;
		struct blk_copy_job j;
		unsigned at;
		bool wake;
		int r;

		while (!c->jcount && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		j = c->jobs[c->jhead];
		c->jhead = (c->jhead + 1) % c->cap;
		c->jcount--;
		pthread_mutex_unlock(&c->lock);
		r = blk_copy_read(c, j.iov, j.n, j.off, j.len);
		pthread_mutex_lock(&c->lock);
		/* Never full: no more jobs than cap exist, and each completes once. */
		at = (c->dhead + c->dcount) % c->cap;
		c->dtags[at] = j.tag;
		c->dres[at] = r ? r : (int)j.len;
		wake = !c->dcount;
		__atomic_store_n(&c->dcount, c->dcount + 1, __ATOMIC_RELEASE);
		/*
		 * Only into an empty ring: the I/O thread takes them all once
		 * woken. (A failed write is EAGAIN: the count is non-zero, the
		 * fd readable already.)
		 */
		if (wake && write(c->efd, &one, sizeof(one)) < 0)
			continue;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int blk_copy_from_env(unsigned *threads)
{
	const char *v = getenv("LVMM_BLK_COPY");
	uint64_t n;

	if (v && !strcmp(v, "inline")) {
		*threads = 0;
		return 1;
	}
	if (!knob_u64("LVMM_BLK_COPY", BLK_COPY_THREADS_MAX, &n))
		return -1;
	*threads = (unsigned)n;
	return n > 0;
}

int blk_copy_init(struct blk_copy *c, int fd, uint64_t len, unsigned threads, unsigned cap,
		  const cpu_set_t *cpus)
{
	static const char *const stores[] = { "nt", "plain", "auto" };
	uint64_t pf;
	pthread_attr_t a;
	int st;
	unsigned i;
	int r;

	memset(c, 0, sizeof(*c));
	c->efd = -1;
	threads = MIN(threads, BLK_COPY_THREADS_MAX);
	if (!cap || !len)
		return -EINVAL;
	r = copy_install_sigbus();
	if (r)
		return r;
	c->map = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return -errno;
	}
	c->map_len = len;
	c->cap = cap;
	c->prefetch = knob_u64("LVMM_BLK_PREFETCH", 65536, &pf) ? (unsigned)pf : copy_prefetch_default();
	st = knob_choice("LVMM_BLK_STORES", stores, ARRAY_SIZE(stores));
	c->stores = st == 0 ? BLK_STORES_NT : st == 1 ? BLK_STORES_PLAIN : BLK_STORES_AUTO;
	c->jobs = calloc(cap, sizeof(*c->jobs));
	c->dtags = calloc(cap, sizeof(*c->dtags));
	c->dres = calloc(cap, sizeof(*c->dres));
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!c->jobs || !c->dtags || !c->dres || c->efd < 0) {
		r = c->efd < 0 ? -errno : -ENOMEM;
		goto err;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	r = -pthread_attr_init(&a);
	if (r)
		goto err_sync;
	/* Started pinned: a partition with dedicated host CPUs keeps its copies on them. */
	if (cpus)
		r = -pthread_attr_setaffinity_np(&a, sizeof(*cpus), cpus);
	for (i = 0; !r && i < threads; i++) {
		r = -pthread_create(&c->th[i], &a, copy_main, c);
		if (!r)
			c->nthreads++;
	}
	pthread_attr_destroy(&a);
	pthread_mutex_lock(&c->lock);
	while (c->started < c->nthreads)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	if (r) {
		blk_copy_exit(c);
		return r;
	}
	c->on = true;
	return 0;

err_sync:
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
err:
	if (c->efd >= 0)
		close(c->efd);
	free(c->jobs);
	free(c->dtags);
	free(c->dres);
	munmap((void *)c->map, (size_t)len);
	memset(c, 0, sizeof(*c));
	c->efd = -1;
	return r;
}

void blk_copy_exit(struct blk_copy *c)
{
	unsigned i;

	if (!c->map)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < c->nthreads; i++)
		pthread_join(c->th[i], NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	close(c->efd);
	free(c->jobs);
	free(c->dtags);
	free(c->dres);
	munmap((void *)c->map, (size_t)c->map_len);
	memset(c, 0, sizeof(*c));
	c->efd = -1;
}

int blk_copy_queue(struct blk_copy *c, const struct iovec *iov, unsigned n, uint64_t off,
		   uint64_t len, uint64_t tag)
{
	int r = -EBUSY;

	pthread_mutex_lock(&c->lock);
	if (c->nthreads && c->jcount < c->cap) {
		c->jobs[(c->jhead + c->jcount) % c->cap] =
			(struct blk_copy_job){ .iov = iov, .n = n, .off = off, .len = len, .tag = tag };
		c->jcount++;
		pthread_cond_signal(&c->cond);
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

unsigned blk_copy_reap(struct blk_copy *c, uint64_t *tags, int *results, unsigned max)
{
	unsigned n = 0;

	pthread_mutex_lock(&c->lock);
	while (n < max && c->dcount) {
		tags[n] = c->dtags[c->dhead];
		results[n] = c->dres[c->dhead];
		c->dhead = (c->dhead + 1) % c->cap;
		__atomic_store_n(&c->dcount, c->dcount - 1, __ATOMIC_RELAXED);
		n++;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

bool blk_copy_pending(const struct blk_copy *c)
{
	return __atomic_load_n(&c->dcount, __ATOMIC_ACQUIRE) != 0;
}

void blk_copy_clear(struct blk_copy *c)
{
	uint64_t v;

	if (read(c->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
}
