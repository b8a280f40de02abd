// SPDX-License-Identifier: MIT
/*
 * lvmm console SOCKET|NAME PARTITION: attach to a running partition's
 * serial console through its console socket (next to the control socket
 * SOCKET, or the one a NAME stands for as in `lvmm ctl`; console_path()),
 * served by the partition's UART: the recent output first, then live
 * output; what is typed goes to the guest. Ctrl-] (or the end of standard
 * input) detaches; the partition runs on.
 */
#include "cli/console.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"
#include "shared/parse.h"

#define ESCAPE 0x1d /* Ctrl-], as virsh console and telnet */

const char console_usage[] =
	"Usage: lvmm console SOCKET|NAME PARTITION\n"
	"\n"
	"Attaches to the serial console of PARTITION on the platform whose control socket\n"
	"is SOCKET ('lvmm run ... --control SOCKET' or control: in the platform file; a\n"
	"NAME without '/' means " LVMM_RUN_DIR "/NAME.sock, as for 'lvmm ctl'). The\n"
	"console's recent output (up to 64 KiB) is shown first, then what the guest writes;\n"
	"what you type goes to the guest. Press Ctrl-] to detach (the end of standard input\n"
	"detaches too); the partition keeps running and you can attach again. Up to 4\n"
	"clients can be attached at a time.\n"
	"\n"
	"Exit status: 0 detached, 1 the console closed (the partition ended or restarted),\n"
	"2 usage error or no console to attach to.\n";

static struct termios saved;
static bool raw;

static void tty_raw(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0)
		return;
	t = saved;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		raw = true;
}

static void tty_restore(void)
{
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	raw = false;
}

static int attach(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Copy between the terminal and the console until a detach or the console's end. */
static int relay(int fd)
{
	char buf[4096];

	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 2;
		}
		if (p[0].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return 1;
			if (write_full(STDOUT_FILENO, buf, (size_t)n))
				return 2;
		}
		if (p[1].revents) {
			char *esc;

			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0)
				return 0; /* end of input: detach */
			esc = memchr(buf, ESCAPE, (size_t)n);
			if (esc)
				n = esc - buf;
			if (n > 0 && write_full(fd, buf, (size_t)n))
				return 1;
			if (esc)
				return 0;
		}
	}
}

int console_main(int argc, char **argv)
{
	char path[256], ctl[256];
	int fd, r;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(console_usage, stdout);
		return 0;
	}
	if (argc != 3) {
		fputs(console_usage, stderr);
		return 2;
	}
	if (ctl_socket_path(argv[1], ctl, sizeof(ctl)) ||
	    console_path(ctl, argv[2], path, sizeof(path)) || strchr(argv[2], '/')) {
		fprintf(stderr, "lvmm console: no console socket can be named for '%s' next to '%s'\n",
			argv[2], argv[1]);
		return 2;
	}
	fd = attach(path);
	if (fd < 0) {
		fprintf(stderr, "lvmm console: cannot attach to %s: %s%s\n", path, strerror(-fd),
			fd == -ENOENT ? " (no such partition, or the platform has no control socket)"
				      : "");
		return 2;
	}
	fprintf(stderr, "lvmm: attached to the console of '%s'; Ctrl-] detaches\r\n", argv[2]);
	tty_raw();
	r = relay(fd);
	tty_restore();
	close(fd);
	fprintf(stderr, r == 1 ? "\r\nlvmm: the console of '%s' closed (the partition ended or restarted)\n"
			       : r == 0 ? "\r\nlvmm: detached from '%s'\n" : "\r\nlvmm: console of '%s': error\n",
		argv[2]);
	return r;
}
