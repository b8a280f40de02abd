// SPDX-License-Identifier: MIT
#include "vmm/bus.h"
#include "shared/ratelimit.h"
#include "shared/range.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	atomic_flag_clear(&b->rl_lock);
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name)
{
	unsigned i, pos;

	if (!len || base + len < base || !ops)
		return -EINVAL;
	if (b->nr >= BUS_MAX_DEVS)
		return -ENOSPC;
	for (i = 0; i < b->nr; i++) {
		if (ranges_overlap(base, len, b->devs[i].base, b->devs[i].len)) {
			pr_err("%s bus: %s at 0x%" PRIx64 "+0x%" PRIx64
			       " overlaps %s at 0x%" PRIx64 "+0x%" PRIx64,
			       b->name, name, base, len, b->devs[i].name, b->devs[i].base,
			       b->devs[i].len);
			return -EEXIST;
		}
	}
	/* Keep the table sorted by base so lookups can stop early. */
	for (pos = 0; pos < b->nr && b->devs[pos].base < base; pos++)
		;
	memmove(&b->devs[pos + 1], &b->devs[pos], (b->nr - pos) * sizeof(b->devs[0]));
	b->devs[pos] = (struct bus_dev){ base, len, ops, opaque, name };
	b->nr++;
	return 0;
}

const struct bus_dev *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	unsigned lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct bus_dev *d = &b->devs[mid];

		if (addr < d->base)
			hi = mid;
		else if (addr - d->base >= d->len)
			lo = mid + 1;
		else
			return range_within(addr, len, d->base, d->len) ? d : NULL;
	}
	return NULL;
}

bool bus_access(struct bus *b, bool is_write, uint64_t addr, void *data, uint32_t len)
{
	const struct bus_dev *d = bus_find(b, addr, len);

	if (d) {
		if (is_write) {
			if (d->ops->write)
				d->ops->write(d->opaque, addr - d->base, data, len);
		} else if (d->ops->read) {
			d->ops->read(d->opaque, addr - d->base, data, len);
		} else {
			memset(data, 0xff, len);
		}
		return true;
	}
	if (!is_write)
		memset(data, 0xff, len);
	atomic_fetch_add(&b->unhandled, 1);
	/* Several vCPU threads may land here; the limiter itself is not thread-safe. */
	if (!atomic_flag_test_and_set(&b->rl_lock)) {
		pr_warn_rl(&b->rl, "unhandled %s %s at 0x%" PRIx64 " (%u bytes)", b->name,
			   is_write ? "write" : "read", addr, len);
		atomic_flag_clear(&b->rl_lock);
	}
	return false;
}
