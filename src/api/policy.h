/* SPDX-License-Identifier: MIT */
/* Compiling an uploaded policy in the front-end (src/api/policy.c). */
#ifndef LVMM_API_POLICY_H
#define LVMM_API_POLICY_H

#include <stddef.h>

/*
 * api_policy_memfd() - compile the uploaded policy text[0..len) into a
 * struct lvmm_policy_upload (the policy, or the parser's messages) in a
 * sealed memfd of exactly that size, for the supervisor. The fd or -errno.
 */
int api_policy_memfd(const char *text, size_t len);

#endif
