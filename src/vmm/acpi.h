/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables (RSDP, XSDT, hardware-reduced FADT, MADT, DSDT) so that guests
 * which ignore the MP table and the virtio_mmio.device= command line (stock
 * distribution kernels) still find the CPUs, the IOAPIC and the virtio-mmio
 * devices. docs/acpi.md explains the layout and every choice.
 */
#ifndef LVMM_ACPI_H
#define LVMM_ACPI_H

#include <stdint.h>

#include "common/util.h"

/*
 * Guest-physical area the tables live in; the e820 map must mark it
 * reserved. The last 4 KiB of the reserved 0xe0000-0xeffff are the MP
 * configuration table's (MPTABLE_CONFIG_GPA, src/vmm/mptable.h).
 */
#define ACPI_AREA_START 0x000e0000ULL
#define ACPI_AREA_SIZE  0x0000f000ULL

struct gmem;

struct acpi_mmio_dev {
	uint64_t base; /* MMIO window, wholly inside the MMIO hole below 4 GiB */
	uint32_t size;
	uint32_t irq;  /* IOAPIC input (GSI), edge-triggered, active high */
};

/*
 * Build RSDP, XSDT, FADT (hardware-reduced), MADT and DSDT in guest memory
 * (in [0xe0000, 0xef000), which the lead marks reserved in the e820 map) for
 * nr_cpus CPUs (APIC IDs 0..nr_cpus-1), the IOAPIC at LVMM_IOAPIC_BASE
 * (id nr_cpus, GSI base 0) and the given virtio-mmio devices.
 * On success *rsdp_gpa is the RSDP's guest-physical address. 0 or -errno:
 * -EINVAL (bad CPU count or device), -ENOSPC (tables do not fit the area),
 * -EFAULT (area not backed by guest RAM).
 */
int acpi_write(struct gmem *m, unsigned nr_cpus, const struct acpi_mmio_dev *devs,
	       unsigned ndevs, uint64_t *rsdp_gpa) MUST_CHECK;

/* A TPM 2.0 with the CRB interface (docs/trust.md, docs/acpi.md). */
struct acpi_tpm {
	uint64_t crb_base;     /* MMIO window of all localities (LVMM_TPM_CRB_BASE) */
	uint32_t crb_size;     /* LVMM_TPM_CRB_SIZE */
	uint64_t control_area; /* CRB control area: crb_base + 0x40 (Linux requires it) */
	uint64_t log_base;     /* event log area (LASA), reserved in the e820 map */
	uint32_t log_size;     /* its size (LAML) */
};

/*
 * acpi_write() plus, when tpm is not NULL, a TPM2 table (start method 7 =
 * CRB, the control area, LAML/LASA) listed in the XSDT and an MSFT0101
 * device with the CRB window in the DSDT, which is what Linux's tpm_crb
 * binds to. -EINVAL also for a TPM window outside the MMIO hole or over a
 * virtio device, a control area outside it, or an empty log area.
 */
int acpi_write_ex(struct gmem *m, unsigned nr_cpus, const struct acpi_mmio_dev *devs,
		  unsigned ndevs, const struct acpi_tpm *tpm, uint64_t *rsdp_gpa) MUST_CHECK;

#endif
