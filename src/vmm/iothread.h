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

typedef void (*io_handler_fn)(void *opaque, uint32_t events);

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
	bool pin;      /* run only on cpus (set before iothread_start) */
	cpu_set_t cpus;
	struct io_handler handlers[IOTHREAD_MAX_HANDLERS];
};

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

/* Run the loop on a new thread. 0 or -errno. */
int iothread_start(struct iothread *t) MUST_CHECK;

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
