// SPDX-License-Identifier: MIT
/*
 * The front-end parses what any local client sends (HTTP, JSON, policy
 * uploads) and what partitions send on their agent channels, so it keeps
 * as little as it can: its own uid (set by the supervisor before exec),
 * no new privileges, not dumpable (no ptrace by its own uid, no core),
 * RLIMIT_NPROC 0, and a seccomp allow-list: sockets it was given (no
 * socket(), connect() or bind(): it cannot reach anything new), memory,
 * epoll, clocks, and memfds for policy uploads. Each call and its reason:
 * docs/sandbox.md.
 */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/sandbox.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define NOFILE_MAX 512 /* HTTP connections, agent channels, memfds in flight */

int sandbox_apply(void)
{
	static const int allowed[] = {
		/* the sockets it holds: the supervisor's channels, HTTP clients, agent channels */
		SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
		SCMP_SYS(accept4), SCMP_SYS(shutdown), SCMP_SYS(close), SCMP_SYS(getsockopt),
		/* the loop; poll: has a suspended event stream's client left? */
		SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(clock_gettime),
		/* policy uploads: a memfd, written and sealed */
		SCMP_SYS(memfd_create), SCMP_SYS(pwrite64), SCMP_SYS(fcntl),
		/* memory */
		SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
		/* the C library: messages on stderr, its allocator, exit */
		SCMP_SYS(write), SCMP_SYS(read), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
		SCMP_SYS(futex), SCMP_SYS(getrandom), SCMP_SYS(rt_sigreturn), SCMP_SYS(exit),
		SCMP_SYS(exit_group),
#ifdef __SANITIZE_ADDRESS__
		/* ASan/UBSan runtimes, in the sanitizer build only (make SAN=1). */
		SCMP_SYS(sigaltstack), SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_yield),
		SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(rt_sigprocmask),
#endif
	};
	struct rlimit none = { 0, 0 }, files = { NOFILE_MAX, NOFILE_MAX };
	scmp_filter_ctx ctx;
	size_t i;
	int r;

#ifdef __SANITIZE_ADDRESS__
	/*
	 * LeakSanitizer's end-of-process check stops the world with prctl,
	 * clone and ptrace, which the filter forbids: check setup's
	 * allocations now (before RLIMIT_NPROC 0 forbids its clone), which also turns the exit-time check off (as the
	 * partition sandbox does, src/vmm/sandbox.c).
	 */
	__lsan_do_leak_check();
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	if (setrlimit(RLIMIT_NPROC, &none) < 0 || setrlimit(RLIMIT_NOFILE, &files) < 0)
		return -errno;
	/* Started as root only if the supervisor runs without identities: never regain it. */
	if (getuid() != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
		if (r)
			goto out;
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}
