// SPDX-License-Identifier: MIT
/*
 * A policy uploaded at run time may come from a partition (the policy
 * manager), so the supervisor does not parse it: a forked child does, with
 * every other fd closed, as nobody, under memory and CPU limits and a
 * seccomp allow-list, and sends back a fixed-layout struct policy (or its
 * error text). The supervisor then only checks that struct's ranges.
 */
#include "supervisor/policy_compile.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "config/policy_load.h"

#define COMPILE_TIMEOUT_MS 3000
#define COMPILE_MEM_GROWTH (256ULL << 20) /* address space the parser may add to its fork image */

struct compile_result {
	int32_t problems;
	char err[2048];
	struct policy pol;
};

static struct compile_result result; /* large: static, and the child fills its own copy */

/*
 * The child's address-space limit: what it inherited from the supervisor
 * plus COMPILE_MEM_GROWTH. A fixed total would not fit every build: the
 * sanitizer runtimes reserve terabytes of shadow address space before
 * main() (make SAN=1), the static-pie build a few megabytes; the parser's
 * own growth is bounded the same way in both.
 */
static rlim_t mem_limit(void)
{
	char buf[64];
	unsigned long long pages = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n > 0) {
		buf[n] = 0;
		pages = strtoull(buf, NULL, 10);
	}
	return (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE) + COMPILE_MEM_GROWTH);
}

static void child(int out, const char *buf, size_t len, pid_t parent)
{
	static const int allowed[] = {
		SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap),
		SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(exit_group), SCMP_SYS(exit),
		SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(futex),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(getrandom),
	};
	struct rlimit mem, cpu = { 2, 2 };
	scmp_filter_ctx ctx;
	FILE *e;
	size_t i;

	/* Nothing but the result pipe (fd 3) survives: no TAP, memfd or socket to abuse. */
	if (dup2(out, 3) < 0 || syscall(SYS_close_range, 4, ~0U, 0) < 0)
		_exit(100);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	mem.rlim_cur = mem.rlim_max = mem_limit();
	setrlimit(RLIMIT_AS, &mem);
	setrlimit(RLIMIT_CPU, &cpu);
	if (geteuid() == 0 && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			       setresuid(65534, 65534, 65534)))
		_exit(101);
	/* After the uid change, which clears it (found by review: it was armed before). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(101);
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		_exit(102);
	for (i = 0; i < ARRAY_SIZE(allowed); i++)
		seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (seccomp_load(ctx))
		_exit(103);
	memset(&result, 0, sizeof(result));
	e = fmemopen(result.err, sizeof(result.err) - 1, "w");
	result.problems = e ? policy_load("<policy-load>", buf, len, &result.pol, e) : 1;
	if (e)
		fclose(e);
	if (write_full(3, &result, sizeof(result)))
		_exit(104);
	_exit(0);
}

static bool str_ok(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

/* The child is not trusted either: every count, index and bit must be in range. */
static bool policy_sane(const struct policy *p)
{
	uint64_t ste_mask, cw_mask;
	unsigned i;

	if (p->revision != LVMM_POLICY_REVISION) /* include/lvmm/policy_model.h */
		return false;
	if (!p->present || p->nste > POL_MAX_TYPES || p->ncw > POL_MAX_TYPES ||
	    p->nlabels > POL_MAX_LABELS || p->nsets > POL_MAX_SETS || p->nres > POL_MAX_RES ||
	    p->nclients > POL_MAX_CLIENTS || !str_ok(p->name, sizeof(p->name)) ||
	    !str_ok(p->manager, sizeof(p->manager)))
		return false;
	ste_mask = p->nste == 64 ? ~0ULL : (1ULL << p->nste) - 1;
	cw_mask = p->ncw == 64 ? ~0ULL : (1ULL << p->ncw) - 1;
	for (i = 0; i < p->nste; i++)
		if (!str_ok(p->ste_names[i], POL_NAME_MAX))
			return false;
	for (i = 0; i < p->ncw; i++)
		if (!str_ok(p->cw_names[i], POL_NAME_MAX))
			return false;
	for (i = 0; i < p->nlabels; i++)
		if (!str_ok(p->labels[i].name, POL_NAME_MAX) || (p->labels[i].ste & ~ste_mask) ||
		    (p->labels[i].cw & ~cw_mask))
			return false;
	for (i = 0; i < p->nsets; i++)
		if (!str_ok(p->sets[i].name, POL_NAME_MAX) || (p->sets[i].types & ~cw_mask))
			return false;
	for (i = 0; i < p->nres; i++)
		if (p->res[i].kind < RES_TAP || p->res[i].kind > RES_SOCKET ||
		    !str_ok(p->res[i].name, POL_RES_NAME_MAX) || p->res[i].label < -1 ||
		    p->res[i].label >= (int)p->nlabels)
			return false;
	for (i = 0; i < p->nclients; i++)
		if (p->clients[i].by_uid > 1 || p->clients[i].by_cert > 1 ||
		    (p->clients[i].by_uid && p->clients[i].by_cert) ||
		    (!p->clients[i].by_cert && !str_ok(p->clients[i].partition, POL_NAME_MAX)) ||
		    p->clients[i].label < -1 ||
		    p->clients[i].label >= (int)p->nlabels || (p->clients[i].ops >> OP_COUNT))
			return false;
	return true;
}

/*
 * Disks are compared by their real path, however a policy spells them. The
 * compiler cannot look at the file system from its sandbox (realpath needs
 * readlink), so the names it returns are resolved here, against the
 * supervisor's working directory as before; a name that does not resolve
 * (or whose real path is too long to store) is kept as written.
 */
static void canonical_disks(struct policy *p)
{
	static char real[PATH_MAX];
	unsigned i;

	for (i = 0; i < p->nres; i++)
		if (p->res[i].kind == RES_DISK && realpath(p->res[i].name, real) &&
		    strlen(real) < sizeof(p->res[i].name))
			memcpy(p->res[i].name, real, strlen(real) + 1);
}

int policy_compile(const char *buf, size_t len, struct policy *out, char *err, size_t errlen)
{
	struct pollfd pfd;
	size_t got = 0;
	int p[2], st;
	pid_t self = getpid(), pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0)
		child(p[1], buf, len, self);
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	while (got < sizeof(result)) {
		ssize_t n;

		if (poll(&pfd, 1, COMPILE_TIMEOUT_MS) <= 0)
			break;
		n = read(p[0], (char *)&result + got, sizeof(result) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (got != sizeof(result)) {
		snprintf(err, errlen, "the policy compiler died (%s)",
			 WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "no result");
		return -EIO;
	}
	result.err[sizeof(result.err) - 1] = 0;
	if (result.problems) {
		snprintf(err, errlen, "%s", result.err);
		return -EINVAL;
	}
	if (!policy_sane(&result.pol)) {
		snprintf(err, errlen, "the policy compiler returned an inconsistent policy");
		return -EPROTO;
	}
	canonical_disks(&result.pol);
	*out = result.pol;
	return 0;
}
