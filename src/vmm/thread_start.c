// SPDX-License-Identifier: MIT
#include "vmm/thread_start.h"

#include <sched.h>
#include <stdbool.h>

/* Written by the set-up thread before the threads it starts exist; only read by them. */
static cpu_set_t wide;
static bool have_wide;

void thread_start_narrow(void)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (have_wide || cpu < 0 || sched_getaffinity(0, sizeof(wide), &wide) || !CPU_ISSET(cpu, &wide))
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	/* Failing, threads start wherever the scheduler puts them: slower, not wrong. */
	have_wide = !sched_setaffinity(0, sizeof(one), &one);
}

void thread_start_widen(void)
{
	if (have_wide)
		sched_setaffinity(0, sizeof(wide), &wide);
}
