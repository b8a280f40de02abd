/* SPDX-License-Identifier: MIT */
/*
 * Interrupt-driven waiting for the test guests: the LAPIC and IOAPIC set up
 * from CPL3 (their registers are MMIO in the user-accessible identity map),
 * the wait itself a service call (rt/cpu.c, RT_SYS_WAIT_IRQ).
 */
#include "rt.h"
#include "lvmm/guest_abi.h"

#define LAPIC_SVR  0x0f0
#define LAPIC_LVTT 0x320
#define LAPIC_TDCR 0x3e0

void rt_irq_init(uint8_t timer_vector)
{
	mmio_write32(LVMM_LAPIC_BASE + LAPIC_SVR, 0x1ff); /* enabled, spurious 0xff */
	mmio_write32(LVMM_LAPIC_BASE + LAPIC_TDCR, 0xb);  /* divide by 1: KVM's 1 GHz bus, count = ns */
	mmio_write32(LVMM_LAPIC_BASE + LAPIC_LVTT, timer_vector); /* one-shot, unmasked */
}

uint32_t rt_ioapic_read(uint32_t reg)
{
	mmio_write32(LVMM_IOAPIC_BASE, reg);          /* IOREGSEL */
	return mmio_read32(LVMM_IOAPIC_BASE + 0x10);  /* IOWIN */
}

void rt_ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LVMM_IOAPIC_BASE, reg);
	mmio_write32(LVMM_IOAPIC_BASE + 0x10, v);
}

void rt_ioapic_route(unsigned pin, uint32_t lo, uint8_t dest)
{
	/* High half first: the entry is complete when the low half unmasks it. */
	rt_ioapic_write(0x11 + 2 * pin, (uint32_t)dest << 24);
	rt_ioapic_write(0x10 + 2 * pin, lo);
}

unsigned rt_wait_irq(uint64_t timeout_ns)
{
	return (unsigned)rt_syscall(RT_SYS_WAIT_IRQ, (long)timeout_ns, 0);
}
