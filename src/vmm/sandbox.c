// SPDX-License-Identifier: MIT
#include "vmm/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"

#define NOBODY 65534

/*
 * Everything a running partition does: device I/O on fds it holds, KVM
 * ioctls, epoll, futexes, timers, signals between its own threads,
 * messages to the supervisor, and the memory calls glibc's allocator and
 * thread exit need. Keep this list short; every entry is attack surface.
 */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(lseek), SCMP_SYS(close),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fallocate), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(ioctl), SCMP_SYS(fcntl),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
	SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(sched_yield),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(tgkill), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
	SCMP_SYS(accept4), SCMP_SYS(shutdown), SCMP_SYS(getsockopt),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(mprotect),
	SCMP_SYS(brk), SCMP_SYS(mremap), SCMP_SYS(restart_syscall), SCMP_SYS(getrandom),
	SCMP_SYS(rseq), SCMP_SYS(set_robust_list),
#ifdef __SANITIZE_ADDRESS__
	/* ASan/UBSan runtimes, in the sanitizer build only (make SAN=1). */
	SCMP_SYS(sigaltstack), SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_yield),
#endif
};

int sandbox_apply(char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	size_t i;
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(-r));
		return r;
	}
	/* Guest memory must not end up in a core file. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0) {
			r = -errno;
			snprintf(err, errlen, "dropping to uid %d: %s", NOBODY, strerror(-r));
			return r;
		}
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	for (i = 0; i < ARRAY_SIZE(allowed); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
		if (r && r != -EFAULT) { /* -EFAULT: syscall unknown on this arch */
			snprintf(err, errlen, "seccomp rule %zu: %s", i, strerror(-r));
			goto out;
		}
	}
	/* Apply to the vCPU and I/O threads that already exist, atomically. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = seccomp_load(ctx);
	if (r)
		snprintf(err, errlen, "loading the seccomp filter: %s", strerror(-r));
out:
	seccomp_release(ctx);
	return r;
}
