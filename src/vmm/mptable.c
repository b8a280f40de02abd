// SPDX-License-Identifier: MIT
/*
 * MP table (Intel MultiProcessor Specification 1.4, chapter 4): one
 * processor entry per vCPU, an ISA bus, the IOAPIC and an interrupt entry
 * for each IOAPIC pin (ISA IRQ n -> pin n, which is how KVM's default GSI
 * routing wires the in-kernel IOAPIC). The floating pointer is in the
 * EBDA, the configuration table at MPTABLE_CONFIG_GPA (mptable.h).
 */
#include "vmm/mptable.h"

#include <errno.h>
#include <string.h>

#include "lvmm/guest_abi.h"
#include "lvmm/proto.h"
#include "vmm/acpi.h"
#include "vmm/gmem.h"

struct mpf {
	char sig[4];
	uint32_t physptr;
	uint8_t length, spec_rev, checksum, feature1;
	uint8_t feature2, feature3, feature4, feature5;
} __attribute__((packed));

struct mpc_header {
	char sig[4];
	uint16_t length;
	uint8_t spec_rev, checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size, count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, id;
	char name[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, id, ver, flags;
	uint32_t addr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type, irqtype;
	uint16_t flags;
	uint8_t src_bus, src_irq, dst_apic, dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf) == 16, "mpf");
_Static_assert(sizeof(struct mpc_header) == 44, "mpc header");
_Static_assert(sizeof(struct mpc_cpu) == 20, "mpc cpu");

#define MP_CPU 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_INTSRC 3
#define MP_LINTSRC 4
#define MP_IRQ_INT 0
#define MP_IRQ_NMI 1
#define MP_IRQ_EXTINT 3

/* The configuration table's bytes for n CPUs. */
#define MPC_LEN(n) (sizeof(struct mpc_header) + (n) * sizeof(struct mpc_cpu) + \
		    sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +      \
		    (LVMM_IOAPIC_PINS + 2) * sizeof(struct mpc_intsrc))

_Static_assert(MPC_LEN(LVMM_MAX_VCPUS) <= MPTABLE_CONFIG_SIZE, "every vCPU count lvmm allows fits");
_Static_assert(MPTABLE_CONFIG_GPA >= ACPI_AREA_START + ACPI_AREA_SIZE &&
	       MPTABLE_CONFIG_GPA + MPTABLE_CONFIG_SIZE <= LVMM_TPM_EVENTLOG_BASE,
	       "between the ACPI tables and the TPM event log");

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return (uint8_t)(0 - s);
}

int mptable_write(struct gmem *m, unsigned nr_cpus)
{
	size_t len = MPC_LEN(nr_cpus);
	const uint64_t mpf_gpa = LVMM_EBDA_START, mpc_gpa = MPTABLE_CONFIG_GPA;
	uint8_t *p;
	struct mpc_header *h;
	struct mpf *f;
	uint8_t ioapic_id = (uint8_t)nr_cpus;
	unsigned i, count = 0;

	if (!nr_cpus || nr_cpus > 254 || len > MPTABLE_CONFIG_SIZE)
		return -EINVAL;
	f = gmem_loader_ptr(m, mpf_gpa, sizeof(*f));
	h = gmem_loader_ptr(m, mpc_gpa, MPTABLE_CONFIG_SIZE);
	if (!f || !h)
		return -EFAULT;
	memset(f, 0, sizeof(*f));
	memset(h, 0, MPTABLE_CONFIG_SIZE);
	p = (uint8_t *)(h + 1);

	for (i = 0; i < nr_cpus; i++, count++) {
		struct mpc_cpu c = {
			.type = MP_CPU, .apic_id = (uint8_t)i, .apic_ver = 0x14,
			.flags = (uint8_t)(1 | (i == 0 ? 2 : 0)), /* enabled, BSP */
			.signature = 0x600, .features = 0x201,    /* FPU, APIC */
		};
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	{
		struct mpc_bus b = { .type = MP_BUS, .id = 0, .name = { 'I', 'S', 'A', ' ', ' ', ' ' } };
		struct mpc_ioapic io = { .type = MP_IOAPIC, .id = ioapic_id, .ver = 0x11, .flags = 1,
					 .addr = (uint32_t)LVMM_IOAPIC_BASE };

		memcpy(p, &b, sizeof(b));
		p += sizeof(b);
		memcpy(p, &io, sizeof(io));
		p += sizeof(io);
		count += 2;
	}
	for (i = 0; i < LVMM_IOAPIC_PINS; i++, count++) {
		struct mpc_intsrc s = { .type = MP_INTSRC, .irqtype = MP_IRQ_INT, .src_bus = 0,
					.src_irq = (uint8_t)i, .dst_apic = ioapic_id,
					.dst_pin = (uint8_t)i };
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
	}
	{
		struct mpc_intsrc l0 = { .type = MP_LINTSRC, .irqtype = MP_IRQ_EXTINT,
					 .dst_apic = 0xff, .dst_pin = 0 };
		struct mpc_intsrc l1 = { .type = MP_LINTSRC, .irqtype = MP_IRQ_NMI,
					 .dst_apic = 0xff, .dst_pin = 1 };

		memcpy(p, &l0, sizeof(l0));
		p += sizeof(l0);
		memcpy(p, &l1, sizeof(l1));
		p += sizeof(l1);
		count += 2;
	}
	memcpy(h->sig, "PCMP", 4);
	h->length = (uint16_t)len;
	h->spec_rev = 4;
	memcpy(h->oem, "LVMM    ", 8);
	memcpy(h->product, "PARTITION   ", 12);
	h->count = (uint16_t)count;
	h->lapic = (uint32_t)LVMM_LAPIC_BASE;
	h->checksum = checksum((uint8_t *)h, len);

	memcpy(f->sig, "_MP_", 4);
	f->physptr = (uint32_t)mpc_gpa;
	f->length = 1;
	f->spec_rev = 4;
	f->checksum = checksum((uint8_t *)f, sizeof(*f));
	return 0;
}
