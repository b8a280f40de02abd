// SPDX-License-Identifier: MIT
/* Console sockets (consoles.h); the serving is the partition's UART (src/devices/uart.c). */
#include "supervisor/consoles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/resources.h"
#include "supervisor/supervisor_int.h"

static struct {
	int fd;
	dev_t dev;
	ino_t ino;
} cons[PLAT_MAX_PARTS];
static char dir[PLAT_PATH_MAX];
static const char *ctl_path; /* the run's: lives as long as it */

void cons_init(struct sup *s, const char *ctl)
{
	unsigned i;
	int r;

	for (i = 0; i < PLAT_MAX_PARTS; i++)
		cons[i].fd = -1;
	dir[0] = 0;
	if (!ctl || !ctl[0])
		return;
	ctl_path = ctl;
	/*
	 * The directory must be ours and closed to everyone else: the sockets'
	 * own mode is the guard, and a directory someone else controls could
	 * swap them.
	 */
	r = console_path(ctl, NULL, dir, sizeof(dir)) ?: own_dir(dir, 077);
	if (r == -ENAMETOOLONG)
		pr_warn("console sockets: the directory for '%s' does not fit a path; no consoles", ctl);
	else if (r)
		pr_warn("console sockets: '%s' %s; no consoles", dir,
			r == -EPERM ? "is not a directory of ours closed to others (mode 0700)"
				    : strerror(-r));
	if (r) {
		dir[0] = 0;
		return;
	}
	for (i = 0; i < s->plat->nparts; i++) {
		char path[PLAT_PATH_MAX], err[256];
		struct stat st;
		int fd;

		if (console_path(ctl, s->plat->parts[i].name, path, sizeof(path))) {
			pr_warn("partition %s: console socket path too long (107 bytes at most); no console",
				s->plat->parts[i].name);
			continue;
		}
		/* Backlog 4: a few `lvmm console` may wait while the partition (re)starts. */
		fd = res_unix_listen(path, 4, err, sizeof(err));
		if (fd < 0) {
			pr_warn("partition %s: no console socket: %s", s->plat->parts[i].name, err);
			continue;
		}
		cons[i].fd = fd;
		if (!lstat(path, &st))
			cons[i].dev = st.st_dev, cons[i].ino = st.st_ino;
	}
}

int cons_fd(unsigned part)
{
	/* Without cons_init() (no control socket) there are no consoles: the table is not set up. */
	return dir[0] && part < PLAT_MAX_PARTS ? cons[part].fd : -1;
}

void cons_close(struct sup *s)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts && dir[0]; i++) {
		char path[PLAT_PATH_MAX];

		if (cons[i].fd < 0)
			continue;
		close_fd(&cons[i].fd);
		if (!console_path(ctl_path, s->plat->parts[i].name, path, sizeof(path)))
			unlink_ours(path, cons[i].dev, cons[i].ino);
	}
	if (dir[0] && rmdir(dir) < 0 && errno != ENOTEMPTY && errno != ENOENT)
		pr_debug("console sockets: rmdir %s: %s", dir, strerror(errno));
	dir[0] = 0;
}
