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
 *
 * sleep_at=N: after "tick N", enter the ACPI sleep state sleep_state=S
 * (3, default: S3; 5: S5, power off) as a hardware-reduced ACPI OS does:
 * print "ticker: entering S<S>", write SLP_TYP << 2 | SLP_EN to lvmm's sleep
 * control register (docs/acpi.md), then poll the sleep status register
 * until WAK_STS is set, clear it, print "ticker: woke from S3 (WAK_STS)"
 * and tick on. (Under lvmm the write stops the vCPU until a wake: the
 * poll finds WAK_STS at once.)
 */
#include "rt.h"
#include "lvmm/guest_abi.h"

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
	uint64_t sleep_at = arg_u64("sleep_at", 0), state = arg_u64("sleep_state", LVMM_SLP_TYP_S3);
	uint64_t next = rdtsc() + period;
	for (uint64_t n = 1; !ticks || n <= ticks; n++) {
		while ((int64_t)(rdtsc() - next) < 0) {
			rt_power_poll(); /* `lvmm ctl shutdown` powers it off */
			cpu_relax();
		}
		printf("tick %lu\n", n);
		if (n == sleep_at) {
			printf("ticker: entering S%lu\n", state);
			outb(LVMM_PORT_SLEEP_CTL, (uint8_t)((state << LVMM_SLEEP_TYP_SHIFT) & LVMM_SLEEP_TYP_MASK) |
			     LVMM_SLEEP_SLP_EN);
			while (!(inb(LVMM_PORT_SLEEP_STS) & LVMM_SLEEP_WAK_STS))
				cpu_relax();
			outb(LVMM_PORT_SLEEP_STS, LVMM_SLEEP_WAK_STS);
			printf("ticker: woke from S%lu (WAK_STS)\n", state);
		}
		uint64_t now = rdtsc();
		next += period;
		if ((int64_t)(now - next) > 0)
			next = now + period;
	}
	printf("ticker: done\n");
	return 0;
}
