// SPDX-License-Identifier: MIT
/*
 * ACPI tables in a fake guest memory: signatures, lengths, checksums, MADT
 * entries for several CPU counts, the FADT's sleep registers, the DSDT's
 * devices with the power button, its GED and \\_S5 (walked with a small
 * AML reader of our own), refused arguments, and, when iasl (acpica-tools)
 * is installed, a round trip through the reference disassembler and
 * compiler. No KVM needed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lvmm/guest_abi.h"
#include "unit/unit.h"
#include "vmm/acpi.h"
#include "vmm/gmem.h"

#define MEM (1ULL << 20) /* covers the 0xe0000-0xf0000 area */

static uint8_t *mem;
static struct gmem gm;

static const uint32_t slot_irqs[] = LVMM_VIRTIO_IRQS;

static void make_devs(struct acpi_mmio_dev *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		d[i] = (struct acpi_mmio_dev){ LVMM_VIRTIO_MMIO_BASE + i * LVMM_VIRTIO_MMIO_SIZE,
					       (uint32_t)LVMM_VIRTIO_MMIO_SIZE, slot_irqs[i] };
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* A table's guest address, checked to lie inside the ACPI area. */
static const uint8_t *table_at(uint64_t gpa, size_t min)
{
	if (gpa < ACPI_AREA_START || gpa + min > ACPI_AREA_START + ACPI_AREA_SIZE)
		return NULL;
	return mem + gpa;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
};

/* Follow RSDP -> XSDT -> FADT/MADT, FADT -> DSDT, checking every header on the way. */
static bool walk(uint64_t rsdp_gpa, struct tables *t)
{
	unsigned i, n;

	memset(t, 0, sizeof(*t));
	CHECK_EQ(rsdp_gpa, ACPI_AREA_START);
	CHECK_EQ(rsdp_gpa % 16, 0);
	t->rsdp = table_at(rsdp_gpa, 36);
	if (!t->rsdp)
		return false;
	CHECK(!memcmp(t->rsdp, "RSD PTR ", 8));
	CHECK_EQ(sum(t->rsdp, 20), 0);
	CHECK_EQ(sum(t->rsdp, 36), 0);
	CHECK(!memcmp(t->rsdp + 9, "LVMM  ", 6));
	CHECK_EQ(t->rsdp[15], 2);
	CHECK_EQ(rd32(t->rsdp + 20), 36);
	t->xsdt = table_at(rd64(t->rsdp + 24), 36);
	CHECK(t->xsdt != NULL);
	if (!t->xsdt)
		return false;
	CHECK(!memcmp(t->xsdt, "XSDT", 4));
	CHECK_EQ(rd32(t->xsdt + 4), 36 + 2 * 8);
	CHECK_EQ(sum(t->xsdt, rd32(t->xsdt + 4)), 0);
	n = (rd32(t->xsdt + 4) - 36) / 8;
	for (i = 0; i < n; i++) {
		const uint8_t *e = table_at(rd64(t->xsdt + 36 + 8 * i), 36);

		CHECK(e != NULL);
		if (!e)
			return false;
		CHECK(table_at((uint64_t)(e - mem), rd32(e + 4)) != NULL);
		CHECK_EQ(sum(e, rd32(e + 4)), 0);
		CHECK(!memcmp(e + 10, "LVMM  ", 6));
		if (!memcmp(e, "FACP", 4))
			t->fadt = e;
		else if (!memcmp(e, "APIC", 4))
			t->madt = e;
	}
	CHECK(t->fadt && t->madt);
	if (!t->fadt || !t->madt)
		return false;
	t->dsdt = table_at(rd64(t->fadt + 140), 36);
	CHECK(t->dsdt != NULL);
	if (!t->dsdt)
		return false;
	CHECK_EQ(rd32(t->fadt + 40), rd64(t->fadt + 140));
	CHECK(!memcmp(t->dsdt, "DSDT", 4));
	CHECK(table_at((uint64_t)(t->dsdt - mem), rd32(t->dsdt + 4)) != NULL);
	CHECK_EQ(sum(t->dsdt, rd32(t->dsdt + 4)), 0);
	CHECK_EQ(t->dsdt[8], 2);
	return true;
}

/* ---- a minimal AML reader (only what acpi.c emits) ---------------------------- */

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static unsigned rd_pkglen(struct rd *r, const uint8_t **pkg_end)
{
	const uint8_t *start = r->p;
	unsigned n, len;

	if (r->p >= r->end)
		return r->bad = true, 0;
	n = (r->p[0] >> 6) + 1;
	if (r->p + n > r->end)
		return r->bad = true, 0;
	if (n == 1) {
		len = r->p[0] & 0x3f;
	} else {
		len = r->p[0] & 0x0f;
		for (unsigned i = 1; i < n; i++)
			len |= (unsigned)r->p[i] << (4 + 8 * (i - 1));
		/* Must be the shortest encoding, as iasl would write it. */
		if (len < (n == 2 ? 64U : n == 3 ? 4096U : 1U << 20))
			r->bad = true;
	}
	r->p += n;
	*pkg_end = start + len;
	if (*pkg_end > r->end || *pkg_end < r->p)
		r->bad = true, *pkg_end = r->end;
	return len;
}

static bool rd_integer(struct rd *r, uint64_t *v)
{
	uint8_t op;
	unsigned n;

	if (r->p >= r->end)
		return false;
	op = *r->p++;
	switch (op) {
	case 0x00: *v = 0; return true;
	case 0x01: *v = 1; return true;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: r->p--; return false;
	}
	if (r->p + n > r->end)
		return r->bad = true, false;
	*v = 0;
	memcpy(v, r->p, n);
	r->p += n;
	return true;
}

struct dev {
	char name[5];
	char hid[16];     /* string _HID */
	uint32_t eisa;    /* or EisaId _HID */
	uint64_t uid;
	const uint8_t *crs;
	unsigned crs_len;
	/* The GED's event register and handler. */
	char region[5];
	uint64_t region_space, region_base, region_len;
	char field[5];
	const uint8_t *field_body;
	unsigned field_len;
	char method[5];
	uint8_t method_flags;
	const uint8_t *method_body;
	unsigned method_len;
};

/* After the \_SB scope: Name (_S5_, Package (4) { ... }). */
static uint64_t s5_values[4];
static unsigned s5_count;
static uint64_t s3_values[4];
static unsigned s3_count;

#define MAX_DEVS 40

/* OperationRegion, Field and Method inside a device (the GED); false on anything else. */
static bool parse_dev_code(struct rd *r, const uint8_t *dev_end, struct dev *d)
{
	const uint8_t *end;

	if (r->p + 6 <= dev_end && r->p[0] == 0x5b && r->p[1] == 0x80) {
		memcpy(d->region, r->p + 2, 4);
		d->region_space = r->p[6];
		r->p += 7;
		CHECK(rd_integer(r, &d->region_base));
		CHECK(rd_integer(r, &d->region_len));
		return true;
	}
	if (r->p + 2 <= dev_end && r->p[0] == 0x5b && r->p[1] == 0x81) {
		r->p += 2;
		rd_pkglen(r, &end);
		d->field_body = r->p;
		d->field_len = (unsigned)(end - r->p);
		r->p = end;
		return true;
	}
	if (r->p < dev_end && r->p[0] == 0x14) {
		r->p++;
		rd_pkglen(r, &end);
		if (r->bad || r->p + 5 > end)
			return false;
		memcpy(d->method, r->p, 4);
		d->method_flags = r->p[4];
		d->method_body = r->p + 5;
		d->method_len = (unsigned)(end - r->p - 5);
		r->p = end;
		return true;
	}
	return false;
}

/*
 * Scope (_SB_) { Device (xxxx) { Name (...) ... } ... }, then the root's
 * Name (_S5_, Package () {...}), which must end the table.
 */
static unsigned parse_dsdt(const uint8_t *dsdt, struct dev *devs)
{
	struct rd r = { dsdt + 36, dsdt + rd32(dsdt + 4), false };
	const uint8_t *scope_end;
	unsigned nd = 0;

	s5_count = s3_count = 0;
	CHECK(r.p < r.end && r.p[0] == 0x10);
	if (r.p >= r.end || r.p[0] != 0x10)
		return 0;
	r.p++;
	rd_pkglen(&r, &scope_end);
	CHECK(scope_end < r.end); /* \_S5 follows the scope */
	CHECK(r.p + 4 <= r.end && !memcmp(r.p, "_SB_", 4));
	r.p += 4;
	while (!r.bad && r.p < scope_end && nd < MAX_DEVS) {
		struct dev *d = &devs[nd++];
		const uint8_t *dev_end;

		memset(d, 0, sizeof(*d));
		CHECK(r.p + 2 <= scope_end && r.p[0] == 0x5b && r.p[1] == 0x82);
		if (r.p + 2 > scope_end || r.p[0] != 0x5b || r.p[1] != 0x82)
			return 0;
		r.p += 2;
		rd_pkglen(&r, &dev_end);
		if (r.bad || r.p + 4 > dev_end)
			return 0;
		memcpy(d->name, r.p, 4);
		r.p += 4;
		while (!r.bad && r.p < dev_end) {
			char seg[5] = { 0 };
			uint64_t v;

			if (parse_dev_code(&r, dev_end, d))
				continue;
			CHECK(r.p[0] == 0x08 && r.p + 5 <= dev_end);
			if (r.p[0] != 0x08 || r.p + 5 > dev_end)
				return 0;
			memcpy(seg, r.p + 1, 4);
			r.p += 5;
			if (r.p < dev_end && r.p[0] == 0x0d) { /* String */
				const uint8_t *z = memchr(r.p + 1, 0, (size_t)(dev_end - r.p - 1));

				CHECK(z != NULL);
				if (!z || (size_t)(z - r.p - 1) >= sizeof(d->hid))
					return 0;
				if (!strcmp(seg, "_HID"))
					memcpy(d->hid, r.p + 1, (size_t)(z - r.p - 1));
				r.p = z + 1;
			} else if (r.p < dev_end && r.p[0] == 0x11) { /* Buffer */
				const uint8_t *buf_end;

				r.p++;
				rd_pkglen(&r, &buf_end);
				CHECK(rd_integer(&r, &v));
				CHECK_EQ(v, (uint64_t)(buf_end - r.p));
				if (!strcmp(seg, "_CRS")) {
					d->crs = r.p;
					d->crs_len = (unsigned)(buf_end - r.p);
				}
				r.p = buf_end;
			} else if (rd_integer(&r, &v)) {
				if (!strcmp(seg, "_HID"))
					d->eisa = (uint32_t)v;
				else if (!strcmp(seg, "_UID"))
					d->uid = v;
			} else {
				CHECK(!"unexpected data object");
				return 0;
			}
		}
		CHECK(r.p == dev_end);
	}
	CHECK(!r.bad && r.p == scope_end);
	/* Name (_S3_, Package (n) { integers }), then the same for _S5_ */
	if (r.p + 7 <= r.end && r.p[0] == 0x08 && !memcmp(r.p + 1, "_S3_", 4) && r.p[5] == 0x12) {
		const uint8_t *pkg_end;
		unsigned k, count;

		r.p += 6;
		rd_pkglen(&r, &pkg_end);
		count = r.p < pkg_end ? *r.p++ : 0;
		for (k = 0; k < count && k < 4; k++)
			CHECK(rd_integer(&r, &s3_values[k]));
		s3_count = count;
		CHECK(r.p == pkg_end);
	} else {
		CHECK(!"no \\_S3 after \\_SB");
	}
	if (r.p + 7 <= r.end && r.p[0] == 0x08 && !memcmp(r.p + 1, "_S5_", 4) && r.p[5] == 0x12) {
		const uint8_t *pkg_end;
		unsigned k, count;

		r.p += 6;
		rd_pkglen(&r, &pkg_end);
		count = r.p < pkg_end ? *r.p++ : 0;
		for (k = 0; k < count && k < 4; k++)
			CHECK(rd_integer(&r, &s5_values[k]));
		s5_count = count;
		CHECK(r.p == pkg_end && pkg_end == r.end);
	} else {
		CHECK(!"no \\_S5 after \\_SB");
	}
	CHECK(!r.bad);
	return nd;
}

/* Walk a resource template; return true if it holds exactly the expected items. */
static bool crs_has(const struct dev *d, bool mem32, uint32_t base, uint32_t size,
		    uint16_t port, uint32_t irq)
{
	const uint8_t *p = d->crs, *end = d->crs + d->crs_len;
	bool got_mem = !mem32, got_io = mem32, got_irq = false, got_end = false;

	while (p < end && !got_end) {
		if (p[0] & 0x80) { /* large item */
			unsigned len = rd16(p + 1);

			if (p + 3 + len > end)
				return false;
			if (p[0] == 0x86 && len == 9)
				got_mem |= p[3] == 1 && rd32(p + 4) == base && rd32(p + 8) == size;
			else if (p[0] == 0x89 && len == 6)
				/* consumer, edge, active high, exclusive; one interrupt */
				got_irq |= p[3] == 0x03 && p[4] == 1 && rd32(p + 5) == irq;
			else
				return false;
			p += 3 + len;
		} else {
			unsigned len = p[0] & 7;

			if (p + 1 + len > end)
				return false;
			if (p[0] == 0x47)
				got_io |= rd16(p + 2) == port && rd16(p + 4) == port;
			else if (p[0] == 0x79)
				got_end = p + 2 == end;
			else
				return false;
			p += 1 + len;
		}
	}
	return got_mem && got_io && got_irq && got_end;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_headers(void)
{
	struct acpi_mmio_dev d[3];
	struct tables t;
	uint64_t rsdp = 0;

	make_devs(d, 3);
	memset(mem, 0xa5, MEM);
	CHECK_EQ(acpi_write(&gm, 2, d, 3, &rsdp), 0);
	CHECK(walk(rsdp, &t));
	/* The whole area was cleared first: no stale bytes between tables. */
	CHECK_EQ(mem[ACPI_AREA_START + 0x3f], 0);
	CHECK_EQ(mem[ACPI_AREA_START + ACPI_AREA_SIZE - 1], 0);
	CHECK_EQ(mem[ACPI_AREA_START - 1], 0xa5);
	CHECK_EQ(mem[ACPI_AREA_START + ACPI_AREA_SIZE], 0xa5);
}

static void test_fadt(void)
{
	struct tables t;
	uint64_t rsdp = 0;
	const uint8_t *f;
	uint32_t flags;

	CHECK_EQ(acpi_write(&gm, 1, NULL, 0, &rsdp), 0);
	if (!walk(rsdp, &t))
		return;
	f = t.fadt;
	CHECK_EQ(rd32(f + 4), 276);
	CHECK_EQ(f[8], 6);   /* revision */
	CHECK_EQ(f[131], 3); /* minor version: ACPI 6.3 */
	flags = rd32(f + 112);
	CHECK(flags & (1U << 20)); /* HW_REDUCED_ACPI */
	CHECK(flags & (1U << 10)); /* RESET_REG_SUP */
	CHECK(!(flags & (1U << 21))); /* not LOW_POWER_S0 */
	/* Reset register: SystemIO byte at 0xcf9, value 0x06. */
	CHECK_EQ(f[116], 1);
	CHECK_EQ(f[117], 8);
	CHECK_EQ(rd64(f + 120), LVMM_PORT_RESET_CF9);
	CHECK_EQ(f[128], 0x06);
	/* 8042 + legacy devices + no VGA; CMOS RTC present (bit 5 clear). */
	CHECK_EQ(rd16(f + 109), 0x0007);
	CHECK_EQ(f[108], 0x32);
	/* No FACS, no fixed hardware. */
	CHECK_EQ(rd32(f + 36), 0);
	CHECK_EQ(rd64(f + 132), 0);
	for (unsigned off = 46; off < 96; off++)
		CHECK_EQ(f[off], 0);
	for (unsigned off = 148; off < 244; off++)
		CHECK_EQ(f[off], 0);
	/* Sleep control and status registers: SystemIO bytes (src/devices/acpi_pm.c). */
	CHECK_EQ(f[244], 1);
	CHECK_EQ(f[245], 8);
	CHECK_EQ(f[247], 1);
	CHECK_EQ(rd64(f + 248), LVMM_PORT_SLEEP_CTL);
	CHECK_EQ(f[256], 1);
	CHECK_EQ(f[257], 8);
	CHECK_EQ(f[259], 1);
	CHECK_EQ(rd64(f + 260), LVMM_PORT_SLEEP_STS);
	/* No fixed-feature power button: it is the GED's PNP0C0C device. */
	CHECK(flags & (1U << 4));
}

/* MADT entries for n CPUs: n enabled LAPICs (IDs 0..n-1), one IOAPIC, one LINT1 NMI. */
static void check_madt(unsigned n)
{
	unsigned counts[32] = { 0 }, cpus = 0;
	struct tables t;
	uint64_t rsdp = 0;
	const uint8_t *p, *end;

	CHECK_EQ(acpi_write(&gm, n, NULL, 0, &rsdp), 0);
	if (!walk(rsdp, &t))
		return;
	CHECK_EQ(rd32(t.madt + 4), 44 + 8 * n + 12 + 6);
	CHECK_EQ(t.madt[8], 5);
	CHECK_EQ(rd32(t.madt + 36), LVMM_LAPIC_BASE);
	CHECK_EQ(rd32(t.madt + 40), 1); /* PCAT_COMPAT */
	p = t.madt + 44;
	end = t.madt + rd32(t.madt + 4);
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] < 32)
			counts[p[0]]++;
		switch (p[0]) {
		case 0:
			CHECK_EQ(p[1], 8);
			CHECK_EQ(p[3], cpus); /* APIC IDs in order */
			CHECK_EQ(p[2], cpus); /* processor UID */
			CHECK_EQ(rd32(p + 4), 1);
			cpus++;
			break;
		case 1:
			CHECK_EQ(p[1], 12);
			CHECK_EQ(p[2], n);
			CHECK_EQ(rd32(p + 4), LVMM_IOAPIC_BASE);
			CHECK_EQ(rd32(p + 8), 0);
			break;
		case 4:
			CHECK_EQ(p[1], 6);
			CHECK_EQ(p[2], 0xff);
			CHECK_EQ(rd16(p + 3), 0);
			CHECK_EQ(p[5], 1);
			break;
		default:
			CHECK(!"unexpected MADT entry type");
			break;
		}
		p += p[1];
	}
	CHECK(p == end);
	CHECK_EQ(counts[0], n);
	CHECK_EQ(counts[1], 1);
	CHECK_EQ(counts[2], 0); /* no interrupt source override: identity ISA routing */
	CHECK_EQ(counts[4], 1);
}

static void test_madt_1(void) { check_madt(1); }
static void test_madt_4(void) { check_madt(4); }
static void test_madt_64(void) { check_madt(64); }
static void test_madt_254(void) { check_madt(254); }

/* PWRB and GED_ (devs[0], devs[1]) and \\_S5, as docs/acpi.md describes them. */
static void check_power(const struct dev *devs)
{
	/* Store (EVTS, Local0); If (And (Local0, One, NullName)) { Notify (PWRB, 0x80) } */
	static const uint8_t evt[] = { 0x70, 'E', 'V', 'T', 'S', 0x60, 0xa0, 0x0c, 0x7b, 0x60, 0x01,
				       0x00, 0x86, 'P', 'W', 'R', 'B', 0x0a, 0x80 };
	/* EREG, DWordAcc NoLock Preserve, EVTS: 32 bits */
	static const uint8_t field[] = { 'E', 'R', 'E', 'G', 0x03, 'E', 'V', 'T', 'S', 32 };
	const struct dev *b = &devs[0], *g = &devs[1];

	CHECK_STR(b->name, "PWRB");
	CHECK_EQ(b->eisa, 0x0c0cd041); /* PNP0C0C */
	CHECK(b->crs == NULL);
	CHECK_STR(g->name, "GED_");
	CHECK_STR(g->hid, "ACPI0013");
	CHECK(g->crs && g->crs_len == 9 + 2 && g->crs[0] == 0x89 && g->crs[3] == 0x03 &&
	      rd32(g->crs + 5) == LVMM_IRQ_GED);
	CHECK_STR(g->region, "EREG");
	CHECK_EQ(g->region_space, 1); /* SystemIO */
	CHECK_EQ(g->region_base, LVMM_PORT_GED_EVENT);
	CHECK_EQ(g->region_len, 4);
	CHECK(g->field_len == sizeof(field) && !memcmp(g->field_body, field, sizeof(field)));
	CHECK_STR(g->method, "_EVT");
	CHECK_EQ(g->method_flags, 0x09); /* one argument, serialized */
	CHECK(g->method_len == sizeof(evt) && !memcmp(g->method_body, evt, sizeof(evt)));
	CHECK_EQ(s5_count, 4);
	CHECK_EQ(s5_values[0], LVMM_SLP_TYP_S5);
	CHECK_EQ(s3_count, 4);
	CHECK_EQ(s3_values[0], LVMM_SLP_TYP_S3);
}

static void check_dsdt(unsigned ndevs)
{
	struct acpi_mmio_dev d[LVMM_VIRTIO_MMIO_MAX];
	struct dev devs[MAX_DEVS];
	struct tables t;
	uint64_t rsdp = 0;
	unsigned n, i;

	make_devs(d, ndevs);
	CHECK_EQ(acpi_write(&gm, 4, d, ndevs, &rsdp), 0);
	if (!walk(rsdp, &t))
		return;
	n = parse_dsdt(t.dsdt, devs);
	CHECK_EQ(n, 3 + ndevs + 2);
	if (n != 3 + ndevs + 2)
		return;
	/* COM1, PS2_, RTC_ with EisaId _HIDs (PNP0501 = 0x0105d041 etc.). */
	CHECK_STR(devs[0].name, "COM1");
	CHECK_EQ(devs[0].eisa, 0x0105d041);
	CHECK(crs_has(&devs[0], false, 0, 0, LVMM_PORT_COM1, LVMM_IRQ_COM1));
	CHECK_STR(devs[1].name, "PS2_");
	CHECK_EQ(devs[1].eisa, 0x0303d041);
	CHECK(crs_has(&devs[1], false, 0, 0, LVMM_PORT_I8042_DATA, 1));
	CHECK_STR(devs[2].name, "RTC_");
	CHECK_EQ(devs[2].eisa, 0x000bd041);
	CHECK(crs_has(&devs[2], false, 0, 0, LVMM_PORT_RTC_INDEX, LVMM_IRQ_RTC));
	for (i = 0; i < ndevs; i++) {
		const struct dev *v = &devs[3 + i];
		char name[5] = { 'V', (char)('0' + i / 100), (char)('0' + i / 10 % 10),
				 (char)('0' + i % 10), 0 };

		CHECK_STR(v->name, name);
		CHECK_STR(v->hid, "LNRO0005");
		CHECK_EQ(v->uid, i);
		CHECK(crs_has(v, true, (uint32_t)d[i].base, d[i].size, 0, d[i].irq));
	}
	check_power(&devs[3 + ndevs]);
}

static void test_dsdt_none(void) { check_dsdt(0); }
static void test_dsdt_three(void) { check_dsdt(3); }
static void test_dsdt_all_slots(void) { check_dsdt(LVMM_VIRTIO_MMIO_MAX); }

static void test_refused(void)
{
	struct acpi_mmio_dev d[LVMM_IOAPIC_PINS + 1], bad[2];
	struct gmem empty;
	uint64_t rsdp = 0;

	make_devs(d, 2);
	CHECK_EQ(acpi_write(&gm, 0, d, 2, &rsdp), -EINVAL);
	CHECK_EQ(acpi_write(&gm, 255, d, 2, &rsdp), -EINVAL);
	CHECK_EQ(acpi_write(&gm, 1, d, 2, NULL), -EINVAL);
	CHECK_EQ(acpi_write(&gm, 1, NULL, 1, &rsdp), -EINVAL);
	CHECK_EQ(acpi_write(&gm, 1, d, LVMM_IOAPIC_PINS + 1, &rsdp), -EINVAL);

	memcpy(bad, d, sizeof(bad));
	bad[1].irq = LVMM_IOAPIC_PINS; /* not an IOAPIC input */
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);
	memcpy(bad, d, sizeof(bad));
	bad[1].irq = LVMM_IRQ_COM1; /* taken by COM1 (exclusive) */
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);
	memcpy(bad, d, sizeof(bad));
	bad[1].irq = 0; /* the PIT's GSI */
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);
	memcpy(bad, d, sizeof(bad));
	bad[1].irq = bad[0].irq; /* shared */
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);
	memcpy(bad, d, sizeof(bad));
	bad[1].base = bad[0].base + 0x800; /* overlapping windows */
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);
	memcpy(bad, d, sizeof(bad));
	bad[1].base = 0x100000; /* RAM, not the MMIO hole */
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);
	memcpy(bad, d, sizeof(bad));
	bad[1].base = 0xfffff000;
	bad[1].size = 0x2000; /* crosses 4 GiB: not a Memory32Fixed */
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);
	memcpy(bad, d, sizeof(bad));
	bad[1].size = 0;
	CHECK_EQ(acpi_write(&gm, 1, bad, 2, &rsdp), -EINVAL);

	/* Guest memory without RAM at 0xe0000. */
	memset(&empty, 0, sizeof(empty));
	CHECK_EQ(gmem_add_slot(&empty, 0x100000, MEM, mem, 0, false), 0);
	CHECK_EQ(acpi_write(&empty, 1, d, 2, &rsdp), -EFAULT);
	CHECK_EQ(rsdp, 0); /* untouched on failure */
}

/* ---- iasl round trip ---------------------------------------------------------- */

static char tmpdir[64];

static bool write_file(const char *name, const uint8_t *p, size_t n)
{
	char path[128];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	if (!f)
		return false;
	ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}

/* Read a whole small file into buf (NUL-terminated); its length or -1. */
static long read_file(const char *name, char *buf, size_t cap)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "rb");
	if (!f)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	return (long)n;
}

/* Run "cd tmpdir && iasl ARGS"; its output in out, its exit status returned. */
static int run_iasl(const char *args, char *out, size_t cap)
{
	char cmd[256];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "cd '%s' && iasl %s 2>&1", tmpdir, args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (n < cap - 1) {
		size_t k = fread(out + n, 1, cap - 1 - n, p);

		if (!k)
			break;
		n += k;
	}
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned c = 0;

	for (const char *s = hay; (s = strstr(s, needle)); s += strlen(needle))
		c++;
	return c;
}

static bool iasl_clean(const char *out)
{
	/* iasl says "Error" / "Warning" for every problem it finds in a table. */
	return !strstr(out, "Error") && !strstr(out, "Warning") && !strstr(out, "**** ");
}

static void test_iasl(void)
{
	static char out[16384], dsl[65536];
	struct acpi_mmio_dev d[LVMM_VIRTIO_MMIO_MAX];
	struct tables t;
	uint64_t rsdp = 0;
	char want[64];
	long n;
	int rc;

	make_devs(d, LVMM_VIRTIO_MMIO_MAX);
	CHECK_EQ(acpi_write(&gm, 4, d, LVMM_VIRTIO_MMIO_MAX, &rsdp), 0);
	if (!walk(rsdp, &t))
		return;
	CHECK(write_file("xsdt.dat", t.xsdt, rd32(t.xsdt + 4)));
	CHECK(write_file("facp.dat", t.fadt, rd32(t.fadt + 4)));
	CHECK(write_file("apic.dat", t.madt, rd32(t.madt + 4)));
	CHECK(write_file("dsdt.dat", t.dsdt, rd32(t.dsdt + 4)));

	/*
	 * Data tables: iasl -d decodes every field and flags bad lengths and
	 * checksums. (It does not take a bare RSDP; walk() checked that one.)
	 */
	rc = run_iasl("-d xsdt.dat facp.dat apic.dat", out, sizeof(out));
	CHECK_EQ(rc, 0);
	CHECK(iasl_clean(out));
	if (!iasl_clean(out) || rc)
		printf("# iasl said:\n%s\n", out);
	n = read_file("facp.dsl", dsl, sizeof(dsl));
	CHECK(n > 0);
	CHECK(strstr(dsl, "Hardware Reduced (V5) : 1") != NULL);
	CHECK(strstr(dsl, "Reset Register Supported (V2) : 1") != NULL);
	CHECK(strstr(dsl, "Address : 0000000000000CF9") != NULL);
	CHECK(strstr(dsl, "Sleep Control Register : [Generic Address Structure]") != NULL);
	CHECK(strstr(dsl, "Address : 0000000000000600") != NULL);
	CHECK(strstr(dsl, "Address : 0000000000000601") != NULL);
	n = read_file("apic.dsl", dsl, sizeof(dsl));
	CHECK(n > 0);
	CHECK_EQ(count(dsl, "[Processor Local APIC]"), 4);
	CHECK_EQ(count(dsl, "[I/O APIC]"), 1);
	CHECK_EQ(count(dsl, "[Local APIC NMI]"), 1);
	n = read_file("xsdt.dsl", dsl, sizeof(dsl));
	CHECK(n > 0);
	CHECK(strstr(dsl, "00000000000E0080") != NULL && strstr(dsl, "00000000000E0200") != NULL);

	/* The DSDT: disassemble, look, then recompile and compare the AML byte for byte. */
	rc = run_iasl("-d dsdt.dat", out, sizeof(out));
	CHECK_EQ(rc, 0);
	CHECK(iasl_clean(out));
	if (!iasl_clean(out) || rc)
		printf("# iasl said:\n%s\n", out);
	n = read_file("dsdt.dsl", dsl, sizeof(dsl));
	CHECK(n > 0);
	if (n <= 0)
		return;
	CHECK_EQ(count(dsl, "\"LNRO0005\""), LVMM_VIRTIO_MMIO_MAX);
	CHECK_EQ(count(dsl, "Memory32Fixed (ReadWrite,"), LVMM_VIRTIO_MMIO_MAX);
	CHECK_EQ(count(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"),
		 LVMM_VIRTIO_MMIO_MAX + 3 + 1);
	/* The power button through the GED, and \_S5 for the sleep registers. */
	CHECK(strstr(dsl, "EisaId (\"PNP0C0C\") /* Power Button Device */") != NULL);
	CHECK(strstr(dsl, "Name (_HID, \"ACPI0013\" /* Generic Event Device */)") != NULL);
	CHECK(strstr(dsl, "0x00000016,\n") != NULL); /* LVMM_IRQ_GED */
	CHECK(strstr(dsl, "OperationRegion (EREG, SystemIO, 0x0604, 0x04)") != NULL);
	CHECK(strstr(dsl, "Method (_EVT, 1, Serialized)") != NULL);
	CHECK(strstr(dsl, "Notify (PWRB, 0x80)") != NULL);
	CHECK(strstr(dsl, "Name (_S5, Package (0x04)") != NULL);
	CHECK(strstr(dsl, "Name (_S3, Package (0x04)") != NULL);
	CHECK(strstr(dsl, "EisaId (\"PNP0501\")") != NULL);
	CHECK(strstr(dsl, "EisaId (\"PNP0303\")") != NULL);
	CHECK(strstr(dsl, "EisaId (\"PNP0B00\")") != NULL);
	for (unsigned i = 0; i < LVMM_VIRTIO_MMIO_MAX; i++) {
		snprintf(want, sizeof(want), "0x%08X,         // Address Base", (uint32_t)d[i].base);
		CHECK(strstr(dsl, want) != NULL);
		snprintf(want, sizeof(want), "0x%08X,\n", d[i].irq);
		CHECK(strstr(dsl, want) != NULL);
	}
	rc = run_iasl("-p recompiled dsdt.dsl", out, sizeof(out));
	CHECK_EQ(rc, 0);
	if (rc)
		printf("# iasl said:\n%s\n", out);
	{
		static uint8_t aml[65536];
		char path[128];
		FILE *f;
		size_t k = 0;

		snprintf(path, sizeof(path), "%s/recompiled.aml", tmpdir);
		f = fopen(path, "rb");
		CHECK(f != NULL);
		if (f) {
			k = fread(aml, 1, sizeof(aml), f);
			fclose(f);
		}
		/* Same length and the same AML after the header (iasl writes its own creator). */
		CHECK_EQ(k, rd32(t.dsdt + 4));
		CHECK(k == rd32(t.dsdt + 4) && !memcmp(aml + 36, t.dsdt + 36, k - 36));
	}
}

static bool have_iasl(void)
{
	return system("iasl -v >/dev/null 2>&1") == 0;
}

/*
 * LVMM_ACPI_DUMP=FILE [LVMM_ACPI_CPUS=N]: write the 64 KiB table area for N
 * CPUs and no virtio device to FILE and exit, to load the very tables into
 * another VMM (docs/acpi.md: QEMU -device loader,file=FILE,addr=0xe0000).
 */
static int dump_tables(const char *path)
{
	const char *n = getenv("LVMM_ACPI_CPUS");
	uint64_t rsdp = 0;
	FILE *f;

	if (acpi_write(&gm, n ? (unsigned)atoi(n) : 1, NULL, 0, &rsdp) ||
	    !(f = fopen(path, "wb")))
		return 1;
	if (fwrite(mem + ACPI_AREA_START, 1, ACPI_AREA_SIZE, f) != ACPI_AREA_SIZE) {
		fclose(f);
		return 1;
	}
	return fclose(f) ? 1 : 0;
}

int main(void)
{
	mem = calloc(1, MEM);
	if (!mem || gmem_add_slot(&gm, 0, MEM, mem, 0, false)) {
		printf("not ok - setup: no memory\n");
		return 1;
	}
	if (getenv("LVMM_ACPI_DUMP"))
		return dump_tables(getenv("LVMM_ACPI_DUMP"));
	RUN(test_headers);
	RUN(test_fadt);
	RUN(test_madt_1);
	RUN(test_madt_4);
	RUN(test_madt_64);
	RUN(test_madt_254);
	RUN(test_dsdt_none);
	RUN(test_dsdt_three);
	RUN(test_dsdt_all_slots);
	RUN(test_refused);
	if (!have_iasl()) {
		printf("skip - test_iasl: iasl not found (acpica-tools: make deps installs it)\n");
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/lvmm-acpi.XXXXXX");
		if (!mkdtemp(tmpdir)) {
			printf("not ok - test_iasl: mkdtemp: %s\n", strerror(errno));
			unit_tests_failed++;
		} else {
			RUN(test_iasl);
			if (!unit_tests_failed) {
				char cmd[96];

				snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
				if (system(cmd) != 0)
					printf("# could not remove %s\n", tmpdir);
			} else {
				printf("# iasl files kept in %s\n", tmpdir);
			}
		}
	}
	free(mem);
	return unit_done();
}
