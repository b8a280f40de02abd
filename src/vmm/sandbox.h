/* SPDX-License-Identifier: MIT */
/*
 * The partition process's sandbox, applied before the first guest
 * instruction. docs/sandbox.md lists every system call and ioctl it
 * allows, with the reason.
 */
#ifndef LVMM_SANDBOX_H
#define LVMM_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "common/util.h"
#include "lvmm/proto.h"

/* The identity a partition runs under when none was assigned (uid/gid 0 in its config). */
#define SANDBOX_NOBODY 65534

struct sandbox_cfg {
	uid_t uid;    /* the partition's own identity (when started as root) */
	gid_t gid;
	pid_t parent; /* the supervisor: the process must not outlive it */
	/* Its writable disk images: the only fds pwrite64, pwritev and fallocate may name. */
	int disk_fds[LVMM_MAX_DEVS];
	unsigned ndisks;
	/* The console's output fd, or -1: lseek(fd, 0, SEEK_END) reads its size (console_limit). */
	int console_fd;
};

/*
 * Drop what a running partition does not need: no new privileges; when
 * started as root, no supplementary groups and uid/gid c->uid/c->gid
 * (verified: root cannot be regained); not dumpable; death with the
 * supervisor re-armed after the identity change (which clears it) and the
 * parent re-checked, -ESRCH if it is already gone; then a seccomp
 * allow-list, applied to every thread already running, whose default
 * action kills the process: no open/socket/execve/clone/prctl, signals
 * only to its own threads, ioctl only with the requests the run time
 * uses, positional writes and fallocate (punch or zero, keeping the size)
 * only on its writable images, no system call of another architecture. Every thread that needs a forbidden call (naming, pinning) must
 * have made it already. 0 or -errno with the reason in err.
 */
int sandbox_apply(const struct sandbox_cfg *c, char *err, size_t errlen) MUST_CHECK;

#endif
