// SPDX-License-Identifier: MIT
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int console_path(const char *ctl, const char *part, char *out, size_t n)
{
	size_t len = strlen(ctl);
	int w;

	if (len >= 5 && !strcmp(ctl + len - 5, ".sock"))
		len -= 5;
	w = snprintf(out, n, "%.*s.console%s%s", (int)len, ctl, part ? "/" : "", part ? part : "");
	/* 108 bytes in sun_path, NUL included. */
	return w < 0 || (size_t)w >= n || (part && w > 107) ? -ENAMETOOLONG : 0;
}

int own_dir(const char *path, unsigned closed)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & closed))
		return -EPERM;
	return 0;
}

void unlink_ours(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	if (ino && !lstat(path, &st) && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
		unlink(path);
}
