// SPDX-License-Identifier: MIT
#include "shared/memlimit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef __SANITIZE_ADDRESS__
/* The size of this process's mappings now, in bytes (statm's first field: pages). */
static int mapped_now(unsigned long long *bytes)
{
	char buf[128];
	unsigned long long pages;
	char *end;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		r = -errno;
	close(fd);
	if (r)
		return r;
	buf[n > 0 ? n : 0] = '\0';
	errno = 0;
	pages = strtoull(buf, &end, 10);
	if (errno || end == buf || pages == 0)
		return -EINVAL;
	*bytes = pages * (unsigned long long)sysconf(_SC_PAGESIZE);
	return 0;
}
#endif

int sandbox_limit_address_space(unsigned long long headroom, char *err, size_t errlen)
{
#ifdef __SANITIZE_ADDRESS__
	(void)headroom;
	(void)err;
	(void)errlen;
	return 0;
#else
	unsigned long long now = 0, want;
	struct rlimit rl;
	int r = mapped_now(&now);

	if (r) {
		snprintf(err, errlen, "reading /proc/self/statm: %s", strerror(-r));
		return r;
	}
	if (getrlimit(RLIMIT_AS, &rl) < 0) {
		r = -errno;
		snprintf(err, errlen, "getrlimit(RLIMIT_AS): %s", strerror(-r));
		return r;
	}
	want = now + headroom;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		want = rl.rlim_cur; /* already tighter (ulimit -v): keep it */
	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(RLIMIT_AS, &rl) < 0) {
		r = -errno;
		snprintf(err, errlen, "setrlimit(RLIMIT_AS, %llu MiB): %s", want >> 20, strerror(-r));
		return r;
	}
	return 0;
#endif
}
