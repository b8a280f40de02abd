/* SPDX-License-Identifier: MIT */
/* CPUID feature names the platform file may hide from a guest (cpuid_disable). */
#ifndef LVMM_CPUFEATURES_H
#define LVMM_CPUFEATURES_H

#include "lvmm/proto.h"

/* Look up a feature name ("cx16", "xsave", ...). 0, or -ENOENT if unknown. */
int cpu_feature_lookup(const char *name, struct lvmm_cpuid_mask *out);

/* The name of the feature a mask hides, or NULL if it is not one of ours. */
const char *cpu_feature_name(const struct lvmm_cpuid_mask *m);

/* A comma-separated list of every known name, for error messages. */
const char *cpu_feature_names(void);

#endif
