/* SPDX-License-Identifier: MIT */
/*
 * Guest memory and the partition's one translator ("DMA remapping unit").
 *
 * Every device model reaches guest memory only through gmem_translate() and
 * the helpers built on it. A range is accepted only if it lies wholly inside
 * one RAM slot; anything else (MMIO hole, beyond RAM, wrap-around, a write
 * into a read-only/protected slot) is a DMA fault: counted, reported through
 * the fault hook, and refused.
 */
#ifndef LVMM_GMEM_H
#define LVMM_GMEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define GMEM_MAX_SLOTS 8

enum dma_dir {
	DMA_TO_DEVICE = 0,   /* device reads guest memory (driver -> device) */
	DMA_FROM_DEVICE = 1, /* device writes guest memory (device -> driver) */
};

struct gmem_slot {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint64_t fd_offset; /* offset of this slot in the partition's memfd */
	bool readonly;      /* device writes refused (protected ranges) */
};

struct gmem;
typedef void (*gmem_fault_fn)(void *opaque, const char *dev, uint64_t gpa, uint64_t len,
			      enum dma_dir dir);

struct gmem {
	struct gmem_slot slots[GMEM_MAX_SLOTS];
	unsigned nr_slots;
	atomic_uint_fast64_t dma_faults;
	gmem_fault_fn on_fault; /* may be NULL; called for every refused access */
	void *fault_opaque;
};

/*
 * Add a slot. Slots must not overlap and must not wrap. Returns 0, -EEXIST
 * (overlap), -EINVAL (bad range) or -ENOSPC (table full). Setup time only.
 */
int gmem_add_slot(struct gmem *m, uint64_t gpa, uint64_t size, void *hva, uint64_t fd_offset,
		  bool readonly) MUST_CHECK;

/*
 * Translate guest-physical [gpa, gpa+len) for a device access in direction
 * dir. Returns the host address, or NULL after recording a DMA fault
 * attributed to dev. len == 0 is refused as well (nothing legal needs it).
 */
void *gmem_translate(struct gmem *m, const char *dev, uint64_t gpa, uint64_t len,
		     enum dma_dir dir);

/* Copy between guest memory and a host buffer through the translator. 0 or -EFAULT. */
int gmem_read(struct gmem *m, const char *dev, uint64_t gpa, void *buf, size_t len) MUST_CHECK;
int gmem_write(struct gmem *m, const char *dev, uint64_t gpa, const void *buf, size_t len) MUST_CHECK;

/*
 * Loader access (not a device): translate without counting a DMA fault.
 * Used only while building the guest image before the first instruction.
 */
void *gmem_loader_ptr(struct gmem *m, uint64_t gpa, uint64_t len);

#endif
