/* SPDX-License-Identifier: MIT */
/* Resource-grant decisions (STE) for a platform's partitions; used at start and by `lvmm check`. */
#ifndef LVMM_ACM_GRANT_H
#define LVMM_ACM_GRANT_H

#include <stdbool.h>

#include "config/platform.h"
#include "supervisor/policy.h"

/*
 * May partition pi use its device di? TAPs, disks and sockets need a
 * labelled resource sharing an STE type with the partition; a link needs
 * its two ends' labels to share a type (and the link's own label, if it
 * has one, to share a type with each end). *why explains a denial.
 */
bool acm_device_allowed(const struct policy *pol, struct ste_cache *c, const struct platform *plat,
			unsigned pi, unsigned di, const char **why);

/* May the partition be pinned to host CPU cpu? Unlabelled host CPUs are free for all. */
bool acm_cpu_allowed(const struct policy *pol, struct ste_cache *c, const struct plat_part *p,
		     int cpu, const char **why);

#endif
