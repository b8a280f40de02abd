// SPDX-License-Identifier: MIT
/*
 * The control API's transport (ctl.h): the API front-end process.
 *
 * HTTP, JSON and the agent channels' text lines are parsed outside the
 * trusted core, by lvmm-api (src/api), a separate binary next to this one
 * (dynamically linked: libmicrohttpd and jansson; docs/api.md says why),
 * started here by spawn() with its own identity, every fd but its own
 * closed (three; with remote management also the TLS socket and its PEM
 * files), the
 * group's shutdown signals ignored and the parent-death signal armed after
 * the identity change (like a partition); it sandboxes itself before it
 * reads a byte. It gets the listening control socket, which the supervisor
 * binds (0600, a live socket is never taken over), the agent channels'
 * far ends, and two socketpairs: control (requests and replies) and events.
 *
 * The supervisor does not take the front-end's word for who asks: each
 * request brings the asking connection itself (SCM_RIGHTS), and the
 * subject is read from it: the partition whose agent channel it is (we
 * created those), or SO_PEERCRED of a connection accepted on our own
 * control socket. A compromised front-end can therefore act only as a
 * client that is connected to it. Nothing here blocks on the front-end:
 * sends are non-blocking; a lost event is counted and reported in the
 * stream; a front-end that dies is restarted a second later.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/identity.h"
#include "supervisor/resources.h"
#include "supervisor/spawn.h"
#include "supervisor/supervisor_int.h"

#define FE_RESTART_MS 1000     /* a front-end that died is started again this much later */
#define FE_FIRST_MS 50         /* the first start, this long after the set-up (fe_init) */
#define FE_SNDBUF (1 << 20)    /* room for replies in flight, so a reply is never dropped */
#define RX_ROUNDS 16           /* requests per wake-up: level-triggered epoll brings us back */

static struct {
	pid_t pid;
	int ctl, evs;              /* our ends of the channels, or -1 */
	int listen_fd;
	char listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t listen_dev;          /* the socket file we bound, to remove only that one */
	ino_t listen_ino;
	char exe[PATH_MAX];
	uint32_t uid;              /* its identity (root only), kept across restarts */
	int uid_lock;
	uint64_t restart_at;       /* 0: not scheduled */
	uint64_t ev_seq;
	uint32_t ev_lost;          /* events not delivered since the last one that was */
	int tls_fd;                /* the TCP socket TLS is served on (remote:), or -1 */
	int pem_fd[3];             /* remote: cert, key, client CA; handed to each front-end */
	int agent_fd[PLAT_MAX_PARTS]; /* the far end of each agent channel, kept for restarts */
	dev_t agent_dev[PLAT_MAX_PARTS];
	ino_t agent_ino[PLAT_MAX_PARTS];
	struct sup *s;
} F = { .ctl = -1, .evs = -1, .listen_fd = -1, .uid_lock = -1, .tls_fd = -1, .pem_fd = { -1, -1, -1 } };

/* ---- sending ---------------------------------------------------------------------- */

static void t_reply(struct sup *s, const struct lvmm_api_reply *rep, size_t len, int fd)
{
	int r;

	if (F.ctl < 0)
		return;
	r = proto_send(F.ctl, LVMM_MSG_API_REPLY, rep, (uint32_t)len, &fd, fd >= 0, MSG_DONTWAIT);
	if (r)
		pr_warn("control: reply to request %u lost: %s", rep->id, strerror(-r));
}

/* Every event line also goes to the front-end's followers; never waits for it. */
static void sink(const char *partition, const char *line, size_t len)
{
	static struct lvmm_api_event m;

	F.ev_seq++;
	if (F.evs < 0 || len > sizeof(m.line))
		return;
	m.seq = F.ev_seq;
	m.part = partition && F.s ? platform_find(F.s->plat, partition) : -1;
	m.lost = F.ev_lost;
	m.len = (uint32_t)len;
	memcpy(m.line, line, len);
	if (proto_send(F.evs, LVMM_MSG_API_EVENT, &m, (uint32_t)(offsetof(struct lvmm_api_event, line) + len),
		       NULL, 0, MSG_DONTWAIT))
		F.ev_lost++; /* the stream shows a gap marker for them */
	else
		F.ev_lost = 0;
}

static void send_agent(unsigned part, bool open)
{
	struct lvmm_api_agent m = { .part = part, .open = open };

	if (F.ctl < 0)
		return;
	snprintf(m.name, sizeof(m.name), "%s", F.s->parts[part].p->name);
	if (proto_send(F.ctl, LVMM_MSG_API_AGENT, &m, sizeof(m), &F.agent_fd[part], open, MSG_DONTWAIT))
		pr_warn("control: could not hand partition %s's agent channel over", m.name);
}

/* ---- who asks ------------------------------------------------------------------------ */

int fe_conn_uid(int fd, const char *listen_path, uid_t *uid)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa), il = sizeof(int), cl = sizeof(struct ucred);
	struct ucred cred;
	int type = 0, acc = 1;

	/*
	 * Only a stream accepted on our own socket: its address is the
	 * listener's path. A socketpair's or a listener's own credentials are
	 * its creator's (ours), and a connection to another server carries
	 * that server's: none of them may stand for a client.
	 */
	memset(&sa, 0, sizeof(sa));
	if (!listen_path || !listen_path[0] ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il) || acc ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) || sa.sun_family != AF_UNIX ||
	    sl <= offsetof(struct sockaddr_un, sun_path) ||
	    strncmp(sa.sun_path, listen_path, sizeof(sa.sun_path)) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
		return -EACCES;
	*uid = cred.uid;
	return 0;
}

int fe_conn_remote(int fd, int lfd)
{
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b), il = sizeof(int);
	int type = 0, acc = 1;

	/*
	 * Accepted on our TLS socket: a stream, not a listener, whose local
	 * address is the listener's. (A client's own end has an ephemeral
	 * port; and the front-end may not create sockets at all.)
	 */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (lfd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il) || acc ||
	    getsockname(fd, (struct sockaddr *)&a, &al) || getsockname(lfd, (struct sockaddr *)&b, &bl) ||
	    (a.ss_family != AF_INET && a.ss_family != AF_INET6) || al != bl)
		return -EACCES;
	/* A listener on the wildcard address: a connection has the address it came in on. */
	if (a.ss_family == AF_INET && ((struct sockaddr_in *)&b)->sin_addr.s_addr == htonl(INADDR_ANY))
		((struct sockaddr_in *)&b)->sin_addr = ((struct sockaddr_in *)&a)->sin_addr;
	if (a.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&b)->sin6_addr))
		((struct sockaddr_in6 *)&b)->sin6_addr = ((struct sockaddr_in6 *)&a)->sin6_addr;
	return memcmp(&a, &b, al) ? -EACCES : 0;
}

/*
 * Who is on the other end of connection fd, which the front-end passed
 * with a request: the partition whose agent channel it is, or the uid of a
 * client connected to our own control socket (root or our own user only).
 * 0, or -EACCES with the reason in why.
 */
static int fe_subject(struct sup *s, int fd, struct ctl_subject *sub, char *why, size_t n)
{
	struct stat st;
	unsigned i;

	memset(sub, 0, sizeof(*sub));
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(why, n, "the request came without its connection");
		return -EACCES;
	}
	for (i = 0; i < s->plat->nparts; i++)
		if (F.agent_fd[i] >= 0 && F.agent_dev[i] == st.st_dev && F.agent_ino[i] == st.st_ino) {
			sub->agent = true;
			sub->part = (int)i;
			return 0;
		}
	if (F.listen_fd < 0 || fe_conn_uid(fd, F.listen_path, &sub->uid)) {
		snprintf(why, n, "the request did not come from a client of the control socket");
		return -EACCES;
	}
	if (sub->uid != 0 && sub->uid != geteuid()) {
		struct event e;

		ev_begin(&e, "control_denied", NULL);
		ev_u64(&e, "uid", sub->uid);
		ev_str(&e, "reason", "peer uid is neither root nor the supervisor's user");
		ev_end(&e);
		snprintf(why, n, "uid %u may not use this control socket", (unsigned)sub->uid);
		return -EACCES;
	}
	return 0;
}

/* ---- requests -------------------------------------------------------------------------- */

static void kill_frontend(const char *why)
{
	struct event e;

	if (F.pid <= 0)
		return;
	ev_begin(&e, "api_kill", NULL);
	ev_u64(&e, "pid", (uint64_t)F.pid);
	ev_str(&e, "reason", why);
	ev_end(&e);
	kill(F.pid, SIGKILL);
}

static void on_requests(struct sup *s)
{
	static struct lvmm_api_remote_req rq;
	struct lvmm_api_req *q = &rq.q;
	unsigned round;

	for (round = 0; round < RX_ROUNDS && F.ctl >= 0; round++) {
		struct lvmm_msg_hdr hdr;
		struct ctl_subject sub;
		char why[128];
		int fds[2] = { -1, -1 }, r;

		r = proto_recv(F.ctl, &hdr, &rq, sizeof(rq), fds, 2, MSG_DONTWAIT);
		if (r == -EAGAIN)
			return;
		if (!r && !(hdr.type == LVMM_MSG_API_REQ && !ctl_req_check(q, hdr.len, hdr.nfds)) &&
		    !(hdr.type == LVMM_MSG_API_REMOTE_REQ && hdr.len == sizeof(rq) && hdr.nfds == 1 &&
		      !ctl_req_check(q, sizeof(*q), hdr.nfds)))
			r = -EPROTO;
		if (r) {
			close_fd(&fds[0]);
			close_fd(&fds[1]);
			/* EOF: it is going (reaped soon). Garbage: it is not to be trusted any more. */
			if (r != -EPIPE && r != -ECONNRESET)
				kill_frontend("protocol violation");
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, F.ctl, NULL);
			return;
		}
		if (hdr.type == LVMM_MSG_API_REMOTE_REQ) {
			/* The certificate is the front-end's word: see lvmm_api_remote_req. */
			sub = (struct ctl_subject){ .remote = true, .uid = (uid_t)-1 };
			memcpy(sub.cert, rq.cert_sha256, sizeof(sub.cert));
			r = fe_conn_remote(fds[0], F.tls_fd);
			snprintf(why, sizeof(why), "the request did not come from a client of the TLS socket");
		} else {
			r = fe_subject(s, fds[0], &sub, why, sizeof(why));
		}
		close(fds[0]);
		if (r) {
			close_fd(&fds[1]);
			ctl_refuse(s, q->id, q->op, r, why);
			continue;
		}
		ctl_request(s, &sub, q, fds[1]);
	}
}

void fe_event(struct sup *s, uint64_t tag, uint32_t events)
{
	if (tag == TAG_API)
		on_requests(s);
}

/* ---- the process --------------------------------------------------------------------------- */

/* lvmm-api next to this binary, or in ../libexec/lvmm/ (an installed lvmm). */
static int find_exe(void)
{
	static const char *const rel[] = { "lvmm-api", "../libexec/lvmm/lvmm-api" };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	unsigned i;

	if (n <= 0)
		return -errno;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	for (i = 0; i < ARRAY_SIZE(rel); i++) {
		int w = snprintf(F.exe, sizeof(F.exe), "%s/%s", self, rel[i]);

		if (w > 0 && (size_t)w < sizeof(F.exe) && access(F.exe, X_OK) == 0)
			return 0;
	}
	/* For the message: the first place looked at. */
	if (snprintf(F.exe, sizeof(F.exe), "%.*s/lvmm-api", (int)(sizeof(F.exe) - 10), self) < 0)
		F.exe[0] = 0;
	return -ENOENT;
}

static int fe_start(struct sup *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_API };
	struct lvmm_api_init init = {
		.version = LVMM_API_VERSION, .sup_uid = geteuid(), .nparts = s->plat->nparts,
		.log_level = (uint32_t)s->opts.log_level, .remote_ms = ctl_remote_remaining_ms(s),
		.flags = (F.listen_fd >= 0 ? LVMM_API_INIT_LISTEN : 0) | (F.tls_fd >= 0 ? LVMM_API_INIT_TLS : 0),
	};
	static char a0[] = "lvmm-api";
	char *argv[] = { a0, NULL }, *envp[] = { NULL };
	int cv[2], evp[2], size = FE_SNDBUF, r;
	/*
	 * At 3, 4, 5: control, events, listener (or nothing); with remote at
	 * 6..9: the TLS socket, cert, key, client CA.
	 */
	int fds[7] = { -1, -1, F.listen_fd, F.tls_fd, F.pem_fd[0], F.pem_fd[1], F.pem_fd[2] };
	/* By descriptor: the front-end's uid need not be able to search the directories on the way. */
	struct spawn sp = { .path = F.exe, .by_fd = true, .argv = argv, .envp = envp, .fds = fds,
			    .nfds = F.tls_fd >= 0 ? 7 : 3, .uid = F.uid, .gid = F.uid,
			    .ignore_group_signals = true };
	pid_t pid;
	struct event e;
	unsigned i;

	snprintf(init.lvmm_version, sizeof(init.lvmm_version), "%s", LVMM_VERSION);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cv) < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, evp) < 0) {
		r = -errno;
		goto err_cv;
	}
	/* Replies in flight must fit (SNDBUFFORCE: root may exceed wmem_max). */
	if (setsockopt(cv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(cv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(evp[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(evp[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	fds[0] = cv[1];
	fds[1] = evp[1];
	pid = spawn(&sp);
	if (pid < 0) {
		r = pid;
		goto err_evp;
	}
	close(cv[1]);
	close(evp[1]);
	F.pid = pid;
	F.ctl = cv[0];
	F.evs = evp[0];
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, F.ctl, &ev) < 0 ||
	    proto_send(F.ctl, LVMM_MSG_API_INIT, &init, sizeof(init), NULL, 0, MSG_DONTWAIT))
		kill_frontend("could not set up its channel");
	for (i = 0; i < s->plat->nparts; i++)
		if (F.agent_fd[i] >= 0)
			send_agent(i, true);
	ev_begin(&e, "api_start", NULL);
	ev_u64(&e, "pid", (uint64_t)pid);
	if (F.uid)
		ev_u64(&e, "uid", F.uid);
	ev_end(&e);
	return 0;

err_evp:
	close(evp[0]);
	close(evp[1]);
err_cv:
	close(cv[0]);
	close(cv[1]);
	return r;
}

static void channels_close(struct sup *s)
{
	if (F.ctl >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, F.ctl, NULL);
	close_fd(&F.ctl);
	close_fd(&F.evs);
}

bool fe_reaped(struct sup *s, pid_t pid, int wstatus)
{
	struct event e;

	if (pid <= 0 || pid != F.pid)
		return false;
	F.pid = 0;
	channels_close(s);
	ctl_drop_all(s, false); /* nobody is left to read their answers */
	ev_begin(&e, "api_exit", NULL);
	ev_u64(&e, "pid", (uint64_t)pid);
	ev_wstatus(&e, wstatus);
	ev_end(&e);
	if (!s->stopping) {
		F.restart_at = now_ns() + FE_RESTART_MS * MS;
		sup_arm_timer(s);
	}
	return true;
}

uint64_t fe_next_deadline(struct sup *s)
{
	return F.restart_at ? F.restart_at : UINT64_MAX;
}

void fe_on_timer(struct sup *s, uint64_t now)
{
	int r;

	if (!F.restart_at || now < F.restart_at || F.pid)
		return;
	F.restart_at = 0;
	r = fe_start(s);
	if (r) {
		pr_err("cannot start the API front-end: %s", strerror(-r));
		F.restart_at = now + 10 * FE_RESTART_MS * MS;
	}
}

/* ---- agent channels (lifecycle hooks) ---------------------------------------------------------- */

/* lc_hooks.agent_open: a socketpair; the partition gets one end, the front-end the other. */
static int agent_open(struct sup *s, struct part_rt *pr)
{
	struct stat st;
	int sv[2];

	if (pr->index >= PLAT_MAX_PARTS || F.agent_fd[pr->index] >= 0)
		return -EBUSY;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	if (fstat(sv[0], &st) < 0) {
		int e = -errno;

		close(sv[0]);
		close(sv[1]);
		return e;
	}
	F.agent_fd[pr->index] = sv[0];
	F.agent_dev[pr->index] = st.st_dev;
	F.agent_ino[pr->index] = st.st_ino;
	send_agent(pr->index, true);
	return sv[1];
}

/* lc_hooks.agent_close */
static void agent_close(struct sup *s, struct part_rt *pr)
{
	if (pr->index >= PLAT_MAX_PARTS || F.agent_fd[pr->index] < 0)
		return;
	send_agent(pr->index, false);
	close_fd(&F.agent_fd[pr->index]);
	F.agent_ino[pr->index] = 0;
}

static const struct lc_hooks hooks = {
	.answer = ctl_answer, .agent_open = agent_open, .agent_close = agent_close,
	.attested = ctl_attested,
};

/* ---- set-up and end ------------------------------------------------------------------------------ */

/*
 * The socket file goes only if it is still ours (found by review: a run
 * ending while another had taken over the path removed the other's socket).
 */
static void listen_close(void)
{
	close_fd(&F.listen_fd);
	unlink_ours(F.listen_path, F.listen_dev, F.listen_ino); /* nothing when ino is 0 */
	F.listen_ino = 0;
}

static void remote_close_fds(void)
{
	unsigned i;

	for (i = 0; i < 3; i++)
		close_fd(&F.pem_fd[i]);
	close_fd(&F.tls_fd);
}

/*
 * remote: the TCP socket is bound here (as the control socket is) and the
 * PEM files are opened here, with the supervisor's rights: the front-end
 * runs as its own user, reads them once before its sandbox and cannot open
 * anything itself. Nothing in them is parsed in the supervisor.
 */
static int remote_open(struct sup *s, char *err, size_t n)
{
	const struct plat_remote *rm = &s->plat->remote;
	const char *files[3] = { rm->cert, rm->key, rm->client_ca };
	struct sockaddr_storage ss;
	unsigned len, i;
	int one = 1, r;

	if (plat_remote_addr(rm->listen, &ss, &len)) {
		snprintf(err, n, "listen '%s' is not ADDRESS:PORT", rm->listen);
		return -EINVAL;
	}
	F.tls_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (F.tls_fd < 0 || setsockopt(F.tls_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(F.tls_fd, (struct sockaddr *)&ss, len) || listen(F.tls_fd, 16)) {
		r = -errno;
		snprintf(err, n, "cannot listen on %s: %s", rm->listen, strerror(-r));
		goto err;
	}
	for (i = 0; i < 3; i++) {
		F.pem_fd[i] = open(files[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (F.pem_fd[i] < 0) {
			r = -errno;
			snprintf(err, n, "%s: %s", files[i], strerror(-r));
			goto err;
		}
	}
	return 0;
err:
	remote_close_fds();
	return r;
}

int fe_init(struct sup *s, const char *path)
{
	/* A control socket, remote management or an agent channel: run a front-end. */
	bool wanted = (path && path[0]) || s->plat->remote.present;
	struct stat st;
	char err[320];
	unsigned i, k;
	int r;

	F.s = s;
	for (i = 0; i < PLAT_MAX_PARTS; i++)
		F.agent_fd[i] = -1;
	ctl_setup(s, t_reply);
	s->hooks = &hooks;
	events_set_sink(sink);
	for (i = 0; i < s->plat->nparts; i++)
		for (k = 0; k < s->plat->parts[i].ndevs; k++)
			wanted |= s->plat->parts[i].devs[k].control;
	if (!wanted)
		return 0;
	r = find_exe();
	if (r) {
		pr_err("cannot start the API front-end: %s: %s", F.exe, strerror(-r));
		return r;
	}
	if (path && path[0]) {
		if (!strncmp(path, LVMM_RUN_DIR "/", sizeof(LVMM_RUN_DIR)) && mkdir(LVMM_RUN_DIR, 0700) &&
		    errno != EEXIST)
			pr_warn("cannot create %s: %s", LVMM_RUN_DIR, strerror(errno));
		F.listen_fd = res_unix_listen(path, CTL_HOST_MAX, err, sizeof(err));
		if (F.listen_fd < 0) {
			pr_err("control socket: %s", err);
			return F.listen_fd;
		}
		snprintf(F.listen_path, sizeof(F.listen_path), "%s", path);
		if (!lstat(path, &st))
			F.listen_dev = st.st_dev, F.listen_ino = st.st_ino;
	}
	if (s->plat->remote.present) {
		r = remote_open(s, err, sizeof(err));
		if (r) {
			pr_err("remote: %s", err);
			goto err_listen;
		}
	}
	if (geteuid() == 0) {
		r = ident_claim(s->plat->uid_base, s->plat->uid_count, &F.uid, &F.uid_lock, err, sizeof(err));
		if (r) {
			pr_err("API front-end: %s", err);
			goto err_remote;
		}
	}
	/*
	 * Started FE_FIRST_MS from now (the autostart partitions start next), not by the first
	 * timer: its dynamic loading (2-2.5 ms of a CPU here) then took a CPU from the guests'
	 * set-up and boot on a 2-CPU host (8 partitions were 1.6 ms later to all print,
	 * bench/scale.sh). Clients meanwhile queue on the bound socket: a request sent at
	 * once is answered up to FE_FIRST_MS later.
	 */
	F.restart_at = now_ns() + FE_FIRST_MS * MS;
	sup_arm_timer(s);
	return 0;

err_remote:
	remote_close_fds();
err_listen:
	listen_close();
	return r;
}

bool fe_listening(struct sup *s)
{
	return F.listen_fd >= 0;
}

void fe_close(struct sup *s)
{
	/* Its exit wakes the wait below through its pidfd (before Linux 5.3, none: 10 ms polls). */
	int st, pfd = F.pid > 0 ? (int)syscall(SYS_pidfd_open, F.pid, 0) : -1;
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	unsigned guard;

	ctl_drop_all(s, true);
	channels_close(s); /* the front-end answers what it holds and exits on EOF */
	/* Bounded (50 x 10 ms), then it is killed. */
	for (guard = 0; F.pid > 0 && guard < 50 && waitpid(F.pid, &st, WNOHANG) != F.pid; guard++)
		poll(&p, 1, 10);
	if (F.pid > 0 && guard == 50) {
		kill(F.pid, SIGKILL);
		waitpid(F.pid, &st, 0);
	}
	F.pid = 0;
	close_fd(&pfd);
	events_set_sink(NULL);
	listen_close();
	remote_close_fds();
	ident_release(F.uid_lock);
	F.uid_lock = -1;
}
