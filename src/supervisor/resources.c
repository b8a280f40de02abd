// SPDX-License-Identifier: MIT
#include "supervisor/resources.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int res_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int res_tap(const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	int e;

	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(-e));
		return e;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot attach to TAP device '%s': %s%s", ifname, strerror(-e),
			 e == -EPERM ? " (needs CAP_NET_ADMIN, or a TAP owned by this user)" :
			 e == -EBUSY ? " (in use by another program)" : "");
		close(fd);
		return e;
	}
	return fd;
}

int res_disk(const char *path, int readonly, char *err, size_t errlen)
{
	int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	if (fd < 0) {
		fd = -errno;
		snprintf(err, errlen, "cannot open disk image '%s': %s", path, strerror(-fd));
	}
	return fd;
}

/* sa names path, or path is too long for it (-ENAMETOOLONG, reason in err). */
static int unix_addr(struct sockaddr_un *sa, const char *path, char *err, size_t errlen)
{
	if (strlen(path) >= sizeof(sa->sun_path)) {
		snprintf(err, errlen, "socket path '%s' is longer than %zu bytes", path,
			 sizeof(sa->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int res_unix_listen(const char *path, int backlog, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, e;

	if (unix_addr(&sa, path, err, errlen))
		return -ENAMETOOLONG;
	if (!lstat(path, &st)) {
		/* Only ever replace a dead socket, never a live one or a file someone cares about. */
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "'%s' exists and is not a socket", path);
			return -EEXIST;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		e = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? errno : 0;
		close(fd);
		if (!e || e == EAGAIN || e == EINPROGRESS) {
			snprintf(err, errlen, "socket '%s' is in use by another program (it accepts "
				 "connections); stop it or choose another path", path);
			return -EADDRINUSE;
		}
		if (e != ECONNREFUSED) {
			snprintf(err, errlen, "socket '%s': cannot tell whether it is in use: %s", path,
				 strerror(e));
			return -e;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			e = -errno;
			snprintf(err, errlen, "cannot remove the stale socket '%s': %s", path, strerror(-e));
			return e;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* created 0600: no window with wider access */
	e = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0 ? -errno : 0;
	umask(old);
	if (e) {
		snprintf(err, errlen, "socket '%s': %s", path, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

int res_stream(const char *path, int listen_mode, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (listen_mode)
		return res_unix_listen(path, 1, err, errlen);
	if (unix_addr(&sa, path, err, errlen))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = -errno;
		snprintf(err, errlen, "socket '%s': %s", path, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

int res_console_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0) {
		fd = -errno;
		snprintf(err, errlen, "cannot open console file '%s': %s", path, strerror(-fd));
	}
	return fd;
}
