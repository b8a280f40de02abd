// SPDX-License-Identifier: MIT
/* Readiness for systemd's Type=notify (notify.h). */
#include "supervisor/notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor_int.h"

static struct sockaddr_un addr;
static socklen_t addr_len; /* 0: no notification socket */
static bool ready_sent, stopping_sent;

void notify_init(void)
{
	const char *p = getenv("NOTIFY_SOCKET");
	size_t n = p ? strlen(p) : 0;

	addr_len = 0;
	ready_sent = stopping_sent = false;
	if (n && (n >= sizeof(addr.sun_path) || (p[0] != '/' && p[0] != '@'))) {
		pr_warn("NOTIFY_SOCKET '%s' is not a socket path; no readiness notification", p);
	} else if (n) {
		memset(&addr, 0, sizeof(addr));
		addr.sun_family = AF_UNIX;
		memcpy(addr.sun_path, p, n);
		if (p[0] == '@')
			addr.sun_path[0] = 0; /* an abstract socket */
		addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	unsetenv("NOTIFY_SOCKET"); /* after the last use of p: it points into the environment */
}

static void notify_send(const char *msg)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
			     (struct sockaddr *)&addr, addr_len) < 0)
		pr_warn("NOTIFY_SOCKET: cannot notify the service manager: %s", strerror(errno));
	close_fd(&fd);
}

void notify_update(struct sup *s)
{
	unsigned i, running = 0;
	char msg[96];

	if (!addr_len)
		return;
	if (s->stopping && !stopping_sent) {
		stopping_sent = true;
		notify_send("STOPPING=1\nSTATUS=stopping every partition\n");
		return;
	}
	if (ready_sent || s->stopping)
		return;
	for (i = 0; i < s->plat->nparts; i++) {
		const struct part_rt *pr = &s->parts[i];

		/* Not ready while one is setting up or has yet to start by itself. */
		if (pr->state == PS_STARTING || (pr->p->autostart && pr->state == PS_STOPPED))
			return;
		running += pr->state == PS_RUNNING || pr->state == PS_PAUSED;
	}
	ready_sent = true;
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%u of %u partitions running\n", running,
		 s->plat->nparts);
	notify_send(msg);
}
