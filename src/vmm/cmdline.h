/* SPDX-License-Identifier: MIT */
/*
 * The guest's command line: the entry's (cmdline:, or the safe image's),
 * then one `virtio_mmio.device=4K@BASE:IRQ` per virtio-mmio slot, in slot
 * order. Built here and only here, for both sides of a measured start:
 * the partition writes it into guest memory (boot.c, with the slots its
 * devices took) and the trust process measures it into PCR 20 and its
 * event log (src/trust/verdict.c, with the slots the platform entry's
 * devices take; `lvmm measure` the same), so the two are byte for byte
 * the same string (docs/trust.md, "Which PCR holds what").
 */
#ifndef LVMM_VMM_CMDLINE_H
#define LVMM_VMM_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/platform.h"
#include "lvmm/guest_abi.h"
#include "lvmm/proto.h"

/* One `virtio_mmio.device=4K@0xd000d000:21` with its separating space: at most 36 bytes. */
#define CMDLINE_VIRTIO_ENTRY_MAX 48
/* The longest command line, NUL included. */
#define CMDLINE_MAX (LVMM_CMDLINE_MAX + LVMM_VIRTIO_MMIO_MAX * CMDLINE_VIRTIO_ENTRY_MAX)

/* Slot i's MMIO window and IOAPIC input (i < LVMM_VIRTIO_MMIO_MAX). */
void virtio_slot(unsigned i, uint64_t *base, uint32_t *irq);

/* Does a device of this type (enum lvmm_dev_type) take a virtio-mmio slot? */
bool dev_type_takes_virtio_slot(uint32_t type);

/* The slots the devices of entry p take when the partition gets all of them. */
unsigned cmdline_virtio_slots(const struct plat_part *p);

/*
 * configured, then the entries of slots 0..nslots-1, space-separated, into
 * out[0..cap). Its length, or -EINVAL (more slots than the platform has),
 * -ENOSPC (does not fit; out is then empty).
 */
int cmdline_build(const char *configured, unsigned nslots, char *out, size_t cap);

#endif
