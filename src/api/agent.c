// SPDX-License-Identifier: MIT
/*
 * Partitions' agent channels ({ type: stream, control: true }): the text
 * line protocol of docs/cli.md, unchanged from before the front-end
 * existed. One request line (at most 1023 bytes and a newline), answered by
 * one JSON line, one request after another; "policy-load N" is followed by
 * N bytes of policy, gathered in a memfd, then compiled here
 * (src/api/policy.c) and handed to the supervisor as a sealed memfd. The
 * subject is the partition: the supervisor recognises its channel in the
 * request. Nothing is read while a request
 * waits for the supervisor. After "events" the channel also carries the
 * event lines the partition may see, between its answers (issue 9's
 * service partitions follow events this way).
 *
 * A partition is untrusted: an over-long line is answered and dropped up
 * to its newline, a stalled request times out, and a partition that does
 * not read loses what does not fit its output buffer (event lines are
 * then counted as a gap, as for any slow follower).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/policy.h"
#include "common/log.h"
#include "shared/ratelimit.h"
#include "common/util.h"

#define MS 1000000ULL
#define OUT_MAX (128 * 1024) /* attest's answer is one line of up to 96 KiB */

enum aphase { A_LINE, A_UPLOAD, A_WAIT, A_DISCARD };

struct agent {
	bool used;
	unsigned part;
	int fd, epfd;
	char name[LVMM_NAME_MAX];
	enum aphase phase;
	bool in_watched, out_watched, eof;
	size_t in_len;
	char in[API_REQ_LINE_MAX];
	const struct api_op *op;
	int upload_fd;
	size_t upload_want, upload_have;
	uint64_t started, deadline; /* deadline 0: none (idle between requests) */
	uint32_t pending;
	struct follower *f;
	size_t out_len;
	char out[OUT_MAX];
	struct ratelimit rl;
};

static struct agent ag[LVMM_API_MAX_PARTS];
/*
 * One past the highest slot agent_open() has filled: agent_tick() looks no
 * further. A slot is over a page, and reading `used` in all 256 cost the
 * front-end ~256 page faults (~0.7 ms here) at its first tick, while the
 * partitions were starting on the same cores.
 */
static unsigned ag_end;

static void watch(struct agent *a)
{
	struct epoll_event ev = { .data.u64 = 0x100ULL + a->part };
	bool in = a->phase != A_WAIT;
	bool out = a->out_len > 0;

	if (a->eof || (in == a->in_watched && out == a->out_watched))
		return;
	ev.events = (in ? EPOLLIN | EPOLLRDHUP : 0) | (out ? EPOLLOUT : 0);
	if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, a->fd, &ev) == 0) {
		a->in_watched = in;
		a->out_watched = out;
	}
}

/*
 * The partition closed its end (it is ending): nothing more is read or sent,
 * and the fd leaves epoll, which would report the hang-up for ever; the
 * supervisor's close notice releases the slot.
 */
static void gone(struct agent *a)
{
	if (a->eof)
		return;
	a->eof = true;
	a->out_len = 0;
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->fd, NULL);
}

/* Send what is buffered, then event lines while the socket takes them. */
static void flush(struct agent *a)
{
	unsigned guard;

	for (guard = 0; guard < 64; guard++) {
		ssize_t n;

		if (a->eof)
			break;
		if (!a->out_len && a->f && !a->f->ended && a->phase != A_WAIT)
			a->out_len = follow_read(a->f, a->out, sizeof(a->out));
		if (!a->out_len)
			break;
		n = send(a->fd, a->out, a->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			gone(a);
		if (n <= 0)
			break;
		memmove(a->out, a->out + n, a->out_len - (size_t)n);
		a->out_len -= (size_t)n;
	}
	watch(a);
}

/* One answer line; what does not fit (a partition that does not read) is lost. */
static void answer(struct agent *a, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	size_t n = text ? strlen(text) : 0;

	json_decref(o);
	if (text && n + 1 <= sizeof(a->out) - a->out_len) {
		memcpy(a->out + a->out_len, text, n);
		a->out[a->out_len + n] = '\n';
		a->out_len += n + 1;
	} else {
		pr_warn_rl(&a->rl, "agent channel of %s: answer lost (the partition does not read)", a->name);
	}
	free(text);
}

static void fail(struct agent *a, const char *why)
{
	answer(a, api_error_json(why));
}

static void next_request(struct agent *a, uint64_t now);

static void follower_wake(struct follower *f)
{
	flush(f->owner);
}

static void replied(void *ctx, const struct lvmm_api_reply *r, int err)
{
	struct agent *a = ctx;
	char why[128];

	a->pending = 0;
	if (!r) {
		snprintf(why, sizeof(why), "the supervisor did not answer (%s)", strerror(-err));
		fail(a, why);
	} else {
		if (!r->result && a->op->id == LVMM_OP_EVENTS) {
			if (!a->f)
				a->f = follow_new(a->fd, follower_wake, a);
			if (a->f)
				follow_set(a->f, &r->u.events);
		}
		if (!r->result && a->op->id == LVMM_OP_EVENTS && !a->f)
			fail(a, "too many event followers");
		else
			answer(a, api_reply_json(r, api_reply_fd));
	}
	next_request(a, now_ns());
}

static void submit(struct agent *a, const char *target, uint64_t num, const uint8_t *bin, uint32_t blen,
		   int payload)
{
	struct lvmm_api_req q = { .op = a->op->id, .num = { num }, .arg_len = blen };
	char why[128];
	int r;

	snprintf(q.target, sizeof(q.target), "%s", target);
	if (blen)
		memcpy(q.arg, bin, MIN(blen, (uint32_t)sizeof(q.arg)));
	r = api_submit(&q, a->fd, payload, replied, a, &a->pending);
	if (r) {
		snprintf(why, sizeof(why), "the supervisor is busy (%s); try again", strerror(-r));
		fail(a, why);
		return;
	}
	a->phase = A_WAIT;
	a->deadline = 0;
}

/* The whole text is in: compiled here (src/api/policy.c), the result handed on sealed. */
static void upload_done(struct agent *a)
{
	static char text[LVMM_API_UPLOAD_MAX];
	int fd = a->upload_fd;

	a->upload_fd = -1;
	if (a->upload_want > sizeof(text) ||
	    pread(fd, text, a->upload_want, 0) != (ssize_t)a->upload_want) {
		close(fd);
		fail(a, "policy-load: cannot read the upload back");
		a->phase = A_LINE;
		return;
	}
	close(fd);
	fd = api_policy_memfd(text, a->upload_want);
	if (fd < 0) {
		fail(a, "policy-load: cannot take an upload now");
		a->phase = A_LINE;
		return;
	}
	submit(a, "", 0, NULL, 0, fd);
}

/* One complete line (NUL-terminated, without its newline). */
static void dispatch(struct agent *a, char *line)
{
	char target[LVMM_NAME_MAX], why[LVMM_API_ERR_MAX];
	uint8_t bin[LVMM_API_ARG_MAX];
	uint32_t blen;
	uint64_t num;

	if (api_line_parse(line, &a->op, target, sizeof(target), bin, &blen, &num, why, sizeof(why))) {
		fail(a, why);
		return;
	}
	if (a->op->arg != ARG_POLICY) {
		submit(a, target, a->op->arg == ARG_PART_SECS ? num : 0, bin, blen, -1);
		return;
	}
	a->upload_fd = memfd_create("policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (a->upload_fd < 0) {
		fail(a, "policy-load: cannot take an upload now");
		return;
	}
	a->upload_want = (size_t)num;
	a->upload_have = 0;
	a->phase = A_UPLOAD;
}

/* Take upload bytes from the input buffer. */
static void take_upload(struct agent *a)
{
	size_t n = MIN(a->in_len, a->upload_want - a->upload_have);

	if (n && write(a->upload_fd, a->in, n) != (ssize_t)n) {
		close(a->upload_fd);
		a->upload_fd = -1;
		fail(a, "policy-load: cannot store the upload");
		a->phase = A_DISCARD;
		return;
	}
	a->upload_have += n;
	memmove(a->in, a->in + n, a->in_len - n);
	a->in_len -= n;
	if (a->upload_have == a->upload_want)
		upload_done(a);
}

/* Serve what is buffered while the channel reads requests. */
static void process(struct agent *a)
{
	unsigned guard;

	for (guard = 0; guard < 64 && a->in_len; guard++) {
		char line[API_REQ_LINE_MAX], *nl;
		size_t n;

		if (a->phase == A_UPLOAD) {
			take_upload(a);
			continue;
		}
		if (a->phase == A_WAIT)
			return;
		nl = memchr(a->in, '\n', a->in_len);
		if (a->phase == A_DISCARD) {
			if (!nl) {
				a->in_len = 0;
				return;
			}
			a->phase = A_LINE;
		} else if (!nl) {
			if (a->in_len < sizeof(a->in))
				return;
			fail(a, "request longer than 1023 bytes");
			a->in_len = 0;
			a->phase = A_DISCARD; /* the rest, up to its newline, is dropped */
			return;
		} else {
			n = (size_t)(nl - a->in);
			memcpy(line, a->in, n);
			line[n] = 0;
			dispatch(a, line);
		}
		n = (size_t)(nl - a->in) + 1;
		memmove(a->in, nl + 1, a->in_len - n);
		a->in_len -= n;
		/* The next request starts with what follows (an agent may idle between requests). */
		a->started = now_ns();
		a->deadline = (a->in_len && a->phase == A_LINE) || a->phase == A_UPLOAD ?
			      a->started + API_AGENT_IDLE_MS * MS : 0;
	}
}

/* Ready for the next request: an agent may idle between requests. */
static void next_request(struct agent *a, uint64_t now)
{
	if (a->phase == A_WAIT && a->pending)
		return;
	if (a->phase == A_WAIT)
		a->phase = A_LINE;
	a->started = now;
	a->deadline = a->in_len ? now + API_AGENT_IDLE_MS * MS : 0;
	process(a);
	flush(a);
}

void agent_event(unsigned part, uint32_t events)
{
	struct agent *a = part < LVMM_API_MAX_PARTS ? &ag[part] : NULL;
	unsigned round;

	if (!a || !a->used)
		return;
	if (events & EPOLLOUT)
		flush(a);
	for (round = 0; round < 16 && (events & EPOLLIN) && a->phase != A_WAIT && !a->eof; round++) {
		size_t room = sizeof(a->in) - a->in_len;
		ssize_t n;

		if (a->phase == A_DISCARD)
			a->in_len = 0, room = sizeof(a->in);
		n = recv(a->fd, a->in + a->in_len, room, MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			gone(a); /* the partition is going; the supervisor says when it is gone */
			return;
		}
		if (!a->deadline)
			a->started = now_ns();
		a->deadline = MIN(now_ns() + API_AGENT_IDLE_MS * MS, a->started + API_AGENT_REQ_MS * MS);
		a->in_len += (size_t)n;
		process(a);
	}
	flush(a);
}

void agent_tick(uint64_t now)
{
	unsigned i;

	for (i = 0; i < ag_end; i++) {
		struct agent *a = &ag[i];

		if (!a->used || !a->deadline || a->deadline > now || a->phase == A_WAIT)
			continue;
		fail(a, now - a->started >= API_AGENT_REQ_MS * MS ? "request not complete within 10 s" :
			 "idle for 2 s without a complete request");
		if (a->upload_fd >= 0)
			close(a->upload_fd);
		a->upload_fd = -1;
		a->in_len = 0;
		a->phase = A_DISCARD;
		a->deadline = 0;
		flush(a);
	}
}

void agent_open(unsigned part, const char *name, int fd, int epfd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = 0x100ULL + part };
	struct agent *a = &ag[part];

	if (a->used)
		agent_close(part);
	memset(a, 0, sizeof(*a));
	ag_end = part >= ag_end ? part + 1 : ag_end;
	a->part = part;
	a->fd = fd;
	a->epfd = epfd;
	a->upload_fd = -1;
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	a->in_watched = true;
	a->used = true;
}

void agent_close(unsigned part)
{
	struct agent *a = &ag[part];

	if (!a->used)
		return;
	if (a->pending)
		api_cancel(a->pending);
	if (a->f)
		follow_free(a->f);
	if (a->upload_fd >= 0)
		close(a->upload_fd);
	if (!a->eof)
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->fd, NULL);
	close(a->fd);
	memset(a, 0, sizeof(*a));
}
