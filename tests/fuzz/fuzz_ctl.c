// SPDX-License-Identifier: MIT
/*
 * The control API's request parser and state machine (src/supervisor/ctl.c)
 * on arbitrary bytes, as a host client or a partition's agent channel (an
 * agent is an untrusted partition). Two fake partitions answer what they
 * are asked; a policy lets every operation but start/restart through (they
 * would fork real partitions), and policy-load parses in-process here (the
 * real policy_compile forks a sandboxed child; this file's definition
 * replaces it in the link).
 *
 * Input: byte 0 = flags: bit 0 agent channel, bit 1 end with EOF (else the
 * peer hangs up), bits 2-7 = chunk size - 1; the rest is fed in chunks of
 * that size, the partitions answering (or not, by byte parity) in between.
 *
 * Invariants: every reply is one line, a JSON object starting {"ok":true or
 * {"ok":false,"error":"; a host client gets at most one reply; after EOF or
 * hang-up and every deadline, no connection slot and no partition request
 * is left behind.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "config/policy_load.h"
#include "fuzz/fuzz.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/policy_compile.h"
#include "supervisor/supervisor_int.h"

#define MS 1000000ULL

static struct platform plat;
static struct policy base_policy;
static struct sup S;
static int far_end[2] = { -1, -1 };
static unsigned nreplies[CTL_CONN_MAX];

/* In-process stand-in for the sandboxed policy compiler (same contract). */
int policy_compile(const char *buf, size_t len, struct policy *out, char *err, size_t errlen)
{
	FILE *e = fmemopen(err, errlen, "w");
	int problems;

	if (!e)
		return -ENOMEM;
	problems = policy_load("<policy-load>", buf, len, out, e);
	fclose(e);
	return problems ? -EINVAL : 0;
}

static void t_send(struct sup *s, struct ctl_conn *c, const char *buf, size_t len)
{
	(void)s;
	FUZZ_CHECK(len >= 12 && buf[len - 1] == '\n');
	FUZZ_CHECK(memchr(buf, '\n', len) == buf + len - 1);
	FUZZ_CHECK(!strncmp(buf, "{\"ok\":true", 10) || !strncmp(buf, "{\"ok\":false,\"error\":\"", 21));
	FUZZ_CHECK(buf[len - 2] == '}');
	nreplies[ctl_conn_index(c)]++;
	FUZZ_CHECK(c->agent || nreplies[ctl_conn_index(c)] == 1);
}

static void t_shut(struct sup *s, struct ctl_conn *c)
{
	(void)s;
	FUZZ_CHECK(!c->agent);
}

static void t_close(struct sup *s, struct ctl_conn *c)
{
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

static const char policy_text[] =
	"name: fuzz\n"
	"ste_types: [t]\n"
	"labels:\n"
	"  - { name: l, ste: [t] }\n"
	"clients:\n"
	"  - { uid: 0, label: l, operations: [list, status, pause, resume, stop, link-down, link-up,"
	" isolate, policy-load, acm, help] }\n"
	"  - { partition: a, label: l, operations: [list, status, pause, resume, stop, link-down,"
	" link-up, isolate, policy-load, acm, help] }\n"
	"policy_manager: a\n";

static int init(void)
{
	FILE *err = fopen("/dev/null", "w");
	unsigned i;
	int sv[2];

	log_level = -1; /* quiet: only the invariants speak */
	if (!err || policy_load("<fuzz>", policy_text, sizeof(policy_text) - 1, &base_policy, err))
		return -1;
	fclose(err);
	plat.nparts = 2;
	for (i = 0; i < 2; i++) {
		struct plat_part *p = &plat.parts[i];

		plat_part_defaults(p);
		snprintf(p->name, sizeof(p->name), "%s", i ? "b" : "a");
		snprintf(p->label, sizeof(p->label), "l");
		p->ndevs = 1;
		p->devs[0].type = LVMM_DEV_NET_LINK;
		snprintf(p->devs[0].id, sizeof(p->devs[0].id), "net0");
		snprintf(p->devs[0].link, sizeof(p->devs[0].link), "l0");
	}
	plat.nlinks = 1;
	snprintf(plat.links[0].name, sizeof(plat.links[0].name), "l0");
	snprintf(plat.links[0].ends[0], LVMM_NAME_MAX, "a");
	snprintf(plat.links[0].ends[1], LVMM_NAME_MAX, "b");
	plat.links[0].part[1] = 1;
	S.plat = &plat;
	S.epfd = S.sig_fd = S.timer_fd = -1;
	if (events_open("", false) || links_init(&S))
		return -1;
	lc_init(&S);
	for (i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		S.parts[i].sock = sv[0];
		far_end[i] = sv[1];
	}
	return 0;
}

/* Each input starts from the same platform: two running partitions, the base policy. */
static void reset(void)
{
	struct lvmm_msg_hdr h;
	struct lvmm_ctl m;
	unsigned i;

	plat.policy = base_policy;
	acm_init(&S);
	for (i = 0; i < 2; i++) {
		struct part_rt *pr = &S.parts[i];

		while (!proto_recv(far_end[i], &h, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
			;
		pr->state = PS_RUNNING;
		pr->pid = 0x7ffffff0 + (pid_t)i; /* no such process: nothing is signalled */
		pr->kill_at_ns = 0;
		pr->stop_requested = pr->restart_requested = false;
		memset(pr->asks, 0, sizeof(pr->asks));
		acm_partition_start_commit(&S, pr);
	}
	link_set_up(&S, 0, true);
	S.stopping = false;
	memset(nreplies, 0, sizeof(nreplies));
	ctl_setup(&S, &tp);
	S.hooks = &hooks;
}

/* The fake partitions answer every request; an odd seq is refused. */
static void partitions_answer(bool answer)
{
	static struct lvmm_ctl_reply rep;
	struct lvmm_msg_hdr h;
	struct lvmm_ctl m;
	unsigned i, guard;

	for (i = 0; i < 2; i++)
		for (guard = 0; guard < 64; guard++) {
			if (proto_recv(far_end[i], &h, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
				break;
			if (!answer || m.op == LVMM_CTL_STOP)
				continue;
			memset(&rep, 0, sizeof(rep));
			rep.op = m.op;
			rep.seq = m.seq;
			rep.result = m.seq & 1 ? -EBUSY : 0;
			rep.state = m.op == LVMM_CTL_PAUSE && !rep.result ? 2 : 1;
			lc_on_reply(&S, &S.parts[i], &rep);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct ctl_conn *c;
	char err[128];
	size_t chunk, off;
	uint8_t flags;
	unsigned i;

	if (!ready) {
		if (init())
			__builtin_trap();
		ready = true;
	}
	reset();
	flags = size ? data[0] : 0;
	chunk = (size_t)(flags >> 2) + 1;
	if (size)
		data++, size--;
	c = flags & 1 ? ctl_conn_open_agent(&S, 0) : ctl_conn_open_host(&S, 0, 1, err, sizeof(err));
	FUZZ_CHECK(c != NULL);
	for (off = 0; off < size && c->phase != CP_FREE; off += chunk) {
		size_t n = MIN(chunk, size - off);

		ctl_feed(&S, c, (const char *)data + off, n);
		partitions_answer(data[off] & 1);
	}
	if (c->phase != CP_FREE) {
		if (flags & 2)
			ctl_eof(&S, c);
		else
			ctl_hangup(&S, c);
	}
	/* Every deadline passes: whatever still waits is answered, drained and closed. */
	ctl_on_timer(&S, now_ns() + 60000 * MS);
	ctl_on_timer(&S, now_ns() + 120000 * MS);
	for (i = 0; i < CTL_CONN_MAX; i++)
		FUZZ_CHECK(ctl_conn_at(i) == NULL);
	for (i = 0; i < 2; i++) {
		unsigned k;

		for (k = 0; k < LC_ASK_MAX; k++)
			FUZZ_CHECK(!S.parts[i].asks[k].used);
	}
	return 0;
}
