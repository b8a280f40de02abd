// SPDX-License-Identifier: MIT
#include "vmm/iothread.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/parse.h"
#include "vmm/thread_start.h"

/*
 * epoll data carries the slot index and its generation: a handler deleted
 * while a batch of events is being delivered may have its slot taken by a
 * new one in the same batch, which must not receive the old fd's events.
 */
#define STOP_TAG UINT64_MAX

/* The kernel's struct sched_attr (glibc has no wrapper; <linux/sched/types.h> clashes with <sched.h>). */
struct io_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

static uint64_t slot_tag(const struct iothread *t, unsigned i)
{
	return ((uint64_t)t->handlers[i].gen << 32) | i;
}

#define IOTHREAD_KNOB_MAX_US 1000000ULL /* the LVMM_IO_* knobs' bound: a second */

int iothread_init(struct iothread *t)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TAG };
	uint64_t us;
	int e;

	memset(t, 0, sizeof(*t));
	/* Not opened yet: a failure below leaves nothing iothread_destroy() would close. */
	t->epfd = t->stop_fd = t->ready_fd = t->hold_fd = -1;
	t->poll_max_ns = IOTHREAD_POLL_MAX_NS;
	/* LVMM_IO_POLL_US in lvmm's environment sets the maximum window (0: no polling), for benchmarks. */
	if (knob_u64("LVMM_IO_POLL_US", IOTHREAD_KNOB_MAX_US, &us)) {
		t->poll_max_ns = us * 1000ULL;
		t->poll_forced = true;
	}
	/* LVMM_IO_SLICE_US sets the I/O thread's scheduler slice (0: the kernel's), for benchmarks. */
	t->slice_ns = knob_u64("LVMM_IO_SLICE_US", IOTHREAD_KNOB_MAX_US, &us) ? us * 1000ULL :
									       IOTHREAD_SLICE_NS;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		return -errno;
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->stop_fd < 0)
		goto err_epoll;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_fd, &ev) < 0)
		goto err_stop;
	return 0;
err_stop:
	e = -errno; /* before the closes below can change it */
	close(t->stop_fd);
	t->stop_fd = -1;
	goto out;
err_epoll:
	e = -errno;
out:
	close(t->epfd);
	t->epfd = -1;
	return e;
}

int iothread_add(struct iothread *t, int fd, uint32_t events, io_handler_fn fn, void *opaque)
{
	unsigned i;
	struct epoll_event ev;

	for (i = 0; i < IOTHREAD_MAX_HANDLERS && t->handlers[i].used; i++)
		;
	if (i == IOTHREAD_MAX_HANDLERS)
		return -ENOSPC;
	t->handlers[i] = (struct io_handler){ .fd = fd, .fn = fn, .opaque = opaque, .used = true,
					      .gen = t->handlers[i].gen + 1 };
	ev.events = events;
	ev.data.u64 = slot_tag(t, i);
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;

		t->handlers[i].used = false;
		return e;
	}
	return 0;
}

static struct io_handler *iothread_lookup(struct iothread *t, int fd)
{
	unsigned i;

	for (i = 0; i < IOTHREAD_MAX_HANDLERS; i++)
		if (t->handlers[i].used && t->handlers[i].fd == fd)
			return &t->handlers[i];
	return NULL;
}

int iothread_mod(struct iothread *t, int fd, uint32_t events)
{
	struct io_handler *h = iothread_lookup(t, fd);
	struct epoll_event ev;

	if (!h)
		return -ENOENT;
	ev.events = events;
	ev.data.u64 = slot_tag(t, (unsigned)(h - t->handlers));
	return epoll_ctl(t->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int iothread_del(struct iothread *t, int fd)
{
	struct io_handler *h = iothread_lookup(t, fd);

	if (!h)
		return -ENOENT;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
	h->used = false;
	return 0;
}

int iothread_poll(struct iothread *t, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(t->epfd, evs, 32, timeout_ms), i;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		unsigned idx = (unsigned)(tag & 0xffffffffU);
		struct io_handler *h;

		if (tag == STOP_TAG)
			return -ECANCELED;
		if (idx >= IOTHREAD_MAX_HANDLERS)
			continue;
		h = &t->handlers[idx];
		if (h->used && h->gen == (uint32_t)(tag >> 32))
			h->fn(h->opaque, evs[i].events);
	}
	return n;
}

int iothread_add_poller(struct iothread *t, io_poll_fn fn, io_idle_fn idle, void *opaque)
{
	if (t->npollers == IOTHREAD_MAX_POLLERS)
		return -ENOSPC;
	t->pollers[t->npollers].fn = fn;
	t->pollers[t->npollers].idle = idle;
	t->pollers[t->npollers].opaque = opaque;
	t->npollers++;
	return 0;
}

static bool run_pollers(struct iothread *t)
{
	bool work = false;
	unsigned i;

	for (i = 0; i < t->npollers; i++)
		work |= t->pollers[i].fn(t->pollers[i].opaque);
	return work;
}

/* Before sleeping: true if a device found work while asking for its kicks again. */
static bool run_idle(struct iothread *t)
{
	bool work = false;
	unsigned i;

	for (i = 0; i < t->npollers; i++)
		if (t->pollers[i].idle)
			work |= t->pollers[i].idle(t->pollers[i].opaque);
	return work;
}

/*
 * Poll for up to t->poll_ns after the last work found. Returns 0 when the
 * window passed (go to sleep), or <0 from iothread_poll (stop).
 */
static int poll_window(struct iothread *t)
{
	uint64_t last = now_ns();
	unsigned spin = 0;
	int r;

	while (now_ns() - last < t->poll_ns) {
		bool work = run_pollers(t);

		/* Other fds (kicks, timers, the supervisor) every 16 rounds: epoll_wait is a syscall. */
		if (!(++spin & 15)) {
			r = iothread_poll(t, 0);
			if (r < 0)
				return r;
			work |= r > 0;
		}
		if (t->poll_yield)
			break;
		if (work)
			last = now_ns();
		else
			__builtin_ia32_pause();
	}
	/*
	 * A window that found nothing is not shrunk here: the sleep after it
	 * tells how far off the work was (iothread_run). Halving it here while
	 * the short sleep doubled it again kept the window at the first size
	 * that missed, forever (a driver 20-30 us between requests kicked for
	 * 40-100% of them).
	 */
	return 0;
}

/*
 * The next window, from the sleep that followed this one (KVM's halt
 * polling decides the same way). Work that came sooner after the window
 * than the largest window would have waited: grow, so the next gap like it
 * is polled over. Later than that: polling would not have caught it, stop
 * (an idle partition never spins).
 */
static void poll_adapt(struct iothread *t, uint64_t slept)
{
	if (!t->npollers || !t->poll_max_ns)
		return;
	if (t->poll_ns + slept < t->poll_max_ns) {
		t->poll_ns = t->poll_ns ? t->poll_ns * 2 : IOTHREAD_POLL_START_NS;
		if (t->poll_ns > t->poll_max_ns)
			t->poll_ns = t->poll_max_ns;
	} else if (slept >= t->poll_max_ns) {
		t->poll_ns = 0;
	}
}

void iothread_yield_poll(struct iothread *t)
{
	t->poll_yield = true;
}

void iothread_run(struct iothread *t)
{
	for (;;) {
		uint64_t slept;
		int r;

		if (t->poll_ns && t->npollers && !t->poll_yield) {
			r = poll_window(t);
			if (r == -ECANCELED)
				return;
		}
		/*
		 * No kick comes for what arrived while kicks were held back: do it
		 * now, then poll again. The other fds (the stop fd, other devices)
		 * are looked at each time: a guest that keeps its ring busy must
		 * not keep the loop from them.
		 */
		if (run_idle(t)) {
			r = iothread_poll(t, 0);
			if (r == -ECANCELED)
				return;
			run_pollers(t);
			continue;
		}
		slept = now_ns();
		r = iothread_poll(t, -1);
		if (r == -ECANCELED)
			return;
		if (r < 0) {
			pr_err("iothread: epoll_wait: %s", strerror(-r));
			return;
		}
		t->poll_yield = false;
		poll_adapt(t, now_ns() - slept);
		/* What the event's handler started may go on at once. */
		if (t->npollers)
			run_pollers(t);
	}
}

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;
	uint64_t one = 1;

	pthread_setname_np(pthread_self(), "io");
	/*
	 * glibc's thread start-up (rseq, robust futex list) is done by now:
	 * tell iothread_start, so the sandbox (which forbids those calls) is
	 * never applied while this thread is still starting.
	 */
	/*
	 * A partition with dedicated host CPUs keeps its device work on them
	 * too, instead of roaming onto cores given to other partitions (and
	 * before the sandbox, which forbids sched_setaffinity).
	 */
	if (!t->pin || pthread_setaffinity_np(pthread_self(), sizeof(t->cpus), &t->cpus)) {
		if (t->pin)
			pr_warn("iothread: cannot pin to the partition's host CPUs");
		thread_start_widen(); /* started on its creator's CPU (vmm/thread_start.h) */
	}
	/*
	 * On one host CPU polling only takes the CPU from whatever would make
	 * the work: the partition's own vCPU (pinned there too) or its peer.
	 * Measured with a partition on one host CPU, 4 KiB reads at queue
	 * depth 1: 10-11k requests/s with a grown window against 16-20k with
	 * none; bench/link.sh's shared-core rows gained without it too.
	 */
	{
		cpu_set_t on;

		if (!t->poll_forced && !pthread_getaffinity_np(pthread_self(), sizeof(on), &on) &&
		    CPU_COUNT(&on) < 2)
			t->poll_max_ns = 0;
	}
	/*
	 * A short scheduler slice: device work comes in bursts of microseconds
	 * after a wake-up, and EEVDF lets a woken thread with a shorter slice
	 * preempt the running one (PREEMPT_SHORT) instead of waiting out the
	 * slice of whatever spins on a shared core (a polling guest's vCPU: a
	 * link delivered one guest queue of frames per scheduler round, 3.5x
	 * fewer; bench/link.sh). Its share of the CPU stays the same. Kernels
	 * before 6.12 ignore the value.
	 */
	if (t->slice_ns) {
		struct io_sched_attr a = { .size = sizeof(a), .sched_policy = SCHED_OTHER,
					   .sched_runtime = t->slice_ns };

		if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
			pr_debug("iothread: scheduler slice: %s", strerror(errno));
	}
	if (write(t->ready_fd, &one, sizeof(one)) < 0)
		pr_debug("iothread: ready: %s", strerror(errno));
	while (t->hold_fd >= 0 && read(t->hold_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	iothread_run(t);
	return NULL;
}

void iothread_release(struct iothread *t)
{
	uint64_t one = 1;

	if (t->hold_fd >= 0 && write(t->hold_fd, &one, sizeof(one)) < 0)
		pr_debug("iothread: release: %s", strerror(errno));
}

int iothread_start(struct iothread *t)
{
	uint64_t v;
	int r;

	if (t->hold && t->hold_fd < 0 && (t->hold_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		return -errno;
	t->ready_fd = eventfd(0, EFD_CLOEXEC);
	if (t->ready_fd < 0)
		return -errno;
	r = pthread_create(&t->thread, NULL, iothread_main, t);
	if (r) {
		close(t->ready_fd);
		t->ready_fd = -1;
		return -r;
	}
	t->running = true;
	while (read(t->ready_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	close(t->ready_fd);
	t->ready_fd = -1;
	return 0;
}

void iothread_stop(struct iothread *t)
{
	uint64_t one = 1;

	iothread_release(t);
	if (write(t->stop_fd, &one, sizeof(one)) < 0)
		pr_debug("iothread: stop: %s", strerror(errno));
	if (t->running) {
		pthread_join(t->thread, NULL);
		t->running = false;
	}
}

void iothread_destroy(struct iothread *t)
{
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	if (t->hold_fd >= 0)
		close(t->hold_fd);
	t->epfd = t->stop_fd = t->hold_fd = -1;
}
