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

/* Why an access was refused. */
enum dma_fault_kind {
	DMA_FAULT_RANGE = 0,     /* not wholly inside one RAM slot */
	DMA_FAULT_PROTECTED = 1, /* a device write into a protected range */
};

#define GMEM_MAX_PROT 64 /* = LVMM_MAX_PROTECT */

struct gmem_prot {
	uint64_t gpa, size;
};

struct gmem_prot_list {
	struct gmem_prot r[GMEM_MAX_PROT];
	unsigned n;
};

struct gmem;
typedef void (*gmem_fault_fn)(void *opaque, const char *dev, uint64_t gpa, uint64_t len,
			      enum dma_dir dir, enum dma_fault_kind kind);

struct gmem {
	struct gmem_slot slots[GMEM_MAX_SLOTS];
	unsigned nr_slots;
	atomic_uint_fast64_t dma_faults;
	gmem_fault_fn on_fault; /* may be NULL; called for every refused access */
	void *fault_opaque;
	/*
	 * Protected ranges: device writes into them are refused. Append-only
	 * (a lock lasts until the partition ends), so readers on other threads
	 * need no lock: an entry is complete before nr_prot (release) counts it.
	 */
	struct gmem_prot prot[GMEM_MAX_PROT];
	atomic_uint nr_prot;
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

/*
 * Append a protected range (page-aligned, inside RAM: the caller checked).
 * One writer at a time (the caller serialises). 0 or -ENOSPC.
 */
int gmem_protect(struct gmem *m, uint64_t gpa, uint64_t size) MUST_CHECK;

/* Does [gpa, gpa+len) touch a protected range? */
bool gmem_is_protected(struct gmem *m, uint64_t gpa, uint64_t len);

/* Is [gpa, gpa+len) wholly inside protected ranges (each byte in one)? */
bool gmem_all_protected(struct gmem *m, uint64_t gpa, uint64_t len);

/* Copy between guest memory and a host buffer through the translator. 0 or -EFAULT. */
int gmem_read(struct gmem *m, const char *dev, uint64_t gpa, void *buf, size_t len) MUST_CHECK;
int gmem_write(struct gmem *m, const char *dev, uint64_t gpa, const void *buf, size_t len) MUST_CHECK;

/*
 * Loader access (not a device): translate without counting a DMA fault.
 * Used only while building the guest image before the first instruction.
 */
void *gmem_loader_ptr(struct gmem *m, uint64_t gpa, uint64_t len);

#endif
