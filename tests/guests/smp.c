/* SPDX-License-Identifier: MIT */
/*
 * smp: finds the CPUs in the MP table, starts every AP with INIT-SIPI-SIPI
 * and waits (bounded) until each one reports from CPL3.
 */
#include "rt.h"

static volatile uint32_t reported;

void ap_main(unsigned apic_id)
{
	printf("cpu %u online\n", apic_id);
	__atomic_add_fetch(&reported, 1, __ATOMIC_RELEASE);
}

int main(void)
{
	uint8_t ids[RT_MAX_CPUS];
	const char *src;
	int n = rt_find_cpus(ids, RT_MAX_CPUS, &src);
	unsigned self = rt_cpu_id();
	if (n < 1) {
		printf("smp: no MP table or MADT found\n");
		return 2;
	}
	printf("smp: %d cpus in %s, bsp is cpu %u\n", n, src, self);
	printf("cpu %u online\n", self);

	char arg[16];
	uint64_t timeout_ms = 5000;
	if (rt_cmdline_get("smp_timeout_ms", arg, sizeof(arg)) > 0)
		timeout_ms = rt_strtou64(arg, NULL);

	uint64_t t0 = rdtsc();
	uint8_t aps[RT_MAX_CPUS];
	unsigned expected = 0;
	for (int i = 0; i < n; i++) {
		if (ids[i] == self)
			continue;
		if (ids[i] >= RT_MAX_CPUS) {
			printf("smp: apic id %u is beyond this runtime's %d\n",
			       ids[i], RT_MAX_CPUS);
			continue;
		}
		aps[expected++] = ids[i];
	}
	rt_start_aps(aps, (int)expected);
	uint64_t hz = rt_tsc_hz();
	uint64_t deadline = t0 + timeout_ms * (hz / 1000);
	while (__atomic_load_n(&reported, __ATOMIC_ACQUIRE) < expected &&
	       (int64_t)(rdtsc() - deadline) < 0)
		cpu_relax();
	unsigned k = 1 + __atomic_load_n(&reported, __ATOMIC_ACQUIRE);
	uint64_t ms = (rdtsc() - t0) / (hz / 1000);
	if (k < (unsigned)n) {
		printf("smp: only %u of %d cpus\n", k, n);
		return 3;
	}
	printf("smp: all %d cpus online (%lu ms)\n", n, ms);
	return 0;
}
