/* SPDX-License-Identifier: MIT */
/*
 * Identity map of RAM above 4 GiB. The page directories are filled here at
 * CPL3 (they are plain memory until linked, and CPL3 runs natively); only
 * the few PDPT entries and the CR3 reload happen at CPL0.
 */
#include "rt.h"
#include "internal.h"

#define HIGH_PDS (RT_MAX_PHYS_GIB - 4)

static uint64_t pds[HIGH_PDS][512] __attribute__((aligned(4096)));
static uint64_t mapped_end = 1ULL << 32;

uint64_t rt_map_high(uint64_t end)
{
	const uint64_t gib = 1ULL << 30, twomib = 2ULL << 20;
	if (end > (uint64_t)RT_MAX_PHYS_GIB * gib)
		end = (uint64_t)RT_MAX_PHYS_GIB * gib;
	end = (end + twomib - 1) & ~(twomib - 1);
	if (end <= mapped_end)
		return mapped_end;
	uint64_t first = 4, count = (end - 4 * gib + gib - 1) / gib;
	for (uint64_t a = 4 * gib; a < end; a += twomib) {
		uint64_t i = a / twomib - 4 * 512;
		pds[i / 512][i % 512] = a | 0x87; /* P, RW, US, PS */
	}
	if (rt_syscall3(RT_SYS_MAP, (long)first, (long)count,
			(long)(uintptr_t)pds) != 0)
		return mapped_end;
	mapped_end = end;
	return end;
}
