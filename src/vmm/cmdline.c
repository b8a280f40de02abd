// SPDX-License-Identifier: MIT
/* The guest's command line, one builder for the partition and the trust process; see cmdline.h. */
#include "vmm/cmdline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

void virtio_slot(unsigned i, uint64_t *base, uint32_t *irq)
{
	static const uint32_t irqs[] = LVMM_VIRTIO_IRQS;

	_Static_assert(sizeof(irqs) / sizeof(irqs[0]) == LVMM_VIRTIO_MMIO_MAX, "irq table");
	*base = LVMM_VIRTIO_MMIO_BASE + i * LVMM_VIRTIO_MMIO_SIZE;
	*irq = irqs[i < LVMM_VIRTIO_MMIO_MAX ? i : 0];
}

/* The virtio models of src/devices/registry.c (each takes one slot in virtio_mmio_create()). */
bool dev_type_takes_virtio_slot(uint32_t type)
{
	switch (type) {
	case LVMM_DEV_BLK:
	case LVMM_DEV_NET_TAP:
	case LVMM_DEV_NET_LINK:
	case LVMM_DEV_STREAM:
		return true;
	default:
		return false; /* LVMM_DEV_TPM: the CRB, at its own fixed address */
	}
}

unsigned cmdline_virtio_slots(const struct plat_part *p)
{
	unsigned i, n = 0;

	for (i = 0; i < p->ndevs && i < LVMM_MAX_DEVS; i++)
		n += dev_type_takes_virtio_slot(p->devs[i].type);
	return n;
}

int cmdline_build(const char *configured, unsigned nslots, char *out, size_t cap)
{
	size_t len = 0;
	unsigned i;
	int n;

	if (!cap)
		return -ENOSPC;
	out[0] = 0;
	if (nslots > LVMM_VIRTIO_MMIO_MAX)
		return -EINVAL;
	n = snprintf(out, cap, "%s", configured ? configured : "");
	for (i = 0; n >= 0 && (size_t)n < cap - len; i++) {
		uint64_t base;
		uint32_t irq;

		len += (size_t)n;
		if (i == nslots)
			return (int)len;
		virtio_slot(i, &base, &irq);
		n = snprintf(out + len, cap - len, "%svirtio_mmio.device=4K@0x%" PRIx64 ":%u",
			     len ? " " : "", base, irq);
	}
	out[0] = 0;
	return -ENOSPC;
}
