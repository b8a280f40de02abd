/* SPDX-License-Identifier: MIT */
/* Intel MultiProcessor Specification 1.4 table, so SMP guests find their CPUs. */
#ifndef LVMM_MPTABLE_H
#define LVMM_MPTABLE_H

#include "common/util.h"

struct gmem;

/*
 * The floating pointer (16 bytes) is at LVMM_EBDA_START, where guests scan
 * for it; the configuration table it points to (268 + 20 bytes per CPU,
 * 1,548 for LVMM_MAX_VCPUS) does not fit in the rest of the 1 KiB EBDA
 * beyond 37 CPUs, so it has the last 4 KiB of the e820-reserved ACPI area,
 * after the ACPI tables (acpi.h) and below the TPM event log at 0xf0000.
 */
#define MPTABLE_CONFIG_GPA  0x000ef000ULL
#define MPTABLE_CONFIG_SIZE 0x1000U

/* Write the floating pointer at the EBDA and the configuration table it names. 0 or -errno. */
int mptable_write(struct gmem *m, unsigned nr_cpus) MUST_CHECK;

#endif
