// SPDX-License-Identifier: MIT
/*
 * The one way the supervisor starts a helper process (partitions, trust
 * processes, the API front-end). In the child, before exec: only stdout,
 * stderr and the listed fds cross (stdin becomes /dev/null: one partition
 * must not read keys typed for another's console); the identity is taken
 * before the parent-death signal is armed (a uid change clears it), and
 * the parent is checked after, so that the child dies with its
 * supervisor in any state, a SIGSTOPped one included. Signals ignored here stay ignored across execve, which is how
 * a partition outlives the signals its process group gets on shutdown
 * (terminal, `timeout`, `kill -- -PGID`, systemd) until the supervisor
 * stops it in order.
 *
 * vfork(): the child borrows the supervisor's memory until its execve
 * instead of copying its page tables (fork() cost 0.2-0.4 ms a start on
 * the reference host, whose shadow paging makes every page-table copy and
 * the copy-on-write faults after it dear). So the child writes nothing the
 * supervisor owns (locals of its own frame only), runs no signal handler
 * (the supervisor has none: SIGPIPE is ignored, the rest are blocked and
 * read from a signalfd), and changes its identity with the raw system
 * calls (glibc's wrappers would broadcast to the supervisor's threads if it
 * ever had any). Its uid change marks the shared memory non-dumpable, as it
 * would the child's own after a fork: a supervisor running as root is not
 * dumpable after its first start of a partition.
 */
#include "supervisor/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static void __attribute__((noreturn)) child(const struct spawn *sp, pid_t parent)
{
	unsigned base = 3 + sp->nfds, i;
	int moved[SPAWN_MAX_FDS], x = -1;
	sigset_t none;

	/* Above every target first, so that no fd is clobbered by another's dup2. */
	for (i = 0; i < sp->nfds; i++) {
		moved[i] = sp->fds[i] < 0 ? -1 : fcntl(sp->fds[i], F_DUPFD, (int)base);
		if (sp->fds[i] >= 0 && moved[i] < 0)
			_exit(127);
	}
	for (i = 0; i < sp->nfds; i++) {
		if (moved[i] < 0)
			close(3 + (int)i);
		else if (dup2(moved[i], 3 + (int)i) < 0)
			_exit(127);
	}
	/* Not the operator's terminal: a partition reading its console got stdin as a listed fd. */
	if ((x = open("/dev/null", O_RDONLY)) < 0 || dup2(x, 0) < 0)
		_exit(127);
	if (x > 0)
		close(x);
	x = -1;
	if (syscall(SYS_close_range, base, ~0U, 0U) < 0) {
		int fd;

		for (fd = (int)base; fd < 65536; fd++) /* kernels before 5.9 */
			close(fd);
	}
	/* By descriptor: the new uid need not be able to search the directories on the way. */
	if (sp->by_fd && (x = open(sp->path, O_PATH | O_CLOEXEC)) < 0)
		_exit(127);
	if (sp->ignore_group_signals) {
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the supervisor's signalfd mask is not the child's */
	if (sp->uid && (syscall(SYS_setgroups, 0, NULL) < 0 ||
			syscall(SYS_setresgid, sp->gid, sp->gid, sp->gid) < 0 ||
			syscall(SYS_setresuid, sp->uid, sp->uid, sp->uid) < 0))
		_exit(126);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(125);
	if (x >= 0)
		syscall(SYS_execveat, x, "", sp->argv, sp->envp ? sp->envp : environ, AT_EMPTY_PATH);
	else
		execve(sp->path, sp->argv, sp->envp ? sp->envp : environ);
	_exit(127);
}

pid_t spawn(const struct spawn *sp)
{
	pid_t parent = getpid(), pid;

	if (sp->nfds > SPAWN_MAX_FDS)
		return -EINVAL;
	pid = vfork();
	if (pid == 0)
		child(sp, parent);
	return pid < 0 ? -errno : pid;
}

pid_t spawn_lvmm(const char *path, const char *role, const char *name, uint32_t uid, uint32_t gid, int *sock)
{
	char *argv[] = { (char *)"lvmm", (char *)role, (char *)name, NULL };
	struct spawn sp = { .path = path ? path : "/proc/self/exe", .by_fd = path, .argv = argv, .nfds = 1,
			    .uid = uid, .gid = gid, .ignore_group_signals = true };
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	sp.fds = &sv[1];
	pid = spawn(&sp);
	close(sv[1]);
	if (pid < 0)
		close(sv[0]);
	else
		*sock = sv[0];
	return pid;
}
