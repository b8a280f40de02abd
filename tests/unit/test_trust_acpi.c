// SPDX-License-Identifier: MIT
/*
 * The TPM part of lvmm's ACPI tables (src/vmm/acpi.c, acpi_write_ex): the
 * TPM2 table (start method 7 = CRB, control area at the CRB window + 0x40,
 * LAML/LASA naming the event-log area) listed in the XSDT, and the
 * MSFT0101 device with the CRB window in the DSDT; nothing of it without a
 * TPM; bad TPM arguments refused. With iasl (acpica-tools): the decoded
 * TPM2 fields, the DSDT device, and a byte-for-byte recompile of the DSDT.
 */
#include <errno.h>
#include <stdlib.h>

#include "lvmm/guest_abi.h"
#include "unit/trust_test.h"
#include "unit/unit.h"
#include "vmm/acpi.h"
#include "vmm/gmem.h"

#define MEM (1ULL << 20)

static uint8_t *mem;
static struct gmem gm;
static const uint32_t slot_irqs[] = LVMM_VIRTIO_IRQS;

static const struct acpi_tpm tpm = {
	.crb_base = LVMM_TPM_CRB_BASE,
	.crb_size = LVMM_TPM_CRB_SIZE,
	.control_area = LVMM_TPM_CRB_CTRL,
	.log_base = LVMM_TPM_EVENTLOG_BASE,
	.log_size = LVMM_TPM_EVENTLOG_SIZE,
};

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void make_devs(struct acpi_mmio_dev *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		d[i] = (struct acpi_mmio_dev){ LVMM_VIRTIO_MMIO_BASE + i * LVMM_VIRTIO_MMIO_SIZE,
					       (uint32_t)LVMM_VIRTIO_MMIO_SIZE, slot_irqs[i] };
}

/* The table with signature sig listed in the XSDT, or NULL. */
static const uint8_t *xsdt_find(uint64_t rsdp, const char *sig, unsigned *entries)
{
	const uint8_t *x = mem + rd64(mem + rsdp + 24);
	unsigned n = (rd32(x + 4) - 36) / 8;

	*entries = n;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = rd64(x + 36 + 8 * i);

		if (a < ACPI_AREA_START || a + 36 > ACPI_AREA_START + ACPI_AREA_SIZE)
			return NULL;
		if (!memcmp(mem + a, sig, 4))
			return mem + a;
	}
	return NULL;
}

static const uint8_t *dsdt(uint64_t rsdp, unsigned *entries)
{
	const uint8_t *f = xsdt_find(rsdp, "FACP", entries);

	return f ? mem + rd64(f + 140) : NULL;
}

static bool has(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);

	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(p + i, s, k))
			return true;
	return false;
}

static void test_tpm2_table(void)
{
	struct acpi_mmio_dev d[3];
	const uint8_t *t, *x, *ds;
	uint64_t rsdp = 0;
	unsigned n;

	make_devs(d, 3);
	CHECK_EQ(acpi_write_ex(&gm, 2, d, 3, &tpm, &rsdp), 0);
	x = mem + rd64(mem + rsdp + 24);
	CHECK_EQ(sum(x, rd32(x + 4)), 0);
	t = xsdt_find(rsdp, "TPM2", &n);
	CHECK_EQ(n, 3);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ(rd32(t + 4), 76);
	CHECK_EQ(t[8], 4); /* revision 4: with LAML/LASA */
	CHECK_EQ(sum(t, 76), 0);
	CHECK_EQ(t[36] | t[37] << 8, 0);     /* client platform */
	CHECK_EQ(rd64(t + 40), LVMM_TPM_CRB_BASE + 0x40);
	CHECK_EQ(rd32(t + 48), 7);           /* start method: CRB */
	CHECK_EQ(rd32(t + 64), LVMM_TPM_EVENTLOG_SIZE);
	CHECK_EQ(rd64(t + 68), LVMM_TPM_EVENTLOG_BASE);
	ds = dsdt(rsdp, &n);
	CHECK(ds && has(ds, rd32(ds + 4), "TPM_") && has(ds, rd32(ds + 4), "MSFT0101"));
	CHECK(ds && sum(ds, rd32(ds + 4)) == 0);
	/* Without a TPM: neither table nor device (the tables are as before). */
	CHECK_EQ(acpi_write_ex(&gm, 2, d, 3, NULL, &rsdp), 0);
	CHECK(xsdt_find(rsdp, "TPM2", &n) == NULL);
	CHECK_EQ(n, 2);
	ds = dsdt(rsdp, &n);
	CHECK(ds && !has(ds, rd32(ds + 4), "MSFT0101"));
}

static void test_tpm_refused(void)
{
	struct acpi_mmio_dev d[1];
	struct acpi_tpm bad;
	uint64_t rsdp = 0;

	make_devs(d, 1);
	bad = tpm;
	bad.crb_base = 0x1000; /* RAM, not the MMIO hole */
	CHECK_EQ(acpi_write_ex(&gm, 1, d, 1, &bad, &rsdp), -EINVAL);
	bad = tpm;
	bad.crb_base = LVMM_VIRTIO_MMIO_BASE; /* over a virtio slot */
	CHECK_EQ(acpi_write_ex(&gm, 1, d, 1, &bad, &rsdp), -EINVAL);
	bad = tpm;
	bad.control_area = LVMM_TPM_CRB_BASE + LVMM_TPM_CRB_SIZE; /* outside the window */
	CHECK_EQ(acpi_write_ex(&gm, 1, d, 1, &bad, &rsdp), -EINVAL);
	bad = tpm;
	bad.log_size = 0;
	CHECK_EQ(acpi_write_ex(&gm, 1, d, 1, &bad, &rsdp), -EINVAL);
	bad = tpm;
	bad.crb_size = 0;
	CHECK_EQ(acpi_write_ex(&gm, 1, d, 1, &bad, &rsdp), -EINVAL);
}

static void test_iasl_tpm(void)
{
	static char out[16384], dsl[65536];
	static uint8_t aml[65536];
	struct acpi_mmio_dev d[2];
	const uint8_t *t, *ds;
	uint64_t rsdp = 0;
	unsigned n;
	long k;
	int rc;

	make_devs(d, 2);
	CHECK_EQ(acpi_write_ex(&gm, 1, d, 2, &tpm, &rsdp), 0);
	t = xsdt_find(rsdp, "TPM2", &n);
	ds = dsdt(rsdp, &n);
	CHECK(t && ds);
	if (!t || !ds)
		return;
	CHECK_EQ(tt_write("tpm2.dat", t, rd32(t + 4)), 0);
	CHECK_EQ(tt_write("dsdt.dat", ds, rd32(ds + 4)), 0);
	rc = tt_sh(out, sizeof(out), "iasl -d tpm2.dat");
	CHECK_EQ(rc, 0);
	CHECK(!strstr(out, "Error") && !strstr(out, "Warning"));
	k = tt_read("tpm2.dsl", dsl, sizeof(dsl) - 1);
	CHECK(k > 0);
	dsl[k > 0 ? k : 0] = 0;
	CHECK(strstr(dsl, "Signature : \"TPM2\"") != NULL);
	CHECK(strstr(dsl, "Control Address : 00000000FED40040") != NULL);
	CHECK(strstr(dsl, "Start Method : 07") != NULL);
	CHECK(strstr(dsl, "Minimum Log Length : 00010000") != NULL);
	CHECK(strstr(dsl, "Log Address : 00000000000F0000") != NULL);
	if (rc || !strstr(dsl, "Start Method : 07"))
		printf("# iasl said:\n%s\n%s\n", out, dsl);
	rc = tt_sh(out, sizeof(out), "iasl -d dsdt.dat");
	CHECK_EQ(rc, 0);
	CHECK(!strstr(out, "Error") && !strstr(out, "Warning"));
	k = tt_read("dsdt.dsl", dsl, sizeof(dsl) - 1);
	CHECK(k > 0);
	dsl[k > 0 ? k : 0] = 0;
	CHECK(strstr(dsl, "Device (TPM)") != NULL);
	CHECK(strstr(dsl, "Name (_HID, \"MSFT0101\"") != NULL);
	CHECK(strstr(dsl, "0xFED40000,         // Address Base") != NULL);
	CHECK(strstr(dsl, "0x00005000,         // Address Length") != NULL);
	if (!strstr(dsl, "MSFT0101"))
		printf("# dsdt.dsl:\n%s\n", dsl);
	/* Recompiled by iasl, the same AML (after the header, which carries iasl's creator id). */
	rc = tt_sh(out, sizeof(out), "iasl -p recompiled dsdt.dsl");
	CHECK_EQ(rc, 0);
	k = tt_read("recompiled.aml", aml, sizeof(aml));
	CHECK_EQ(k, rd32(ds + 4));
	CHECK(k == rd32(ds + 4) && !memcmp(aml + 36, ds + 36, (size_t)k - 36));
}

int main(void)
{
	mem = calloc(1, MEM);
	if (!mem || gmem_add_slot(&gm, 0, MEM, mem, 0, false)) {
		printf("not ok - setup: no memory\n");
		return 1;
	}
	RUN(test_tpm2_table);
	RUN(test_tpm_refused);
	if (!tt_have("iasl")) {
		printf("skip - test_iasl_tpm: iasl not found (Debian: apt-get install acpica-tools)\n");
		return unit_done();
	}
	if (tt_mkdir("trust-acpi")) {
		printf("not ok - test_iasl_tpm: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN(test_iasl_tpm);
	if (!unit_tests_failed)
		tt_cleanup();
	else
		printf("# files kept in %s\n", tt_dir);
	free(mem);
	return unit_done();
}
