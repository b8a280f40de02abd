// SPDX-License-Identifier: MIT
/* Token-bucket arithmetic on an explicit clock. */
#include <errno.h>

#include "unit.h"
#include "virtio/rate_limiter.h"

#define MS 1000000ULL
#define S  1000000000ULL

static struct rate_limiter rl;

static void init(uint64_t bps, uint64_t bburst, uint64_t ops, uint64_t oburst)
{
	struct lvmm_rate_limit c = { bps, bburst, ops, oburst };

	CHECK_EQ(rate_limiter_init(&rl, &c, 0), 0);
}

static void test_unlimited(void)
{
	unsigned i;

	init(0, 0, 0, 0);
	CHECK(rate_limiter_unlimited(&rl));
	for (i = 0; i < 1000; i++)
		CHECK(rate_limiter_consume(&rl, 1ULL << 40, 1000, 0));
	CHECK_EQ(rate_limiter_wait_ns(&rl, UINT64_MAX, UINT64_MAX, 0), 0);
	CHECK_EQ(rate_limiter_init(&rl, NULL, 0), 0);
	CHECK(rate_limiter_unlimited(&rl));
}

static void test_bytes(void)
{
	init(1000, 1000, 0, 0);
	CHECK(!rate_limiter_unlimited(&rl));
	CHECK(rate_limiter_consume(&rl, 600, 1, 0));
	CHECK(!rate_limiter_consume(&rl, 600, 1, 0)); /* 400 left */
	CHECK_EQ(rate_limiter_wait_ns(&rl, 600, 1, 0), 200 * MS);
	CHECK(!rate_limiter_consume(&rl, 600, 1, 200 * MS - 1));
	CHECK(rate_limiter_consume(&rl, 600, 1, 200 * MS));
	CHECK_EQ(rl.bytes.tokens, 0);
	/* Refill stops at the burst. */
	CHECK(rate_limiter_consume(&rl, 0, 0, 100 * S));
	CHECK_EQ(rl.bytes.tokens, 1000);
}

static void test_default_burst(void)
{
	init(5000, 0, 10, 0);
	CHECK_EQ(rl.bytes.burst, 5000);
	CHECK_EQ(rl.ops.burst, 10);
	CHECK_EQ(rl.bytes.tokens, 5000);
}

static void test_ops(void)
{
	unsigned i;

	init(0, 0, 100, 10);
	for (i = 0; i < 10; i++)
		CHECK(rate_limiter_consume(&rl, 1 << 20, 1, 0));
	CHECK(!rate_limiter_consume(&rl, 0, 1, 0));
	CHECK_EQ(rate_limiter_wait_ns(&rl, 0, 1, 0), 10 * MS);
	CHECK(rate_limiter_consume(&rl, 0, 1, 10 * MS));
}

static void test_both_must_allow(void)
{
	init(1000, 1000, 1, 1);
	CHECK(rate_limiter_consume(&rl, 10, 1, 0));
	/* Bytes are there, the op is not: nothing is taken. */
	CHECK(!rate_limiter_consume(&rl, 10, 1, 0));
	CHECK_EQ(rl.bytes.tokens, 990);
	CHECK_EQ(rate_limiter_wait_ns(&rl, 10, 1, 0), S);
	CHECK_EQ(rate_limiter_wait_ns(&rl, 2000, 0, 0), 10 * MS); /* capped at the burst */
}

static void test_oversize_and_debt(void)
{
	init(1000, 1000, 0, 0);
	/* Bigger than the burst: may start with a full bucket, then pays it back. */
	CHECK(rate_limiter_consume(&rl, 5000, 1, 0));
	CHECK_EQ(rl.bytes.tokens, -4000);
	CHECK(!rate_limiter_consume(&rl, 1, 1, 0));
	CHECK_EQ(rate_limiter_wait_ns(&rl, 1, 1, 0), 4001 * MS);
	CHECK(rate_limiter_consume(&rl, 1, 1, 4001 * MS));
	/* Charging after the fact (rx) goes into debt the same way. */
	init(1000, 1000, 0, 0);
	rate_limiter_charge(&rl, 3000, 0, 0);
	CHECK_EQ(rl.bytes.tokens, -2000);
	CHECK_EQ(rate_limiter_wait_ns(&rl, 1000, 0, 0), 3 * S);
	/* Refund gives back, up to the burst. */
	rate_limiter_refund(&rl, 1 << 30, 0);
	CHECK_EQ(rl.bytes.tokens, 1000);
	/* Absurd charges keep the debt bounded (and the wait finite). */
	rate_limiter_charge(&rl, UINT64_MAX, 0, 0);
	rate_limiter_charge(&rl, UINT64_MAX, 0, 0);
	CHECK(rl.bytes.tokens >= -(int64_t)(1ULL << 62));
	CHECK(rate_limiter_wait_ns(&rl, 1, 0, 0) > 0);
}

static void test_fractions(void)
{
	unsigned i;
	uint64_t t = 0;

	init(0, 0, 3, 1);
	CHECK(rate_limiter_consume(&rl, 0, 1, 0));
	/* 3 ops/s: a token every 333,333,333.3 ns; nothing lost to rounding. */
	CHECK(!rate_limiter_consume(&rl, 0, 1, 333333333));
	CHECK(rate_limiter_consume(&rl, 0, 1, 333333334));
	/*
	 * Over many small steps the rate holds exactly: 3 per second. (A burst
	 * big enough never to fill: a full bucket rightly discards refill.)
	 */
	init(0, 0, 3, 100);
	CHECK(rate_limiter_consume(&rl, 0, 100, 0));
	{
		unsigned n = 0;

		for (i = 1; i <= 10000; i++) {
			t = i * (10 * S / 10000); /* 10 s in 1 ms steps */
			if (rate_limiter_consume(&rl, 0, 1, t))
				n++;
		}
		CHECK_EQ(n, 30);
	}
	/* wait_ns rounds up: after waiting it, the op may start. */
	init(7, 7, 0, 0);
	CHECK(rate_limiter_consume(&rl, 7, 0, 0));
	t = rate_limiter_wait_ns(&rl, 1, 0, 0);
	CHECK_EQ(t, 142857143);
	CHECK(!rate_limiter_consume(&rl, 1, 0, t - 1));
	CHECK(rate_limiter_consume(&rl, 1, 0, t));
}

static void test_limits(void)
{
	struct lvmm_rate_limit c = { 1ULL << 62, 0, 0, 0 };

	CHECK_EQ(rate_limiter_init(&rl, &c, 0), 0);
	CHECK(rate_limiter_consume(&rl, 1ULL << 61, 0, 0));
	CHECK(rate_limiter_consume(&rl, 1ULL << 61, 0, UINT64_MAX)); /* huge elapsed: full */
	c.bytes_per_sec = 1ULL << 63;
	CHECK_EQ(rate_limiter_init(&rl, &c, 0), -EINVAL);
	c.bytes_per_sec = 1;
	c.bytes_burst = UINT64_MAX;
	CHECK_EQ(rate_limiter_init(&rl, &c, 0), -EINVAL);
	/* A clock going backwards refills nothing. */
	init(1000, 1000, 0, 0);
	CHECK(rate_limiter_consume(&rl, 1000, 0, 5 * S));
	CHECK(!rate_limiter_consume(&rl, 1, 0, 1 * S));
	/* Slowest rate: the wait is long but exact. */
	init(1, 1, 0, 0);
	CHECK(rate_limiter_consume(&rl, 1, 0, 0));
	CHECK_EQ(rate_limiter_wait_ns(&rl, 1, 0, 0), S);
}

int main(void)
{
	RUN(test_unlimited);
	RUN(test_bytes);
	RUN(test_default_burst);
	RUN(test_ops);
	RUN(test_both_must_allow);
	RUN(test_oversize_and_debt);
	RUN(test_fractions);
	RUN(test_limits);
	return unit_done();
}
