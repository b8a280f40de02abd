// SPDX-License-Identifier: MIT
/*
 * The control API's requests (ctl.h): one slot per request in flight, and
 * the operations as one const table (id, policy name, target kind, ACM
 * operation, handler). Every request is checked field by field, then put
 * to the access-control module with the subject the transport determined;
 * operations on partitions go through the life cycle's API (lc_*), which
 * hands their answers back through ctl_answer(). Replies are fixed-layout
 * structs: the front-end turns them into JSON.
 */
#include "supervisor/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/events.h"
#include "supervisor/policy.h"
#include "supervisor/policy_check.h"
#include "supervisor/supervisor_int.h"
#include "supervisor/trust.h"
#include "trust/digest.h"

_Static_assert(LC_POWER_TIMEOUT_MAX_MS == LVMM_API_POWER_MAX_S * 1000, "the front-end checks the same");

enum ctl_target { CT_NONE, CT_PART, CT_LINK };

struct ctl_op {
	uint32_t id;           /* enum lvmm_api_op */
	const char *name;      /* the policy's operation name (docs/policy.md) */
	int acm;               /* enum pol_op */
	enum ctl_target target;
	bool payload;          /* a sealed memfd comes with the request */
	bool answer_body;      /* the partition's answer fills the reply (partition, state) */
	uint32_t answer_ms;    /* partitions' time to answer (0: CTL_ANSWER_MS) */
	uint32_t arg;          /* the handler's: an LVMM_CTL_* to ask, or a flag (up, busy, reboot) */
	bool local_only;       /* only a local user of the control socket (the remote window) */
	enum ctl_res (*run)(struct sup *s, struct ctl_req *r);
};

static struct {
	ctl_reply_fn *reply;
	struct ctl_req r[CTL_REQ_SLOTS]; /* host requests, then one slot per agent channel */
	uint32_t gen;                    /* request generations (tokens) */
	uint64_t remote_until;           /* monotonic ns the remote window closes at; 0: closed */
} C;

static struct lvmm_policy_upload upload; /* 77 KiB: not on the stack */
/* A list reply is larger than the others: built here, sent at once. */
static union {
	struct lvmm_api_reply rep;
	char raw[offsetof(struct lvmm_api_reply, u) + sizeof(struct lvmm_api_list)];
} big;
#define LIST ((struct lvmm_api_list *)(void *)&big.rep.u)

/* ---- the reply --------------------------------------------------------------- */

static enum ctl_res fail(struct ctl_req *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static enum ctl_res fail(struct ctl_req *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return CR_FAIL; /* the first reason is the one reported */
	va_start(ap, fmt);
	vsnprintf(r->rep.error, sizeof(r->rep.error), fmt, ap);
	va_end(ap);
	r->rep.result = err;
	r->failed = true;
	return CR_FAIL;
}

const char *ctl_subject_name(struct sup *s, const struct ctl_subject *sub, char *buf, size_t n)
{
	if (sub->agent) {
		snprintf(buf, n, "partition:%s", s->parts[sub->part].p->name);
	} else if (sub->remote && n >= 5 + 2 * sizeof(sub->cert) + 1) {
		memcpy(buf, "cert:", 5);
		digest_to_hex(sub->cert, sizeof(sub->cert), buf + 5);
	} else {
		snprintf(buf, n, "uid:%u", (unsigned)sub->uid);
	}
	return buf;
}

static void cancel_asks(struct sup *s, struct ctl_req *r)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts && r->pending; i++)
		lc_ask_cancel(s, &s->parts[i], r->token);
	r->pending = 0;
}

static void release(struct ctl_req *r)
{
	if (r->payload_fd >= 0)
		close(r->payload_fd);
	if (r->blob_fd >= 0)
		close(r->blob_fd);
	r->payload_fd = r->blob_fd = -1;
	r->used = false;
}

/* Every request of a remote client is in the audit trail, with its outcome. */
static void remote_audit(struct sup *s, const struct ctl_subject *sub, const char *op,
			 const char *target, const char *rid, int result, const char *error)
{
	char who[CTL_SUBJECT_MAX];
	struct event e;

	ev_set_request(rid);
	ev_begin(&e, "remote_request", NULL);
	ev_str(&e, "subject", ctl_subject_name(s, sub, who, sizeof(who)));
	ev_str(&e, "operation", op);
	if (target && target[0])
		ev_str(&e, "target", target);
	ev_i64(&e, "result", result);
	if (result)
		ev_str(&e, "error", error);
	ev_end(&e);
	ev_set_request(NULL);
}

/* The request is over: send its one reply (its result decided by r->failed) and free the slot. */
static void complete(struct sup *s, struct ctl_req *r, bool send)
{
	const struct lvmm_api_reply *out = &r->rep;
	size_t len;

	if (r->sub.remote)
		remote_audit(s, &r->sub, r->op ? r->op->name : "?", r->q.target, r->q.request_id,
			     r->rep.result, r->rep.error);

	if (r->failed)
		r->rep.body = LVMM_BODY_NONE;
	len = lvmm_api_reply_len(r->rep.body, LIST->nparts);
	if (r->rep.body == LVMM_BODY_LIST) {
		memcpy(&big.rep, &r->rep, offsetof(struct lvmm_api_reply, u));
		out = &big.rep;
	}
	if (send && C.reply && len)
		C.reply(s, out, len, r->failed ? -1 : r->blob_fd);
	release(r);
}

void ctl_refuse(struct sup *s, uint32_t id, uint32_t op, int err, const char *why)
{
	static struct lvmm_api_reply rep;

	memset(&rep, 0, offsetof(struct lvmm_api_reply, u));
	rep.id = id;
	rep.op = op;
	rep.result = err;
	snprintf(rep.error, sizeof(rep.error), "%s", why);
	if (C.reply)
		C.reply(s, &rep, offsetof(struct lvmm_api_reply, u), -1);
}

/* ---- reply bodies --------------------------------------------------------------- */

static void body_part(struct ctl_req *r, const struct part_rt *pr, const char *state, uint32_t flags)
{
	struct lvmm_api_part *b = &r->rep.u.part;

	r->rep.body = LVMM_BODY_PART;
	snprintf(b->partition, sizeof(b->partition), "%s", pr->p->name);
	snprintf(b->state, sizeof(b->state), "%s", state ? state : lc_state_name(pr->state));
	b->flags |= flags;
	b->pid = (uint32_t)pr->pid; /* whose answer it is (metrics); shown with LVMM_API_PART_PID */
	if (flags & LVMM_API_PART_KILL_AFTER)
		b->kill_after_ms = LC_STOP_GRACE_MS; /* then SIGKILL: docs/cli.md */
}

/* Partition pr as a list (metrics) reply shows it. */
static void ctl_part_info(const struct part_rt *pr, struct lvmm_api_part_info *o)
{
	const struct plat_part *p = pr->p;

	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", p->name);
	snprintf(o->label, sizeof(o->label), "%s", p->label);
	snprintf(o->state, sizeof(o->state), "%s", lc_state_name(pr->state));
	snprintf(o->role, sizeof(o->role), "%s", plat_role_name(p->role));
	snprintf(o->restart, sizeof(o->restart), "%s", plat_restart_name(p->restart));
	o->pid = (uint32_t)pr->pid;
	o->uid = pr->uid;
	o->vcpus = p->vcpus;
	o->restarts = pr->restarts;
	o->memory_mib = p->mem_bytes / MiB;
	o->exit_code = pr->exit_code;
}

/*
 * The request token names that still waits for answers, or NULL: the
 * slot is checked before it is used, the token may name a request long gone.
 */
static struct ctl_req *waiting(uint32_t token)
{
	struct ctl_req *r = (token & 0xff) < CTL_REQ_SLOTS ? &C.r[token & 0xff] : NULL;

	return r && r->used && r->token == token && r->pending ? r : NULL;
}

/* ---- operations --------------------------------------------------------------- */

static bool visible(struct sup *s, const struct ctl_req *r, int op, uint64_t *mask);

/*
 * list; metrics (the front-end gathers them, src/api/gather.c): only the
 * partitions the subject may see metrics of (as for events), no links.
 */
static enum ctl_res op_list(struct sup *s, struct ctl_req *r)
{
	uint64_t mask[LVMM_API_MAX_PARTS / 64];
	struct lvmm_api_list *b = LIST;
	bool metrics = r->op->acm == OP_METRICS;
	unsigned i;

	memset(b, 0, offsetof(struct lvmm_api_list, parts));
	memset(mask, metrics ? 0 : 0xff, sizeof(mask));
	if (metrics)
		visible(s, r, OP_METRICS, mask);
	r->rep.body = LVMM_BODY_LIST;
	b->nlinks = metrics ? 0 : s->plat->nlinks;
	for (i = 0; i < s->plat->nparts; i++)
		if (mask[i / 64] >> (i % 64) & 1)
			ctl_part_info(&s->parts[i], &b->parts[b->nparts++]);
	for (i = 0; i < b->nlinks; i++) {
		const struct plat_link *l = &s->plat->links[i];
		struct lvmm_api_link_info *o = &b->links[i];

		snprintf(o->name, sizeof(o->name), "%s", l->name);
		snprintf(o->ends[0], sizeof(o->ends[0]), "%s", l->ends[0]);
		snprintf(o->ends[1], sizeof(o->ends[1]), "%s", l->ends[1]);
		o->up = link_is_up(s, (int)i);
	}
	return CR_DONE;
}

static enum ctl_res not_running(struct ctl_req *r)
{
	return fail(r, -ESRCH, "partition '%s' is not running (state %s)", r->pr->p->name,
		    lc_state_name(r->pr->state));
}

/* The target partition was asked (lc_ask(), lc_power(): e): its answer completes the request. */
static enum ctl_res asked(struct ctl_req *r, int e)
{
	struct part_rt *pr = r->pr;

	if (e == -ESRCH)
		return not_running(r);
	if (e == -EBUSY)
		return fail(r, -EAGAIN, "partition '%s' has %d control requests in flight; try again",
			    pr->p->name, LC_ASK_MAX);
	if (e)
		return fail(r, e, "partition '%s': %s", pr->p->name, strerror(-e));
	r->pending++;
	return CR_WAIT;
}

/* status, pause, resume: forward the op's LVMM_CTL_* to the target partition. */
static enum ctl_res op_ask(struct sup *s, struct ctl_req *r)
{
	return asked(r, lc_ask(s, r->pr, r->op->arg, NULL, r->token));
}

static enum ctl_res op_stop(struct sup *s, struct ctl_req *r)
{
	char who[CTL_SUBJECT_MAX];

	if (lc_stop(s, r->pr, ctl_subject_name(s, &r->sub, who, sizeof(who))))
		return not_running(r);
	body_part(r, r->pr, NULL, r->pr->pid ? LVMM_API_PART_KILL_AFTER : 0);
	return CR_DONE;
}

/* start|restart (arg: restart) PARTITION */
static enum ctl_res op_start(struct sup *s, struct ctl_req *r)
{
	char err[LVMM_API_ERR_MAX - 64];
	bool started = true;
	int e = r->op->arg ? lc_restart(s, r->pr, &started, err, sizeof(err)) :
		lc_start(s, r->pr, err, sizeof(err));

	if (!r->op->arg && (e == -EALREADY || e == -ESHUTDOWN))
		return fail(r, -EALREADY, "%s", err);
	if (e)
		return fail(r, -ECANCELED, "partition '%s' did not %s: %s", r->pr->p->name, r->op->name,
			    err);
	if (started)
		body_part(r, r->pr, NULL, LVMM_API_PART_PID);
	else
		body_part(r, r->pr, "restarting", LVMM_API_PART_KILL_AFTER);
	return CR_DONE;
}

/*
 * shutdown|reboot (arg) PARTITION [SECONDS] (num[0]; 0: the default): press
 * the guest's ACPI power button; the partition's answer completes the
 * request, the life cycle escalates to stop (restart) if the guest has not
 * ended SECONDS later.
 */
static enum ctl_res op_power(struct sup *s, struct ctl_req *r)
{
	struct part_rt *pr = r->pr;
	uint64_t secs = r->q.num[0] ? r->q.num[0] : LC_POWER_TIMEOUT_MS / 1000;
	char who[64];

	if (r->q.num[0] > LC_POWER_TIMEOUT_MAX_MS / 1000)
		return fail(r, -EINVAL, "%s: the timeout must be 1-%d seconds", r->op->name,
			    LC_POWER_TIMEOUT_MAX_MS / 1000);
	if (asked(r, lc_power(s, pr, r->op->arg, (uint32_t)secs * 1000, ctl_subject_name(s, &r->sub, who, sizeof(who)),
			      r->token)) != CR_WAIT)
		return CR_FAIL;
	body_part(r, pr, NULL, LVMM_API_PART_POWER);
	r->rep.u.part.timeout_ms = (uint32_t)((pr->power_at_ns - pr->power_asked_ns) / MS);
	return CR_WAIT;
}

/* link-up|link-down (arg: up) LINK */
static enum ctl_res op_link(struct sup *s, struct ctl_req *r)
{
	struct lvmm_api_link *b = &r->rep.u.link;
	char who[CTL_SUBJECT_MAX];
	bool up = r->op->arg;

	r->rep.body = LVMM_BODY_LINK;
	snprintf(b->link, sizeof(b->link), "%s", s->plat->links[r->li].name);
	b->up = up;
	b->changed = link_is_up(s, r->li) != up;
	r->pending += link_change(s, r->li, up, ctl_subject_name(s, &r->sub, who, sizeof(who)), r->token);
	return r->pending ? CR_WAIT : CR_DONE;
}

/* The seeds' outbreak containment: every link of the partition goes down. */
static enum ctl_res op_isolate(struct sup *s, struct ctl_req *r)
{
	struct lvmm_api_isolate *b = &r->rep.u.isolate;
	char who[CTL_SUBJECT_MAX];

	r->rep.body = LVMM_BODY_ISOLATE;
	snprintf(b->partition, sizeof(b->partition), "%s", r->pr->p->name);
	r->pending += links_isolate(s, r->pr, ctl_subject_name(s, &r->sub, who, sizeof(who)), r->token, b->links,
				    &b->nlinks);
	return r->pending ? CR_WAIT : CR_DONE;
}

/*
 * policy-load: the front-end compiled the text (src/api/policy.c) and sends
 * the result in a sealed memfd (it cannot change it under us); it is read
 * once, every field checked, checked against the live platform, and only
 * then switched to.
 */
static enum ctl_res op_policy_load(struct sup *s, struct ctl_req *r)
{
	static char errbuf[2048];
	const char *part = r->sub.agent ? s->parts[r->sub.part].p->name : NULL;
	const int need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	struct policy *const new_policy = &upload.pol;
	char why[LVMM_API_ERR_MAX];
	struct lvmm_api_policy *b = &r->rep.u.policy;
	struct event ev;
	struct stat st;
	int seals = fcntl(r->payload_fd, F_GET_SEALS);

	if (seals < 0 || (seals & need) != need || fstat(r->payload_fd, &st) ||
	    st.st_size != sizeof(upload) ||
	    pread(r->payload_fd, &upload, sizeof(upload), 0) != (ssize_t)sizeof(upload))
		return fail(r, -EINVAL, "policy-load: the compiled policy must be a sealed memfd of %zu bytes",
			    sizeof(upload));
	if (policy_check(&upload, errbuf, sizeof(errbuf))) {
		ev_begin(&ev, "policy_rejected", part);
		ev_str(&ev, "reason", errbuf);
		ev_end(&ev);
		return fail(r, -EINVAL, "the new policy is invalid: %.200s", errbuf);
	}
	if (acm_reload(s, new_policy, why, sizeof(why))) {
		ev_begin(&ev, "policy_rejected", part);
		ev_str(&ev, "policy", new_policy->name);
		ev_str(&ev, "reason", why);
		ev_end(&ev);
		return fail(r, -ECANCELED, "policy '%s' refused: %.150s; nothing changed", new_policy->name,
			    why);
	}
	s->plat->policy = *new_policy;
	r->rep.body = LVMM_BODY_POLICY;
	snprintf(b->policy, sizeof(b->policy), "%s", new_policy->name);
	ev_begin(&ev, "policy_loaded", part);
	ev_str(&ev, "policy", new_policy->name);
	ev_end(&ev);
	return CR_DONE;
}

/* acm; metrics' ACM counters (arg): only to a subject that may see every partition's metrics. */
static enum ctl_res op_acm(struct sup *s, struct ctl_req *r)
{
	uint64_t mask[LVMM_API_MAX_PARTS / 64] = { 0 };
	struct lvmm_api_acm *b = &r->rep.u.acm;

	if (r->op->arg && !visible(s, r, OP_METRICS, mask))
		return fail(r, -EACCES, "metrics: the ACM's counters need metrics on every partition");
	r->rep.body = LVMM_BODY_ACM;
	snprintf(b->policy, sizeof(b->policy), "%s",
		 s->plat->policy.present ? s->plat->policy.name : "none");
	acm_stats(&b->decisions, &b->denials, &b->ste_evaluations, &b->ste_cache_hits);
	return CR_DONE;
}

static enum ctl_res op_help(struct sup *s, struct ctl_req *r)
{
	(void)s, (void)r;
	return CR_DONE; /* the front-end lists the operations it serves */
}

/*
 * events: whose events may the subject follow? A partition's when the
 * policy grants the subject `events` on it (the same rule as any operation
 * on that partition: clients entry, STE type shared); the platform's own
 * (no single partition: policy, shutdown, audit) only to a subject that
 * may see every partition. Decided without audit records: the request
 * itself was audited.
 */
static bool visible(struct sup *s, const struct ctl_req *r, int op, uint64_t *mask)
{
	static struct ste_cache cache;
	const struct policy *pol = &s->plat->policy;
	const char *part = r->sub.agent ? s->parts[r->sub.part].p->name : NULL;
	const char *rule;
	unsigned i, seen = 0;

	ste_cache_flush(&cache);
	for (i = 0; i < s->plat->nparts; i++)
		if (r->sub.remote ? ctl_allowed_cert(pol, &cache, r->sub.cert, op,
						     pol_obj_label(pol, s->plat->parts[i].label), &rule) :
		    !pol->present || ctl_allowed(pol, &cache, r->sub.uid, part, op,
						 pol_obj_label(pol, s->plat->parts[i].label), &rule)) {
			mask[i / 64] |= 1ULL << (i % 64);
			seen++;
		}
	return seen == s->plat->nparts;
}

static enum ctl_res op_events(struct sup *s, struct ctl_req *r)
{
	struct lvmm_api_events *b = &r->rep.u.events;

	r->rep.body = LVMM_BODY_EVENTS;
	b->nparts = s->plat->nparts;
	b->platform = visible(s, r, OP_EVENTS, b->parts);
	return CR_DONE;
}

/* ---- remote management: a window the local user opens (docs/api.md) ---------------- */

static bool remote_open(uint64_t now)
{
	return C.remote_until && now < C.remote_until;
}

uint64_t ctl_remote_remaining_ms(struct sup *s)
{
	uint64_t now = now_ns();

	(void)s;
	return remote_open(now) ? (C.remote_until - now + MS - 1) / MS : 0;
}

static void remote_close(struct sup *s, const char *reason, const char *by)
{
	struct event e;

	if (!C.remote_until)
		return;
	C.remote_until = 0;
	ev_begin(&e, "remote_disabled", NULL);
	ev_str(&e, "reason", reason);
	if (by)
		ev_str(&e, "by", by);
	ev_end(&e);
}

static enum ctl_res body_remote(struct sup *s, struct ctl_req *r)
{
	struct lvmm_api_remote *b = &r->rep.u.remote;

	r->rep.body = LVMM_BODY_REMOTE;
	b->configured = s->plat->remote.present;
	b->remaining_ms = ctl_remote_remaining_ms(s);
	b->open = b->remaining_ms > 0;
	snprintf(b->listen, sizeof(b->listen), "%s", s->plat->remote.present ? s->plat->remote.listen : "");
	return CR_DONE;
}

static enum ctl_res op_remote_enable(struct sup *s, struct ctl_req *r)
{
	uint64_t secs = r->q.num[0];
	char who[CTL_SUBJECT_MAX];
	struct event e;

	if (!s->plat->remote.present)
		return fail(r, -ECANCELED, "remote management is not configured (no 'remote:' in the "
			    "platform file)");
	if (secs < 1 || secs > LVMM_REMOTE_MAX_S)
		return fail(r, -EINVAL, "the window must be 1-%d minutes (1-%d seconds)",
			    LVMM_REMOTE_MAX_S / 60, LVMM_REMOTE_MAX_S);
	C.remote_until = now_ns() + secs * 1000 * MS;
	ev_begin(&e, "remote_enabled", NULL);
	ev_u64(&e, "seconds", secs);
	ev_str(&e, "listen", s->plat->remote.listen);
	ev_str(&e, "by", ctl_subject_name(s, &r->sub, who, sizeof(who)));
	ev_end(&e);
	sup_arm_timer(s);
	return body_remote(s, r);
}

static enum ctl_res op_remote_disable(struct sup *s, struct ctl_req *r)
{
	char who[CTL_SUBJECT_MAX];

	remote_close(s, "disabled", ctl_subject_name(s, &r->sub, who, sizeof(who)));
	return body_remote(s, r);
}

/* wake PARTITION: a guest asleep in S3 runs again (and the platform, if it slept). */
static enum ctl_res op_wake(struct sup *s, struct ctl_req *r)
{
	char who[64];

	enum ctl_res res;

	if (sleep_wake_prepare(s, r->pr, ctl_subject_name(s, &r->sub, who, sizeof(who))))
		return fail(r, -EALREADY, "partition '%s' is not asleep", r->pr->p->name);
	res = asked(r, lc_ask(s, r->pr, LVMM_CTL_RESUME, NULL, r->token));
	if (res == CR_FAIL)
		(void)sleep_wake_prepare(s, r->pr, ""); /* not woken by this request after all */
	return res;
}

/* busy|idle (arg: busy) PARTITION: a service partition's flag that holds the platform's sleep. */
static enum ctl_res op_busy(struct sup *s, struct ctl_req *r)
{
	if (sleep_set_busy(s, r->pr, r->op->arg))
		return fail(r, -EINVAL, "%s: '%s' is not a service partition", r->op->name,
			    r->pr->p->name);
	body_part(r, r->pr, NULL, 0);
	return CR_DONE;
}

/* attest PARTITION NONCE_HEX: a quote of the partition's vTPM (docs/trust.md); its trust process answers. */
static enum ctl_res op_attest(struct sup *s, struct ctl_req *r)
{
	int e;

	if (r->q.arg_len < 1 || r->q.arg_len > LVMM_TRUST_NONCE_MAX)
		return fail(r, -EINVAL, "attest: the nonce must be 1-%d bytes (2-%d hex digits)",
			    LVMM_TRUST_NONCE_MAX, 2 * LVMM_TRUST_NONCE_MAX);
	e = trust_attest(s, r->pr, r->q.arg, r->q.arg_len, r->token);
	if (e)
		return fail(r, e == -ENODEV ? -ECANCELED : e, "partition '%s' cannot be attested: %s",
			    r->pr->p->name, e == -ENODEV ? "it has no vTPM (a '{ type: tpm }' device)" :
			    e == -ESRCH ? "it is not running" :
			    e == -EBUSY ? "an attestation of it is in progress; try again" : strerror(-e));
	r->pending++;
	return CR_WAIT;
}

/*
 * lc_hooks.attested: the trust process answered with its JSON members in
 * fd, a sealed memfd of size bytes (trust.c checked both), passed on to the
 * front-end, which parses it.
 */
void ctl_attested(struct sup *s, uint32_t token, struct part_rt *pr, int result, const char *why,
		  int fd, uint64_t size)
{
	struct ctl_req *r = waiting(token);

	if (!r) {
		if (fd >= 0)
			close(fd); /* answered already (timed out), or never ours */
		return;
	}
	if (result || fd < 0) {
		if (fd >= 0)
			close(fd);
		fail(r, -EIO, "partition '%s' could not be attested: %s%s%s", pr->p->name,
		     strerror(result ? -result : EIO), why[0] ? ": " : "", why);
	} else {
		r->rep.body = LVMM_BODY_BLOB;
		r->rep.u.blob.format = LVMM_BLOB_JSON_FIELDS;
		r->rep.u.blob.size = size;
		r->blob_fd = fd;
	}
	if (--r->pending == 0)
		complete(s, r, true);
}

static const struct ctl_op ctl_ops[] = {
	{ .id = LVMM_OP_LIST, .name = "list", .acm = OP_LIST, .run = op_list },
	{ .id = LVMM_OP_STATUS, .name = "status", .acm = OP_STATUS, .target = CT_PART, .answer_body = true, .run = op_ask, .arg = LVMM_CTL_STATS },
	{ .id = LVMM_OP_PAUSE, .name = "pause", .acm = OP_PAUSE, .target = CT_PART, .answer_body = true, .run = op_ask, .arg = LVMM_CTL_PAUSE },
	{ .id = LVMM_OP_RESUME, .name = "resume", .acm = OP_RESUME, .target = CT_PART, .answer_body = true, .run = op_ask, .arg = LVMM_CTL_RESUME },
	{ .id = LVMM_OP_STOP, .name = "stop", .acm = OP_STOP, .target = CT_PART, .run = op_stop },
	{ .id = LVMM_OP_START, .name = "start", .acm = OP_START, .target = CT_PART, .run = op_start },
	{ .id = LVMM_OP_RESTART, .name = "restart", .acm = OP_RESTART, .target = CT_PART, .run = op_start, .arg = true },
	{ .id = LVMM_OP_LINK_DOWN, .name = "link-down", .acm = OP_LINK_DOWN, .target = CT_LINK, .run = op_link, .arg = false },
	{ .id = LVMM_OP_LINK_UP, .name = "link-up", .acm = OP_LINK_UP, .target = CT_LINK, .run = op_link, .arg = true },
	{ .id = LVMM_OP_ISOLATE, .name = "isolate", .acm = OP_ISOLATE, .target = CT_PART, .run = op_isolate },
	{ .id = LVMM_OP_POLICY_LOAD, .name = "policy-load", .acm = OP_POLICY_LOAD, .payload = true, .run = op_policy_load },
	{ .id = LVMM_OP_ACM, .name = "acm", .acm = OP_ACM, .run = op_acm },
	{ .id = LVMM_OP_HELP, .name = "help", .acm = OP_HELP, .run = op_help },
	{ .id = LVMM_OP_EVENTS, .name = "events", .acm = OP_EVENTS, .run = op_events },
	{ .id = LVMM_OP_SHUTDOWN, .name = "shutdown", .acm = OP_SHUTDOWN, .target = CT_PART, .answer_body = true, .run = op_power, .arg = false },
	{ .id = LVMM_OP_REBOOT, .name = "reboot", .acm = OP_REBOOT, .target = CT_PART, .answer_body = true, .run = op_power, .arg = true },
	{ .id = LVMM_OP_REMOTE_ENABLE, .name = "remote-enable", .acm = OP_REMOTE_ENABLE, .local_only = true, .run = op_remote_enable },
	{ .id = LVMM_OP_REMOTE_DISABLE, .name = "remote-disable", .acm = OP_REMOTE_DISABLE, .local_only = true, .run = op_remote_disable },
	{ .id = LVMM_OP_REMOTE_STATUS, .name = "remote-status", .acm = OP_REMOTE_STATUS, .local_only = true, .run = body_remote },
	{ .id = LVMM_OP_METRICS, .name = "metrics", .acm = OP_METRICS, .run = op_list },
	{ .id = LVMM_OP_WAKE, .name = "wake", .acm = OP_WAKE, .target = CT_PART, .answer_body = true, .run = op_wake },
	{ .id = LVMM_OP_BUSY, .name = "busy", .acm = OP_BUSY, .target = CT_PART, .run = op_busy, .arg = true },
	{ .id = LVMM_OP_IDLE, .name = "idle", .acm = OP_IDLE, .target = CT_PART, .run = op_busy, .arg = false },
	{ .id = LVMM_OP_ATTEST, .name = "attest", .acm = OP_ATTEST, .target = CT_PART, .answer_ms = CTL_ATTEST_MS, .run = op_attest },
	/* metrics, as the front-end gathers them: one partition's counters; the ACM's (docs/metrics.md) */
	{ .id = LVMM_OP_METRICS_PART, .name = "metrics", .acm = OP_METRICS, .target = CT_PART, .answer_body = true, .answer_ms = CTL_METRICS_MS, .run = op_ask, .arg = LVMM_CTL_STATS },
	{ .id = LVMM_OP_METRICS_ACM, .name = "metrics", .acm = OP_METRICS, .run = op_acm, .arg = true },
};

static const struct ctl_op *op_find(uint32_t id)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ctl_ops); i++)
		if (ctl_ops[i].id == id)
			return &ctl_ops[i];
	return NULL;
}

/* ---- partitions' answers ---------------------------------------------------------- */

void ctl_answer(struct sup *s, uint32_t token, struct part_rt *pr, int result,
		const struct lvmm_ctl_reply *rep)
{
	struct ctl_req *r = waiting(token);

	if (!r)
		return; /* a request that was answered already */
	if (result == -ESRCH && !rep)
		fail(r, -ESRCH, "partition '%s' went away before answering", pr->p->name);
	else if (result)
		fail(r, -ECANCELED, "partition '%s' could not %s: %s", pr->p->name, r->op->name,
		     strerror(-result));
	else if (r->op->answer_body) {
		body_part(r, pr, NULL, 0);
		if (rep && rep->op == LVMM_CTL_STATS) {
			/* The same layout (ctl_proto.h), checked by proto_check_part_msg() on arrival. */
			r->rep.u.part.flags |= LVMM_API_PART_STATS;
			memcpy(&r->rep.u.part.stats, &rep->exits_io, sizeof(r->rep.u.part.stats));
		}
	}
	if (--r->pending == 0)
		complete(s, r, true);
}

/* ---- requests -------------------------------------------------------------------------- */

static bool rid_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
			return false;
	return i < n;
}

int ctl_req_check(const struct lvmm_api_req *q, size_t len, unsigned nfds)
{
	unsigned i;

	if (len != sizeof(*q) || q->op < 1 || q->op > LVMM_OP_MAX || q->flags ||
	    q->arg_len > LVMM_API_ARG_MAX || !proto_str_ok(q->target, sizeof(q->target)) ||
	    !rid_ok(q->request_id, sizeof(q->request_id)) ||
	    nfds != (q->op == LVMM_OP_POLICY_LOAD ? 2U : 1U))
		return -EPROTO;
	for (i = q->arg_len; i < LVMM_API_ARG_MAX; i++)
		if (q->arg[i])
			return -EPROTO;
	return 0;
}

/* The slot for a new request of sub; NULL (reason in err) when its pool is full. */
static struct ctl_req *slot_for(const struct ctl_subject *sub, char *err, size_t n)
{
	unsigned i, free_slot = CTL_HOST_MAX, mine = 0;

	if (sub->agent) {
		if (sub->part < 0 || sub->part >= CTL_AGENT_MAX ||
		    C.r[CTL_HOST_MAX + sub->part].used) {
			snprintf(err, n, "one request at a time on an agent channel");
			return NULL;
		}
		return &C.r[CTL_HOST_MAX + sub->part];
	}
	for (i = 0; i < CTL_HOST_MAX; i++) {
		if (!C.r[i].used)
			free_slot = MIN(free_slot, i);
		else if (C.r[i].sub.uid == sub->uid)
			mine++;
	}
	if (mine >= CTL_HOST_PER_UID)
		snprintf(err, n, "too many control requests of uid %u in flight (at most %d)",
			 (unsigned)sub->uid, CTL_HOST_PER_UID);
	else if (free_slot == CTL_HOST_MAX)
		snprintf(err, n, "too many control requests in flight (at most %d)", CTL_HOST_MAX);
	else
		return &C.r[free_slot];
	return NULL;
}

/* The target the op names: checked against the table, then looked up. */
static enum ctl_res find_target(struct sup *s, struct ctl_req *r)
{
	const char *t = r->q.target;
	int i;

	if ((r->op->target == CT_NONE) != !t[0])
		return fail(r, -EINVAL, "usage: %s%s", r->op->name,
			    r->op->target == CT_PART ? " PARTITION" : r->op->target == CT_LINK ? " LINK" : "");
	if (r->op->target == CT_PART) {
		i = platform_find(s->plat, t);
		if (i < 0)
			return fail(r, -ENOENT, "no partition called '%s'", t);
		r->pr = &s->parts[i];
	} else if (r->op->target == CT_LINK) {
		r->li = links_find(s, t);
		if (r->li < 0)
			return fail(r, -ENOENT, "no link called '%s'", t);
	}
	return CR_DONE;
}

static void dispatch(struct sup *s, struct ctl_req *r)
{
	char err[LVMM_API_ERR_MAX];
	enum ctl_res res = CR_FAIL;

	r->op = op_find(r->q.op);
	if (!r->op)
		res = fail(r, -EINVAL, "unknown operation %u", r->q.op);
	/* Here, not in the front-end: a connection it still holds gets nothing after the window. */
	else if (r->sub.remote && !remote_open(now_ns()))
		res = fail(r, -EACCES, "remote access is not enabled (the local user opens it: "
			   "lvmm ctl remote enable --minutes N)");
	else if (r->op->payload != (r->payload_fd >= 0))
		res = fail(r, -EINVAL, "%s: %s", r->op->name, r->op->payload ? "the payload is missing" :
			   "takes no payload");
	else if (acm_ctl_check(s, &r->sub, r->op->acm, r->op->name, r->q.target[0] ? r->q.target : NULL,
			       r->op->target == CT_LINK, err, sizeof(err)))
		res = fail(r, -EACCES, "%s", err);
	else if (find_target(s, r) != CR_DONE)
		res = CR_FAIL;
	/*
	 * The seeds' "the user is always the initiator": only a local user of the
	 * control socket opens, closes or even looks at the remote window; a
	 * partition's agent or a remote client never does, whatever a policy grants.
	 */
	else if (r->op->local_only && (r->sub.agent || r->sub.remote))
		res = fail(r, -EACCES, "%s: only a local user of the control socket may do this",
			   r->op->name);
	else
		res = r->op->run(s, r);
	if (res == CR_WAIT && r->pending) {
		r->deadline_ns = now_ns() + (r->op->answer_ms ? r->op->answer_ms : CTL_ANSWER_MS) * MS;
		sup_arm_timer(s);
		return;
	}
	complete(s, r, true); /* done, failed, or nobody had to be asked */
}

void ctl_request(struct sup *s, const struct ctl_subject *sub, const struct lvmm_api_req *q,
		 int payload_fd)
{
	char err[128];
	struct ctl_req *r = slot_for(sub, err, sizeof(err));
	unsigned slot;

	if (!r) {
		if (payload_fd >= 0)
			close(payload_fd);
		if (sub->remote)
			remote_audit(s, sub, op_find(q->op) ? op_find(q->op)->name : "?", q->target,
				     q->request_id, -EAGAIN, err);
		ctl_refuse(s, q->id, q->op, -EAGAIN, err);
		return;
	}
	slot = (unsigned)(r - C.r);
	memset(r, 0, sizeof(*r)); /* the reply's body too: what a body does not set is 0 */
	if (++C.gen >= (1U << 24))
		C.gen = 1;
	r->token = C.gen << 8 | slot;
	r->sub = *sub;
	r->q = *q;
	r->li = -1;
	r->payload_fd = payload_fd;
	r->blob_fd = -1;
	r->rep.id = q->id;
	r->rep.op = q->op;
	r->used = true;
	/* Events the request causes carry its id (the audit trail). */
	ev_set_request(q->request_id);
	dispatch(s, r);
	ev_set_request(NULL);
}

/* ---- time -------------------------------------------------------------------------- */

uint64_t ctl_next_deadline(struct sup *s)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	(void)s;
	for (i = 0; i < CTL_REQ_SLOTS; i++)
		if (C.r[i].used && C.r[i].pending)
			next = MIN(next, C.r[i].deadline_ns);
	if (C.remote_until)
		next = MIN(next, C.remote_until);
	return next;
}

void ctl_on_timer(struct sup *s, uint64_t now)
{
	unsigned i;

	if (C.remote_until && now >= C.remote_until)
		remote_close(s, "expired", NULL);
	for (i = 0; i < CTL_REQ_SLOTS; i++) {
		struct ctl_req *r = &C.r[i];

		if (!r->used || !r->pending || r->deadline_ns > now)
			continue;
		cancel_asks(s, r);
		fail(r, -ETIMEDOUT, "no answer from the partition within %u s",
		     (r->op->answer_ms ? r->op->answer_ms : CTL_ANSWER_MS) / 1000);
		complete(s, r, true);
	}
}

void ctl_setup(struct sup *s, ctl_reply_fn *reply)
{
	unsigned i;

	(void)s;
	for (i = 0; i < CTL_REQ_SLOTS; i++) {
		/*
		 * A free slot's fds are never looked at (ctl_request sets them when
		 * it takes the slot): leave slots never used untouched, so the
		 * 80 slots of a 64-partition build stay out of memory (~300 KiB).
		 */
		if (!C.r[i].used)
			continue;
		C.r[i].used = false;
		C.r[i].payload_fd = C.r[i].blob_fd = -1;
	}
	C.reply = reply;
	C.remote_until = 0;
}

void ctl_drop_all(struct sup *s, bool reply)
{
	unsigned i;

	for (i = 0; i < CTL_REQ_SLOTS; i++) {
		struct ctl_req *r = &C.r[i];

		if (!r->used)
			continue;
		cancel_asks(s, r);
		fail(r, -ESHUTDOWN, "the platform has shut down");
		complete(s, r, reply);
	}
}
