/* SPDX-License-Identifier: MIT */
/* The static check of a whole platform against its policy (`lvmm check`; the supervisor never calls it). */
#ifndef LVMM_ACM_CHECK_H
#define LVMM_ACM_CHECK_H

#include <stdio.h>

#include "config/platform.h"
#include "supervisor/policy.h"

/*
 * Judge every partition, grant and link of plat under pol, with the same
 * decision functions the running ACM uses: labels exist, shared resources
 * and links are allowed by STE, host CPUs may be dedicated, partitions that
 * start together do not conflict. Each violation is one line
 * "FILE:LINE: ..." on err. Partitions or devices whose fields already
 * failed validation (PLAT_BAD_*) are skipped. Returns the number of violations.
 */
int acm_check_platform(const struct policy *pol, const struct platform *plat, FILE *err);

#endif
