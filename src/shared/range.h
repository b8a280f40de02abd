/* SPDX-License-Identifier: MIT */
/*
 * Range arithmetic for guest addresses, in the partition process and the
 * platform loader (not the supervisor, which never handles guest
 * addresses: scripts/loc.sh does not count this).
 */
#ifndef LVMM_SHARED_RANGE_H
#define LVMM_SHARED_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))

/* True if [start, start+len) lies inside [lo, lo+size), with no wrap-around anywhere. */
static inline bool range_within(uint64_t start, uint64_t len, uint64_t lo, uint64_t size)
{
	if (start < lo)
		return false;
	if (start - lo > size)
		return false;
	return len <= size - (start - lo);
}

/* True if [a, a+alen) and [b, b+blen) overlap; lengths of 0 never overlap. */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	if (!alen || !blen)
		return false;
	/* Written with differences so that ranges ending at 2^64 do not wrap. */
	return a <= b ? b - a < alen : a - b < blen;
}

#endif
