/* SPDX-License-Identifier: MIT */
/*
 * ticker: prints "tick N" (N = 1, 2, ...) every tick_ms (default 100) ms,
 * timed with the TSC at CPL3. ticks=N: exit 0 after "tick N"; otherwise it
 * runs forever. Used to show that a partition's console keeps advancing
 * while another partition is killed, paused or restarted.
 *
 * Ticks are scheduled on a fixed grid (no drift); when the guest falls
 * more than one period behind (it was paused, or its vCPU did not run),
 * it prints the next tick at once and restarts the grid from there
 * instead of printing a burst of late ticks.
 */
#include "rt.h"

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

int main(void)
{
	if (arg_u64("idle", 0)) {
		printf("ticker: idle\n");
		rt_halt();
	}
	uint64_t tick_ms = arg_u64("tick_ms", 100), ticks = arg_u64("ticks", 0);
	if (!tick_ms)
		tick_ms = 1;
	uint64_t period = tick_ms * (rt_tsc_hz() / 1000);
	if (ticks)
		printf("ticker: every %lu ms, %lu ticks\n", tick_ms, ticks);
	else
		printf("ticker: every %lu ms, forever\n", tick_ms);
	uint64_t next = rdtsc() + period;
	for (uint64_t n = 1; !ticks || n <= ticks; n++) {
		while ((int64_t)(rdtsc() - next) < 0)
			cpu_relax();
		printf("tick %lu\n", n);
		uint64_t now = rdtsc();
		next += period;
		if ((int64_t)(now - next) > 0)
			next = now + period;
	}
	printf("ticker: done\n");
	return 0;
}
