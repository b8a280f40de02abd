// SPDX-License-Identifier: MIT
#include "vmm/gmem.h"
#include "shared/range.h"

#include <errno.h>
#include <string.h>

int gmem_add_slot(struct gmem *m, uint64_t gpa, uint64_t size, void *hva, uint64_t fd_offset,
		  bool readonly)
{
	unsigned i;

	if (!size || gpa + size < gpa || !hva)
		return -EINVAL;
	if (m->nr_slots >= GMEM_MAX_SLOTS)
		return -ENOSPC;
	for (i = 0; i < m->nr_slots; i++)
		if (ranges_overlap(gpa, size, m->slots[i].gpa, m->slots[i].size))
			return -EEXIST;
	m->slots[m->nr_slots++] = (struct gmem_slot){
		.gpa = gpa, .size = size, .hva = hva, .fd_offset = fd_offset, .readonly = readonly,
	};
	return 0;
}

static struct gmem_slot *gmem_find(struct gmem *m, uint64_t gpa, uint64_t len)
{
	unsigned i;

	if (!len)
		return NULL;
	for (i = 0; i < m->nr_slots; i++)
		if (range_within(gpa, len, m->slots[i].gpa, m->slots[i].size))
			return &m->slots[i];
	return NULL;
}

int gmem_protect(struct gmem *m, uint64_t gpa, uint64_t size)
{
	unsigned n = atomic_load_explicit(&m->nr_prot, memory_order_relaxed);

	if (n >= GMEM_MAX_PROT)
		return -ENOSPC;
	m->prot[n] = (struct gmem_prot){ .gpa = gpa, .size = size };
	atomic_store_explicit(&m->nr_prot, n + 1, memory_order_release);
	return 0;
}

bool gmem_is_protected(struct gmem *m, uint64_t gpa, uint64_t len)
{
	unsigned i, n = atomic_load_explicit(&m->nr_prot, memory_order_acquire);

	for (i = 0; i < n && i < GMEM_MAX_PROT; i++)
		if (ranges_overlap(gpa, len, m->prot[i].gpa, m->prot[i].size))
			return true;
	return false;
}

bool gmem_all_protected(struct gmem *m, uint64_t gpa, uint64_t len)
{
	unsigned i, guard, n = atomic_load_explicit(&m->nr_prot, memory_order_acquire);
	uint64_t end = gpa + len;

	if (!len || end < gpa)
		return false;
	/* Walk forward through covering ranges; each step advances or fails. */
	for (guard = 0; guard <= GMEM_MAX_PROT && gpa < end; guard++) {
		for (i = 0; i < n && i < GMEM_MAX_PROT; i++)
			if (gpa >= m->prot[i].gpa && gpa - m->prot[i].gpa < m->prot[i].size)
				break;
		if (i == n || i == GMEM_MAX_PROT)
			return false;
		gpa = m->prot[i].gpa + m->prot[i].size;
	}
	return gpa >= end;
}

void *gmem_translate(struct gmem *m, const char *dev, uint64_t gpa, uint64_t len,
		     enum dma_dir dir)
{
	struct gmem_slot *s = gmem_find(m, gpa, len);
	enum dma_fault_kind kind = DMA_FAULT_RANGE;

	if (s && !(dir == DMA_FROM_DEVICE && s->readonly)) {
		if (dir != DMA_FROM_DEVICE || !gmem_is_protected(m, gpa, len))
			return s->hva + (gpa - s->gpa);
		kind = DMA_FAULT_PROTECTED;
	}
	atomic_fetch_add(&m->dma_faults, 1);
	if (m->on_fault)
		m->on_fault(m->fault_opaque, dev, gpa, len, dir, kind);
	return NULL;
}

int gmem_read(struct gmem *m, const char *dev, uint64_t gpa, void *buf, size_t len)
{
	void *p = gmem_translate(m, dev, gpa, len, DMA_TO_DEVICE);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int gmem_write(struct gmem *m, const char *dev, uint64_t gpa, const void *buf, size_t len)
{
	void *p = gmem_translate(m, dev, gpa, len, DMA_FROM_DEVICE);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

void *gmem_loader_ptr(struct gmem *m, uint64_t gpa, uint64_t len)
{
	struct gmem_slot *s = gmem_find(m, gpa, len);

	return s ? s->hva + (gpa - s->gpa) : NULL;
}
