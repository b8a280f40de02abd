// SPDX-License-Identifier: MIT
#include "virtio/rate_limiter.h"

#include <errno.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000ULL
/* Keeps tokens, debts and products in int64/u128 range with a wide margin. */
#define TB_MAX (1ULL << 62)

static int tb_init(struct token_bucket *tb, uint64_t rate, uint64_t burst, uint64_t now)
{
	memset(tb, 0, sizeof(*tb));
	if (!rate)
		return 0;
	if (!burst)
		burst = rate;
	if (rate > TB_MAX || burst > TB_MAX)
		return -EINVAL;
	tb->rate = rate;
	tb->burst = burst;
	tb->tokens = (int64_t)burst;
	tb->last_ns = now;
	return 0;
}

static void tb_refill(struct token_bucket *tb, uint64_t now)
{
	unsigned __int128 acc;
	uint64_t add;

	if (!tb->rate || now <= tb->last_ns)
		return;
	/* Exact integer refill: remainder carried so no fraction is ever lost. */
	acc = (unsigned __int128)(now - tb->last_ns) * tb->rate + tb->rem;
	tb->last_ns = now;
	if (acc / NSEC_PER_SEC >= (unsigned __int128)(2 * TB_MAX)) {
		tb->tokens = (int64_t)tb->burst;
		tb->rem = 0;
		return;
	}
	add = (uint64_t)(acc / NSEC_PER_SEC);
	tb->rem = (uint64_t)(acc % NSEC_PER_SEC);
	if (tb->tokens + (__int128)add >= (__int128)tb->burst) {
		tb->tokens = (int64_t)tb->burst;
		tb->rem = 0;
	} else {
		tb->tokens += (int64_t)add;
	}
}

/* Cost clamped so that debts stay bounded even for absurd requests. */
static int64_t tb_cost(uint64_t cost)
{
	return cost > TB_MAX ? (int64_t)TB_MAX : (int64_t)cost;
}

static bool tb_can_start(const struct token_bucket *tb, uint64_t cost)
{
	uint64_t need;

	if (!tb->rate)
		return true;
	need = cost < tb->burst ? cost : tb->burst;
	return tb->tokens >= (int64_t)need;
}

static void tb_take(struct token_bucket *tb, uint64_t cost)
{
	if (!tb->rate)
		return;
	tb->tokens -= tb_cost(cost);
	/* Floor the debt: a bounded wait, whatever was charged. */
	if (tb->tokens < -(int64_t)TB_MAX)
		tb->tokens = -(int64_t)TB_MAX;
}

static uint64_t tb_wait(const struct token_bucket *tb, uint64_t cost)
{
	uint64_t need;
	unsigned __int128 deficit_ns;

	if (!tb->rate || tb_can_start(tb, cost))
		return 0;
	need = cost < tb->burst ? cost : tb->burst;
	/* Time until tokens + (elapsed * rate + rem) / 1e9 >= need. */
	deficit_ns = (unsigned __int128)((__int128)need - tb->tokens) * NSEC_PER_SEC - tb->rem;
	deficit_ns = (deficit_ns + tb->rate - 1) / tb->rate;
	return deficit_ns > UINT64_MAX ? UINT64_MAX : (uint64_t)deficit_ns;
}

int rate_limiter_init(struct rate_limiter *rl, const struct lvmm_rate_limit *cfg, uint64_t now)
{
	int r;

	memset(rl, 0, sizeof(*rl));
	if (!cfg)
		return 0;
	r = tb_init(&rl->bytes, cfg->bytes_per_sec, cfg->bytes_burst, now);
	if (!r)
		r = tb_init(&rl->ops, cfg->ops_per_sec, cfg->ops_burst, now);
	if (r)
		memset(rl, 0, sizeof(*rl));
	return r;
}

bool rate_limiter_unlimited(const struct rate_limiter *rl)
{
	return !rl->bytes.rate && !rl->ops.rate;
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now)
{
	tb_refill(&rl->bytes, now);
	tb_refill(&rl->ops, now);
	if (!tb_can_start(&rl->bytes, bytes) || !tb_can_start(&rl->ops, ops))
		return false;
	tb_take(&rl->bytes, bytes);
	tb_take(&rl->ops, ops);
	return true;
}

void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now)
{
	tb_refill(&rl->bytes, now);
	tb_refill(&rl->ops, now);
	tb_take(&rl->bytes, bytes);
	tb_take(&rl->ops, ops);
}

static void tb_refund(struct token_bucket *tb, uint64_t cost)
{
	if (!tb->rate)
		return;
	tb->tokens += tb_cost(cost);
	if (tb->tokens > (int64_t)tb->burst)
		tb->tokens = (int64_t)tb->burst;
}

void rate_limiter_refund(struct rate_limiter *rl, uint64_t bytes, uint64_t ops)
{
	tb_refund(&rl->bytes, bytes);
	tb_refund(&rl->ops, ops);
}

uint64_t rate_limiter_wait_ns(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now)
{
	uint64_t a, b;

	tb_refill(&rl->bytes, now);
	tb_refill(&rl->ops, now);
	a = tb_wait(&rl->bytes, bytes);
	b = tb_wait(&rl->ops, ops);
	return a > b ? a : b;
}
