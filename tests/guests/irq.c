/* SPDX-License-Identifier: MIT */
/*
 * irq: drives the IOAPIC (0xfec00000) as a guest OS does and watches where
 * the interrupts land: in its own LAPIC's IRR (0xfee00200), since these
 * guests run at CPL3 with interrupts off, an accepted interrupt stays
 * pending there where the guest can read it. Prints one line per check,
 *     irq: NAME: ok|FAIL detail
 * then "irq: done" and exits 0 (1 if a check failed). Checks, in order:
 *   regs      version register 0x00170011 (0x11, 23 = highest entry); the
 *             arbitration ID equals the ID; the ID, "irq: id N" (N printed)
 *   badindex  writes to the version register and to indexes past the
 *             table are ignored; those indexes read 0
 *   rte       pin 23's low dword after writing all ones, printed as
 *             "irq: rte23 0xVALUE" (the test knows what each IOAPIC keeps)
 *   uart      pin 4 -> vector 0x41: enabling the UART's THR-empty
 *             interrupt makes 0x41 pending
 *   latch     pin 4 masked, vector 0x51: the UART raises its line, 0x51
 *             stays clear; unmasked, 0x51 becomes pending
 *   blk       (with a virtio-blk disk) its pin -> vector 0x61: a read's
 *             completion makes 0x61 pending (irqfd -> route -> LAPIC)
 *   blkmask   the same pin masked, vector 0x62: a read's completion does
 *             not make 0x62 pending
 *   lowest    pin 4 lowest-priority delivery, vector 0x73: pending
 *   hostile   pin 4 with vector 5, then delivery mode 3 (reserved) and 7
 *             (ExtINT) with vectors 0x71/0x72, each followed by 200 raises
 *             of the line: none of 0x71/0x72 pending, and the guest runs on
 *   init      (only with init=1) pin 4 with delivery mode INIT: a raise
 *             does not reset this CPU (the guest prints the next line)
 *   storm     (only with storm=N) pin 5 unmasked and masked again N times
 *             (each change a new routing table): "irq: storm N in T ms"
 */
#include "rt.h"
#include "virtio.h"
#include "lvmm/guest_abi.h"

#define LAPIC_SVR 0xf0
#define LAPIC_IRR 0x200
#define COM1_IER 0x3f9
#define MASKED   0x10000u

static int failed;

static int pending(unsigned vector)
{
	uint32_t w = mmio_read32(LVMM_LAPIC_BASE + LAPIC_IRR + 0x10 * (vector / 32));

	return !!(w & (1u << (vector % 32)));
}

/* Wait up to ms for vector to become pending. */
static int wait_pending(unsigned vector, unsigned ms)
{
	for (unsigned i = 0; i < ms * 10; i++) {
		if (pending(vector))
			return 1;
		rt_udelay(100);
	}
	return pending(vector);
}

static void check(const char *name, int ok, const char *detail)
{
	printf("irq: %s: %s%s%s\n", name, ok ? "ok" : "FAIL", detail ? " " : "", detail ? detail : "");
	failed |= !ok;
}

/* The UART's interrupt line: high while THR-empty is enabled (and pending). */
static void uart_line(int high)
{
	outb(COM1_IER, high ? 0x02 : 0x00);
}

static void blk_checks(void)
{
	static uint8_t buf[512] __attribute__((aligned(512)));
	struct vblk b;

	if (vblk_open(&b, 0))
		return;
	rt_ioapic_route(b.dev.irq, 0x61, 0);
	virtq_want_interrupt(&b.q, 1); /* with EVENT_IDX: an interrupt for the next completion */
	check("blk", vblk_read(&b, 0, buf, 1) == 0 && wait_pending(0x61, 200), NULL);
	rt_ioapic_route(b.dev.irq, MASKED | 0x62, 0);
	virtq_want_interrupt(&b.q, 1);
	check("blkmask", vblk_read(&b, 0, buf, 1) == 0 && !wait_pending(0x62, 50), NULL);
}

int main(void)
{
	char arg[8];
	uint32_t ver = rt_ioapic_read(0x01), id = rt_ioapic_read(0x00);

	/* A LAPIC accepts fixed interrupts only when software-enabled. */
	mmio_write32(LVMM_LAPIC_BASE + LAPIC_SVR, 0x1ff);
	check("regs", ver == 0x00170011 && rt_ioapic_read(0x02) == id, NULL);
	printf("irq: id %u\n", (id >> 24) & 0xf);

	rt_ioapic_write(0x01, 0xffffffff);
	rt_ioapic_write(0x40, 0xffffffff);
	rt_ioapic_write(0xff, 0xffffffff);
	check("badindex", rt_ioapic_read(0x01) == ver && rt_ioapic_read(0x40) == 0 && rt_ioapic_read(0xff) == 0, NULL);

	rt_ioapic_write(0x10 + 2 * 23, 0xffffffff);
	printf("irq: rte23 0x%x\n", rt_ioapic_read(0x10 + 2 * 23));
	rt_ioapic_write(0x10 + 2 * 23, MASKED);

	rt_ioapic_route(4, 0x41, 0);
	uart_line(1);
	int ok = wait_pending(0x41, 200);
	uart_line(0);
	check("uart", ok, NULL);

	rt_ioapic_route(4, MASKED | 0x51, 0);
	uart_line(1);
	int early = wait_pending(0x51, 50);
	rt_ioapic_route(4, 0x51, 0);
	ok = wait_pending(0x51, 200);
	uart_line(0);
	check("latch", !early && ok, early ? "delivered while masked" : NULL);

	blk_checks();

	rt_ioapic_route(4, 0x173, 0); /* lowest priority */
	uart_line(1);
	ok = wait_pending(0x73, 200);
	uart_line(0);
	check("lowest", ok, NULL);

	static const uint32_t bad[] = { 0x05, 0x371, 0x772 };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rt_ioapic_route(4, bad[i], 0);
		for (unsigned n = 0; n < 200; n++) {
			uart_line(1);
			uart_line(0);
		}
	}
	rt_ioapic_route(4, MASKED, 0);
	check("hostile", !wait_pending(0x71, 20) && !pending(0x72), NULL);

	if (rt_cmdline_get("init", arg, sizeof(arg)) > 0 && arg[0] == '1') {
		rt_ioapic_route(4, 0x541, 0);
		uart_line(1);
		uart_line(0);
		rt_ioapic_route(4, MASKED, 0);
		check("init", 1, NULL);
	}
	if (rt_cmdline_get("storm", arg, sizeof(arg)) > 0) {
		uint64_t n = rt_strtou64(arg, NULL), t0 = rdtsc();

		for (uint64_t i = 0; i < n; i++) {
			rt_ioapic_write(0x10 + 2 * 5, 0x45);
			rt_ioapic_write(0x10 + 2 * 5, MASKED | 0x45);
		}
		printf("irq: storm %lu in %lu ms\n", (unsigned long)n,
		       (unsigned long)((rdtsc() - t0) / (rt_tsc_hz() / 1000)));
	}
	printf("irq: done\n");
	return failed;
}
