// SPDX-License-Identifier: MIT
/*
 * Partition identities (src/supervisor/identity.c): a uid is handed out
 * once while its lock is held, never while a process uses it, and a range
 * that is used up is refused with a message. Needs root (the lock
 * directory under /run and a child that switches uid); skipped otherwise.
 * Uses its own small range far from the default one, so that it does not
 * disturb an lvmm running on this host.
 */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/identity.h"
#include "unit/unit.h"

static uint32_t base;

static void test_claims_are_exclusive_and_bounded(void)
{
	uint32_t a = 0, b = 0, c = 0;
	int la = -1, lb = -1, lc = -1;
	char err[256] = "";

	CHECK_EQ(ident_claim(base, 2, &a, &la, err, sizeof(err)), 0);
	CHECK_EQ(ident_claim(base, 2, &b, &lb, err, sizeof(err)), 0);
	CHECK(a != b && a >= base && b >= base && a < base + 2 && b < base + 2);
	CHECK_EQ(ident_claim(base, 2, &c, &lc, err, sizeof(err)), -EUSERS);
	CHECK(strstr(err, "no free uid for the partition in [") != NULL);
	CHECK(strstr(err, "2 claimed by running partitions") != NULL);
	/* Given back, it can be claimed again. */
	ident_release(la);
	CHECK_EQ(ident_claim(base, 2, &c, &lc, err, sizeof(err)), 0);
	CHECK_EQ(c, a);
	ident_release(lb);
	ident_release(lc);
}

static void test_uid_used_by_a_process_is_skipped(void)
{
	int pipefd[2], lk = -1;
	uint32_t u = 0;
	char err[256] = "", ch;
	pid_t child;

	CHECK_EQ(pipe(pipefd), 0);
	child = fork();
	if (child == 0) {
		/* A process of the host that happens to run as the range's first uid. */
		if (setresgid(base + 2, base + 2, base + 2) || setresuid(base + 2, base + 2, base + 2))
			_exit(1);
		if (write(pipefd[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK_EQ(read(pipefd[0], &ch, 1), 1);
	CHECK_EQ(ident_claim(base + 2, 2, &u, &lk, err, sizeof(err)), 0);
	CHECK_EQ(u, base + 3);
	ident_release(lk);
	CHECK_EQ(ident_claim(base + 2, 1, &u, &lk, err, sizeof(err)), -EUSERS);
	CHECK(strstr(err, "1 used by processes") != NULL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * A process that uses the uid in one of its eight ids only (real, effective,
 * saved or filesystem uid or gid; the others stay root's). which: 0-3 uids,
 * 4-7 gids in that order. Returns its pid once it runs so; 0 if it could not.
 */
static pid_t user_of_one_id(unsigned which, uint32_t id)
{
	int pipefd[2], ok;
	char ch = 0;
	pid_t child;

	if (pipe(pipefd))
		return 0;
	child = fork();
	if (child == 0) {
		switch (which) {
		case 0: ok = !setresuid(id, 0, 0); break;
		case 1: ok = !setresuid(0, id, 0) && (setfsuid(0), setfsuid(0) == 0); break;
		case 2: ok = !setresuid(0, 0, id); break;
		case 3: setfsuid(id); ok = setfsuid(id) == (int)id; break;
		case 4: ok = !setresgid(id, 0, 0); break;
		case 5: ok = !setresgid(0, id, 0) && (setfsgid(0), setfsgid(0) == 0); break;
		case 6: ok = !setresgid(0, 0, id); break;
		default: setfsgid(id); ok = setfsgid(id) == (int)id; break;
		}
		if (write(pipefd[1], ok ? "r" : "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	if (child < 0 || read(pipefd[0], &ch, 1) != 1 || ch != 'r') {
		if (child > 0)
			kill(child, SIGKILL), waitpid(child, NULL, 0);
		child = 0;
	}
	close(pipefd[0]);
	close(pipefd[1]);
	return child;
}

/* Each id of a process counts: a uid that is only some process's saved gid is not free. */
static void check_every_id_counts(void)
{
	unsigned which;

	for (which = 0; which < 8; which++) {
		/* Its own uid each (base + 4 + which): no /proc scan is reused from the one before. */
		uint32_t id = base + 4 + which, u = 0;
		pid_t child = user_of_one_id(which, id);
		char err[256] = "";
		int lk = -1;

		CHECK(child > 0);
		CHECK_EQ(ident_claim(id, 1, &u, &lk, err, sizeof(err)), -EUSERS);
		CHECK(strstr(err, "1 used by processes") != NULL);
		if (u)
			printf("# id %u claimed though a process uses it in slot %u\n", u, which);
		if (child > 0) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		}
	}
}

static void test_every_id_of_a_process_counts(void)
{
	check_every_id_counts();
}

/*
 * The same where the kernel cannot give a process's ids through a pidfd
 * (before Linux 6.13): pidfd_open refused by a seccomp filter in a child,
 * which must then read /proc/PID/status.
 */
static void test_every_id_counts_without_pidfd(void)
{
	pid_t child = fork();
	int status = -1;

	if (child == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

		if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(pidfd_open), 0) ||
		    seccomp_load(ctx))
			_exit(2);
		check_every_id_counts();
		_exit(unit_failed_checks ? 1 : 0);
	}
	CHECK(child > 0);
	CHECK_EQ(waitpid(child, &status, 0), child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_bad_range(void)
{
	uint32_t u;
	int lk;
	char err[256] = "";

	CHECK_EQ(ident_claim(0, 10, &u, &lk, err, sizeof(err)), -EINVAL);
	CHECK_EQ(ident_claim(base, 0, &u, &lk, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skip - test_identity: needs root (lock directory in /run, a child switching uid)\n");
		return 0;
	}
	/* 0x7e000000 + 16 uids per test process: apart from the default range and each other. */
	base = 0x7e000000U + ((uint32_t)getpid() % 65536U) * 16U;
	RUN(test_claims_are_exclusive_and_bounded);
	RUN(test_uid_used_by_a_process_is_skipped);
	RUN(test_every_id_of_a_process_counts);
	RUN(test_every_id_counts_without_pidfd);
	RUN(test_bad_range);
	{
		/* The test's own lock files (an lvmm leaves them: unlinking races with claimers). */
		static const char *const dirs[] = { IDENT_LOCK_DIR, IDENT_LOCK_DIR_FALLBACK };
		unsigned d, k;

		for (d = 0; d < 2; d++)
			for (k = 0; k < 4; k++) {
				char path[128];

				snprintf(path, sizeof(path), "%s/%u.lock", dirs[d], base + k);
				unlink(path);
			}
	}
	return unit_done();
}
