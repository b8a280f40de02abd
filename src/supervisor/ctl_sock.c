// SPDX-License-Identifier: MIT
/*
 * The control API's transport (ctl.h): a Unix stream socket, mode 0600,
 * whose peers must be root or the supervisor's own user (SO_PEERCRED,
 * checked before anything is read), and one socketpair per partition
 * agent channel. Reading follows the request state machine: nothing is
 * read while a request waits for partitions, and a host client's input is
 * drained after its reply so that closing never resets the connection
 * under a reply the client has not read yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/resources.h"
#include "supervisor/supervisor_int.h"

#define RX_ROUNDS 16 /* reads per wake-up: level-triggered epoll brings us back */

static int listen_fd = -1;
static char listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void t_send(struct sup *s, struct ctl_conn *c, const char *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	(void)s;
	if (n != (ssize_t)len)
		pr_debug("control: reply lost (%s)", n < 0 ? strerror(errno) : "short write");
}

static void t_shut(struct sup *s, struct ctl_conn *c)
{
	(void)s;
	shutdown(c->fd, SHUT_WR); /* the client reads EOF after its reply */
}

static void t_close(struct sup *s, struct ctl_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	ctl_conn_free(s, c);
}

/* Read only when the request can take bytes (level-triggered: no interest, no wake-ups). */
/* epoll tag: slot and connection generation, so that an event that was
 * already fetched for a closed connection cannot act on its slot's successor. */
static uint64_t conn_tag(const struct ctl_conn *c)
{
	return TAG_CTL_CONN | (uint64_t)c->gen << 8 | ctl_conn_index(c);
}

static void t_update(struct sup *s, struct ctl_conn *c)
{
	struct epoll_event ev = { .data.u64 = conn_tag(c) };
	size_t room;
	bool want;

	ctl_rx_buf(c, &room);
	want = room && !c->eof;
	if (c->fd < 0 || want == c->in_watched)
		return;
	ev.events = want ? EPOLLIN | EPOLLRDHUP : 0; /* HUP and ERR are always reported */
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->in_watched = want;
	sup_arm_timer(s);
}

static const struct ctl_transport transport = {
	.send = t_send, .shut = t_shut, .close = t_close, .update = t_update,
};

static int watch(struct sup *s, struct ctl_conn *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP, .data.u64 = conn_tag(c),
	};

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	c->in_watched = true;
	return 0;
}

static void on_conn(struct sup *s, struct ctl_conn *c, uint32_t events)
{
	unsigned round;

	for (round = 0; round < RX_ROUNDS && c->in_watched; round++) {
		size_t room;
		char *buf = ctl_rx_buf(c, &room);
		ssize_t n;

		if (!room)
			break;
		n = recv(c->fd, buf, room, MSG_DONTWAIT);
		if (n > 0) {
			ctl_rx(s, c, (size_t)n);
			if (c->phase == CP_FREE)
				return;
			continue;
		}
		if (n == 0) {
			ctl_eof(s, c);
			return;
		}
		if (errno == EAGAIN || errno == EINTR)
			break;
		ctl_hangup(s, c); /* reset by the peer */
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		ctl_hangup(s, c);
		return;
	}
	t_update(s, c);
}

/* A refused client still gets a reason; its request, if sent already, is drained first. */
static void refuse(int fd, const char *why)
{
	char buf[4096], msg[320];
	int n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"%s\"}\n", why);

	if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
		pr_debug("control: nothing to drain");
	if (n > 0 && send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pr_debug("control: refusal lost");
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void on_accept(struct sup *s)
{
	unsigned round;

	for (round = 0; round < RX_ROUNDS; round++) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct ctl_conn *c;
		char err[128];

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			struct event e;

			ev_begin(&e, "control_denied", NULL);
			ev_u64(&e, "uid", cred.uid);
			ev_str(&e, "reason", "peer uid is neither root nor the supervisor's user");
			ev_end(&e);
			close(fd);
			continue;
		}
		c = ctl_conn_open_host(s, cred.uid, cred.pid, err, sizeof(err));
		if (!c) {
			refuse(fd, err);
			continue;
		}
		c->fd = fd;
		if (watch(s, c) < 0) {
			close(fd);
			c->fd = -1;
			ctl_conn_free(s, c);
			continue;
		}
		sup_arm_timer(s);
	}
}

void ctl_sock_event(struct sup *s, uint64_t tag, uint32_t events)
{
	struct ctl_conn *c;

	if ((tag & TAG_MASK) == TAG_CTL_LISTEN) {
		on_accept(s);
		return;
	}
	c = ctl_conn_at((unsigned)(tag & 0xff));
	if ((tag & TAG_MASK) == TAG_CTL_CONN && c && c->fd >= 0 && conn_tag(c) == tag)
		on_conn(s, c, events);
}

/* lc_hooks.agent_open: a socketpair whose far end the partition gets as a stream device. */
static int agent_open(struct sup *s, struct part_rt *pr)
{
	struct ctl_conn *c = ctl_conn_open_agent(s, pr->index);
	int sv[2], e;

	if (!c)
		return -EBUSY;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		e = -errno;
		goto err_free;
	}
	c->fd = sv[0];
	e = watch(s, c);
	if (e)
		goto err_close;
	return sv[1];

err_close:
	close(sv[0]);
	close(sv[1]);
	c->fd = -1;
err_free:
	ctl_conn_free(s, c);
	return e;
}

/* lc_hooks.agent_close */
static void agent_close(struct sup *s, struct part_rt *pr)
{
	struct ctl_conn *c = ctl_conn_agent(pr->index);

	if (c)
		t_close(s, c);
}

static const struct lc_hooks hooks = {
	.answer = ctl_answer, .agent_open = agent_open, .agent_close = agent_close,
	.attested = ctl_attested,
};

int ctl_sock_init(struct sup *s, const char *path)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_CTL_LISTEN };
	char err[320];
	int fd;

	ctl_setup(s, &transport);
	s->hooks = &hooks;
	if (!path || !path[0])
		return 0;
	fd = res_unix_listen(path, CTL_HOST_MAX, err, sizeof(err));
	if (fd < 0) {
		pr_err("control socket: %s", err);
		return fd;
	}
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;

		close(fd);
		unlink(path);
		return e;
	}
	listen_fd = fd;
	snprintf(listen_path, sizeof(listen_path), "%s", path);
	return 0;
}

bool ctl_sock_listening(struct sup *s)
{
	(void)s;
	return listen_fd >= 0;
}

void ctl_sock_close(struct sup *s)
{
	ctl_shutdown(s);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(listen_path);
		listen_fd = -1;
	}
}
