/* SPDX-License-Identifier: MIT */
/* The front-end's sandbox (docs/sandbox.md, "The API front-end"). */
#ifndef LVMM_API_SANDBOX_H
#define LVMM_API_SANDBOX_H

/**
 * api_sandbox_apply() - from now on: no new privileges, not dumpable, no
 * process creation, a bounded number of fds, files opened only beneath
 * /proc (Landlock) and only read, through *procfd (the /proc directory, or
 * -1), and a seccomp allow-list whose default kills the process. Without
 * Landlock *procfd is closed and set to -1 (no open at all). The identity
 * was set by the supervisor before exec; this checks that root cannot come
 * back. 0 or -errno.
 */
int api_sandbox_apply(int *procfd);

#endif
