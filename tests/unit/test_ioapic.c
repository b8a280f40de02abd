// SPDX-License-Identifier: MIT
/*
 * The user-space IOAPIC model (src/devices/ioapic.c) against fake hooks:
 * register reads and writes, bad indexes and access widths, the MSI each
 * entry becomes, route recomputation (installed only when it changes), a
 * masked pin's latch, and hostile entries (vectors below 16, reserved
 * delivery modes) that must deliver nothing.
 */
#include <errno.h>

#include "unit.h"

#include "devices/ioapic.h"

struct fake {
	int msis;
	struct ioapic_msi last_msi;
	int route_sets;
	struct ioapic_msi routes[IOAPIC_PINS];
	uint32_t valid;
	int fail_routes; /* -errno to return from set_routes */
};

static int fake_msi(void *opaque, const struct ioapic_msi *m)
{
	struct fake *f = opaque;

	f->msis++;
	f->last_msi = *m;
	return 0;
}

static int fake_routes(void *opaque, const struct ioapic_msi *r, uint32_t valid)
{
	struct fake *f = opaque;

	if (f->fail_routes)
		return f->fail_routes;
	f->route_sets++;
	memcpy(f->routes, r, sizeof(f->routes));
	f->valid = valid;
	return 0;
}

static const struct ioapic_hooks hooks = { .send_msi = fake_msi, .set_routes = fake_routes };

static uint32_t rd(struct ioapic *a, uint32_t reg)
{
	uint32_t v = reg;

	ioapic_mmio_write(a, IOAPIC_REGSEL, &v, 4);
	ioapic_mmio_read(a, IOAPIC_WIN, &v, 4);
	return v;
}

static void wr(struct ioapic *a, uint32_t reg, uint32_t v)
{
	ioapic_mmio_write(a, IOAPIC_REGSEL, &reg, 4);
	ioapic_mmio_write(a, IOAPIC_WIN, &v, 4);
}

static void set_rte(struct ioapic *a, unsigned pin, uint32_t lo, uint8_t dest)
{
	wr(a, IOAPIC_REG_RTE + 2 * pin + 1, (uint32_t)dest << 24);
	wr(a, IOAPIC_REG_RTE + 2 * pin, lo);
}

static void test_registers(void)
{
	struct fake f = { 0 };
	struct ioapic a;
	uint32_t v;

	ioapic_init(&a, 2, &hooks, &f);
	CHECK_EQ(rd(&a, IOAPIC_REG_VER), 0x00170011);
	CHECK_EQ(rd(&a, IOAPIC_REG_ID), 2u << 24);
	CHECK_EQ(rd(&a, IOAPIC_REG_ARB), 2u << 24);
	wr(&a, IOAPIC_REG_ID, 0xffffffff); /* only bits 24-27 are the ID */
	CHECK_EQ(rd(&a, IOAPIC_REG_ID), 0x0f000000);
	CHECK_EQ(rd(&a, IOAPIC_REG_ARB), 0x0f000000);
	wr(&a, IOAPIC_REG_VER, 0);
	CHECK_EQ(rd(&a, IOAPIC_REG_VER), 0x00170011);
	/* Reset: every pin masked. */
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		CHECK_EQ(rd(&a, IOAPIC_REG_RTE + 2 * i), RTE_MASKED);
		CHECK_EQ(rd(&a, IOAPIC_REG_RTE + 2 * i + 1), 0);
	}
	/* An entry keeps its defined fields only (not delivery status, remote IRR, reserved). */
	wr(&a, IOAPIC_REG_RTE + 2 * 23, 0xffffffff);
	CHECK_EQ(rd(&a, IOAPIC_REG_RTE + 2 * 23), 0x0001afff);
	wr(&a, IOAPIC_REG_RTE + 2 * 23 + 1, 0xffffffff);
	CHECK_EQ(rd(&a, IOAPIC_REG_RTE + 2 * 23 + 1), 0xff000000);
	/* IOREGSEL keeps 8 bits; IOREGSEL reads back. */
	v = 0x12345601;
	ioapic_mmio_write(&a, IOAPIC_REGSEL, &v, 4);
	ioapic_mmio_read(&a, IOAPIC_REGSEL, &v, 4);
	CHECK_EQ(v, 0x01);
	ioapic_fini(&a);
}

static void test_bad_indexes_and_widths(void)
{
	struct fake f = { 0 };
	struct ioapic a;
	uint64_t q = ~0ULL;
	uint8_t b = 0xff;
	uint32_t v;

	ioapic_init(&a, 1, &hooks, &f);
	for (uint32_t reg = 0x03; reg < 0x10; reg++) {
		wr(&a, reg, 0xffffffff);
		CHECK_EQ(rd(&a, reg), 0);
	}
	for (uint32_t reg = IOAPIC_REG_RTE + 2 * IOAPIC_PINS; reg <= 0xff; reg++) {
		wr(&a, reg, 0xffffffff);
		CHECK_EQ(rd(&a, reg), 0);
	}
	/* Narrow, wide and stray accesses: reads give 0, writes change nothing. */
	v = IOAPIC_REG_RTE;
	ioapic_mmio_write(&a, IOAPIC_REGSEL, &v, 4);
	ioapic_mmio_write(&a, IOAPIC_WIN, &b, 1);
	ioapic_mmio_write(&a, IOAPIC_WIN, &q, 8);
	ioapic_mmio_write(&a, 0x20, &v, 4);
	ioapic_mmio_write(&a, IOAPIC_MMIO_SIZE - 4, &v, 4);
	CHECK_EQ(rd(&a, IOAPIC_REG_RTE), RTE_MASKED);
	q = 1;
	ioapic_mmio_read(&a, IOAPIC_WIN, &q, 8);
	CHECK_EQ(q, 0);
	b = 1;
	ioapic_mmio_read(&a, IOAPIC_WIN, &b, 1);
	CHECK_EQ(b, 0);
	CHECK_EQ(ioapic_set_irq(&a, IOAPIC_PINS, 1), -EINVAL);
	CHECK_EQ(ioapic_set_irq(&a, 0xffffffffu, 1), -EINVAL);
	CHECK_EQ(f.msis + f.route_sets, 0);
	ioapic_fini(&a);
}

static void test_msi_encoding(void)
{
	struct ioapic_msi m;

	/* Fixed, physical destination 3, vector 0x41. */
	CHECK(ioapic_rte_msi(0x41 | 3ULL << RTE_DEST_SHIFT, &m));
	CHECK_EQ(m.addr, 0xfee03000ULL);
	CHECK_EQ(m.data, 0x41);
	/* Lowest priority, logical destination 0x0f. */
	CHECK(ioapic_rte_msi(0x133 | RTE_DEST_LOGICAL | 0x0fULL << RTE_DEST_SHIFT, &m));
	CHECK_EQ(m.addr, 0xfee0f004ULL);
	CHECK_EQ(m.data, 0x133);
	/* Level-triggered pins still become edge MSIs (no EOI exits). */
	CHECK(ioapic_rte_msi(0x41 | RTE_LEVEL, &m));
	CHECK_EQ(m.data, 0x41);
	/* NMI: any vector. */
	CHECK(ioapic_rte_msi(0x400, &m));
	CHECK_EQ(m.data, 0x400);
	/* Refused: masked, vectors 0-15, SMI, reserved 3 and 6, INIT, ExtINT. */
	CHECK(!ioapic_rte_msi(0x41 | RTE_MASKED, &m));
	CHECK(!ioapic_rte_msi(0x0f, &m));
	CHECK(!ioapic_rte_msi(0x105, &m));
	for (unsigned dm = 2; dm < 8; dm++)
		if (dm != RTE_DM_NMI)
			CHECK(!ioapic_rte_msi(0x41 | (uint64_t)dm << RTE_DM_SHIFT, &m));
}

static void test_routes(void)
{
	struct fake f = { 0 };
	struct ioapic a;

	ioapic_init(&a, 1, &hooks, &f);
	/* Masking already-masked pins (Linux's clear_IO_APIC) installs nothing... */
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		set_rte(&a, i, RTE_MASKED, 0);
	CHECK_EQ(f.route_sets, 1); /* ...but the first write installs the (empty) table once */
	CHECK_EQ(f.valid, 0);
	set_rte(&a, 5, 0x45, 1);
	CHECK_EQ(f.route_sets, 2);
	CHECK_EQ(f.valid, 1u << 5);
	CHECK_EQ(f.routes[5].addr, 0xfee01000ULL);
	CHECK_EQ(f.routes[5].data, 0x45);
	/* The same value again, or a masked pin's fields: no new table. */
	set_rte(&a, 5, 0x45, 1);
	set_rte(&a, 6, RTE_MASKED | 0x46, 0);
	CHECK_EQ(f.route_sets, 2);
	/* New destination: new table. */
	wr(&a, IOAPIC_REG_RTE + 2 * 5 + 1, 0);
	CHECK_EQ(f.route_sets, 3);
	CHECK_EQ(f.routes[5].addr, 0xfee00000ULL);
	/* Garbage entries take the pin out of the table. */
	set_rte(&a, 5, 0x03, 0);
	CHECK_EQ(f.valid, 0);
	set_rte(&a, 5, 0x345, 0); /* reserved delivery mode */
	CHECK_EQ(f.valid, 0);
	set_rte(&a, 22, 0x56, 0);
	CHECK_EQ(f.valid, 1u << 22);
	/* A failed install is retried by the next write. */
	f.fail_routes = -ENOMEM;
	set_rte(&a, 9, 0x49, 0);
	CHECK_EQ(f.valid, 1u << 22);
	f.fail_routes = 0;
	set_rte(&a, 9, 0x49, 0);
	CHECK_EQ(f.valid, 1u << 22 | 1u << 9);
	CHECK_EQ(f.msis, 0); /* routes deliver in the kernel, not through send_msi */
	ioapic_fini(&a);
}

static void test_edge_and_latch(void)
{
	struct fake f = { 0 };
	struct ioapic a;

	ioapic_init(&a, 1, &hooks, &f);
	set_rte(&a, 4, 0x41, 0);
	CHECK_EQ(ioapic_set_irq(&a, 4, 1), 0);
	CHECK_EQ(f.msis, 1);
	CHECK_EQ(f.last_msi.data, 0x41);
	CHECK_EQ(f.last_msi.addr, 0xfee00000ULL);
	ioapic_set_irq(&a, 4, 1); /* still high: no new edge */
	CHECK_EQ(f.msis, 1);
	ioapic_set_irq(&a, 4, 0);
	ioapic_set_irq(&a, 4, 1);
	CHECK_EQ(f.msis, 2);
	ioapic_set_irq(&a, 4, 0);
	/* Masked: the edge is latched, even after the line drops, and delivered once on unmask. */
	set_rte(&a, 4, RTE_MASKED | 0x51, 0);
	ioapic_set_irq(&a, 4, 1);
	ioapic_set_irq(&a, 4, 0);
	ioapic_set_irq(&a, 4, 1);
	ioapic_set_irq(&a, 4, 0);
	CHECK_EQ(f.msis, 2);
	set_rte(&a, 4, 0x51, 0);
	CHECK_EQ(f.msis, 3);
	CHECK_EQ(f.last_msi.data, 0x51);
	set_rte(&a, 4, RTE_MASKED | 0x51, 0);
	set_rte(&a, 4, 0x51, 0);
	CHECK_EQ(f.msis, 3); /* nothing latched any more */
	ioapic_fini(&a);
}

static void test_level(void)
{
	struct fake f = { 0 };
	struct ioapic a;

	ioapic_init(&a, 1, &hooks, &f);
	set_rte(&a, 8, (uint32_t)(RTE_LEVEL | 0x48), 0);
	ioapic_set_irq(&a, 8, 1);
	CHECK_EQ(f.msis, 1);
	/* Linux ends a level interrupt on a 0x11 IOAPIC by mask + unmask: delivered again while high. */
	set_rte(&a, 8, (uint32_t)(RTE_MASKED | 0x48), 0);
	set_rte(&a, 8, (uint32_t)(RTE_LEVEL | 0x48), 0);
	CHECK_EQ(f.msis, 2);
	ioapic_set_irq(&a, 8, 0);
	set_rte(&a, 8, (uint32_t)(RTE_MASKED | RTE_LEVEL | 0x48), 0);
	set_rte(&a, 8, (uint32_t)(RTE_LEVEL | 0x48), 0);
	CHECK_EQ(f.msis, 2); /* low: nothing */
	ioapic_fini(&a);
}

static void test_hostile_entries(void)
{
	static const uint32_t bad[] = { 0x00, 0x05, 0x0f, 0x105, 0x241, 0x341, 0x541, 0x641, 0x741 };
	struct fake f = { 0 };
	struct ioapic a;

	ioapic_init(&a, 1, &hooks, &f);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_rte(&a, 4, bad[i], 0xff);
		for (unsigned n = 0; n < 1000; n++) {
			ioapic_set_irq(&a, 4, 1);
			ioapic_set_irq(&a, 4, 0);
		}
	}
	CHECK_EQ(f.msis, 0);
	CHECK_EQ(a.dropped, 9000);
	CHECK_EQ(f.valid, 0);
	/* A garbage entry followed by a good one: nothing stale was latched. */
	set_rte(&a, 4, 0x41, 0);
	CHECK_EQ(f.msis, 0);
	ioapic_set_irq(&a, 4, 1);
	CHECK_EQ(f.msis, 1);
	ioapic_fini(&a);
}

/* Random register traffic and line changes: every installed route and every MSI is usable. */
static void test_random_traffic(void)
{
	struct fake f = { 0 };
	struct ioapic a;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int bad = 0;

	ioapic_init(&a, 1, &hooks, &f);
	for (unsigned n = 0; n < 200000; n++) {
		uint32_t v, r;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v = (uint32_t)(x >> 32);
		r = (uint32_t)x;
		switch (r % 5) {
		case 0: ioapic_mmio_write(&a, (r >> 8) & 0x1f, &v, 4); break;
		case 1: ioapic_mmio_read(&a, (r >> 8) & 0x1f, &v, 4); break;
		case 2: wr(&a, IOAPIC_REG_RTE + (r >> 8) % 52, v); break;
		case 3: ioapic_set_irq(&a, (r >> 8) % 26, (r >> 16) & 1); break;
		default: wr(&a, (r >> 8) & 0xff, v); break;
		}
		for (unsigned i = 0; i < IOAPIC_PINS; i++) {
			unsigned dm = (f.routes[i].data >> 8) & 7, vec = f.routes[i].data & 0xff;

			if ((f.valid & 1u << i) && (f.routes[i].addr >> 20 != 0xfee ||
			    (dm != 0 && dm != 1 && dm != 4) || (dm != 4 && vec < 16)))
				bad++;
		}
		if (f.msis && (f.last_msi.addr >> 20 != 0xfee || (f.last_msi.data & 0xff) < 16))
			if (((f.last_msi.data >> 8) & 7) != 4)
				bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK(a.regsel <= 0xff);
	CHECK_EQ(f.valid >> IOAPIC_PINS, 0);
	ioapic_fini(&a);
}

int main(void)
{
	RUN(test_registers);
	RUN(test_bad_indexes_and_widths);
	RUN(test_msi_encoding);
	RUN(test_routes);
	RUN(test_edge_and_latch);
	RUN(test_level);
	RUN(test_hostile_entries);
	RUN(test_random_traffic);
	return unit_done();
}
