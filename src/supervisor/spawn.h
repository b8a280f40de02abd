/* SPDX-License-Identifier: MIT */
#ifndef LVMM_SUPERVISOR_SPAWN_H
#define LVMM_SUPERVISOR_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SPAWN_MAX_FDS 8

/* What a child of the supervisor gets between fork and exec (spawn.c). */
struct spawn {
	const char *path;        /* the program */
	bool by_fd;              /* opened before the uid change, run by descriptor */
	char *const *argv;
	char *const *envp;       /* NULL: the supervisor's environment */
	const int *fds;          /* fds[i] becomes fd 3 + i (< 0: closed); every other fd above 2 is closed */
	unsigned nfds;
	uint32_t uid, gid;       /* 0: the supervisor's identity is kept */
	bool ignore_group_signals; /* SIGINT/SIGTERM/SIGHUP ignored across exec */
};

/**
 * spawn() - fork and exec sp's program with only stdio and sp->fds, its
 * signal mask cleared, its identity taken and the parent-death signal armed
 * after it. The child's pid, or -errno if it could not be forked (a child
 * that fails before exec exits with status 125-127).
 */
pid_t spawn(const struct spawn *sp);

/**
 * spawn_lvmm() - spawn "lvmm ROLE NAME" (path, opened before the uid change,
 * or this binary when NULL) as uid/gid, with one end of a new SOCK_SEQPACKET
 * socketpair as its fd 3 and the other in *sock.
 * The child's pid, or -errno with nothing left open.
 */
pid_t spawn_lvmm(const char *path, const char *role, const char *name, uint32_t uid, uint32_t gid, int *sock);

#endif
