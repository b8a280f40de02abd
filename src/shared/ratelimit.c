// SPDX-License-Identifier: MIT
#include "shared/ratelimit.h"

bool ratelimit_allow(struct ratelimit *rl)
{
	uint64_t t = now_ns();
	uint64_t refill;

	if (!rl->init) {
		rl->init = true;
		rl->tokens = RL_BURST;
		rl->last_ns = t;
	}
	refill = (t - rl->last_ns) / (RL_INTERVAL_MS * 1000000ULL);
	if (refill) {
		rl->tokens = refill >= RL_BURST ? RL_BURST : rl->tokens + (uint32_t)refill;
		if (rl->tokens > RL_BURST)
			rl->tokens = RL_BURST;
		rl->last_ns = t;
	}
	if (rl->tokens == 0) {
		if (rl->suppressed < UINT32_MAX)
			rl->suppressed++;
		return false;
	}
	rl->tokens--;
	return true;
}
