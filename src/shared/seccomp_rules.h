/* SPDX-License-Identifier: MIT */
/*
 * Argument rules the helper processes' seccomp filters share (the API
 * front-end, src/api/sandbox.c; the trust process, src/trust/trustd.c).
 * docs/sandbox.md gives the reasons.
 */
#ifndef LVMM_SHARED_SECCOMP_RULES_H
#define LVMM_SHARED_SECCOMP_RULES_H

#include <seccomp.h>

/*
 * Allow fcntl with the commands the processes use (descriptor and status
 * flags, CLOEXEC duplicates, memfd seals) and no other: with F_SETOWN,
 * F_SETOWN_EX or F_SETSIG, O_ASYNC would deliver any signal to any process
 * of the caller's uid, the supervisor's included when lvmm runs without
 * identities. Each command is compared whole (64 bits) while the kernel
 * reads 32, so a command with high bits set matches nothing. 0 or -errno.
 */
int seccomp_allow_fcntl(scmp_filter_ctx ctx);

#endif
