/* SPDX-License-Identifier: MIT */
/* The partition process's sandbox, applied before the first guest instruction. */
#ifndef LVMM_SANDBOX_H
#define LVMM_SANDBOX_H

#include <stddef.h>

#include "common/util.h"

/*
 * Drop what a running partition does not need: no new privileges, no
 * core dumps, the nobody user when started as root, and a seccomp
 * allow-list (applied to every thread already running) that kills the
 * process on any other system call. In particular no open/openat/socket/
 * execve/clone: the process can use only the fds it already holds.
 * 0 or -errno with the reason in err.
 */
int sandbox_apply(char *err, size_t errlen) MUST_CHECK;

#endif
