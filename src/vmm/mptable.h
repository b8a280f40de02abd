/* SPDX-License-Identifier: MIT */
/* Intel MultiProcessor Specification 1.4 table, so SMP guests find their CPUs. */
#ifndef LVMM_MPTABLE_H
#define LVMM_MPTABLE_H

#include "common/util.h"

struct gmem;

/* Write the floating pointer and configuration table at the EBDA. 0 or -errno. */
int mptable_write(struct gmem *m, unsigned nr_cpus) MUST_CHECK;

#endif
