// SPDX-License-Identifier: MIT
/*
 * The supervisor's side of the control protocol (src/supervisor/ctl.c):
 * the fixed-layout request validator and the request state machine, on
 * requests as a compromised API front-end could send them (every byte
 * hostile), from a host client or a partition's agent channel. Two fake
 * partitions answer what they are asked (or not); a policy lets every
 * operation but start/restart through (they would fork real partitions).
 * A sealed policy-load payload is compiled as the front-end compiles it
 * (api_policy_memfd), or with flags bit 5 patched into a compiled policy as
 * a hostile front-end could send it; an unsealed one is handed over raw.
 *
 * Input: records of 1 flag byte (bit 0 agent channel, bit 1 the partitions
 * answer, bit 2 a payload memfd follows, bit 3 compile and seal it, bit 4 claim one fd
 * too many), then sizeof(struct lvmm_api_req) bytes of request, then for a
 * payload a 2-byte length and that many bytes.
 *
 * Invariants: a request the validator accepts gets exactly one reply, with
 * its id, well-formed for the front-end (api_reply_check); a request it
 * refuses is never served; after every deadline, no request slot and no
 * partition request is left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/policy.h"
#include "common/log.h"
#include "common/proto.h"
#include "config/policy_load.h"
#include "fuzz/fuzz.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/supervisor_int.h"

#define MS 1000000ULL
#define MAX_REQS 64

static struct platform plat;
static struct policy base_policy;
static struct sup S;
static int far_end[2] = { -1, -1 };
static unsigned nreplies[MAX_REQS + 1];
static unsigned served;

static void t_reply(struct sup *s, const struct lvmm_api_reply *r, size_t len, int fd)
{
	(void)s;
	FUZZ_CHECK(fd < 0);
	FUZZ_CHECK(api_reply_check(r, len) == 0);
	FUZZ_CHECK(r->id >= 1 && r->id <= MAX_REQS);
	FUZZ_CHECK((r->result == 0) == (r->error[0] == 0));
	nreplies[r->id]++;
	FUZZ_CHECK(nreplies[r->id] == 1);
}


static int fake_agent_open(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
	return -ENOTSUP;
}

static void fake_agent_close(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
}

static const struct lc_hooks hooks = {
	.answer = ctl_answer, .agent_open = fake_agent_open, .agent_close = fake_agent_close,
};

static const char policy_text[] =
	"name: fuzz\n"
	"ste_types: [t]\n"
	"labels:\n"
	"  - { name: l, ste: [t] }\n"
	"clients:\n"
	"  - { uid: 0, label: l, operations: [list, status, pause, resume, stop, link-down, link-up,"
	" isolate, policy-load, acm, help, events] }\n"
	"  - { partition: a, label: l, operations: [list, status, pause, resume, stop, link-down,"
	" link-up, isolate, policy-load, acm, help, events] }\n"
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
	(void)link_change(&S, 0, true, "reset", 0); /* up again; what it pushes is drained below */
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
	S.stopping = false;
	memset(nreplies, 0, sizeof(nreplies));
	served = 0;
	ctl_setup(&S, t_reply);
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

/*
 * A hostile front-end's compiled policy: base_policy as an upload, with the
 * payload's bytes taken as patches (3-byte offset, 1-byte value) over it.
 */
static int patched_upload(const uint8_t *p, size_t k)
{
	static struct lvmm_policy_upload u;
	size_t i;
	int fd;

	memset(&u, 0, sizeof(u));
	u.pol = base_policy;
	for (i = 0; i + 4 <= k; i += 4)
		((uint8_t *)&u)[(p[i] | p[i + 1] << 8 | (size_t)p[i + 2] << 16) % sizeof(u)] = p[i + 3];
	fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (write(fd, &u, sizeof(u)) != (ssize_t)sizeof(u) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
		FUZZ_CHECK(0);
	return fd;
}

static int payload(struct fin *in, bool seal, bool patch)
{
	size_t n = (size_t)fin_bytes(in, 2), k = MIN(n, in->left);
	int fd;

	if (seal) {
		fd = patch ? patched_upload(in->p, k) : api_policy_memfd((const char *)in->p, k);
		in->p += k, in->left -= k;
		return fd;
	}
	fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (k && write(fd, in->p, k) != (ssize_t)k)
		FUZZ_CHECK(0);
	in->p += k, in->left -= k;
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct fin in = { data, size };
	uint32_t id = 0;
	unsigned i, k;

	if (!ready) {
		if (init())
			__builtin_trap();
		ready = true;
	}
	reset();
	while (in.left && id < MAX_REQS) {
		uint8_t flags = (uint8_t)fin_bytes(&in, 1);
		/* flags bit 6: a remote client (its certificate: fixed bytes, and the window as it is) */
		struct ctl_subject sub = { .agent = (flags & 1) && !(flags & 64), .remote = flags & 64,
					   .part = 0, .uid = flags & 64 ? (uid_t)-1 : 0 };
		struct lvmm_api_req q;
		unsigned nfds;
		int fd = -1;

		memset(&q, 0, sizeof(q));
		for (k = 0; k < sizeof(q) && in.left; k++)
			((uint8_t *)&q)[k] = (uint8_t)fin_bytes(&in, 1);
		if (flags & 4)
			fd = payload(&in, flags & 8, flags & 32);
		nfds = 1 + (fd >= 0) + ((flags >> 4) & 1);
		if (ctl_req_check(&q, sizeof(q), nfds)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		q.id = ++id;
		ctl_request(&S, &sub, &q, fd);
		served++;
		partitions_answer(flags & 2);
	}
	/* Every deadline passes: whatever still waits is answered. */
	ctl_on_timer(&S, now_ns() + 60000 * MS);
	for (i = 1; i <= id; i++)
		FUZZ_CHECK(nreplies[i] == 1);
	for (i = 0; i < 2; i++)
		for (k = 0; k < LC_ASK_MAX; k++)
			FUZZ_CHECK(!S.parts[i].asks[k].used);
	return 0;
}
