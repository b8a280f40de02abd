// SPDX-License-Identifier: MIT
/*
 * The sandboxes' address-space bound (src/shared/memlimit.c), in child
 * processes: what the process maps plus the headroom may be mapped, more
 * may not, and a lower limit the process was started with is kept; the
 * trust process's image hashing (src/trust/digest.c) works within it.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "shared/memlimit.h"
#include "trust/digest.h"

#include "common/util.h" /* MiB */

/* Can this process map LEN bytes (not touched) now? */
static int can_map(unsigned long long len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);

	if (m == MAP_FAILED)
		return 0;
	munmap(m, len);
	return 1;
}

/* Run FN in a child; its exit status (0: every check in it held). */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t p = fork();

	if (p == 0)
		_exit(fn());
	if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int bound_child(void)
{
	char err[128];
	struct rlimit rl;

	if (!can_map(512 * MiB)) /* without a bound: fine */
		return 10;
	if (sandbox_limit_address_space(64 * MiB, err, sizeof(err)))
		return 11;
	if (getrlimit(RLIMIT_AS, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur != rl.rlim_max)
		return 12;
	if (!can_map(16 * MiB)) /* within the headroom */
		return 13;
	if (can_map(128 * MiB)) /* past it */
		return 14;
	rl.rlim_cur = rl.rlim_max = RLIM_INFINITY; /* the hard limit cannot be raised again */
	if (geteuid() != 0 && setrlimit(RLIMIT_AS, &rl) == 0)
		return 15;
	return 0;
}

static int keeps_lower_child(void)
{
	char err[128];
	struct rlimit rl, after;

	if (getrlimit(RLIMIT_AS, &rl))
		return 20;
	/* A bound 8 MiB above the current mappings, as `ulimit -v` might give. */
	if (sandbox_limit_address_space(8 * MiB, err, sizeof(err)) || getrlimit(RLIMIT_AS, &rl))
		return 21;
	if (sandbox_limit_address_space(256 * MiB, err, sizeof(err)) || getrlimit(RLIMIT_AS, &after))
		return 22;
	if (after.rlim_cur != rl.rlim_cur || after.rlim_max != rl.rlim_max)
		return 23;
	return can_map(64 * MiB) ? 24 : 0;
}

/*
 * An image larger than the headroom, different in every window, hashes
 * under the bound to what SHA-256 of the same bytes in memory gives
 * without it (a window mapped twice or skipped would differ).
 */
static int digest_child(void)
{
	const size_t len = 160 * MiB + 12345; /* the last window is partial */
	uint8_t want[SHA256_LEN], got[SHA256_LEN];
	uint64_t *buf = malloc(len), size = 0, i;
	char err[128];
	int fd = memfd_create("image", MFD_CLOEXEC);

	if (fd < 0 || !buf)
		return 30;
	for (i = 0; i < len / 8; i++)
		buf[i] = i * 0x9e3779b97f4a7c15ULL;
	if (write(fd, buf, len) != (ssize_t)len || digest_sha256(buf, len, want))
		return 31;
	free(buf);
	if (sandbox_limit_address_space(64 * MiB, err, sizeof(err)) || can_map(160 * MiB))
		return 32;
	if (digest_sha256_fd(fd, got, &size) || size != len)
		return 33;
	return memcmp(want, got, SHA256_LEN) ? 34 : 0;
}

static void test_bound(void)
{
	CHECK_EQ(in_child(bound_child), 0);
}

static void test_keeps_lower_limit(void)
{
	CHECK_EQ(in_child(keeps_lower_child), 0);
}

static void test_image_hashed_within_bound(void)
{
	CHECK_EQ(in_child(digest_child), 0);
}

int main(void)
{
#ifdef __SANITIZE_ADDRESS__
	printf("skip - test_bound: sanitizer build (no address-space bound there)\n");
	printf("skip - test_keeps_lower_limit: sanitizer build (no address-space bound there)\n");
	(void)test_bound;
	(void)test_keeps_lower_limit;
	(void)test_image_hashed_within_bound;
	(void)unit_tests_run;
	printf("skip - test_image_hashed_within_bound: sanitizer build (no address-space bound there)\n");
	return 0;
#else
	RUN(test_bound);
	RUN(test_keeps_lower_limit);
	RUN(test_image_hashed_within_bound);
	return unit_done();
#endif
}
