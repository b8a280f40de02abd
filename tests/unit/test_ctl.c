// SPDX-License-Identifier: MIT
/*
 * The control API's request state machine (src/supervisor/ctl.c) driven
 * without a socket: bytes are fed to connections of a fake transport that
 * records replies, and partitions are faked at the protocol level (the
 * test holds the far end of each partition's socketpair, reads the
 * LVMM_MSG_CTL the supervisor sends and answers as a partition would, or
 * does not). Also the pools and limits, and the life cycle's stop
 * escalation with a real (sleeping) child process.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/supervisor_int.h"
#include "unit/unit.h"

#define MS 1000000ULL

static struct platform plat;
static struct sup S;
static int far_end[2] = { -1, -1 }; /* the fake partitions' ends */

/* ---- a transport that records ---------------------------------------------------------- */

static struct {
	char out[4][2048];
	unsigned nout;
	bool shut, closed;
} fk[CTL_CONN_MAX];

static void t_send(struct sup *s, struct ctl_conn *c, const char *buf, size_t len)
{
	unsigned i = ctl_conn_index(c);

	(void)s;
	if (fk[i].nout < 4) {
		snprintf(fk[i].out[fk[i].nout], sizeof(fk[i].out[0]), "%.*s", (int)len, buf);
		fk[i].nout++;
	}
}

static void t_shut(struct sup *s, struct ctl_conn *c)
{
	(void)s;
	fk[ctl_conn_index(c)].shut = true;
}

static void t_close(struct sup *s, struct ctl_conn *c)
{
	fk[ctl_conn_index(c)].closed = true;
	ctl_conn_free(s, c);
}

static void t_update(struct sup *s, struct ctl_conn *c)
{
	(void)s, (void)c;
}

static const struct ctl_transport tp = {
	.send = t_send, .shut = t_shut, .close = t_close, .update = t_update,
};

static int agent_open(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
	return -ENOTSUP;
}

static void agent_close(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
}

static const struct lc_hooks hooks = {
	.answer = ctl_answer, .agent_open = agent_open, .agent_close = agent_close,
};

/* ---- a platform of two running partitions joined by link l0 ------------------------------ */

static void setup(void)
{
	static bool once;
	unsigned i;
	int sv[2];

	if (!once) {
		once = true;
		plat.nparts = 2;
		for (i = 0; i < 2; i++) {
			struct plat_part *p = &plat.parts[i];

			plat_part_defaults(p);
			snprintf(p->name, sizeof(p->name), "%s", i ? "b" : "a");
			p->ndevs = 1;
			p->devs[0].type = LVMM_DEV_NET_LINK;
			snprintf(p->devs[0].id, sizeof(p->devs[0].id), "net0");
			snprintf(p->devs[0].link, sizeof(p->devs[0].link), "l0");
		}
		plat.nlinks = 1;
		snprintf(plat.links[0].name, sizeof(plat.links[0].name), "l0");
		snprintf(plat.links[0].ends[0], LVMM_NAME_MAX, "a");
		snprintf(plat.links[0].ends[1], LVMM_NAME_MAX, "b");
		plat.links[0].part[0] = 0, plat.links[0].part[1] = 1;
		S.plat = &plat;
		S.epfd = S.sig_fd = S.timer_fd = -1;
		if (events_open("", false) || acm_init(&S))
			abort();
	}
	for (i = 0; i < 2; i++) {
		if (far_end[i] >= 0)
			close(far_end[i]);
		if (S.parts[i].sock >= 0)
			close(S.parts[i].sock);
	}
	if (S.links)
		links_close(&S);
	if (links_init(&S))
		abort();
	lc_init(&S);
	S.stopping = false;
	S.first_failure = 0;
	for (i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
			abort();
		S.parts[i].sock = sv[0];
		far_end[i] = sv[1];
		S.parts[i].pid = 0x7ffffff0 + (pid_t)i; /* no such process: nothing is signalled */
		S.parts[i].state = PS_RUNNING;
	}
	memset(fk, 0, sizeof(fk));
	ctl_setup(&S, &tp);
	S.hooks = &hooks;
}

/* The next control message the supervisor sent partition i (false if none). */
static bool got_ctl(int i, struct lvmm_ctl *m)
{
	struct lvmm_msg_hdr h;

	return !proto_recv(far_end[i], &h, m, sizeof(*m), NULL, 0, MSG_DONTWAIT) &&
	       h.type == LVMM_MSG_CTL && h.len == sizeof(*m);
}

/* Partition i answers m with result, being in VM state vm_state (1 running, 2 paused). */
static void answer(int i, const struct lvmm_ctl *m, int result, uint32_t vm_state)
{
	static struct lvmm_ctl_reply rep;

	memset(&rep, 0, sizeof(rep));
	rep.op = m->op;
	rep.seq = m->seq;
	rep.result = result;
	rep.state = vm_state;
	if (m->op == LVMM_CTL_STATS) {
		rep.exits_io = 42;
		rep.ndevs = 1;
		snprintf(rep.devs[0].id, sizeof(rep.devs[0].id), "net0");
	}
	lc_on_reply(&S, &S.parts[i], &rep);
}

static struct ctl_conn *host(void)
{
	char err[128];
	struct ctl_conn *c = ctl_conn_open_host(&S, 0, 1, err, sizeof(err));

	if (!c)
		abort();
	memset(&fk[ctl_conn_index(c)], 0, sizeof(fk[0])); /* the slot may have been used before */
	return c;
}

static void feed(struct ctl_conn *c, const char *s)
{
	ctl_feed(&S, c, s, strlen(s));
}

static const char *reply(struct ctl_conn *c, unsigned k)
{
	return fk[ctl_conn_index(c)].out[k];
}

static unsigned replies(struct ctl_conn *c)
{
	return fk[ctl_conn_index(c)].nout;
}

#define CHECK_HAS(hay, needle) CHECK(strstr((hay), (needle)) != NULL)

/* ---- requests answered by the supervisor alone --------------------------------------------- */

static void test_list_then_close(void)
{
	struct ctl_conn *c;
	unsigned i;

	setup();
	c = host();
	i = ctl_conn_index(c);
	feed(c, "list\n");
	CHECK_EQ(replies(c), 1);
	CHECK_HAS(reply(c, 0), "{\"ok\":true,\"partitions\":[{\"name\":\"a\",\"state\":\"running\"");
	CHECK_HAS(reply(c, 0), "\"links\":[{\"name\":\"l0\",\"ends\":[\"a\",\"b\"],\"up\":true}]}\n");
	/* Answered: the write side is shut and input drained until EOF, then closed. */
	CHECK(fk[i].shut && !fk[i].closed);
	CHECK_EQ(c->phase, CP_CLOSING);
	feed(c, "garbage after the request\n");
	CHECK_EQ(replies(c), 1);
	ctl_eof(&S, c);
	CHECK(fk[i].closed);
	CHECK(!ctl_conn_at(i));
}

static void test_split_and_eof_terminated(void)
{
	struct ctl_conn *c;
	unsigned i;

	setup();
	c = host();
	i = ctl_conn_index(c);
	feed(c, "he");
	feed(c, "l");
	CHECK_EQ(replies(c), 0);
	feed(c, "p");
	ctl_eof(&S, c); /* no newline: the request is still served, then closed */
	CHECK_EQ(fk[i].nout, 1);
	CHECK_HAS(fk[i].out[0], "{\"ok\":true,\"operations\":[\"list\",");
	CHECK(fk[i].closed);
	/* EOF before any byte: nothing was asked, nothing is answered. */
	c = host();
	i = ctl_conn_index(c);
	ctl_eof(&S, c);
	CHECK_EQ(fk[i].nout, 0);
	CHECK(fk[i].closed);
}

static void test_usage_errors(void)
{
	static const char *const bad[][2] = {
		{ "\n", "empty request; try 'help'" },
		{ "frobnicate\n", "unknown operation 'frobnicate'; try 'help'" },
		{ "pause\n", "usage: pause PARTITION" },
		{ "pause a b\n", "usage: pause PARTITION" },
		{ "pause nosuch\n", "no partition called 'nosuch'" },
		{ "link-down nosuch\n", "no link called 'nosuch'" },
		{ "policy-load 0\n", "policy-load: size must be 1-65536 bytes" },
		{ "policy-load 99999999\n", "policy-load: size must be 1-65536 bytes" },
	};
	unsigned k;

	setup();
	for (k = 0; k < ARRAY_SIZE(bad); k++) {
		struct ctl_conn *c = host();
		char want[256];

		feed(c, bad[k][0]);
		snprintf(want, sizeof(want), "{\"ok\":false,\"error\":\"%s\"}\n", bad[k][1]);
		CHECK_EQ(replies(c), 1);
		CHECK_STR(reply(c, 0), want);
		ctl_eof(&S, c);
	}
}

static void test_overlong_host(void)
{
	char big[3000];
	struct ctl_conn *c;
	size_t took;

	setup();
	c = host();
	memset(big, 'x', sizeof(big));
	took = ctl_feed(&S, c, big, sizeof(big));
	/* Answered as soon as the limit is passed, and the rest is still read (drained). */
	CHECK_EQ(took, sizeof(big));
	CHECK_EQ(replies(c), 1);
	CHECK_STR(reply(c, 0), "{\"ok\":false,\"error\":\"request longer than 1023 bytes\"}\n");
	CHECK_EQ(c->phase, CP_CLOSING);
	CHECK_EQ(ctl_feed(&S, c, big, sizeof(big)), sizeof(big));
	CHECK_EQ(replies(c), 1);
}

static void test_overlong_agent_recovers(void)
{
	struct ctl_conn *c;
	char big[1500];

	setup();
	c = ctl_conn_open_agent(&S, 1);
	CHECK(c != NULL);
	if (!c)
		return;
	memset(big, 'y', sizeof(big));
	ctl_feed(&S, c, big, sizeof(big));
	CHECK_EQ(replies(c), 1);
	CHECK_EQ(c->phase, CP_DISCARD);
	feed(c, "yyy\nacm\nhelp\n"); /* the rest of the long line, then two requests */
	CHECK_EQ(replies(c), 3);
	CHECK_STR(reply(c, 0), "{\"ok\":false,\"error\":\"request longer than 1023 bytes\"}\n");
	CHECK_HAS(reply(c, 1), "{\"ok\":true,\"policy\":\"none\"");
	CHECK_HAS(reply(c, 2), "{\"ok\":true,\"operations\":");
	CHECK_EQ(c->phase, CP_LINE);
	CHECK(!fk[ctl_conn_index(c)].closed);
}

/* ---- requests answered by partitions ----------------------------------------------------- */

/* Found by reading (issue 12): a partition's refusal was reported as "ok":true. */
static void test_partition_refusal_is_not_ok(void)
{
	static const struct { const char *req; uint32_t op; int result; const char *err; } cases[] = {
		{ "pause a\n", LVMM_CTL_PAUSE, -EBUSY, "partition 'a' could not pause: Device or resource busy" },
		{ "resume a\n", LVMM_CTL_RESUME, -ESRCH, "partition 'a' could not resume: No such process" },
		{ "status a\n", LVMM_CTL_STATS, -EIO, "partition 'a' could not status: Input/output error" },
	};
	unsigned k;

	for (k = 0; k < ARRAY_SIZE(cases); k++) {
		struct ctl_conn *c;
		struct lvmm_ctl m;
		char want[256];

		setup();
		c = host();
		feed(c, cases[k].req);
		CHECK_EQ(replies(c), 0);
		CHECK_EQ(c->phase, CP_WAIT);
		CHECK(got_ctl(0, &m));
		CHECK_EQ(m.op, cases[k].op);
		answer(0, &m, cases[k].result, 1);
		snprintf(want, sizeof(want), "{\"ok\":false,\"error\":\"%s\"}\n", cases[k].err);
		CHECK_EQ(replies(c), 1);
		CHECK_STR(reply(c, 0), want);
		CHECK_EQ(S.parts[0].state, PS_RUNNING);
	}
}

static void test_pause_resume_status(void)
{
	uint64_t ev0 = events_count();
	struct ctl_conn *c;
	struct lvmm_ctl m;

	setup();
	c = host();
	feed(c, "pause a\n");
	CHECK(got_ctl(0, &m));
	answer(0, &m, 0, 2);
	CHECK_STR(reply(c, 0), "{\"ok\":true,\"partition\":\"a\",\"state\":\"paused\"}\n");
	CHECK_EQ(S.parts[0].state, PS_PAUSED);
	c = host();
	feed(c, "resume a\n");
	CHECK(got_ctl(0, &m));
	answer(0, &m, 0, 1);
	CHECK_STR(reply(c, 0), "{\"ok\":true,\"partition\":\"a\",\"state\":\"running\"}\n");
	CHECK_EQ(S.parts[0].state, PS_RUNNING);
	CHECK_EQ(events_count() - ev0, 2); /* partition_paused, partition_resumed */
	c = host();
	feed(c, "status b\n");
	CHECK(got_ctl(1, &m));
	answer(1, &m, 0, 1);
	CHECK_HAS(reply(c, 0), "{\"ok\":true,\"partition\":\"b\",\"state\":\"running\",\"exits\":{\"io\":42,");
	CHECK_HAS(reply(c, 0), "\"devices\":[{\"id\":\"net0\"");
	/* A partition that is not running is not asked. */
	S.parts[1].state = PS_STARTING;
	c = host();
	feed(c, "pause b\n");
	CHECK(!got_ctl(1, &m));
	CHECK_STR(reply(c, 0), "{\"ok\":false,\"error\":\"partition 'b' is not running (state starting)\"}\n");
}

static void test_no_answer_times_out_once(void)
{
	struct ctl_conn *c;
	struct lvmm_ctl m;
	unsigned i;

	setup();
	c = host();
	i = ctl_conn_index(c);
	feed(c, "pause a\n");
	CHECK(got_ctl(0, &m));
	CHECK(ctl_next_deadline(&S) <= now_ns() + CTL_ANSWER_MS * MS);
	ctl_on_timer(&S, now_ns() + CTL_ANSWER_MS * MS + 1);
	CHECK_EQ(fk[i].nout, 1);
	CHECK_STR(fk[i].out[0], "{\"ok\":false,\"error\":\"no answer from the partition within 3 s\"}\n");
	CHECK(!S.parts[0].asks[0].used); /* the partition's slot is free again */
	/* The late answer finds nobody: no second reply, but the state still follows it. */
	answer(0, &m, 0, 2);
	CHECK_EQ(fk[i].nout, 1);
	CHECK_EQ(S.parts[0].state, PS_PAUSED);
}

static void test_partition_gone(void)
{
	struct ctl_conn *c;
	struct lvmm_ctl m;

	setup();
	c = host();
	feed(c, "status a\n");
	CHECK(got_ctl(0, &m));
	lc_channel_lost(&S, &S.parts[0]);
	CHECK_STR(reply(c, 0), "{\"ok\":false,\"error\":\"partition 'a' went away before answering\"}\n");
}

static void test_link_down_once(void)
{
	uint64_t ev0;
	struct ctl_conn *c;
	struct lvmm_ctl m0, m1;

	setup();
	ev0 = events_count();
	c = host();
	feed(c, "link-down l0\n");
	CHECK(got_ctl(0, &m0) && got_ctl(1, &m1));
	CHECK(m0.op == LVMM_CTL_LINK_DOWN && !strcmp(m0.dev, "net0"));
	answer(0, &m0, 0, 1);
	CHECK_EQ(replies(c), 0);
	answer(1, &m1, -ENODEV, 1);
	CHECK_STR(reply(c, 0), "{\"ok\":false,\"error\":\"partition 'b' could not link-down: No such device\"}\n");
	CHECK_EQ(events_count() - ev0, 1);
	/* Already down: nothing is asked, no event, and the reply says so. */
	c = host();
	feed(c, "link-down l0\n");
	CHECK(!got_ctl(0, &m0) && !got_ctl(1, &m1));
	CHECK_STR(reply(c, 0), "{\"ok\":true,\"link\":\"l0\",\"state\":\"down\",\"changed\":false}\n");
	CHECK_EQ(events_count() - ev0, 1);
	CHECK(!link_is_up(&S, 0));
}

static void test_upload_cut_short(void)
{
	struct ctl_conn *c;
	unsigned i;

	setup();
	c = host();
	i = ctl_conn_index(c);
	feed(c, "policy-load 100\nname: x\n");
	CHECK_EQ(c->phase, CP_UPLOAD);
	CHECK_EQ(c->upload_want, 92);
	/* A second uploader is refused while the first one runs. */
	{
		struct ctl_conn *d = host();

		feed(d, "policy-load 10\n");
		CHECK_STR(reply(d, 0), "{\"ok\":false,\"error\":\"another policy upload is in progress\"}\n");
	}
	ctl_eof(&S, c);
	CHECK_STR(fk[i].out[0], "{\"ok\":false,\"error\":\"policy-load: the payload ended after 8 of 100 bytes\"}\n");
	CHECK(fk[i].closed);
	/* The upload slot is free again. */
	c = host();
	feed(c, "policy-load 10\n");
	CHECK_EQ(c->phase, CP_UPLOAD);
}

/* ---- connections ------------------------------------------------------------------------- */

static void test_pools_and_limits(void)
{
	struct ctl_conn *c;
	char err[128] = "";
	unsigned k;

	setup();
	for (k = 0; k < CTL_HOST_PER_UID; k++)
		CHECK(ctl_conn_open_host(&S, 0, 1, err, sizeof(err)) != NULL);
	CHECK(ctl_conn_open_host(&S, 0, 1, err, sizeof(err)) == NULL);
	CHECK_STR(err, "too many control clients of uid 0 (at most 12 at a time)");
	for (k = CTL_HOST_PER_UID; k < CTL_HOST_MAX; k++)
		CHECK(ctl_conn_open_host(&S, 1000, 1, err, sizeof(err)) != NULL);
	CHECK(ctl_conn_open_host(&S, 1000, 1, err, sizeof(err)) == NULL);
	CHECK_STR(err, "too many control clients (at most 16 at a time)");
	/* Agent channels have their own slots: one per partition. */
	c = ctl_conn_open_agent(&S, 0);
	CHECK(c != NULL && c->agent && c->part == 0);
	CHECK(ctl_conn_open_agent(&S, 0) == NULL);
	CHECK(ctl_conn_open_agent(&S, 1) != NULL);
	CHECK(ctl_conn_open_agent(&S, CTL_AGENT_MAX) == NULL);
	CHECK(ctl_conn_agent(0) == c);
}

static void test_idle_host_and_agent(void)
{
	struct ctl_conn *h, *a;
	unsigned i;

	setup();
	h = host();
	i = ctl_conn_index(h);
	a = ctl_conn_open_agent(&S, 0);
	CHECK(a && a->deadline_ns == UINT64_MAX); /* an agent idles between requests */
	ctl_on_timer(&S, now_ns() + CTL_IDLE_MS * MS + 1);
	CHECK_STR(fk[i].out[0], "{\"ok\":false,\"error\":\"idle for 2 s without a complete request\"}\n");
	CHECK_EQ(h->phase, CP_CLOSING);
	CHECK_EQ(replies(a), 0);
	/* Drained for at most CTL_DRAIN_MS, then closed. */
	ctl_on_timer(&S, now_ns() + (CTL_IDLE_MS + CTL_DRAIN_MS) * MS + 2);
	CHECK(fk[i].closed);
	/* Mid-request, an agent has the same idle limit. */
	feed(a, "li");
	ctl_on_timer(&S, now_ns() + CTL_IDLE_MS * MS + 1);
	CHECK_EQ(replies(a), 1);
	CHECK_EQ(a->phase, CP_LINE);
}

static void test_shutdown_answers_everyone(void)
{
	struct ctl_conn *c, *idle;
	struct lvmm_ctl m;
	unsigned i, j;

	setup();
	c = host();
	i = ctl_conn_index(c);
	idle = host();
	j = ctl_conn_index(idle);
	feed(c, "pause a\n");
	CHECK(got_ctl(0, &m));
	ctl_shutdown(&S);
	CHECK_STR(fk[i].out[0], "{\"ok\":false,\"error\":\"the platform has shut down\"}\n");
	CHECK_STR(fk[j].out[0], "{\"ok\":false,\"error\":\"the platform has shut down\"}\n");
	CHECK(fk[i].closed && fk[j].closed);
	CHECK(!S.parts[0].asks[0].used);
}

/* ---- the life cycle: a stop escalates ------------------------------------------------------- */

static void test_stop_escalates_to_sigkill(void)
{
	struct ctl_conn *c;
	struct lvmm_ctl m;
	int st = 0;
	pid_t child;

	setup();
	child = fork();
	if (child == 0) {
		/* A wedged partition: never reads its socket, ignores what it can. */
		signal(SIGTERM, SIG_IGN);
		for (;;)
			pause();
	}
	S.parts[0].pid = child;
	c = host();
	feed(c, "stop a\n");
	CHECK_STR(reply(c, 0), "{\"ok\":true,\"partition\":\"a\",\"state\":\"stopping\",\"kill_after_ms\":3000}\n");
	CHECK(got_ctl(0, &m) && m.op == LVMM_CTL_STOP);
	CHECK_EQ(S.parts[0].state, PS_STOPPING);
	CHECK(lc_next_deadline(&S) <= now_ns() + LC_STOP_GRACE_MS * MS);
	lc_on_timer(&S, now_ns() + LC_STOP_GRACE_MS * MS / 2);
	CHECK(kill(child, 0) == 0); /* still within the grace */
	lc_on_timer(&S, now_ns() + LC_STOP_GRACE_MS * MS + 1);
	CHECK_EQ(waitpid(child, &st, 0), child);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(lc_reaped(&S, child, st));
	CHECK_EQ(S.parts[0].state, PS_EXITED);
	CHECK_EQ(S.parts[0].exit_code, 0); /* a forced stop is still a stop */
	CHECK_EQ(S.first_failure, 0);
	/* A second stop of an ended partition is refused. */
	c = host();
	feed(c, "stop a\n");
	CHECK_STR(reply(c, 0), "{\"ok\":false,\"error\":\"partition 'a' is not running (state exited)\"}\n");
}

/* The human form of events on stderr is logfmt: values with spaces, quotes or '=' are quoted. */
static void test_event_logfmt(void)
{
	struct event e;

	ev_begin(&e, "partition_exit", "a");
	ev_str(&e, "detail", "stopped by \"the\" supervisor");
	ev_str(&e, "eq", "x=y");
	ev_str(&e, "empty", "");
	ev_str(&e, "ctl", "a\nb\\");
	ev_u64(&e, "status", 0);
	CHECK_STR(e.human, "lvmm: event=partition_exit partition=a detail=\"stopped by \\\"the\\\" "
		  "supervisor\" eq=\"x=y\" empty=\"\" ctl=\"a\\nb\\\\\" status=0");
	/* The JSON form escapes the same text its own way. */
	CHECK(strstr(e.json, ",\"event\":\"partition_exit\",\"partition\":\"a\",\"detail\":\"stopped by "
		     "\\\"the\\\" supervisor\",\"eq\":\"x=y\",\"empty\":\"\",\"ctl\":\"a\\u000ab\\\\\","
		     "\"status\":0") != NULL);
}

int main(void)
{
	log_level = LOG_ERR;
	signal(SIGPIPE, SIG_IGN);
	RUN(test_list_then_close);
	RUN(test_split_and_eof_terminated);
	RUN(test_usage_errors);
	RUN(test_overlong_host);
	RUN(test_overlong_agent_recovers);
	RUN(test_partition_refusal_is_not_ok);
	RUN(test_pause_resume_status);
	RUN(test_no_answer_times_out_once);
	RUN(test_partition_gone);
	RUN(test_link_down_once);
	RUN(test_upload_cut_short);
	RUN(test_pools_and_limits);
	RUN(test_idle_host_and_agent);
	RUN(test_shutdown_answers_everyone);
	RUN(test_stop_escalates_to_sigkill);
	RUN(test_event_logfmt);
	return unit_done();
}
