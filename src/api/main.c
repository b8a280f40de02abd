// SPDX-License-Identifier: MIT
/*
 * lvmm-api's main loop and its side of the supervisor protocol (api.h,
 * include/lvmm/ctl_proto.h). Started only by the supervisor (fd 3: control
 * channel, fd 4: events, fd 5: the listening control socket), already
 * running as its own user with every other fd closed. It sandboxes itself
 * (sandbox.c) before it serves anyone, and exits when the supervisor
 * closes the control channel (or dies: the parent-death signal).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/sandbox.h"
#include "common/log.h"
#include "common/proto.h"

#define FD_SUP    3
#define FD_EVENTS 4
#define FD_LISTEN 5
#define FD_TLS    6 /* then 7, 8, 9: server certificate, key, client CA (PEM) */

#define TAG_SUP    1ULL
#define TAG_EVENTS 2ULL
#define TAG_HTTP   3ULL
#define TAG_AGENT  0x100ULL /* + partition index */

struct lvmm_api_init api_init;
int api_reply_fd = -1;

static struct pending {
	bool used;
	uint32_t id;
	uint64_t deadline;
	api_done_fn done;
	void *ctx;
} pend[API_PENDING_MAX];

static uint32_t next_id;
static int epfd = -1;
static uint64_t rid_seed, rid_count;

/* ---- requests ---------------------------------------------------------------------- */

/* Send a request (REQ, or REMOTE_REQ with the client's certificate) and remember who waits. */
static int submit(uint32_t type, struct lvmm_api_remote_req *rq, const int fds[2], struct pending *p,
		  uint32_t *id)
{
	unsigned i;
	int r;

	for (i = 0; i < API_PENDING_MAX && pend[i].used; i++)
		;
	if (i == API_PENDING_MAX)
		return -EAGAIN;
	rq->q.id = api_new_id();
	/* Never wait for the supervisor: a busy one makes this request fail, not the loop stall. */
	r = proto_send(FD_SUP, type, rq, type == LVMM_MSG_API_REQ ? sizeof(rq->q) : sizeof(*rq), fds,
		       fds[1] >= 0 ? 2 : 1, MSG_DONTWAIT);
	if (r)
		return r == -EWOULDBLOCK ? -EAGAIN : r;
	pend[i] = *p;
	pend[i].used = true;
	pend[i].id = rq->q.id;
	pend[i].deadline = now_ns() + API_REPLY_MS * 1000000ULL;
	*id = rq->q.id;
	return 0;
}

uint32_t api_new_id(void)
{
	if (++next_id == 0)
		next_id = 1;
	return next_id;
}

int api_submit_raw(struct lvmm_api_remote_req *rq, bool remote, int conn_fd, api_done_fn done,
		   void *ctx, uint32_t *id)
{
	struct pending p = { .done = done, .ctx = ctx };
	int fds[2] = { conn_fd, -1 };

	return submit(remote ? LVMM_MSG_API_REMOTE_REQ : LVMM_MSG_API_REQ, rq, fds, &p, id);
}

int api_submit(struct lvmm_api_req *q, int conn_fd, int payload_fd, api_done_fn done, void *ctx,
	       uint32_t *id)
{
	static struct lvmm_api_remote_req rq;
	struct pending p = { .done = done, .ctx = ctx };
	int fds[2] = { conn_fd, payload_fd }, r;

	rq.q = *q;
	/* metrics: gathered here in steps (gather.c) */
	r = q->op == LVMM_OP_METRICS && payload_fd < 0 ? gather_start(&rq, false, conn_fd, done, ctx, id) :
	    submit(LVMM_MSG_API_REQ, &rq, fds, &p, id);
	q->id = rq.q.id;
	if (payload_fd >= 0)
		close(payload_fd);
	return r;
}

int api_submit_remote(struct lvmm_api_req *q, const uint8_t cert[32], int conn_fd, api_done_fn done,
		      void *ctx, uint32_t *id)
{
	static struct lvmm_api_remote_req rq;
	struct pending p = { .done = done, .ctx = ctx };
	int fds[2] = { conn_fd, -1 }, r;

	rq.q = *q;
	memcpy(rq.cert_sha256, cert, sizeof(rq.cert_sha256));
	r = q->op == LVMM_OP_METRICS ? gather_start(&rq, true, conn_fd, done, ctx, id) :
	    submit(LVMM_MSG_API_REMOTE_REQ, &rq, fds, &p, id);
	q->id = rq.q.id;
	return r;
}

void api_cancel(uint32_t id)
{
	unsigned i;

	if (gather_cancel(id))
		return;
	for (i = 0; i < API_PENDING_MAX; i++)
		if (pend[i].used && pend[i].id == id)
			pend[i].used = false;
}

static void finish(unsigned i, const struct lvmm_api_reply *r, int err)
{
	struct pending p = pend[i];

	pend[i].used = false;
	p.done(p.ctx, r, err);
}

void api_request_id(char *out, size_t n)
{
	snprintf(out, n, "r-%016llx", (unsigned long long)(rid_seed + ++rid_count));
}

/* ---- the supervisor's messages ---------------------------------------------------------- */

static union {
	struct lvmm_api_reply rep;
	struct lvmm_api_agent agent;
	char raw[LVMM_MSG_MAX_LEN];
} in;

/* Everything on the control channel; false when the supervisor is gone. */
static bool on_sup(void)
{
	unsigned round, i;

	for (round = 0; round < 64; round++) {
		struct lvmm_msg_hdr h;
		int fd = -1, r = proto_recv(FD_SUP, &h, &in, sizeof(in), &fd, 1, MSG_DONTWAIT);

		if (r == -EAGAIN)
			return true;
		if (r) {
			if (r != -EPIPE)
				pr_err("supervisor channel: %s", strerror(-r));
			return false;
		}
		switch (h.type) {
		case LVMM_MSG_API_REPLY:
			if (api_reply_check(&in.rep, h.len)) {
				pr_err("malformed reply from the supervisor (%u bytes)", h.len);
				break;
			}
			/* Any counters (status, metrics) are the newest metrics know of that partition. */
			if (!in.rep.result && in.rep.body == LVMM_BODY_PART)
				gather_note(&in.rep.u.part);
			/*
			 * Whether TLS clients are let in: the window as the supervisor's
			 * answer to remote enable, disable or status tells it (it closes
			 * here when it runs out: http_tick). The supervisor enforces it.
			 */
			if (!in.rep.result && in.rep.body == LVMM_BODY_REMOTE)
				http_remote_window(in.rep.u.remote.open ? in.rep.u.remote.remaining_ms : 0);
			api_reply_fd = fd; /* a blob, for the formatter */
			for (i = 0; i < API_PENDING_MAX; i++)
				if (pend[i].used && pend[i].id == in.rep.id) {
					finish(i, &in.rep, 0);
					break;
				}
			api_reply_fd = -1;
			/* A new policy: every follower's filter is decided again. */
			if (!in.rep.result && in.rep.body == LVMM_BODY_POLICY)
				events_policy_changed();
			break;
		case LVMM_MSG_API_AGENT:
			if (h.len != sizeof(in.agent) || in.agent.part >= LVMM_API_MAX_PARTS ||
			    !memchr(in.agent.name, 0, sizeof(in.agent.name)) || (in.agent.open != (fd >= 0)))
				break;
			if (in.agent.open) {
				agent_open(in.agent.part, in.agent.name, fd, epfd);
				fd = -1;
			} else {
				agent_close(in.agent.part);
			}
			break;
		default:
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	return true;
}

static void on_events(void)
{
	static struct lvmm_api_event m;
	unsigned round;

	for (round = 0; round < 256; round++) {
		struct lvmm_msg_hdr h;
		int r = proto_recv(FD_EVENTS, &h, &m, sizeof(m), NULL, 0, MSG_DONTWAIT);

		if (r)
			return;
		if (h.type == LVMM_MSG_API_EVENT)
			events_push(&m, h.len);
	}
}

/* Requests the supervisor never answered (it lost them): answered here, once. */
static void expire(uint64_t now)
{
	unsigned i;

	for (i = 0; i < API_PENDING_MAX; i++)
		if (pend[i].used && pend[i].deadline <= now)
			finish(i, NULL, -ETIMEDOUT);
}

/* ---- start ------------------------------------------------------------------------------ */

#define PEM_MAX (64 * 1024)

/* A PEM file the supervisor opened for us, read whole (NUL-terminated) and closed. */
static int read_pem(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t k;

	while (got < n - 1 && (k = pread(fd, buf + got, n - 1 - got, (off_t)got)) > 0)
		got += (size_t)k;
	close(fd);
	if (!got || got == n - 1)
		return -EINVAL; /* empty, or larger than any certificate file we take */
	buf[got] = 0;
	return 0;
}

/* remote: the TLS listener, from the files read here, before the sandbox. */
static int tls_setup(int ep)
{
	static char pem[3][PEM_MAX];
	unsigned i;
	int r = 0;

	for (i = 0; i < 3; i++)
		if (!r)
			r = read_pem(FD_TLS + 1 + (int)i, pem[i], sizeof(pem[i]));
		else
			close(FD_TLS + 1 + (int)i);
	if (!r)
		r = tls_init(FD_TLS, ep, pem[0], pem[1], pem[2]);
	/* GnuTLS keeps its own copy of the key: ours goes now. */
	explicit_bzero(pem[1], sizeof(pem[1]));
	if (r)
		pr_err("remote: cannot serve TLS (the certificate, key or CA file is unusable, or the "
		       "key is not the certificate's): remote management is off");
	return r;
}

static int setup(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct pollfd p = { .fd = FD_SUP, .events = POLLIN };
	struct lvmm_msg_hdr h;
	int r;

	if (poll(&p, 1, 5000) != 1)
		return -ETIMEDOUT;
	r = proto_recv(FD_SUP, &h, &api_init, sizeof(api_init), NULL, 0, 0);
	if (r)
		return r;
	if (h.type != LVMM_MSG_API_INIT || h.len != sizeof(api_init) ||
	    api_init.version != LVMM_API_VERSION || api_init.nparts > LVMM_API_MAX_PARTS ||
	    !memchr(api_init.lvmm_version, 0, sizeof(api_init.lvmm_version)))
		return -EPROTO;
	log_level = api_init.log_level <= LOG_DEBUG ? (int)api_init.log_level : LOG_WARN;
	if (getrandom(&rid_seed, sizeof(rid_seed), 0) != sizeof(rid_seed))
		rid_seed = now_ns();
	/* The C library reads /etc/localtime once, on first use (HTTP Date headers): now. */
	{
		time_t t = time(NULL);
		struct tm tm;

		localtime_r(&t, &tm);
	}
	/*
	 * metrics read partitions' /proc/PID/stat and statm (gather.c): through
	 * this directory only, which the sandbox confines every open to.
	 */
	gather_init(open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
	/* jansson would read /dev/urandom for its hash seed on first use: the sandbox has no open(). */
	json_object_seed((size_t)(rid_seed ^ (rid_seed >> 32)) | 1);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	ev.data.u64 = TAG_SUP;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, FD_SUP, &ev) < 0)
		return -errno;
	ev.data.u64 = TAG_EVENTS;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, FD_EVENTS, &ev) < 0)
		return -errno;
	if (api_init.flags & LVMM_API_INIT_LISTEN) {
		r = http_init(FD_LISTEN, epfd);
		if (r)
			return r;
	}
	/*
	 * A TLS set-up that fails (a key that is not the certificate's, a file
	 * GnuTLS cannot parse) leaves remote management off, not the local
	 * control API: the front-end would otherwise exit and be restarted
	 * forever, and the local user could not even see why.
	 */
	if ((api_init.flags & LVMM_API_INIT_TLS) && tls_setup(epfd))
		close(FD_TLS);
	else if (api_init.flags & LVMM_API_INIT_TLS)
		http_remote_window(api_init.remote_ms); /* a restart: the window left */
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t next_tick = 0;
	int r;

	(void)argc, (void)argv;
	log_set_prefix("lvmm-api");
	r = setup();
	if (!r)
		r = api_sandbox_apply(&gather_procfd);
	if (r) {
		pr_err("cannot start: %s", strerror(-r));
		return 1;
	}
	pr_debug("serving (supervisor uid %u, %u partitions)", api_init.sup_uid, api_init.nparts);
	for (;;) {
		struct epoll_event evs[32];
		int n, k, tmo = http_timeout_ms();
		uint64_t now;

		if (tmo < 0 || tmo > 1000)
			tmo = 1000; /* the tick: deadlines, gone clients */
		n = epoll_wait(epfd, evs, 32, tmo);
		if (n < 0 && errno != EINTR)
			break;
		for (k = 0; k < n; k++) {
			uint64_t tag = evs[k].data.u64;

			if (tag == TAG_SUP) {
				if (!on_sup())
					goto out;
			} else if (tag == TAG_EVENTS) {
				on_events();
			} else if (tag >= TAG_AGENT && tag < TAG_AGENT + LVMM_API_MAX_PARTS) {
				agent_event((unsigned)(tag - TAG_AGENT), evs[k].events);
			}
		}
		now = now_ns();
		if (now >= next_tick) {
			next_tick = now + 1000000000ULL;
			expire(now);
			agent_tick(now);
			http_tick();
		}
		http_run(); /* also after replies and events: resumed connections go on */
	}
out:
	http_close();
	return 0;
}
