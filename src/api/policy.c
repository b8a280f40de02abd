// SPDX-License-Identifier: MIT
/*
 * Uploaded policies are compiled here, in the front-end, which already
 * receives every policy text (HTTP and agent channels) and already runs
 * sandboxed (src/api/sandbox.c). The supervisor gets the compiled struct
 * (or the parser's messages), checks every field of it and decides
 * (src/supervisor/policy_check.c): it parses no policy text itself and no
 * longer forks a compiler. Why this gives the front-end no new power:
 * docs/sandbox.md.
 *
 * Bounds: the text is at most LVMM_API_UPLOAD_MAX (64 KiB, capped before it
 * is buffered), and the parser's bounded-input limits (yaml_util.h:
 * CFG_MAX_DEPTH, CFG_MAX_ANCHORS, CFG_MAX_VALUES counting alias
 * expansion) bound its memory and time as they bounded the old child's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/policy.h"
#include "config/policy_load.h"

int api_policy_memfd(const char *text, size_t len)
{
	static struct lvmm_policy_upload u; /* 77 KiB: not on the stack */
	FILE *e;
	int fd;

	memset(&u, 0, sizeof(u));
	e = fmemopen(u.err, sizeof(u.err) - 1, "w");
	if (!e)
		return -ENOMEM;
	u.problems = policy_load("<policy-load>", text, len, &u.pol, e);
	fclose(e);
	fd = memfd_create("policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (write(fd, &u, sizeof(u)) != (ssize_t)sizeof(u) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;

		close(fd);
		return err ? err : -EIO;
	}
	return fd;
}
