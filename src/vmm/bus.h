/* SPDX-License-Identifier: MIT */
/*
 * Port-I/O and MMIO buses. Devices register fixed ranges before the first
 * guest instruction; the table is read-only afterwards, so vCPU threads look
 * it up without locks. Devices serialise their own state.
 */
#ifndef LVMM_BUS_H
#define LVMM_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "common/util.h"

#define BUS_MAX_DEVS 48

/* Access handlers: offset is relative to the registered base; len is 1, 2, 4 or 8. */
struct bus_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const void *data, uint32_t len);
};

struct bus_dev {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	struct bus_dev devs[BUS_MAX_DEVS];
	unsigned nr;
	atomic_uint_fast64_t unhandled; /* accesses that hit no device */
	struct ratelimit rl;            /* for unhandled-access warnings */
	atomic_flag rl_lock;
};

/* Initialise an empty bus. */
void bus_init(struct bus *b, const char *name);

/*
 * Register [base, base+len). Returns 0, -EEXIST if it overlaps a registered
 * range (the message names both devices), -EINVAL for an empty or wrapping
 * range, -ENOSPC when the table is full.
 */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name) MUST_CHECK;

/*
 * Dispatch one guest access. An access with no device (or straddling a
 * device's end) is counted and logged with rate limiting; reads of it
 * return all ones. Returns true if a device handled it.
 */
bool bus_access(struct bus *b, bool is_write, uint64_t addr, void *data, uint32_t len);

/* Find the device covering addr, or NULL. */
const struct bus_dev *bus_find(const struct bus *b, uint64_t addr, uint32_t len);

#endif
