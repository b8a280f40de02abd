// SPDX-License-Identifier: MIT
/*
 * The front-end parses what any local client sends (HTTP, JSON, policy
 * uploads) and what partitions send on their agent channels, so it keeps
 * as little as it can: its own uid (set by the supervisor before exec),
 * no new privileges, not dumpable (no ptrace by its own uid, no core),
 * RLIMIT_NPROC 0, and a seccomp allow-list: sockets it was given (no
 * socket(), connect() or bind(): it cannot reach anything new), memory,
 * epoll, clocks, and memfds for policy uploads. Each call and its reason:
 * docs/sandbox.md. Its one open (metrics: partitions' /proc/PID/stat and
 * statm) is read-only, relative to the /proc directory fd, and Landlock
 * confines it to files beneath /proc whatever path it is given.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/sandbox.h"
#include "common/log.h"
#include "shared/memlimit.h"
#include "shared/seccomp_rules.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

/* Rights of newer Landlock ABIs than this system's headers may know (linux/landlock.h). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif

#define NOFILE_MAX 512 /* HTTP connections, agent channels, memfds in flight */

/*
 * Landlock: of the file system, only reading files beneath /proc (every
 * right this kernel knows is handled, so anything else is refused, renames,
 * links and truncation included). Magic links such as /proc/PID/root lead
 * out of /proc and are refused like any other path there.
 */
static int landlock_proc(int proc)
{
	struct landlock_ruleset_attr attr = { 0 };
	struct landlock_path_beneath_attr beneath = { .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE,
						      .parent_fd = proc };
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int fd, r = 0;

	if (abi < 1)
		return -EOPNOTSUPP;
	attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1's rights */
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) ||
	    syscall(SYS_landlock_restrict_self, fd, 0))
		r = -errno;
	close(fd);
	return r;
}

int api_sandbox_apply(int *procfd)
{
	static const int allowed[] = {
		/* the sockets it holds: the supervisor's channels, HTTP clients, agent channels */
		SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
		SCMP_SYS(accept4), SCMP_SYS(shutdown), SCMP_SYS(close), SCMP_SYS(getsockopt),
		/* the loop; poll: has a suspended event stream's client left? */
		SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(clock_gettime),
		/*
		 * policy uploads: a memfd, written (write: no positional write, which
		 * could rewrite the supervisor's log on the shared stderr) and sealed
		 * (fcntl: seccomp_allow_fcntl); blob results (metrics) read
		 */
		SCMP_SYS(memfd_create), SCMP_SYS(pread64),
		/* memory (mmap: never executable, below) */
		SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
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
	static const int tcp_opts[] = { TCP_CORK, TCP_NODELAY };
	struct rlimit none = { 0, 0 }, files = { NOFILE_MAX, NOFILE_MAX };
	scmp_filter_ctx ctx;
	char err[128];
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
	/* Its threads and libmicrohttpd's are running: what is left is per-connection memory. */
	r = sandbox_limit_address_space(SANDBOX_AS_HEADROOM, err, sizeof(err));
	if (r) {
		pr_err("sandbox: %s", err);
		return r;
	}
	/* Started as root only if the supervisor runs without identities: never regain it. */
	if (getuid() != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM;
	if (*procfd >= 0 && (r = landlock_proc(*procfd))) {
		pr_warn("no Landlock (%s): metrics without the partitions' CPU time and memory",
			strerror(-r));
		close(*procfd);
		*procfd = -1;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* A call of another architecture (i386, x32) kills the process, not only the thread. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (i = 0; !r && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (!r)
		r = seccomp_allow_fcntl(ctx);
	/* Memory, never executable: a compromised front-end cannot make new code. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r)
		goto out;
	/*
	 * Remote clients (TCP): libmicrohttpd corks and uncorks a TLS connection
	 * around each answer and sets TCP_NODELAY; no other socket option.
	 */
	for (i = 0; i < sizeof(tcp_opts) / sizeof(tcp_opts[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
				     SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP), SCMP_A2(SCMP_CMP_EQ, tcp_opts[i]));
		if (r)
			goto out;
	}
	/* metrics: read a partition's stat and statm, relative to /proc only (proc_file()). */
	if (*procfd >= 0) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)*procfd),
				     SCMP_A2(SCMP_CMP_EQ, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
		if (r)
			goto out;
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}
