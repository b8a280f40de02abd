// SPDX-License-Identifier: MIT
/*
 * The control API inside the supervisor (src/supervisor/ctl.c): fixed-layout
 * requests fed to ctl_request() with a fake transport that records replies,
 * and partitions faked at the protocol level (the test holds the far end of
 * each partition's socketpair, reads the LVMM_MSG_CTL the supervisor sends
 * and answers as a partition would, or does not). Also the request
 * validator, the pools, policy uploads as sealed memfds, event filters, how
 * a subject is read from a connection (frontend.c), the events' two forms,
 * and the life cycle's stop escalation with a real (sleeping) child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/policy.h"
#include <jansson.h>

#include "lvmm/ctl_proto.h"
/* from src/api/api.h (its agent_open clashes with this file's) */
int api_reply_check(const struct lvmm_api_reply *r, size_t len);
#include "common/log.h"
#include "common/proto.h"
#include "config/policy_load.h"
#include "lvmm/trust_proto.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/policy.h"
#include "supervisor/supervisor_int.h"
#include "unit/unit.h"

#define MS 1000000ULL
#define NP 4 /* partitions a, b, c, d; link l0 joins a and b */

static struct platform plat;
static struct sup S;
static int far_end[NP] = { -1, -1, -1, -1 }; /* the fake partitions' ends */

/* ---- a transport that records ---------------------------------------------------------- */

static struct {
	union {
		struct lvmm_api_reply r;
		char raw[offsetof(struct lvmm_api_reply, u) + sizeof(struct lvmm_api_list)];
	} rep[32];
	size_t len[32];
	unsigned n;
	int blob_fd; /* a copy of the last reply's blob, or -1 */
} fk = { .blob_fd = -1 };

static void t_reply(struct sup *s, const struct lvmm_api_reply *r, size_t len, int fd)
{
	(void)s;
	if (fk.blob_fd >= 0)
		close(fk.blob_fd);
	fk.blob_fd = fd >= 0 ? dup(fd) : -1;
	if (fk.n < 32 && len <= sizeof(fk.rep[0])) {
		memcpy(&fk.rep[fk.n], r, len);
		fk.len[fk.n] = len;
	}
	fk.n++;
}


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

/* ---- a platform of four running partitions; link l0 joins a and b ----------------------- */

static void setup(void)
{
	static bool once, links_made; /* links_close() only after a links_init() */
	unsigned i;
	int sv[2];

	if (!once) {
		once = true;
		plat.nparts = NP;
		for (i = 0; i < NP; i++) {
			struct plat_part *p = &plat.parts[i];

			plat_part_defaults(p);
			snprintf(p->name, sizeof(p->name), "%c", 'a' + i);
			if (i < 2) {
				p->ndevs = 1;
				p->devs[0].type = LVMM_DEV_NET_LINK;
				snprintf(p->devs[0].id, sizeof(p->devs[0].id), "net0");
				snprintf(p->devs[0].link, sizeof(p->devs[0].link), "l0");
			}
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
	ctl_drop_all(&S, false);
	for (i = 0; i < NP; i++) {
		if (far_end[i] >= 0)
			close(far_end[i]);
		if (S.parts[i].sock >= 0)
			close(S.parts[i].sock);
	}
	if (links_made)
		links_close(&S);
	if (links_init(&S))
		abort();
	links_made = true;
	memset(&plat.policy, 0, sizeof(plat.policy));
	if (acm_init(&S))
		abort();
	lc_init(&S);
	S.stopping = false;
	S.first_failure = 0;
	for (i = 0; i < NP; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
			abort();
		S.parts[i].sock = sv[0];
		far_end[i] = sv[1];
		S.parts[i].pid = 0x7ffffff0 + (pid_t)i; /* no such process: nothing is signalled */
		S.parts[i].state = PS_RUNNING;
	}
	if (fk.blob_fd >= 0)
		close(fk.blob_fd);
	memset(&fk, 0, sizeof(fk));
	fk.blob_fd = -1;
	ctl_setup(&S, t_reply);
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

static const struct ctl_subject root = { .uid = 0 };

/* Ask op on target as sub (request id 7 + the count so far). */
static void ask_as(const struct ctl_subject *sub, uint32_t op, const char *target)
{
	struct lvmm_api_req q = { .id = 7 + fk.n, .op = op };

	snprintf(q.target, sizeof(q.target), "%s", target);
	snprintf(q.request_id, sizeof(q.request_id), "test-%u", op);
	ctl_request(&S, sub, &q, -1);
}

static void ask(uint32_t op, const char *target)
{
	ask_as(&root, op, target);
}

static const struct lvmm_api_reply *last(void)
{
	return &fk.rep[fk.n ? MIN(fk.n, 32U) - 1 : 0].r;
}

/* setup() under policy text pol, partitions a-d labelled as given ("" for none). */
static void setup_labelled(const char *pol, const char *const labels[NP])
{
	FILE *e = fopen("/dev/null", "w");
	unsigned i;

	setup();
	CHECK(e && policy_load("<t>", pol, strlen(pol), &plat.policy, e) == 0);
	fclose(e);
	for (i = 0; i < NP; i++)
		snprintf(plat.parts[i].label, LVMM_NAME_MAX, "%s", labels[i]);
}

/* Back to no policy and no labels, for the tests that follow. */
static void unlabel(void)
{
	memset(&plat.policy, 0, sizeof(plat.policy));
	for (unsigned i = 0; i < NP; i++)
		plat.parts[i].label[0] = 0;
}

/* The last reply failed with err and reason why. */
static bool failed_with(int err, const char *why)
{
	const struct lvmm_api_reply *r = last();

	if (!fk.n || r->result != err || strcmp(r->error, why) || r->body != LVMM_BODY_NONE) {
		printf("# reply: %d '%s'\n", r->result, r->error);
		return false;
	}
	return fk.len[fk.n - 1] == offsetof(struct lvmm_api_reply, u);
}

/* ---- requests answered by the supervisor alone --------------------------------------------- */

static void test_list(void)
{
	const struct lvmm_api_list *b;

	setup();
	ask(LVMM_OP_LIST, "");
	CHECK_EQ(fk.n, 1);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_LIST);
	b = (const void *)&last()->u;
	CHECK_EQ(b->nparts, NP);
	CHECK_EQ(fk.len[0], lvmm_api_reply_len(LVMM_BODY_LIST, NP));
	CHECK_STR(b->parts[0].name, "a");
	CHECK_STR(b->parts[0].state, "running");
	CHECK_STR(b->parts[0].role, "user");
	CHECK_EQ(b->parts[1].pid, 0x7ffffff1);
	CHECK_EQ(b->nlinks, 1);
	CHECK_STR(b->links[0].name, "l0");
	CHECK_STR(b->links[0].ends[1], "b");
	CHECK_EQ(b->links[0].up, 1);
	CHECK_EQ(last()->id, 7);
	CHECK_EQ(ctl_next_deadline(&S), UINT64_MAX); /* nothing waits */
}

static void test_targets(void)
{
	setup();
	ask(LVMM_OP_PAUSE, "");
	CHECK(failed_with(-EINVAL, "usage: pause PARTITION"));
	ask(LVMM_OP_LIST, "a");
	CHECK(failed_with(-EINVAL, "usage: list"));
	ask(LVMM_OP_PAUSE, "nosuch");
	CHECK(failed_with(-ENOENT, "no partition called 'nosuch'"));
	ask(LVMM_OP_LINK_DOWN, "nosuch");
	CHECK(failed_with(-ENOENT, "no link called 'nosuch'"));
	ask(LVMM_OP_POLICY_LOAD, "");
	CHECK(failed_with(-EINVAL, "policy-load: the payload is missing"));
	CHECK_EQ(ctl_next_deadline(&S), UINT64_MAX);
}

/* Every field of a request is checked before the supervisor uses it. */
static void test_request_check(void)
{
	struct lvmm_api_req good = { .op = LVMM_OP_STATUS, .target = "a", .request_id = "abc-1.2_x:y" }, q;

	CHECK_EQ(ctl_req_check(&good, sizeof(good), 1), 0);
	CHECK_EQ(ctl_req_check(&good, sizeof(good) - 1, 1), -EPROTO);
	CHECK_EQ(ctl_req_check(&good, sizeof(good), 0), -EPROTO);
	CHECK_EQ(ctl_req_check(&good, sizeof(good), 2), -EPROTO);
	q = good, q.op = 0;
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, q.op = LVMM_OP_MAX + 1;
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, q.flags = 1;
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, q.arg_len = LVMM_API_ARG_MAX + 1;
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, q.arg_len = 2, q.arg[2] = 1; /* bytes past arg_len must be zero */
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, q.arg_len = 3, q.arg[2] = 1;
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), 0);
	q = good, memset(q.target, 'x', sizeof(q.target));
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, memset(q.request_id, 'x', sizeof(q.request_id));
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, snprintf(q.request_id, sizeof(q.request_id), "a\"b");
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	q = good, q.op = LVMM_OP_POLICY_LOAD;
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 1), -EPROTO);
	CHECK_EQ(ctl_req_check(&q, sizeof(q), 2), 0);
}

/* ---- requests answered by partitions ----------------------------------------------------- */

/* Found by reading (issue 12): a partition's refusal was reported as a success. */
static void test_partition_refusal_fails(void)
{
	static const struct { uint32_t op, ctl; int result; const char *err; } cases[] = {
		{ LVMM_OP_PAUSE, LVMM_CTL_PAUSE, -EBUSY, "partition 'a' could not pause: Device or resource busy" },
		{ LVMM_OP_RESUME, LVMM_CTL_RESUME, -ESRCH, "partition 'a' could not resume: No such process" },
		{ LVMM_OP_STATUS, LVMM_CTL_STATS, -EIO, "partition 'a' could not status: Input/output error" },
	};
	unsigned k;

	for (k = 0; k < ARRAY_SIZE(cases); k++) {
		struct lvmm_ctl m;

		setup();
		ask(cases[k].op, "a");
		CHECK_EQ(fk.n, 0);
		CHECK(ctl_next_deadline(&S) <= now_ns() + CTL_ANSWER_MS * MS); /* it waits, bounded */
		CHECK(got_ctl(0, &m));
		CHECK_EQ(m.op, cases[k].ctl);
		answer(0, &m, cases[k].result, 1);
		CHECK_EQ(fk.n, 1);
		CHECK(failed_with(-ECANCELED, cases[k].err));
		CHECK_EQ(S.parts[0].state, PS_RUNNING);
		CHECK_EQ(ctl_next_deadline(&S), UINT64_MAX);
	}
}

static void test_pause_resume_status(void)
{
	uint64_t ev0 = events_count();
	struct lvmm_ctl m;

	setup();
	ask(LVMM_OP_PAUSE, "a");
	CHECK(got_ctl(0, &m));
	answer(0, &m, 0, 2);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_PART);
	CHECK_STR(last()->u.part.partition, "a");
	CHECK_STR(last()->u.part.state, "paused");
	CHECK_EQ(last()->u.part.flags, 0);
	CHECK_EQ(S.parts[0].state, PS_PAUSED);
	ask(LVMM_OP_RESUME, "a");
	CHECK(got_ctl(0, &m));
	answer(0, &m, 0, 1);
	CHECK_STR(last()->u.part.state, "running");
	CHECK_EQ(S.parts[0].state, PS_RUNNING);
	CHECK_EQ(events_count() - ev0, 2); /* partition_paused, partition_resumed */
	ask(LVMM_OP_STATUS, "b");
	CHECK(got_ctl(1, &m));
	answer(1, &m, 0, 1);
	CHECK_EQ(last()->u.part.flags, LVMM_API_PART_STATS);
	CHECK_EQ(last()->u.part.stats.exits_io, 42);
	CHECK_EQ(last()->u.part.stats.ndevs, 1);
	CHECK_STR(last()->u.part.stats.devs[0].id, "net0");
	/* A partition that is not running is not asked. */
	S.parts[1].state = PS_STARTING;
	ask(LVMM_OP_PAUSE, "b");
	CHECK(!got_ctl(1, &m));
	CHECK(failed_with(-ESRCH, "partition 'b' is not running (state starting)"));
}

/* shutdown/reboot: the power button is pressed; the timeout comes from num[0] (0: the default). */
static void test_shutdown_reboot(void)
{
	struct lvmm_api_req q = { .id = 1, .op = LVMM_OP_SHUTDOWN, .target = "a" };
	struct lvmm_ctl m;

	setup();
	ctl_request(&S, &root, &q, -1);
	CHECK(got_ctl(0, &m));
	CHECK_EQ(m.op, LVMM_CTL_POWER_BUTTON);
	CHECK_EQ(fk.n, 0); /* answered once the partition has pressed it */
	answer(0, &m, 0, 1);
	CHECK_EQ(fk.n, 1);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_PART);
	CHECK_STR(last()->u.part.partition, "a");
	CHECK_STR(last()->u.part.state, "running");
	CHECK_EQ(last()->u.part.flags, LVMM_API_PART_POWER);
	CHECK_EQ(last()->u.part.timeout_ms, LC_POWER_TIMEOUT_MS);
	CHECK(S.parts[0].power_at_ns && S.parts[0].stop_requested && !S.parts[0].restart_requested);
	q = (struct lvmm_api_req){ .id = 2, .op = LVMM_OP_REBOOT, .target = "b", .num = { 5 } };
	ctl_request(&S, &root, &q, -1);
	CHECK(got_ctl(1, &m));
	answer(1, &m, 0, 1);
	CHECK_EQ(last()->u.part.timeout_ms, 5000);
	CHECK(S.parts[1].restart_requested);
	/* The supervisor checks the range itself (the front-end does too). */
	q = (struct lvmm_api_req){ .id = 3, .op = LVMM_OP_SHUTDOWN, .target = "c", .num = { 3601 } };
	ctl_request(&S, &root, &q, -1);
	CHECK(!got_ctl(2, &m));
	CHECK(failed_with(-EINVAL, "shutdown: the timeout must be 1-3600 seconds"));
	CHECK(!S.parts[2].power_at_ns);
	S.parts[2].state = PS_STARTING;
	q.num[0] = 0;
	ctl_request(&S, &root, &q, -1);
	CHECK(!got_ctl(2, &m));
	CHECK(failed_with(-ESRCH, "partition 'c' is not running (state starting)"));
}

static void test_no_answer_times_out_once(void)
{
	struct lvmm_ctl m;

	setup();
	ask(LVMM_OP_PAUSE, "a");
	CHECK(got_ctl(0, &m));
	CHECK(ctl_next_deadline(&S) <= now_ns() + CTL_ANSWER_MS * MS);
	ctl_on_timer(&S, now_ns() + CTL_ANSWER_MS * MS + 1);
	CHECK_EQ(fk.n, 1);
	CHECK(failed_with(-ETIMEDOUT, "no answer from the partition within 3 s"));
	CHECK(!S.parts[0].asks[0].used); /* the partition's slot is free again */
	CHECK_EQ(ctl_next_deadline(&S), UINT64_MAX);
	/* The late answer finds nobody: no second reply, but the state still follows it. */
	answer(0, &m, 0, 2);
	CHECK_EQ(fk.n, 1);
	CHECK_EQ(S.parts[0].state, PS_PAUSED);
}

static void test_partition_gone(void)
{
	struct lvmm_ctl m;

	setup();
	ask(LVMM_OP_STATUS, "a");
	CHECK(got_ctl(0, &m));
	lc_channel_lost(&S, &S.parts[0]);
	CHECK(failed_with(-ESRCH, "partition 'a' went away before answering"));
}

static int memfd_with(const char *text, bool seal)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
		abort();
	return fd;
}

/*
 * attest: refusals the supervisor decides itself, and the trust process's
 * answer (its JSON members in a sealed memfd) passed on to the front-end. The
 * answer is matched by token: of every token a late or hostile answer could
 * carry, only the waiting request's is taken, and only once. (No trust
 * process here: the answer is handed to a waiting status request, the one
 * request in slot 0.)
 */
static void test_attest(void)
{
	static const char body[] = "\"partition\":\"a\",\"nonce\":\"5eed\"";
	struct lvmm_api_req q = { .id = 99, .op = LVMM_OP_ATTEST, .arg_len = 2, .arg = { 0x5e, 0xed } };
	char got[1024];
	struct lvmm_ctl m;
	unsigned n, g;
	ssize_t k;
	int fd;

	setup();
	snprintf(q.target, sizeof(q.target), "a");
	ctl_request(&S, &root, &q, -1);
	CHECK(failed_with(-ECANCELED, "partition 'a' cannot be attested: it has no vTPM (a '{ type: tpm }' device)"));
	q.arg_len = 0;
	memset(q.arg, 0, sizeof(q.arg));
	ctl_request(&S, &root, &q, -1);
	CHECK(failed_with(-EINVAL, "attest: the nonce must be 1-64 bytes (2-128 hex digits)"));

	ask(LVMM_OP_STATUS, "a");
	CHECK(got_ctl(0, &m));
	n = fk.n;
	/* A late or foreign answer: its memfd is closed, nothing is sent. */
	fd = memfd_with(body, true);
	ctl_attested(&S, 0xffffffffU, &S.parts[0], 0, "", fd, strlen(body)); /* slot 255: none */
	CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	for (g = 1; g < (1U << 16); g++) {
		fd = memfd_with(body, true);
		ctl_attested(&S, g << 8, &S.parts[0], 0, "", fd, strlen(body));
		if (fk.n != n)
			break;
		CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	}
	/* The waiting request's: its memfd goes out with the reply as it is. */
	CHECK_EQ(fk.n, n + 1);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_BLOB);
	CHECK_EQ(last()->u.blob.format, LVMM_BLOB_JSON_FIELDS);
	CHECK_EQ(last()->u.blob.size, strlen(body));
	k = fk.blob_fd >= 0 ? pread(fk.blob_fd, got, sizeof(got) - 1, 0) : -1;
	got[k > 0 ? k : 0] = 0;
	CHECK_STR(got, body);
	/* The same answer again: the request is over, nothing more is sent. */
	n = fk.n;
	for (g = 0; g < (1U << 16); g++)
		ctl_attested(&S, g << 8, &S.parts[0], 0, "", -1, 0);
	CHECK_EQ(fk.n, n);
	/* A failed attestation: the trust process's reason. */
	ask(LVMM_OP_STATUS, "a");
	CHECK(got_ctl(0, &m));
	for (g = 0; g < (1U << 16) && fk.n == n; g++)
		ctl_attested(&S, g << 8, &S.parts[0], -ENODATA, "no measured start yet", -1, 0);
	CHECK(failed_with(-EIO, "partition 'a' could not be attested: No data available: no measured start yet"));
}

static void test_link_down_once(void)
{
	uint64_t ev0;
	struct lvmm_ctl m0, m1;

	setup();
	ev0 = events_count();
	ask(LVMM_OP_LINK_DOWN, "l0");
	CHECK(got_ctl(0, &m0) && got_ctl(1, &m1));
	CHECK(m0.op == LVMM_CTL_LINK_DOWN && !strcmp(m0.dev, "net0"));
	answer(0, &m0, 0, 1);
	CHECK_EQ(fk.n, 0);
	answer(1, &m1, -ENODEV, 1);
	CHECK(failed_with(-ECANCELED, "partition 'b' could not link-down: No such device"));
	CHECK_EQ(events_count() - ev0, 1);
	/* Already down: nothing is asked, no event, and the reply says so. */
	ask(LVMM_OP_LINK_DOWN, "l0");
	CHECK(!got_ctl(0, &m0) && !got_ctl(1, &m1));
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_LINK);
	CHECK_STR(last()->u.link.link, "l0");
	CHECK_EQ(last()->u.link.up, 0);
	CHECK_EQ(last()->u.link.changed, 0);
	CHECK_EQ(events_count() - ev0, 1);
	CHECK(!link_is_up(&S, 0));
	/* isolate: a's links go down (l0 is already). */
	ask(LVMM_OP_ISOLATE, "a");
	CHECK_EQ(last()->body, LVMM_BODY_ISOLATE);
	CHECK_EQ(last()->u.isolate.nlinks, 1);
	CHECK_STR(last()->u.isolate.links[0], "l0");
}

/* ---- policy uploads -------------------------------------------------------------------------- */

static void upload(const char *text, bool seal)
{
	struct lvmm_api_req q = { .id = 99, .op = LVMM_OP_POLICY_LOAD };

	/* sealed: compiled as the front-end compiles it; unsealed: the raw text */
	ctl_request(&S, &root, &q, seal ? api_policy_memfd(text, strlen(text)) : memfd_with(text, seal));
}

static void test_policy_upload(void)
{
	static const char good[] = "name: t1\nste_types: [x_t]\nlabels:\n  - { name: l, ste: [x_t] }\n";
	uint64_t ev0;

	setup();
	ev0 = events_count();
	/* Not sealed: the front-end could change it while we read: refused. */
	upload(good, false);
	CHECK(failed_with(-EINVAL, "policy-load: the compiled policy must be a sealed memfd of 77832 bytes"));
	upload("name: [", true);
	CHECK_EQ(last()->result, -EINVAL);
	CHECK(!strncmp(last()->error, "the new policy is invalid: ", 27));
	CHECK_EQ(events_count() - ev0, 1); /* policy_rejected */
	/* Partitions without labels cannot stay under it. */
	for (unsigned i = 0; i < NP; i++)
		acm_partition_start_commit(&S, &S.parts[i]);
	upload(good, true);
	CHECK_EQ(last()->result, -ECANCELED);
	CHECK_STR(last()->error, "policy 't1' refused: running partition 'a' has no label in the new "
		  "policy; nothing changed");
	CHECK(!plat.policy.present);
	/* None runs: it loads; the front-end re-decides event filters on this reply. */
	for (unsigned i = 0; i < NP; i++)
		acm_partition_stop(&S, &S.parts[i]);
	upload(good, true);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_POLICY);
	CHECK_STR(last()->u.policy.policy, "t1");
	CHECK(plat.policy.present);
	memset(&plat.policy, 0, sizeof(plat.policy));
}

/* ---- the events a subject may follow ----------------------------------------------------------- */

static void test_events_filter(void)
{
	static const char pol[] =
		"name: ev\nste_types: [x_t, y_t]\nlabels:\n"
		"  - { name: lx, ste: [x_t] }\n  - { name: ly, ste: [y_t] }\n"
		"clients:\n  - { uid: 0, label: lx, operations: [events, list] }\n"
		"  - { partition: c, label: ly, operations: [events] }\n";
	const struct ctl_subject agent_c = { .agent = true, .part = 2 }, agent_d = { .agent = true, .part = 3 };
	FILE *e = fopen("/dev/null", "w");

	setup();
	/* No policy: a host client sees everything, the platform's events too. */
	ask(LVMM_OP_EVENTS, "");
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_EVENTS);
	CHECK_EQ(last()->u.events.nparts, NP);
	CHECK_EQ(last()->u.events.parts[0], 0xf);
	CHECK_EQ(last()->u.events.platform, 1);
	/* With one: a partition's events only if the subject's label shares a type with it. */
	CHECK(e && policy_load("<t>", pol, strlen(pol), &plat.policy, e) == 0);
	fclose(e);
	snprintf(plat.parts[0].label, LVMM_NAME_MAX, "lx");
	snprintf(plat.parts[1].label, LVMM_NAME_MAX, "ly");
	snprintf(plat.parts[2].label, LVMM_NAME_MAX, "ly");
	snprintf(plat.parts[3].label, LVMM_NAME_MAX, "lx");
	ask(LVMM_OP_EVENTS, "");
	CHECK_EQ(last()->u.events.parts[0], 0x9); /* a and d */
	CHECK_EQ(last()->u.events.platform, 0);
	ask_as(&agent_c, LVMM_OP_EVENTS, "");
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->u.events.parts[0], 0x6); /* b and c */
	ask_as(&agent_d, LVMM_OP_EVENTS, "");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(strstr(last()->error, "partition:d may not events") != NULL);
	unlabel();
}

/*
 * metrics, the supervisor's share (the front-end gathers, src/api/gather.c):
 * the partitions the subject may see metrics of (a list without links), one
 * partition's counters (asked of it, whose process answered, a late one
 * failed after CTL_METRICS_MS), the ACM's counters only to a subject that
 * sees every partition. The supervisor keeps no counters of its own.
 */
static void test_metrics(void)
{
	static const char pol[] =
		"name: mx\nste_types: [x_t, y_t]\nlabels:\n"
		"  - { name: lx, ste: [x_t] }\n  - { name: ly, ste: [y_t] }\n"
		"clients:\n  - { uid: 0, label: lx, operations: [metrics] }\n";
	const struct lvmm_api_list *l;
	struct lvmm_ctl m[NP];
	FILE *e = fopen("/dev/null", "w");

	setup();
	S.parts[3].state = PS_STOPPED;
	S.parts[3].pid = 0;
	ask(LVMM_OP_METRICS, "");
	l = (const void *)&last()->u;
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_LIST);
	CHECK_EQ(l->nparts, NP);
	CHECK_EQ(l->nlinks, 0);
	CHECK_STR(l->parts[3].state, "stopped");
	CHECK(!got_ctl(0, &m[0])); /* nobody is asked for it */
	ask(LVMM_OP_METRICS_ACM, "");
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_ACM);
	CHECK_STR(last()->u.acm.policy, "none");
	/* One partition's counters: its answer, with the pid of the process that gave it. */
	ask(LVMM_OP_METRICS_PART, "a");
	CHECK(got_ctl(0, &m[0]));
	CHECK_EQ(m[0].op, LVMM_CTL_STATS);
	answer(0, &m[0], 0, 1);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_PART);
	CHECK(last()->u.part.flags & LVMM_API_PART_STATS);
	CHECK_EQ(last()->u.part.stats.exits_io, 42);
	CHECK_EQ(last()->u.part.pid, (uint32_t)S.parts[0].pid);
	/* A late one fails after CTL_METRICS_MS (not CTL_ANSWER_MS): a scrape is not held. */
	ask(LVMM_OP_METRICS_PART, "c");
	CHECK(got_ctl(2, &m[2]));
	CHECK(ctl_next_deadline(&S) <= now_ns() + CTL_METRICS_MS * MS);
	ctl_on_timer(&S, now_ns() + CTL_METRICS_MS * MS + 1);
	CHECK(failed_with(-ETIMEDOUT, "no answer from the partition within 1 s"));
	CHECK(!S.parts[2].asks[0].used);
	ask(LVMM_OP_METRICS_PART, "d");
	CHECK_EQ(last()->result, -ESRCH);
	/* With a policy: only the partitions whose label shares a type; no ACM counters. */
	CHECK(e && policy_load("<t>", pol, strlen(pol), &plat.policy, e) == 0);
	fclose(e);
	snprintf(plat.parts[0].label, LVMM_NAME_MAX, "lx");
	snprintf(plat.parts[1].label, LVMM_NAME_MAX, "ly");
	snprintf(plat.parts[2].label, LVMM_NAME_MAX, "ly");
	snprintf(plat.parts[3].label, LVMM_NAME_MAX, "lx");
	ask(LVMM_OP_METRICS, "");
	l = (const void *)&last()->u;
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(l->nparts, 2);
	CHECK_STR(l->parts[0].name, "a");
	CHECK_STR(l->parts[1].name, "d");
	CHECK_EQ(fk.len[fk.n - 1], lvmm_api_reply_len(LVMM_BODY_LIST, 2));
	ask(LVMM_OP_METRICS_ACM, "");
	CHECK(failed_with(-EACCES, "metrics: the ACM's counters need metrics on every partition"));
	ask(LVMM_OP_METRICS_PART, "b");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(!got_ctl(1, &m[1]));
	unlabel();
	CHECK_EQ(ctl_next_deadline(&S), UINT64_MAX);
}

/* ---- pools -------------------------------------------------------------------------------------- */

static void test_pools(void)
{
	const struct ctl_subject other = { .uid = 1000 }, agent = { .agent = true, .part = 0 };
	unsigned k;

	setup();
	/* Partitions accept LC_ASK_MAX requests each: a, b, c, d give 16 that wait. */
	for (k = 0; k < CTL_HOST_PER_UID; k++)
		ask(LVMM_OP_STATUS, (const char[]){ (char)('a' + k / LC_ASK_MAX), 0 });
	CHECK_EQ(fk.n, 0); /* all 12 wait; the 13th of that uid is refused: */
	ask(LVMM_OP_LIST, "");
	CHECK(failed_with(-EAGAIN, "too many control requests of uid 0 in flight (at most 12)"));
	for (k = CTL_HOST_PER_UID; k < CTL_HOST_MAX; k++)
		ask_as(&other, LVMM_OP_STATUS, "d");
	CHECK_EQ(fk.n, 1);
	ask_as(&other, LVMM_OP_LIST, "");
	CHECK(failed_with(-EAGAIN, "too many control requests in flight (at most 16)"));
	/* Agent channels have their own slots, one request at a time. */
	ask_as(&agent, LVMM_OP_LIST, "");
	CHECK_EQ(last()->result, 0);
	/* Everything is answered once at shutdown, and the partitions' slots are free. */
	k = fk.n;
	ctl_drop_all(&S, true);
	CHECK_EQ(fk.n - k, CTL_HOST_MAX);
	CHECK(failed_with(-ESHUTDOWN, "the platform has shut down"));
	CHECK_EQ(ctl_next_deadline(&S), UINT64_MAX);
	CHECK(!S.parts[0].asks[0].used && !S.parts[3].asks[3].used);
}

/* ---- who asks (frontend.c) ------------------------------------------------------------------------- */

/*
 * Regression (design review): the front-end passes the asking connection;
 * only a stream accepted on the control socket may stand for a client. A
 * socketpair or a listening socket reports the supervisor's own (root)
 * credentials, a connection to another server that server's: a front-end
 * that passed one of those would have been taken for root.
 */
static void test_subject_from_connection(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[108], other[108];
	int l, l2, c, a, c2, sv[2];
	uid_t uid = 12345;

	snprintf(path, sizeof(path), "/tmp/lvmm-test-ctl.%d.sock", getpid());
	snprintf(other, sizeof(other), "/tmp/lvmm-test-ctl.%d.other", getpid());
	unlink(path);
	unlink(other);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(l >= 0 && !bind(l, (struct sockaddr *)&sa, sizeof(sa)) && !listen(l, 4));
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(!connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	CHECK_EQ(fe_conn_uid(a, path, &uid), 0);
	CHECK_EQ(uid, geteuid());
	/* Not our socket's client: refused, whatever its credentials say. */
	CHECK_EQ(fe_conn_uid(a, other, &uid), -EACCES);
	CHECK_EQ(fe_conn_uid(a, "", &uid), -EACCES);
	CHECK_EQ(fe_conn_uid(l, path, &uid), -EACCES);  /* the listener itself */
	CHECK_EQ(fe_conn_uid(c, path, &uid), -EACCES);  /* the client's own end */
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK_EQ(fe_conn_uid(sv[0], path, &uid), -EACCES);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", other);
	l2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(l2 >= 0 && !bind(l2, (struct sockaddr *)&sa, sizeof(sa)) && !listen(l2, 4));
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(!connect(c2, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK_EQ(fe_conn_uid(c2, other, &uid), -EACCES); /* a connection to a server: its creds */
	close(c2), close(l2), close(sv[0]), close(sv[1]), close(a), close(c), close(l);
	unlink(path);
	unlink(other);
}

/* ---- the life cycle: a stop escalates ------------------------------------------------------- */

static void test_stop_escalates_to_sigkill(void)
{
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
	ask(LVMM_OP_STOP, "a");
	CHECK_EQ(last()->result, 0);
	CHECK_STR(last()->u.part.state, "stopping");
	CHECK_EQ(last()->u.part.flags, LVMM_API_PART_KILL_AFTER);
	CHECK_EQ(last()->u.part.kill_after_ms, 3000);
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
	ask(LVMM_OP_STOP, "a");
	CHECK(failed_with(-ESRCH, "partition 'a' is not running (state exited)"));
}

/* ---- events ------------------------------------------------------------------------------------ */

static struct { char part[LVMM_NAME_MAX]; char line[EV_LINE_MAX]; unsigned n; } sunk;

static void sink(const char *partition, const char *line, size_t len)
{
	snprintf(sunk.part, sizeof(sunk.part), "%s", partition ? partition : "-");
	snprintf(sunk.line, sizeof(sunk.line), "%.*s", (int)len, line);
	sunk.n++;
}

/* The human form of events on stderr is logfmt: values with spaces, quotes or '=' are quoted. */
static void test_event_forms(void)
{
	struct event e;

	ev_begin(&e, "partition_exit", "a");
	ev_str(&e, "detail", "stopped by \"the\" supervisor");
	ev_str(&e, "eq", "x=y");
	ev_str(&e, "empty", "");
	ev_str(&e, "ctl", "a\nb\\");
	ev_u64(&e, "status", 0);
	e.human[e.hlen] = 0;
	CHECK_STR(e.human, "lvmm: event=partition_exit partition=a detail=\"stopped by \\\"the\\\" "
		  "supervisor\" eq=\"x=y\" empty=\"\" ctl=\"a\\nb\\\\\" status=0");
	/* The JSON form escapes the same text its own way. */
	e.json[e.jlen] = 0;
	CHECK(strstr(e.json, ",\"event\":\"partition_exit\",\"partition\":\"a\",\"detail\":\"stopped by "
		     "\\\"the\\\" supervisor\",\"eq\":\"x=y\",\"empty\":\"\",\"ctl\":\"a\\u000ab\\\\\","
		     "\"status\":0") != NULL);
	/* A request's events carry its id; every line also goes to the sink, with its partition. */
	events_set_sink(sink);
	ev_set_request("req-1");
	ev_begin(&e, "link_down", NULL);
	ev_hex(&e, "gpa", 0x1000);
	ev_end(&e);
	ev_set_request(NULL);
	CHECK_STR(sunk.part, "-");
	CHECK(strstr(sunk.line, ",\"event\":\"link_down\",\"gpa\":\"0x1000\",\"request_id\":\"req-1\"}\n") != NULL);
	ev_begin(&e, "partition_ready", "b");
	ev_end(&e);
	CHECK_STR(sunk.part, "b");
	CHECK(strstr(sunk.line, "\"partition\":\"b\"}\n") != NULL);
	events_set_sink(NULL);
}

/* ---- remote management: the window, the certificate subject, the audit trail ------------------ */

static struct { unsigned requests, enabled, disabled; char last[EV_LINE_MAX]; } audit;

static void remote_sink(const char *partition, const char *line, size_t len)
{
	(void)partition;
	audit.requests += strstr(line, "\"event\":\"remote_request\"") != NULL;
	audit.enabled += strstr(line, "\"event\":\"remote_enabled\"") != NULL;
	audit.disabled += strstr(line, "\"event\":\"remote_disabled\"") != NULL;
	if (strstr(line, "\"event\":\"remote_"))
		snprintf(audit.last, sizeof(audit.last), "%.*s", (int)len, line);
}

static void ask_window(const struct ctl_subject *sub, uint64_t secs)
{
	struct lvmm_api_req q = { .id = 7 + fk.n, .op = LVMM_OP_REMOTE_ENABLE, .num = { secs } };

	ctl_request(&S, sub, &q, -1);
}

static void test_remote_window(void)
{
	static const char pol[] =
		"name: rm\nste_types: [x_t, y_t]\nlabels:\n"
		"  - { name: lx, ste: [x_t] }\n  - { name: ly, ste: [y_t] }\n"
		"clients:\n  - { uid: 0, label: lx, operations: [all] }\n"
		"  - { cert_sha256: \"sha256 Fingerprint=01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:"
		"11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20\", label: lx, operations: [list, status, all_not] }\n";
	static const char pol_ok[] =
		"name: rm\nste_types: [x_t, y_t]\nlabels:\n"
		"  - { name: lx, ste: [x_t] }\n  - { name: ly, ste: [y_t] }\n"
		"clients:\n  - { uid: 0, label: lx, operations: [all] }\n"
		"  - { cert_sha256: \"sha256 Fingerprint=01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:"
		"11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20\", label: lx, operations: [list, status, events, remote-enable, remote-status] }\n"
		"  - { partition: c, label: lx, operations: [all] }\n";
	struct ctl_subject remote = { .remote = true, .uid = (uid_t)-1 }, stranger = remote;
	const struct ctl_subject agent_c = { .agent = true, .part = 2 };
	FILE *e = fopen("/dev/null", "w");
	unsigned i;

	setup();
	memset(&audit, 0, sizeof(audit));
	events_set_sink(remote_sink);
	for (i = 0; i < 32; i++)
		remote.cert[i] = (uint8_t)(i + 1), stranger.cert[i] = 0xee;
	/* The policy names a certificate by its fingerprint; a typo in an operation is reported. */
	CHECK(e && policy_load("<t>", pol, strlen(pol), &plat.policy, e) > 0);
	CHECK(policy_load("<t>", pol_ok, strlen(pol_ok), &plat.policy, e) == 0);
	fclose(e);
	CHECK_EQ(plat.policy.clients[1].by_cert, 1);
	CHECK_EQ(plat.policy.clients[1].by_uid, 0);
	CHECK(!memcmp(plat.policy.clients[1].cert_sha256, remote.cert, 32));
	snprintf(plat.parts[0].label, LVMM_NAME_MAX, "lx");
	snprintf(plat.parts[1].label, LVMM_NAME_MAX, "ly");
	/* Not configured: nothing to open. */
	ask_window(&root, 60);
	CHECK(failed_with(-ECANCELED, "remote management is not configured (no 'remote:' in the platform file)"));
	plat.remote.present = true;
	snprintf(plat.remote.listen, sizeof(plat.remote.listen), "127.0.0.1:8443");
	/* Closed: a remote client is refused in the supervisor, whatever the front-end let through. */
	ask_as(&remote, LVMM_OP_LIST, "");
	CHECK(failed_with(-EACCES, "remote access is not enabled (the local user opens it: lvmm ctl "
			  "remote enable --minutes N)"));
	CHECK_EQ(audit.requests, 1);
	CHECK(strstr(audit.last, "\"subject\":\"cert:0102030405060708090a0b0c0d0e0f10111213141516171819"
		     "1a1b1c1d1e1f20\",\"operation\":\"list\",\"result\":-13") != NULL);
	/* Bounds: 1 s to a day. */
	ask_window(&root, 0);
	CHECK_EQ(last()->result, -EINVAL);
	ask_window(&root, LVMM_REMOTE_MAX_S + 1);
	CHECK_EQ(last()->result, -EINVAL);
	/* A partition never opens it, even one granted everything. */
	ask_window(&agent_c, 60);
	CHECK(failed_with(-EACCES, "remote-enable: only a local user of the control socket may do this"));
	/* The local user opens it for 60 s: the front-end learns it from the answer. */
	ask_window(&root, 60);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->body, LVMM_BODY_REMOTE);
	CHECK_EQ(last()->u.remote.open, 1);
	CHECK_EQ(last()->u.remote.configured, 1);
	CHECK(last()->u.remote.remaining_ms > 59000 && last()->u.remote.remaining_ms <= 60000);
	CHECK_STR(last()->u.remote.listen, "127.0.0.1:8443");
	CHECK_EQ(audit.enabled, 1);
	CHECK(ctl_next_deadline(&S) <= now_ns() + 60000 * MS);
	/* Open: the certificate's grants apply, with STE against the target. */
	ask_as(&remote, LVMM_OP_LIST, "");
	CHECK_EQ(last()->result, 0);
	ask_as(&remote, LVMM_OP_PAUSE, "a");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(strstr(last()->error, "may not pause a (clients: operation not granted)") != NULL);
	ask_as(&remote, LVMM_OP_STATUS, "b");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(strstr(last()->error, "ste: client and target share no type") != NULL);
	ask_as(&remote, LVMM_OP_EVENTS, "");
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(last()->u.events.parts[0], 0x1); /* not b (ly), nor unlabelled c, d: they share nothing */
	/* Granted or not, a remote client never touches the window. */
	ask_window(&remote, 600);
	CHECK(failed_with(-EACCES, "remote-enable: only a local user of the control socket may do this"));
	ask_as(&remote, LVMM_OP_REMOTE_STATUS, "");
	CHECK_EQ(last()->result, -EACCES);
	/* Another certificate: not listed, nothing; root's uid means nothing for a remote subject. */
	ask_as(&stranger, LVMM_OP_LIST, "");
	CHECK(strstr(last()->error, "(clients: certificate not listed)") != NULL);
	CHECK_EQ(audit.requests, 8);
	/* The window closes on time (the timer); the front-end's own clock closes its side. */
	ctl_on_timer(&S, now_ns() + 61000 * MS);
	CHECK_EQ(audit.disabled, 1);
	CHECK(strstr(audit.last, "\"event\":\"remote_disabled\",\"reason\":\"expired\"") != NULL);
	ask_as(&remote, LVMM_OP_LIST, "");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(strstr(last()->error, "remote access is not enabled") != NULL);
	ask_as(&root, LVMM_OP_REMOTE_STATUS, "");
	CHECK(last()->result == 0 && !last()->u.remote.open && !last()->u.remote.remaining_ms);
	/* Disabled by the user before its time. */
	ask_window(&root, 5);
	ask_as(&root, LVMM_OP_REMOTE_DISABLE, "");
	CHECK(last()->result == 0 && !last()->u.remote.open);
	CHECK_EQ(audit.disabled, 2);
	ask_as(&remote, LVMM_OP_LIST, "");
	CHECK_EQ(last()->result, -EACCES);
	/* Without a policy, remote clients get nothing (local ones everything). */
	memset(&plat.policy, 0, sizeof(plat.policy));
	ask_window(&root, 5);
	ask_as(&remote, LVMM_OP_LIST, "");
	CHECK(strstr(last()->error, "remote: no policy grants remote clients anything") != NULL);
	ask_as(&root, LVMM_OP_LIST, "");
	CHECK_EQ(last()->result, 0);
	events_set_sink(NULL);
	plat.remote.present = false;
	for (i = 0; i < NP; i++)
		plat.parts[i].label[0] = 0;
	ctl_setup(&S, t_reply);
}

/* A certificate entry is never taken for a partition whose name has the same bytes. */
static void test_cert_client_is_no_partition(void)
{
	struct policy pol;
	struct ste_cache c;
	const char *rule;
	uint8_t fp[32];

	memset(&pol, 0, sizeof(pol));
	memset(&c, 0, sizeof(c));
	pol.present = 1;
	pol.nclients = 1;
	pol.clients[0].by_cert = 1;
	pol.clients[0].label = -1;
	pol.clients[0].ops = ~0U >> (32 - OP_COUNT);
	memcpy(pol.clients[0].cert_sha256, "evil", 5);
	CHECK(!ctl_allowed(&pol, &c, 0, "evil", OP_LIST, -1, &rule));
	CHECK_STR(rule, "clients: subject not listed");
	CHECK(!ctl_allowed(&pol, &c, 0, NULL, OP_LIST, -1, &rule));
	memset(fp, 0, sizeof(fp));
	memcpy(fp, "evil", 5);
	CHECK(ctl_allowed_cert(&pol, &c, fp, OP_LIST, -1, &rule));
	fp[31] = 1;
	CHECK(!ctl_allowed_cert(&pol, &c, fp, OP_LIST, -1, &rule));
}

/* Only a connection accepted on our own TLS socket stands for a remote client. */
static void test_remote_connection(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int l, l2, c, a, c2, a2, sv[2];

	l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0 && !bind(l, (struct sockaddr *)&sa, sizeof(sa)) && !listen(l, 4));
	CHECK(!getsockname(l, (struct sockaddr *)&sa, &sl));
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(!connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	a = accept(l, NULL, NULL);
	CHECK_EQ(fe_conn_remote(a, l), 0);
	CHECK_EQ(fe_conn_remote(c, l), -EACCES);  /* the client's own end */
	CHECK_EQ(fe_conn_remote(l, l), -EACCES);  /* the listener */
	CHECK_EQ(fe_conn_remote(a, -1), -EACCES); /* no TLS socket configured */
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK_EQ(fe_conn_remote(sv[0], l), -EACCES);
	/* Accepted on another listener of the same address: another port, refused. */
	sa.sin_port = 0;
	l2 = socket(AF_INET, SOCK_STREAM, 0);
	sl = sizeof(sa);
	CHECK(l2 >= 0 && !bind(l2, (struct sockaddr *)&sa, sizeof(sa)) && !listen(l2, 4));
	CHECK(!getsockname(l2, (struct sockaddr *)&sa, &sl));
	c2 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(!connect(c2, (struct sockaddr *)&sa, sizeof(sa)));
	a2 = accept(l2, NULL, NULL);
	CHECK_EQ(fe_conn_remote(a2, l), -EACCES);
	CHECK_EQ(fe_conn_remote(a2, l2), 0);
	close(a2), close(c2), close(l2);
	/*
	 * A listener on 0.0.0.0 (remote: listen: "0.0.0.0:PORT"): its connections
	 * have a concrete local address (found by review: all were refused).
	 * Connected over loopback and closed at once.
	 */
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	l2 = socket(AF_INET, SOCK_STREAM, 0);
	sl = sizeof(sa);
	CHECK(l2 >= 0 && !bind(l2, (struct sockaddr *)&sa, sizeof(sa)) && !listen(l2, 4));
	CHECK(!getsockname(l2, (struct sockaddr *)&sa, &sl));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c2 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(!connect(c2, (struct sockaddr *)&sa, sizeof(sa)));
	a2 = accept(l2, NULL, NULL);
	CHECK_EQ(fe_conn_remote(a2, l2), 0);
	CHECK_EQ(fe_conn_remote(a2, l), -EACCES);
	CHECK_EQ(fe_conn_remote(c2, l2), -EACCES);
	close(a2), close(c2), close(l2), close(sv[0]), close(sv[1]), close(a), close(c), close(l);
}


/*
 * A link operation is decided against the link's labels: both ends' and its
 * own. A subject that shares no type with a and b may not take their link
 * down (it was decided on no object at all, so the grant alone sufficed).
 */
static void test_link_ops_need_ste(void)
{
	static const char pol[] =
		"name: lk\nste_types: [x_t, y_t]\nlabels:\n"
		"  - { name: lx, ste: [x_t] }\n  - { name: ly, ste: [y_t] }\n  - { name: lxy, ste: [x_t, y_t] }\n"
		"resources:\n  - { link: l0, label: ly }\n"
		"clients:\n  - { uid: 0, label: lx, operations: [all] }\n"
		"  - { partition: c, label: lx, operations: [status, isolate, link-down, link-up] }\n"
		"  - { partition: d, label: lxy, operations: [link-down, link-up] }\n";
	static const char *const labels[NP] = { "ly", "ly", "lx", "lxy" };
	const struct ctl_subject agent_c = { .agent = true, .part = 2 }, agent_d = { .agent = true, .part = 3 };
	struct lvmm_ctl m;

	setup_labelled(pol, labels);
	ask_as(&agent_c, LVMM_OP_LINK_DOWN, "l0");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(strstr(last()->error, "may not link-down l0 (ste: client and target share no type)") != NULL);
	CHECK(link_is_up(&S, 0));
	CHECK(!got_ctl(0, &m) && !got_ctl(1, &m));
	/* d shares y_t with both ends and with the link's own label: allowed. */
	ask_as(&agent_d, LVMM_OP_LINK_DOWN, "l0");
	CHECK(!link_is_up(&S, 0));
	CHECK(got_ctl(0, &m) && m.op == LVMM_CTL_LINK_DOWN);
	unlabel();
}

/*
 * Without a policy host users are not mediated, but a partition's channel
 * acts on its own partition only: no other partition, no link, no policy.
 */
static void test_no_policy_agent_keeps_to_itself(void)
{
	const struct ctl_subject agent_a = { .agent = true, .part = 0 };

	setup();
	ask_as(&agent_a, LVMM_OP_STOP, "b");
	CHECK(failed_with(-EACCES, "denied by policy 'none': partition:a may not stop b "
			  "(no policy: a partition acts on itself only)"));
	ask_as(&agent_a, LVMM_OP_LINK_DOWN, "l0");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(link_is_up(&S, 0));
	ask_as(&agent_a, LVMM_OP_LIST, "");
	CHECK_EQ(last()->result, 0);
	ask_as(&agent_a, LVMM_OP_STATUS, "a");
	CHECK(last()->result != -EACCES);
	ask(LVMM_OP_LINK_DOWN, "l0"); /* root: unmediated */
	CHECK(!link_is_up(&S, 0));
}

/* A field that would not fit is left out whole: the line stays JSON and keeps its request id. */
static void test_event_line_never_cut_mid_string(void)
{
	char path[320], reason[320];
	json_t *j;
	struct event e;
	unsigned i;

	strcpy(path, "/srv/images/");
	for (i = strlen(path); i + 2 < 200; i += 2)
		path[i] = (char)0xc3, path[i + 1] = (char)0xa9; /* 'e-acute': 12 bytes escaped */
	path[i] = 0;
	snprintf(reason, sizeof(reason), "%.200s: cannot read it", path);
	events_set_sink(sink);
	ev_set_request("req-77");
	ev_begin(&e, "verify_failed", "a");
	ev_str(&e, "file", path);
	ev_str(&e, "reason", reason);
	ev_str(&e, "action", "refuse");
	ev_end(&e);
	ev_set_request(NULL);
	events_set_sink(NULL);
	j = json_loads(sunk.line, 0, NULL);
	CHECK(j != NULL);
	CHECK(json_is_true(json_object_get(j, "truncated")));
	CHECK_STR(json_string_value(json_object_get(j, "action")), "refuse");
	CHECK_STR(json_string_value(json_object_get(j, "request_id")), "req-77");
	CHECK(json_is_string(json_object_get(j, "file")));
	CHECK(json_object_get(j, "reason") == NULL);
	json_decref(j);
	/* A line that fits says nothing of the kind. */
	events_set_sink(sink);
	ev_begin(&e, "x", NULL);
	ev_str(&e, "file", path);
	ev_end(&e);
	events_set_sink(NULL);
	CHECK(strstr(sunk.line, "truncated") == NULL);
}

/*
 * A partition's process reports its S3 and its own wake; a compromised one
 * alternating them must not pause and resume the others in a loop: the next
 * platform sleep waits out PLAT_SLEEP_CALM_MS after a wake.
 */
static void test_sleep_report_storm(void)
{
	unsigned i, pauses = 0, resumes = 0;
	struct lvmm_ctl m;

	setup();
	for (i = 0; i < 200; i++) {
		lc_on_sleep(&S, &S.parts[0], 3);
		lc_on_sleep(&S, &S.parts[0], 0);
		while (got_ctl(1, &m)) {
			pauses += m.op == LVMM_CTL_PAUSE;
			resumes += m.op == LVMM_CTL_RESUME;
		}
	}
	CHECK_EQ(pauses, 1);
	CHECK_EQ(resumes, 1);
	/* Held, not lost: a sleeper that stays asleep gets its platform sleep after the calm. */
	lc_on_sleep(&S, &S.parts[0], 3);
	CHECK(!got_ctl(1, &m));
	CHECK(sleep_next_deadline(&S) <= now_ns() + PLAT_SLEEP_CALM_MS * MS);
	sleep_on_timer(&S, now_ns() + (PLAT_SLEEP_CALM_MS + 1) * MS);
	CHECK(got_ctl(1, &m) && m.op == LVMM_CTL_PAUSE);
	lc_on_sleep(&S, &S.parts[0], 0);
}

/* A device kind that is not NUL-terminated is refused on arrival (it broke every metrics answer). */
static void test_stats_kind_unterminated(void)
{
	static struct lvmm_ctl_reply rep;
	struct lvmm_msg_hdr hdr = { .magic = LVMM_PROTO_MAGIC, .version = LVMM_PROTO_VERSION,
				    .type = LVMM_MSG_CTL_REPLY, .len = sizeof(rep) };
	struct lvmm_ctl m;

	setup();
	ask(LVMM_OP_METRICS_PART, "b");
	CHECK(got_ctl(1, &m));
	memset(&rep, 0, sizeof(rep));
	rep.op = m.op, rep.seq = m.seq, rep.state = 1, rep.ndevs = 1;
	snprintf(rep.devs[0].id, sizeof(rep.devs[0].id), "net0");
	snprintf(rep.devs[0].kind, sizeof(rep.devs[0].kind), "net");
	CHECK_EQ(proto_check_part_msg(&hdr, &rep), 0);
	memset(rep.devs[0].kind, 'K', sizeof(rep.devs[0].kind));
	CHECK_EQ(proto_check_part_msg(&hdr, &rep), -EPROTO);
	/* The front-end checks the supervisor's answer the same way. */
	lc_on_reply(&S, &S.parts[1], &rep);
	CHECK_EQ(last()->result, 0);
	CHECK_EQ(api_reply_check(last(), fk.len[fk.n - 1]), -EPROTO);
}

/* Under a policy, a partition without a label shares nothing: no events of it, no operation on it. */
static void test_unlabelled_target(void)
{
	static const char pol[] =
		"name: ul\nste_types: [x_t, y_t]\nlabels:\n"
		"  - { name: lx, ste: [x_t] }\n  - { name: ly, ste: [y_t] }\n"
		"clients:\n  - { uid: 0, label: lx, operations: [all] }\n"
		"  - { partition: c, label: lx, operations: [events, busy, idle, isolate] }\n";
	static const char *const labels[NP] = { "ly", "", "lx", "lx" }; /* b: no label */
	const struct ctl_subject agent_c = { .agent = true, .part = 2 };
	struct lvmm_ctl m;

	setup_labelled(pol, labels);
	ask_as(&agent_c, LVMM_OP_EVENTS, "");
	CHECK_EQ(last()->u.events.parts[0], 0xc);
	CHECK_EQ(last()->u.events.platform, 0);
	ask_as(&agent_c, LVMM_OP_ISOLATE, "b");
	CHECK_EQ(last()->result, -EACCES);
	CHECK(link_is_up(&S, 0));
	CHECK(!got_ctl(0, &m));
	unlabel();
}

int main(void)
{
	log_level = LOG_ERR;
	signal(SIGPIPE, SIG_IGN);
	RUN(test_list);
	RUN(test_targets);
	RUN(test_request_check);
	RUN(test_partition_refusal_fails);
	RUN(test_pause_resume_status);
	RUN(test_shutdown_reboot);
	RUN(test_no_answer_times_out_once);
	RUN(test_partition_gone);
	RUN(test_attest);
	RUN(test_link_down_once);
	RUN(test_policy_upload);
	RUN(test_events_filter);
	RUN(test_metrics);
	RUN(test_pools);
	RUN(test_subject_from_connection);
	RUN(test_stop_escalates_to_sigkill);
	RUN(test_event_forms);
	RUN(test_remote_window);
	RUN(test_cert_client_is_no_partition);
	RUN(test_remote_connection);
	RUN(test_link_ops_need_ste);
	RUN(test_no_policy_agent_keeps_to_itself);
	RUN(test_event_line_never_cut_mid_string);
	RUN(test_sleep_report_storm);
	RUN(test_stats_kind_unterminated);
	RUN(test_unlabelled_target);
	return unit_done();
}
