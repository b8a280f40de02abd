/* SPDX-License-Identifier: MIT */
/*
 * Token-bucket rate limiter for device I/O: one bucket for bytes, one for
 * operations (frames, requests). Each bucket refills at `rate` tokens per
 * second up to `burst` tokens; a rate of 0 disables that bucket.
 *
 * An operation may start when each enabled bucket holds at least
 * min(cost, burst) tokens; it then takes its whole cost, so a bucket can go
 * into debt (an operation bigger than the burst, or rx bytes counted after
 * the frame was read). Debt is paid back by refill before the next start.
 *
 * Pure arithmetic on an explicit clock (nanoseconds): callers pass now_ns()
 * and tests pass anything. Not thread-safe (the device's lock covers it).
 */
#ifndef LVMM_RATE_LIMITER_H
#define LVMM_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "lvmm/proto.h"

struct token_bucket {
	uint64_t rate;     /* tokens per second; 0 = unlimited */
	uint64_t burst;    /* capacity */
	int64_t tokens;    /* may be negative (debt) */
	uint64_t rem;      /* sub-token remainder, in token * ns units (< 1e9) */
	uint64_t last_ns;
};

struct rate_limiter {
	struct token_bucket bytes, ops;
};

/*
 * Configure from the platform's limits, starting full at time now. A burst
 * of 0 means one second's worth of rate. Returns 0 or -EINVAL (a rate or
 * burst too large to compute with: above 2^62).
 */
int rate_limiter_init(struct rate_limiter *rl, const struct lvmm_rate_limit *cfg,
		      uint64_t now) MUST_CHECK;

/* True if neither bucket is enabled (no limiting, no timers needed). */
bool rate_limiter_unlimited(const struct rate_limiter *rl);

/*
 * Start an operation of `bytes` bytes and `ops` operations at time now if
 * the buckets allow it (see above): take the tokens and return true, or
 * take nothing and return false.
 */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now);

/* Take tokens unconditionally (work already done); buckets may go into debt. */
void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now);

/* Give back tokens taken by rate_limiter_consume() for work that did not happen. */
void rate_limiter_refund(struct rate_limiter *rl, uint64_t bytes, uint64_t ops);

/*
 * Nanoseconds from now until an operation of this cost could start
 * (0 = now). Use it to arm a one-shot timer.
 */
uint64_t rate_limiter_wait_ns(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now);

#endif
