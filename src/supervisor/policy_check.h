/* SPDX-License-Identifier: MIT */
/* Checking a policy compiled by the API front-end (struct lvmm_policy_upload). */
#ifndef LVMM_POLICY_CHECK_H
#define LVMM_POLICY_CHECK_H

#include <stddef.h>

#include "supervisor/policy.h"

/*
 * Check the upload *u as the front-end sent it: 0 when u->pol is a
 * well-formed policy (its disk names then resolved to real paths), -EINVAL
 * when the front-end's parser found problems (its FILE:LINE messages in
 * err), -EPROTO when a count, index, bit or string is out of range.
 */
int policy_check(struct lvmm_policy_upload *u, char *err, size_t errlen);

#endif
