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
#include <signal.h>
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
