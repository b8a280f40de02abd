// SPDX-License-Identifier: MIT
/* The translator with protected ranges (docs/protect.md): device writes refused, reads kept. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/gmem.h"
#include "unit/unit.h"

static struct gmem gm;
static unsigned faults, protected_faults;

static void on_fault(void *opaque, const char *dev, uint64_t gpa, uint64_t len, enum dma_dir dir,
		     enum dma_fault_kind kind)
{
	(void)opaque, (void)dev, (void)gpa, (void)len, (void)dir;
	faults++;
	protected_faults += kind == DMA_FAULT_PROTECTED;
}

static void test_translate_protected(void)
{
	static uint8_t ram[1 << 20] __attribute__((aligned(4096)));

	memset(&gm, 0, sizeof(gm));
	CHECK_EQ(gmem_add_slot(&gm, 0, sizeof(ram), ram, 0, false), 0);
	gm.on_fault = on_fault;
	CHECK_EQ(gmem_protect(&gm, 0x10000, 0x1000), 0);
	/* a device write into it: refused, as a protection fault */
	CHECK(!gmem_translate(&gm, "blk0", 0x10000, 512, DMA_FROM_DEVICE));
	CHECK_EQ(protected_faults, 1);
	/* straddling its start or end: refused too */
	CHECK(!gmem_translate(&gm, "blk0", 0xff00, 0x200, DMA_FROM_DEVICE));
	CHECK(!gmem_translate(&gm, "blk0", 0x10fff, 2, DMA_FROM_DEVICE));
	CHECK_EQ(protected_faults, 3);
	/* a device read of it, and writes next to it: fine */
	CHECK(gmem_translate(&gm, "blk0", 0x10000, 512, DMA_TO_DEVICE) == ram + 0x10000);
	CHECK(gmem_translate(&gm, "blk0", 0x11000, 0x1000, DMA_FROM_DEVICE) == ram + 0x11000);
	CHECK(gmem_translate(&gm, "blk0", 0xf000, 0x1000, DMA_FROM_DEVICE) == ram + 0xf000);
	CHECK_EQ(faults, 3);
	/* beyond RAM is still a range fault */
	CHECK(!gmem_translate(&gm, "blk0", sizeof(ram), 1, DMA_FROM_DEVICE));
	CHECK_EQ(faults, 4);
	CHECK_EQ(protected_faults, 3);
	CHECK_EQ(atomic_load(&gm.dma_faults), 4);
}

static void test_all_protected_and_limit(void)
{
	unsigned i;

	memset(&gm, 0, sizeof(gm));
	CHECK_EQ(gmem_protect(&gm, 0x2000, 0x1000), 0);
	CHECK_EQ(gmem_protect(&gm, 0x3000, 0x2000), 0);
	CHECK(gmem_all_protected(&gm, 0x2000, 0x3000)); /* covered by two adjacent ranges */
	CHECK(gmem_all_protected(&gm, 0x3800, 0x100));
	CHECK(!gmem_all_protected(&gm, 0x2000, 0x4000));
	CHECK(!gmem_all_protected(&gm, 0x1000, 0x2000));
	CHECK(!gmem_all_protected(&gm, 0x2000, 0));
	CHECK(!gmem_all_protected(&gm, UINT64_MAX - 1, 4)); /* wraps */
	CHECK(gmem_is_protected(&gm, 0x4fff, 1));
	CHECK(!gmem_is_protected(&gm, 0x5000, 0x1000));
	for (i = 2; i < GMEM_MAX_PROT; i++)
		CHECK_EQ(gmem_protect(&gm, 0x100000 + i * 0x2000ULL, 0x1000), 0);
	CHECK_EQ(gmem_protect(&gm, 0x900000, 0x1000), -ENOSPC); /* the 65th */
	CHECK_EQ(atomic_load(&gm.nr_prot), GMEM_MAX_PROT);
}

int main(void)
{
	RUN(test_translate_protected);
	RUN(test_all_protected_and_limit);
	return unit_done();
}
