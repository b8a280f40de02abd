/* SPDX-License-Identifier: MIT */
/*
 * The partition's device I/O thread: one epoll loop that serves ioeventfds,
 * backend fds (TAP, sockets, link doorbells) and timers. Device work never
 * runs on vCPU threads except register accesses.
 */
#ifndef LVMM_IOTHREAD_H
#define LVMM_IOTHREAD_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

#define IOTHREAD_MAX_HANDLERS 128
#define IOTHREAD_MAX_POLLERS  16
/*
 * Adaptive polling (iothread_run): after work, the thread looks for more
 * by itself for up to poll_ns before it sleeps in epoll_wait, so a device
 * whose guest answers quickly (a ping-pong, a queue-depth-1 disk) does not
 * pay a sleep and a wake-up per request. poll_ns doubles (from
 * IOTHREAD_POLL_START_NS up to IOTHREAD_POLL_MAX_NS) when the window and the
 * sleep after it together came to less than the largest window (a longer
 * window would have caught the work), and drops to 0 after a sleep longer
 * than that: an idle partition never polls. A thread with one host CPU
 * does not poll at all: its spinning would only keep the vCPU that makes
 * its work (or its peer) off that CPU.
 */
#define IOTHREAD_POLL_START_NS 4000ULL
#define IOTHREAD_POLL_MAX_NS   50000ULL

/* The I/O thread's scheduler slice (sched_setattr sched_runtime; the kernel's minimum is 100 us). */
#define IOTHREAD_SLICE_NS 100000ULL

typedef void (*io_handler_fn)(void *opaque, uint32_t events);
/* Look for work without waiting and do it (I/O thread): true if there was some. */
typedef bool (*io_poll_fn)(void *opaque);
/*
 * The I/O thread is about to sleep: ask for the kicks polling held back
 * (I/O thread). true if work arrived meanwhile (it polls again instead).
 */
typedef bool (*io_idle_fn)(void *opaque);

struct io_handler {
	int fd;
	io_handler_fn fn;
	void *opaque;
	bool used;
	uint32_t gen; /* bumped on every add: an event for an older user of the slot is dropped */
};

struct iothread {
	int epfd;
	int stop_fd; /* eventfd: wakes the loop to exit */
	pthread_t thread;
	bool running;
	int ready_fd;  /* eventfd: the thread signals it runs (iothread_start waits) */
	bool hold;     /* set before iothread_start: the loop waits for iothread_release */
	int hold_fd;   /* eventfd it waits on then, or -1 */
	bool pin;      /* run only on cpus (set before iothread_start) */
	cpu_set_t cpus;
	struct { io_poll_fn fn; io_idle_fn idle; void *opaque; } pollers[IOTHREAD_MAX_POLLERS];
	unsigned npollers;
	uint64_t poll_ns;     /* current polling window (0: none) */
	uint64_t poll_max_ns; /* 0 turns polling off */
	bool poll_forced;     /* poll_max_ns set by LVMM_IO_POLL_US: kept on one host CPU too */
	bool poll_yield;      /* iothread_yield_poll: no window until the next wake-up */
	uint64_t slice_ns;    /* scheduler slice (0: the kernel's default) */
	struct io_handler handlers[IOTHREAD_MAX_HANDLERS];
};

/*
 * From a handler or poller (I/O thread): what a device waits for now runs
 * on other threads that need a CPU (io_uring's kernel workers): end the
 * polling window and sleep until an fd wakes the thread, instead of
 * spinning against them.
 */
void iothread_yield_poll(struct iothread *t);

/* Create the epoll instance. 0 or -errno. */
int iothread_init(struct iothread *t) MUST_CHECK;

/*
 * Watch fd for events (EPOLLIN etc.); fn(opaque, events) runs on the I/O
 * thread. Handlers are pre-sized (no allocation). 0, -ENOSPC or -errno.
 */
int iothread_add(struct iothread *t, int fd, uint32_t events, io_handler_fn fn, void *opaque) MUST_CHECK;

/* Change the events watched for fd. 0 or -errno. */
int iothread_mod(struct iothread *t, int fd, uint32_t events) MUST_CHECK;

/* Stop watching fd. 0 or -ENOENT. */
int iothread_del(struct iothread *t, int fd);

/*
 * Poll fn(opaque) in the adaptive window before sleeping (setup only,
 * before iothread_start; no removal: devices live as long as the thread).
 * fn must be cheap when there is nothing to do. idle (may be NULL) runs
 * before every sleep: a device that stops its driver's kicks while it is
 * polled asks for them again there. 0 or -ENOSPC.
 */
int iothread_add_poller(struct iothread *t, io_poll_fn fn, io_idle_fn idle, void *opaque) MUST_CHECK;

/*
 * Run the loop on a new thread. 0 or -errno. With t->hold, the thread
 * starts (naming, pinning: what the sandbox forbids later) and then waits
 * for iothread_release() before it handles any fd: a partition releases it
 * once its sandbox is on, so no peer's input (console client, stream, TAP,
 * link) is handled without the filter.
 */
int iothread_start(struct iothread *t) MUST_CHECK;

/* Let a held loop run (and a never-released one end, from iothread_stop). */
void iothread_release(struct iothread *t);

/*
 * One round: wait up to timeout_ms and dispatch what is ready. Returns the
 * number of events, -ECANCELED once iothread_stop() was called, or -errno.
 */
int iothread_poll(struct iothread *t, int timeout_ms);

/* Run the loop on the calling thread until iothread_stop(). */
void iothread_run(struct iothread *t);

/* Ask the loop to return and join the thread if one was started. */
void iothread_stop(struct iothread *t);

/* Close the epoll instance. */
void iothread_destroy(struct iothread *t);

#endif
