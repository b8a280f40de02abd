/* SPDX-License-Identifier: MIT */
/* Compiling an untrusted policy text in a sandboxed child process. */
#ifndef LVMM_POLICY_COMPILE_H
#define LVMM_POLICY_COMPILE_H

#include <stddef.h>

#include "supervisor/policy.h"

/*
 * Parse buf[0..len) as a policy in a sandboxed child and return the
 * validated result in *out. 0, -EINVAL (the policy is invalid: the
 * parser's FILE:LINE messages are in err), or -errno if the child failed.
 */
int policy_compile(const char *buf, size_t len, struct policy *out, char *err, size_t errlen);

#endif
