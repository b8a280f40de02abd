// SPDX-License-Identifier: MIT
/*
 * ACPI tables for a firmware-less partition (ACPI 6.3: chapter 5.2 for the
 * tables, 6.4 for resource descriptors, 20 for AML).
 *
 * The platform is described as "hardware-reduced" ACPI (FADT flag
 * HW_REDUCED_ACPI): there are no PM1 event/control blocks, no PM timer, no
 * SCI and no GPEs, so lvmm emulates no ACPI fixed hardware and the guest
 * needs no FACS. What the guest learns from these tables:
 *
 *   MADT  the CPUs (one enabled Processor Local APIC per vCPU), the IOAPIC
 *         (GSI 0-23, identity-mapped ISA IRQs), LINT1 = NMI;
 *   DSDT  COM1, the i8042, the CMOS RTC and one LNRO0005 (virtio-mmio)
 *         device per slot, each with its ports/MMIO window and its IRQ;
 *         a power button (PNP0C0C) signalled through a Generic Event
 *         Device (ACPI0013), and \_S5 for the FADT's sleep registers
 *         (src/devices/acpi_pm.c), so that the guest can be asked to
 *         power off and can power off.
 *
 * A hardware-reduced Linux never programs the 8259 or the PIT (it installs
 * a null legacy PIC and skips the timer check) and takes every interrupt
 * line from the DSDT's _CRS, so each device that raises an interrupt must
 * be described there: COM1 especially, or the serial port gets no IRQ.
 * It also means the VMM must leave KVM's 8259 masked, as a BIOS would
 * (docs/acpi.md): nobody else will, and its lines share GSIs 0-15.
 *
 * Everything is written straight into guest memory (no allocation); the
 * AML is produced by a small emitter that patches package lengths in place.
 */
#include "vmm/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "lvmm/guest_abi.h"
#include "vmm/gmem.h"
#include "shared/range.h"

/* Fixed layout inside [ACPI_AREA_START, +ACPI_AREA_SIZE); docs/acpi.md. */
#define OFF_RSDP 0x0000 /* 16-byte aligned: legacy scans of 0xe0000-0xfffff find it too */
#define OFF_XSDT 0x0040
#define OFF_FADT 0x0080
#define OFF_MADT 0x0200
#define OFF_TPM2 0x0c00 /* only with a TPM */
#define OFF_DSDT 0x1000

#define ACPI_MAX_CPUS 254 /* 8-bit APIC IDs; the IOAPIC takes id nr_cpus, 0xff is broadcast */

#define OEM_ID       "LVMM  "
#define CREATOR_ID   "LVMM"
#define OEM_REVISION 1

/* ---- table layouts -------------------------------------------------------- */

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct rsdp {
	char sig[8];
	uint8_t checksum; /* covers the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum; /* covers all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure (5.2.3.2). */
struct gas {
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

/* FADT, revision 6 (5.2.9). Offsets in the comments. */
struct fadt {
	struct acpi_header h;        /*   0 */
	uint32_t firmware_ctrl;      /*  36 */
	uint32_t dsdt;               /*  40 */
	uint8_t reserved0;           /*  44 */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;            /*  46 */
	uint32_t smi_cmd;            /*  48 */
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk; /* 56 */
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;             /* 72 */
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;        /* 88 */
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat; /*  96 */
	uint16_t flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm;             /* 104 */
	uint8_t century;             /* 108 */
	uint16_t iapc_boot_arch;     /* 109 */
	uint8_t reserved1;
	uint32_t flags;              /* 112 */
	struct gas reset_reg;        /* 116 */
	uint8_t reset_value;         /* 128 */
	uint16_t arm_boot_arch;
	uint8_t minor_version;       /* 131 */
	uint64_t x_firmware_ctrl;    /* 132 */
	uint64_t x_dsdt;             /* 140 */
	struct gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk; /* 148 */
	struct gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;            /* 196 */
	struct gas sleep_control_reg, sleep_status_reg;                           /* 244 */
	char hypervisor_vendor[8];   /* 268 */
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");
_Static_assert(sizeof(struct rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct gas) == 12, "GAS");
_Static_assert(sizeof(struct fadt) == 276, "FADT revision 6");
_Static_assert(__builtin_offsetof(struct fadt, flags) == 112, "FADT flags");
_Static_assert(__builtin_offsetof(struct fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(__builtin_offsetof(struct fadt, hypervisor_vendor) == 268, "FADT HVID");
_Static_assert(OFF_XSDT >= sizeof(struct rsdp) && OFF_FADT >= OFF_XSDT + 36 + 3 * 8 &&
	       OFF_MADT >= OFF_FADT + sizeof(struct fadt), "ACPI layout");
_Static_assert(OFF_TPM2 >= OFF_MADT + 44 + ACPI_MAX_CPUS * 8 + 12 + 6, "MADT room");

/*
 * TPM2 table, revision 4 (TCG ACPI Specification 1.3, 8.3) with the
 * event-log fields; Linux: struct acpi_table_tpm2 + struct acpi_tpm2_phy.
 */
struct tpm2_table {
	struct acpi_header h;
	uint16_t platform_class;  /* 0: client */
	uint16_t reserved;
	uint64_t control_area;    /* CRB control area address */
	uint32_t start_method;    /* 7: Command Response Buffer */
	uint8_t start_params[12]; /* none for plain CRB */
	uint32_t laml;            /* log area minimum length */
	uint64_t lasa;            /* log area start address */
} __attribute__((packed));

#define TPM2_START_CRB 7

_Static_assert(sizeof(struct tpm2_table) == 76, "TPM2 table with LAML/LASA");
_Static_assert(OFF_DSDT >= OFF_TPM2 + sizeof(struct tpm2_table), "TPM2 room");

/* FADT flags (5.2.9, table 5.10). */
#define FADT_WBINVD          (1U << 0)
#define FADT_PROC_C1         (1U << 2)
#define FADT_PWR_BUTTON      (1U << 4)  /* set = no fixed-feature power button */
#define FADT_SLP_BUTTON      (1U << 5)  /* set = no fixed-feature sleep button */
#define FADT_FIX_RTC         (1U << 6)  /* set = no RTC wake status in fixed registers */
#define FADT_RESET_REG_SUP   (1U << 10)
#define FADT_HW_REDUCED_ACPI (1U << 20)

/* IA-PC boot architecture flags (5.2.9.3). */
#define IAPC_LEGACY_DEVICES (1U << 0)
#define IAPC_8042           (1U << 1)
#define IAPC_VGA_NOT_PRESENT (1U << 2)

#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define PORT_RESET 0xcf9 /* LVMM_PORT_RESET_CF9; 0x06 = hard reset there */
#define RESET_VALUE 0x06
#define CMOS_CENTURY 0x32 /* devices/rtc.c serves the century byte here */

/* MADT (5.2.12). */
#define MADT_PCAT_COMPAT 1U
#define MADT_LAPIC       0
#define MADT_IOAPIC      1
#define MADT_LAPIC_NMI   4
#define MADT_ENABLED     1U
#define MADT_ALL_CPUS    0xff

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return (uint8_t)(0 - s);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void fill_header(struct acpi_header *h, const char sig[4], uint32_t len, uint8_t rev,
			const char table_id[8])
{
	memcpy(h->sig, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, 6);
	memcpy(h->oem_table_id, table_id, 8);
	h->oem_revision = OEM_REVISION;
	memcpy(h->creator_id, CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Last step for every table: the whole table sums to zero. */
static void seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = checksum((const uint8_t *)h, h->length);
}

/* ---- AML emitter ---------------------------------------------------------- */

#define AML_MAX_DEPTH 5 /* Scope > Device > Method > If is the deepest we go (4) */

/* Writes into buf[0..cap); any overflow or misuse sets err and stops output. */
struct aml {
	uint8_t *buf;
	size_t cap, len;
	size_t open[AML_MAX_DEPTH]; /* where each open package's 4 reserved bytes start */
	unsigned depth;
	bool err;
};

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err || n > a->cap - a->len) {
		a->err = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/*
 * PkgLength (20.2.4) counts itself and everything up to the package's end,
 * so its size depends on the body it precedes: reserve the maximum (4
 * bytes) on open, then on close encode it and slide the body back.
 */
static void aml_pkg_open(struct aml *a)
{
	static const uint8_t zero[4];

	if (a->depth == AML_MAX_DEPTH) {
		a->err = true;
		return;
	}
	a->open[a->depth++] = a->len;
	aml_bytes(a, zero, sizeof(zero));
}

static void aml_pkg_close(struct aml *a)
{
	size_t start, body, n, total;
	uint8_t *p;

	if (!a->depth) {
		a->err = true;
		return;
	}
	start = a->open[--a->depth];
	if (a->err)
		return;
	body = a->len - start - 4;
	/* 1 byte: < 64; otherwise 4 bits in the lead byte + 8 per extra byte. */
	if (body + 1 < (1U << 6))
		n = 1;
	else if (body + 2 < (1U << 12))
		n = 2;
	else if (body + 3 < (1U << 20))
		n = 3;
	else if (body + 4 < (1U << 28))
		n = 4;
	else {
		a->err = true;
		return;
	}
	p = a->buf + start;
	memmove(p + n, p + 4, body);
	a->len -= 4 - n;
	total = body + n;
	if (n == 1) {
		p[0] = (uint8_t)total;
	} else {
		p[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (size_t i = 1; i < n; i++)
			p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
}

/* NameSeg (20.2.2): exactly four characters, [A-Z_] then [A-Z0-9_]. */
static void aml_nameseg(struct aml *a, const char *seg)
{
	for (unsigned i = 0; i < 4; i++) {
		char c = seg[i];

		if (!((c >= 'A' && c <= 'Z') || c == '_' || (i && c >= '0' && c <= '9'))) {
			a->err = true;
			return;
		}
	}
	aml_bytes(a, seg, 4);
}

/* Smallest encoding of an integer (ZeroOp, OneOp, Byte/Word/DWord/QWordConst). */
static void aml_integer(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		aml_byte(a, (uint8_t)v); /* ZeroOp 0x00, OneOp 0x01 */
	} else if (v <= 0xff) {
		aml_byte(a, 0x0a);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, 0x0b);
		aml_bytes(a, &(uint16_t){ (uint16_t)v }, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, 0x0c);
		aml_bytes(a, &(uint32_t){ (uint32_t)v }, 4);
	} else {
		aml_byte(a, 0x0e);
		aml_bytes(a, &v, 8);
	}
}

/* DWordConst always: EisaId() values are compiled this way. */
static void aml_dword(struct aml *a, uint32_t v)
{
	aml_byte(a, 0x0c);
	aml_bytes(a, &v, 4);
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, 0x0d); /* StringPrefix */
	aml_bytes(a, s, strlen(s) + 1);
}

/* Name (seg, <data object follows>) */
static void aml_name(struct aml *a, const char *seg)
{
	aml_byte(a, 0x08); /* NameOp */
	aml_nameseg(a, seg);
}

static void aml_buffer(struct aml *a, const uint8_t *data, size_t n)
{
	aml_byte(a, 0x11); /* BufferOp */
	aml_pkg_open(a);
	aml_integer(a, n);
	aml_bytes(a, data, n);
	aml_pkg_close(a);
}

/*
 * Scope (seg) { ... } at the top of the definition block, where the current
 * scope is the root: "_SB_" there is "\_SB_" (iasl drops the '\' too).
 */
static void aml_scope_open(struct aml *a, const char *seg)
{
	aml_byte(a, 0x10); /* ScopeOp */
	aml_pkg_open(a);
	aml_nameseg(a, seg);
}

static void aml_device_open(struct aml *a, const char *seg)
{
	aml_byte(a, 0x5b); /* ExtOpPrefix */
	aml_byte(a, 0x82); /* DeviceOp */
	aml_pkg_open(a);
	aml_nameseg(a, seg);
}

/* OperationRegion (seg, SystemIO, port, len) (19.6.100). */
static void aml_opregion_io(struct aml *a, const char *seg, uint16_t port, uint8_t len)
{
	aml_byte(a, 0x5b);
	aml_byte(a, 0x80); /* OpRegionOp */
	aml_nameseg(a, seg);
	aml_byte(a, 0x01); /* RegionSpace: SystemIO */
	aml_integer(a, port);
	aml_integer(a, len);
}

/* Field (region, flags) { field, bits } with a single named field (19.6.48). */
static void aml_field1(struct aml *a, const char *region, uint8_t flags, const char *field,
		       uint8_t bits)
{
	aml_byte(a, 0x5b);
	aml_byte(a, 0x81); /* FieldOp */
	aml_pkg_open(a);
	aml_nameseg(a, region);
	aml_byte(a, flags);
	aml_nameseg(a, field);
	aml_byte(a, bits); /* the field's PkgLength: its width in bits, < 64 */
	aml_pkg_close(a);
}

/* Method (seg, flags) { ... }: flags = argument count | 0x08 when Serialized. */
static void aml_method_open(struct aml *a, const char *seg, uint8_t flags)
{
	aml_byte(a, 0x14); /* MethodOp */
	aml_pkg_open(a);
	aml_nameseg(a, seg);
	aml_byte(a, flags);
}

/* Compressed EISA id (6.1.5): "PNP0501" -> 0x0105d041. Constant strings only. */
static uint32_t eisa_id(const char *s)
{
	uint32_t c1 = (uint32_t)(s[0] - 0x40) & 0x1f, c2 = (uint32_t)(s[1] - 0x40) & 0x1f;
	uint32_t c3 = (uint32_t)(s[2] - 0x40) & 0x1f, h[4];

	for (unsigned i = 0; i < 4; i++) {
		char c = s[3 + i];

		h[i] = (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) & 0xf;
	}
	return ((c1 << 2) | (c2 >> 3)) | (((c2 & 7) << 5 | c3) << 8) |
	       ((h[0] << 4 | h[1]) << 16) | ((h[2] << 4 | h[3]) << 24);
}

/* ---- resource templates (6.4) --------------------------------------------- */

struct res {
	uint8_t b[64];
	size_t n;
	bool err;
};

static void res_bytes(struct res *r, const uint8_t *p, size_t n)
{
	if (r->err || n > sizeof(r->b) - r->n) {
		r->err = true;
		return;
	}
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

/* IO (Decode16, port, port, 1, len): small item 0x47, fixed address. */
static void res_io(struct res *r, uint16_t port, uint8_t len)
{
	uint8_t d[8] = { 0x47, 0x01, 0, 0, 0, 0, 0x01, len };

	put16(d + 2, port);
	put16(d + 4, port);
	res_bytes(r, d, sizeof(d));
}

/* Memory32Fixed (ReadWrite, base, size): large item 0x86, 9 data bytes. */
static void res_mem32(struct res *r, uint32_t base, uint32_t size)
{
	uint8_t d[12] = { 0x86, 0x09, 0x00, 0x01 };

	put32(d + 4, base);
	put32(d + 8, size);
	res_bytes(r, d, sizeof(d));
}

/*
 * Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi}: extended
 * interrupt descriptor, large item 0x89. Flags: bit 0 consumer, bit 1
 * edge, bit 2 active low (clear), bit 3 shared (clear). Edge because lvmm
 * injects every device interrupt through an irqfd without a resample fd,
 * i.e. as a pulse; the MP table says the same (ISA: edge, active high).
 */
static void res_irq(struct res *r, uint32_t gsi)
{
	uint8_t d[9] = { 0x89, 0x06, 0x00, 0x03, 0x01 };

	put32(d + 5, gsi);
	res_bytes(r, d, sizeof(d));
}

static void res_end(struct res *r)
{
	static const uint8_t end[2] = { 0x79, 0x00 }; /* End Tag, checksum 0 = not checked */

	res_bytes(r, end, sizeof(end));
}

static void aml_crs(struct aml *a, struct res *r)
{
	res_end(r);
	if (r->err) {
		a->err = true;
		return;
	}
	aml_name(a, "_CRS");
	aml_buffer(a, r->b, r->n);
}

/* ---- DSDT ----------------------------------------------------------------- */

/* The port-I/O devices of docs/platform.md that a hardware-reduced guest must see here. */
static const struct legacy_dev {
	const char *seg, *hid;
	uint16_t port[2];
	uint8_t len[2];
	uint32_t irq;
} legacy_devs[] = {
	{ "COM1", "PNP0501", { LVMM_PORT_COM1 }, { 8 }, LVMM_IRQ_COM1 },
	/* Keyboard controller: reset only, no keyboard behind it; see docs/acpi.md. */
	{ "PS2_", "PNP0303", { LVMM_PORT_I8042_DATA, LVMM_PORT_I8042_CMD }, { 1, 1 }, 1 },
	{ "RTC_", "PNP0B00", { LVMM_PORT_RTC_INDEX }, { 2 }, LVMM_IRQ_RTC },
};

/*
 * The power button and the Generic Event Device that signals it (ACPI
 * 6.3, 5.6.9; Linux: drivers/acpi/evged.c, button.c), in \_SB:
 *
 *   Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) Name (_UID, Zero) }
 *   Device (GED_) {
 *     Name (_HID, "ACPI0013") Name (_UID, Zero)
 *     Name (_CRS, ResourceTemplate () { Interrupt (..., Edge, ...) { LVMM_IRQ_GED } })
 *     OperationRegion (EREG, SystemIO, LVMM_PORT_GED_EVENT, 4)
 *     Field (EREG, DWordAcc, NoLock, Preserve) { EVTS, 32 }
 *     Method (_EVT, 1, Serialized) {
 *       Local0 = EVTS                        // reading clears the latched events
 *       If ((Local0 & One)) { Notify (PWRB, 0x80) }
 *     }
 *   }
 *
 * The FADT's PWR_BUTTON flag stays set (no fixed-feature button): in a
 * hardware-reduced platform the button is this control-method device, and
 * Notify 0x80 is what the button driver reports as KEY_POWER.
 */
static void dsdt_power(struct aml *a)
{
	struct res r = { .n = 0 };

	aml_device_open(a, "PWRB");
	aml_name(a, "_HID");
	aml_dword(a, eisa_id("PNP0C0C"));
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_pkg_close(a);

	aml_device_open(a, "GED_");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	res_irq(&r, LVMM_IRQ_GED);
	aml_crs(a, &r);
	aml_opregion_io(a, "EREG", LVMM_PORT_GED_EVENT, 4);
	aml_field1(a, "EREG", 0x03 /* DWordAcc, NoLock, Preserve */, "EVTS", 32);
	aml_method_open(a, "_EVT", 1 | 0x08);
	aml_byte(a, 0x70); /* Store (EVTS, Local0) */
	aml_nameseg(a, "EVTS");
	aml_byte(a, 0x60);
	aml_byte(a, 0xa0); /* If (And (Local0, One, NullName)) */
	aml_pkg_open(a);
	aml_byte(a, 0x7b);
	aml_byte(a, 0x60);
	aml_integer(a, LVMM_GED_EV_POWER_BUTTON);
	aml_byte(a, 0x00);
	aml_byte(a, 0x86); /* Notify (PWRB, 0x80): "status change" = button pressed */
	aml_nameseg(a, "PWRB");
	aml_integer(a, 0x80);
	aml_pkg_close(a); /* If */
	aml_pkg_close(a); /* Method */
	aml_pkg_close(a); /* Device */
}

/*
 * Name (\_S3, Package (0x04) { 3, Zero, Zero, Zero }) and the same for \_S5
 * at the root: the SLP_TYP a guest writes to the FADT's sleep control
 * register to suspend to RAM (S3: lvmm holds the partition and mediates
 * the platform's sleep, docs/acpi.md) or to power off (ACPI 6.3, 7.4.2;
 * the second value, SLP_TYPb, is for PM1b, which a hardware-reduced
 * platform does not have). \_S5 stays last.
 */
static void dsdt_sleep_state(struct aml *a, const char *name, unsigned slp_typ)
{
	aml_name(a, name);
	aml_byte(a, 0x12); /* PackageOp */
	aml_pkg_open(a);
	aml_byte(a, 4);    /* NumElements */
	aml_integer(a, slp_typ);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_pkg_close(a);
}

static void dsdt_sleep_states(struct aml *a)
{
	dsdt_sleep_state(a, "_S3_", LVMM_SLP_TYP_S3);
	dsdt_sleep_state(a, "_S5_", LVMM_SLP_TYP_S5);
}

static void dsdt_body(struct aml *a, const struct acpi_mmio_dev *devs, unsigned ndevs,
		      const struct acpi_tpm *tpm)
{
	unsigned i, j;

	aml_scope_open(a, "_SB_");
	for (i = 0; i < ARRAY_SIZE(legacy_devs); i++) {
		const struct legacy_dev *d = &legacy_devs[i];
		struct res r = { .n = 0 };

		aml_device_open(a, d->seg);
		aml_name(a, "_HID");
		aml_dword(a, eisa_id(d->hid));
		aml_name(a, "_UID");
		aml_integer(a, 0);
		for (j = 0; j < ARRAY_SIZE(d->port) && d->len[j]; j++)
			res_io(&r, d->port[j], d->len[j]);
		res_irq(&r, d->irq);
		aml_crs(a, &r);
		aml_pkg_close(a);
	}
	for (i = 0; i < ndevs; i++) {
		struct res r = { .n = 0 };
		/* V000, V001, ...: ndevs <= LVMM_IOAPIC_PINS keeps this at three digits. */
		char seg[5] = { 'V', (char)('0' + i / 100 % 10), (char)('0' + i / 10 % 10),
				(char)('0' + i % 10), 0 };

		aml_device_open(a, seg);
		aml_name(a, "_HID");
		aml_string(a, "LNRO0005"); /* drivers/virtio/virtio_mmio.c's ACPI id */
		aml_name(a, "_UID");
		aml_integer(a, i);
		res_mem32(&r, (uint32_t)devs[i].base, devs[i].size);
		res_irq(&r, devs[i].irq);
		aml_crs(a, &r);
		aml_pkg_close(a);
	}
	if (tpm) {
		/*
		 * TPM 2.0 (CRB): Linux's tpm_crb binds "MSFT0101" and maps the
		 * control area and buffer from this window. No interrupt: the
		 * driver polls CTRL_START.
		 */
		struct res r = { .n = 0 };

		aml_device_open(a, "TPM_");
		aml_name(a, "_HID");
		aml_string(a, "MSFT0101");
		aml_name(a, "_UID");
		aml_integer(a, 0);
		res_mem32(&r, (uint32_t)tpm->crb_base, tpm->crb_size);
		aml_crs(a, &r);
		aml_pkg_close(a);
	}
	dsdt_power(a);
	aml_pkg_close(a);
	dsdt_sleep_states(a);
	if (a->depth)
		a->err = true;
}

/* ---- checks --------------------------------------------------------------- */

static bool irq_reserved(uint32_t irq)
{
	/* 0: the PIT's GSI; 2: the 8259 cascade; the GED; the rest: legacy devices above (exclusive). */
	if (irq == 0 || irq == 2 || irq == LVMM_IRQ_GED)
		return true;
	for (unsigned i = 0; i < ARRAY_SIZE(legacy_devs); i++)
		if (legacy_devs[i].irq == irq)
			return true;
	return false;
}

static int check_tpm(const struct acpi_tpm *t, const struct acpi_mmio_dev *devs, unsigned ndevs)
{
	unsigned i;

	if (!t)
		return 0;
	if (!t->crb_size || !range_within(t->crb_base, t->crb_size, LVMM_MMIO_HOLE_START,
					  LVMM_MMIO_HOLE_END - LVMM_MMIO_HOLE_START) ||
	    !range_within(t->control_area, 0x40, t->crb_base, t->crb_size) || !t->log_size ||
	    !t->log_base)
		return -EINVAL;
	for (i = 0; i < ndevs; i++)
		if (ranges_overlap(devs[i].base, devs[i].size, t->crb_base, t->crb_size))
			return -EINVAL;
	return 0;
}

static int check_devs(const struct acpi_mmio_dev *devs, unsigned ndevs)
{
	unsigned i, j;

	if (ndevs > LVMM_IOAPIC_PINS || (ndevs && !devs))
		return -EINVAL;
	for (i = 0; i < ndevs; i++) {
		const struct acpi_mmio_dev *d = &devs[i];

		if (!d->size || !range_within(d->base, d->size, LVMM_MMIO_HOLE_START,
					      LVMM_MMIO_HOLE_END - LVMM_MMIO_HOLE_START))
			return -EINVAL;
		if (d->irq >= LVMM_IOAPIC_PINS || irq_reserved(d->irq))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (devs[j].irq == d->irq ||
			    ranges_overlap(devs[j].base, devs[j].size, d->base, d->size))
				return -EINVAL;
	}
	return 0;
}

/* ---- tables --------------------------------------------------------------- */

static void write_fadt(uint8_t *area, uint64_t dsdt_gpa)
{
	struct fadt *f = (struct fadt *)(area + OFF_FADT);

	fill_header(&f->h, "FACP", sizeof(*f), 6, "LVMMFACP");
	/* ACPI 6.3 layout (revision 6, minor 3): what the rest of these tables follow. */
	f->minor_version = 3;
	/* No FACS: allowed for hardware-reduced platforms (no global lock, no waking vector). */
	f->firmware_ctrl = 0;
	f->x_firmware_ctrl = 0;
	/* The same address in both fields: ACPICA warns only when they differ. */
	f->dsdt = (uint32_t)dsdt_gpa;
	f->x_dsdt = dsdt_gpa;
	/* No C2/C3: latencies above 100 / 1000 us mean "not supported". */
	f->p_lvl2_lat = 0x0fff;
	f->p_lvl3_lat = 0x0fff;
	f->century = CMOS_CENTURY;
	/*
	 * IA-PC boot architecture:
	 *  - LEGACY_DEVICES: COM1 is an ISA-style device the OS must drive;
	 *  - 8042: there is a controller at 0x60/0x64 (reset only, no
	 *    keyboard); it is also described in the DSDT so that Linux binds it
	 *    through PNP with a proper IRQ instead of probing ports blindly;
	 *  - VGA not present: nothing answers at 0x3b0-0x3df or 0xa0000, so
	 *    the OS must not probe a VGA there;
	 *  - CMOS RTC *present* (bit 5 clear): devices/rtc.c, also in the DSDT;
	 *  - MSI and ASPM bits clear: there is no PCI bus yet, and a set "MSI not
	 *    supported" bit would silently disable MSI once virtio-pci arrives.
	 */
	f->iapc_boot_arch = IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT;
	/*
	 * HW_REDUCED_ACPI: no PM1/PM timer/GPE/SCI hardware (all those blocks
	 * stay zero). PWR/SLP_BUTTON and FIX_RTC set: no fixed-feature buttons
	 * or RTC wake status (there is no fixed hardware at all). WBINVD and
	 * PROC_C1 (HLT) hold on every x86 CPU KVM exposes. RESET_REG_SUP: the
	 * PC reset control register at 0xcf9 resets the partition on 0x06, so
	 * Linux's default reboot (ACPI first) works.
	 */
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
		   FADT_FIX_RTC | FADT_RESET_REG_SUP | FADT_HW_REDUCED_ACPI;
	f->reset_reg = (struct gas){ .space_id = GAS_SYSTEM_IO, .bit_width = 8, .bit_offset = 0,
				     .access_size = GAS_ACCESS_BYTE, .address = PORT_RESET };
	f->reset_value = RESET_VALUE;
	/*
	 * Hardware-reduced sleep registers (4.8.3.7), both needed before Linux
	 * offers S5 at all (acpi_sleep_state_supported()): the guest writes
	 * SLP_TYP << 2 | SLP_EN to the control register; src/devices/acpi_pm.c
	 * powers the partition off for \_S5's value.
	 */
	f->sleep_control_reg = (struct gas){ .space_id = GAS_SYSTEM_IO, .bit_width = 8,
					     .access_size = GAS_ACCESS_BYTE,
					     .address = LVMM_PORT_SLEEP_CTL };
	f->sleep_status_reg = (struct gas){ .space_id = GAS_SYSTEM_IO, .bit_width = 8,
					    .access_size = GAS_ACCESS_BYTE,
					    .address = LVMM_PORT_SLEEP_STS };
	memcpy(f->hypervisor_vendor, "LVMM    ", 8);
	seal(&f->h);
}

static void write_madt(uint8_t *area, unsigned nr_cpus)
{
	struct acpi_header *h = (struct acpi_header *)(area + OFF_MADT);
	uint8_t *base = area + OFF_MADT, *p = base + sizeof(*h);
	unsigned i;

	put32(p, (uint32_t)LVMM_LAPIC_BASE);
	/*
	 * PCAT_COMPAT: only LVMM_IRQCHIP=kernel has a dual 8259 (the MP
	 * table's ExtINT source). Kept with the split irqchip too, so the
	 * tables (and what a TPM measures of them) do not depend on the mode;
	 * a hardware-reduced OS uses no 8259 either way.
	 */
	put32(p + 4, MADT_PCAT_COMPAT);
	p += 8;
	for (i = 0; i < nr_cpus; i++) {
		/* ACPI processor UID = APIC ID = vCPU index; all enabled. */
		p[0] = MADT_LAPIC;
		p[1] = 8;
		p[2] = (uint8_t)i;
		p[3] = (uint8_t)i;
		put32(p + 4, MADT_ENABLED);
		p += 8;
	}
	p[0] = MADT_IOAPIC;
	p[1] = 12;
	p[2] = (uint8_t)nr_cpus; /* as in the MP table */
	p[3] = 0;
	put32(p + 4, (uint32_t)LVMM_IOAPIC_BASE);
	put32(p + 8, 0); /* GSI base: pins 0-23 are GSIs 0-23 */
	p += 12;
	/*
	 * No Interrupt Source Override at all, on purpose. Without one, an OS
	 * identity-maps ISA IRQ n to GSI n (ACPI 5.2.12.5; Linux:
	 * mp_config_acpi_legacy_irqs()), which is exactly lvmm's routing: the
	 * IOAPIC in the partition process (devices/ioapic.c, KVM's split
	 * irqchip) makes pin n's entry the MSI route of GSI n, and a device
	 * raises GSI n. There is no PIT and no 8259 (only with
	 * LVMM_IRQCHIP=kernel, where KVM's default table wires GSI n to pin n
	 * and the PIT fires GSI 0: IRQ 0 -> pin 0, as the MP table says).
	 * QEMU's "IRQ0 -> GSI 2" override would be wrong here: it matches
	 * QEMU's own routing (GSI 0 -> pin 2), not lvmm's. Polarity and
	 * trigger stay ISA's (active high, edge), which is how lvmm's irqfds
	 * inject. (A hardware-reduced Linux does not use ISA IRQs anyway.)
	 */
	p[0] = MADT_LAPIC_NMI; /* LINT1 = NMI on every CPU, as firmware sets it up */
	p[1] = 6;
	p[2] = MADT_ALL_CPUS;
	put16(p + 3, 0); /* flags: conforms to the bus */
	p[5] = 1;        /* LINT1 */
	p += 6;
	/* MADT revision 5 is ACPI 6.3's. */
	fill_header(h, "APIC", (uint32_t)(p - base), 5, "LVMMAPIC");
	seal(h);
}

static void write_tpm2(uint8_t *area, const struct acpi_tpm *t)
{
	struct tpm2_table *tb = (struct tpm2_table *)(area + OFF_TPM2);

	fill_header(&tb->h, "TPM2", sizeof(*tb), 4, "LVMMTPM2");
	tb->platform_class = 0;
	tb->control_area = t->control_area;
	tb->start_method = TPM2_START_CRB;
	tb->laml = t->log_size;
	tb->lasa = t->log_base;
	seal(&tb->h);
}

static int write_dsdt(uint8_t *area, const struct acpi_mmio_dev *devs, unsigned ndevs,
		      const struct acpi_tpm *tpm)
{
	struct acpi_header *h = (struct acpi_header *)(area + OFF_DSDT);
	struct aml a = {
		.buf = area + OFF_DSDT + sizeof(*h),
		.cap = ACPI_AREA_SIZE - OFF_DSDT - sizeof(*h),
	};

	dsdt_body(&a, devs, ndevs, tpm);
	if (a.err)
		return -ENOSPC;
	/* Revision 2: 64-bit AML integers. */
	fill_header(h, "DSDT", (uint32_t)(sizeof(*h) + a.len), 2, "LVMMDSDT");
	seal(h);
	return 0;
}

int acpi_write(struct gmem *m, unsigned nr_cpus, const struct acpi_mmio_dev *devs,
	       unsigned ndevs, uint64_t *rsdp_gpa)
{
	return acpi_write_ex(m, nr_cpus, devs, ndevs, NULL, rsdp_gpa);
}

int acpi_write_ex(struct gmem *m, unsigned nr_cpus, const struct acpi_mmio_dev *devs,
		  unsigned ndevs, const struct acpi_tpm *tpm, uint64_t *rsdp_gpa)
{
	const uint64_t gpa = ACPI_AREA_START;
	struct acpi_header *xsdt;
	struct rsdp *rsdp;
	uint8_t *area;
	uint64_t entry;
	unsigned nx = 2;
	int r;

	if (!nr_cpus || nr_cpus > ACPI_MAX_CPUS || !rsdp_gpa)
		return -EINVAL;
	r = check_devs(devs, ndevs);
	if (!r)
		r = check_tpm(tpm, devs, ndevs);
	if (r)
		return r;
	area = gmem_loader_ptr(m, gpa, ACPI_AREA_SIZE);
	if (!area)
		return -EFAULT;
	memset(area, 0, ACPI_AREA_SIZE);

	r = write_dsdt(area, devs, ndevs, tpm);
	if (r) {
		memset(area, 0, ACPI_AREA_SIZE); /* no half-written tables */
		return r;
	}
	write_fadt(area, gpa + OFF_DSDT);
	write_madt(area, nr_cpus);

	/* XSDT: FADT, MADT (, TPM2); the DSDT is reached through the FADT only. */
	xsdt = (struct acpi_header *)(area + OFF_XSDT);
	entry = gpa + OFF_FADT;
	memcpy(area + OFF_XSDT + sizeof(*xsdt), &entry, 8);
	entry = gpa + OFF_MADT;
	memcpy(area + OFF_XSDT + sizeof(*xsdt) + 8, &entry, 8);
	if (tpm) {
		write_tpm2(area, tpm);
		entry = gpa + OFF_TPM2;
		memcpy(area + OFF_XSDT + sizeof(*xsdt) + 16, &entry, 8);
		nx = 3;
	}
	fill_header(xsdt, "XSDT", (uint32_t)(sizeof(*xsdt) + nx * 8), 1, "LVMMXSDT");
	seal(xsdt);

	/* RSDP revision 2: XSDT only (no RSDT; every ACPI 2.0+ OS uses the XSDT). */
	rsdp = (struct rsdp *)(area + OFF_RSDP);
	memcpy(rsdp->sig, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_addr = 0;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_addr = gpa + OFF_XSDT;
	rsdp->checksum = checksum((const uint8_t *)rsdp, 20);
	rsdp->ext_checksum = checksum((const uint8_t *)rsdp, sizeof(*rsdp));

	*rsdp_gpa = gpa + OFF_RSDP;
	return 0;
}
