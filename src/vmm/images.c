// SPDX-License-Identifier: MIT
/* The partition's sealed copies of its boot images; see images.h. */
#include "vmm/images.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"

int image_copy(int fd, int in, const char *what, char *err, size_t errlen)
{
	struct stat st = { .st_mode = 0 };
	off_t left = 0, off = 0;
	int r = 0;

	if (fstat(in, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > IMAGE_MAX) {
		r = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		snprintf(err, errlen, "the %s is not a regular file of at most 4 GiB", what);
	} else {
		left = st.st_size;
	}
	/* The kernel copies; every round moves bytes or ends the loop, so it is bounded by the size. */
	while (left > 0 && !r) {
		ssize_t n = sendfile(fd, in, &off, (size_t)left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			left -= n;
		else
			r = n < 0 ? -errno : -ENODATA; /* shrank while being read */
	}
	if (left && r)
		snprintf(err, errlen, "cannot copy the %s into sealed memory: %s", what, strerror(-r));
	/* Sealed also after a failure: whoever hashes it meanwhile learns that it is complete. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) && !r) {
		r = -errno;
		snprintf(err, errlen, "cannot seal the copy of the %s: %s", what, strerror(-r));
	}
	return r;
}

/* fd, reopened read-only: the trust process can neither write into it nor seal it early. */
static int reopen_ro(int fd)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int images_seal(struct lvmm_part_config *cfg, int *fds, int gate, char *err, size_t errlen)
{
	static const char *const what[4] = { "kernel image", "initrd", "safe image's kernel",
					     "safe image's initrd" };
	int32_t *idx[4] = { &cfg->fd_kernel, &cfg->fd_initrd, &cfg->fd_safe_kernel,
			    &cfg->fd_safe_initrd };
	struct lvmm_gate_images gi;
	int mem[4] = { -1, -1, -1, -1 }, ro[4];
	unsigned i, n = 0;
	int r = 0;

	for (i = 0; i < 4 && !r; i++) {
		gi.fd[i] = LVMM_NO_FD;
		if (*idx[i] == LVMM_NO_FD)
			continue;
		mem[i] = memfd_create("lvmm-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (mem[i] < 0) {
			r = -errno;
			snprintf(err, errlen, "memfd for the %s: %s", what[i], strerror(-r));
		} else if (gate >= 0) {
			ro[n] = reopen_ro(mem[i]);
			gi.fd[i] = ro[n] < 0 ? LVMM_NO_FD : (int32_t)n++;
		}
	}
	/* Before the copies: the trust process hashes while they are made (on another CPU). */
	if (gate >= 0 && !r &&
	    proto_send(gate, LVMM_MSG_GATE_IMAGES, &gi, sizeof(gi), ro, n, MSG_DONTWAIT))
		pr_debug("the images did not reach the trust process (its verdict will say so)");
	while (gate >= 0 && n)
		close(ro[--n]);
	for (i = 0; i < 4; i++) {
		if (mem[i] < 0)
			continue;
		if (!r)
			r = image_copy(mem[i], fds[*idx[i]], what[i], err, errlen);
		else
			fcntl(mem[i], F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL); /* complete as it is */
		close(fds[*idx[i]]);
		fds[*idx[i]] = mem[i];
	}
	return r;
}
