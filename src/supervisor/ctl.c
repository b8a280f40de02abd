// SPDX-License-Identifier: MIT
/*
 * The control API's requests (ctl.h): one explicit state machine per
 * connection, and the operations as one const table (name, arguments,
 * handler). Every operation is put to the access-control module first;
 * operations on partitions go through the life cycle's API (lc_*), which
 * hands their answers back through ctl_answer(). Nothing here touches a
 * socket: the transport is a struct ctl_transport.
 */
#include "supervisor/ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/events.h"
#include "supervisor/policy_compile.h"
#include "supervisor/supervisor_int.h"

#define MS 1000000ULL
#define CTL_MAX_ARGS 4

struct ctl_op {
	const char *name;
	unsigned min_args, max_args;
	bool arg_not_target;  /* the argument is data (a size), not a partition or link */
	bool answer_body;     /* the partition's answer fills the reply (partition, state) */
	const char *usage;
	enum ctl_res (*run)(struct sup *s, struct ctl_conn *c, int argc, char **argv);
};

struct ctl_state {
	const struct ctl_transport *tp;
	struct ctl_conn c[CTL_CONN_MAX]; /* host clients, then one agent slot per partition */
	uint32_t gen;          /* request generations (tokens) */
	uint32_t conn_gen;     /* connection generations */
	int uploader;          /* slot of the one connection uploading, or -1 */
	size_t upload_len;
	char upload[CTL_UPLOAD_MAX];
};

static struct ctl_state C; /* in .bss, not .data (megabytes of reply buffers): ctl_setup() sets it up */
static struct policy new_policy; /* 100+ KiB: not on the stack */

/* ---- the reply --------------------------------------------------------------- */

static enum ctl_res fail(struct ctl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum ctl_res fail(struct ctl_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return CR_FAIL; /* the first reason is the one reported */
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->failed = true;
	return CR_FAIL;
}

static const char *subject(struct sup *s, const struct ctl_conn *c, char *buf, size_t n)
{
	if (c->agent)
		snprintf(buf, n, "partition:%s", s->parts[c->part].p->name);
	else
		snprintf(buf, n, "uid:%u", (unsigned)c->uid);
	return buf;
}

static void begin_request(struct ctl_conn *c, uint64_t now)
{
	unsigned slot = ctl_conn_index(c);

	c->phase = CP_LINE;
	if (++C.gen >= (1U << 24))
		C.gen = 1;
	c->token = C.gen << 8 | slot;
	c->replied = c->failed = false;
	c->op = NULL;
	c->pending = 0;
	c->upload_want = 0;
	c->err[0] = 0;
	c->started_ns = now;
	/* An agent channel may idle between requests; a host client may not. */
	c->deadline_ns = c->agent && !c->in_len ? UINT64_MAX : now + CTL_IDLE_MS * MS;
	jb_init(&c->j, c->out, sizeof(c->out) - 2); /* room for "}\n" */
	jb_obj_begin(&c->j);
	jb_bool(&c->j, "ok", true);
}

static void cancel_asks(struct sup *s, struct ctl_conn *c)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts && c->pending; i++)
		lc_ask_cancel(s, &s->parts[i], c->token);
	c->pending = 0;
}

/*
 * The request is over: send its one reply ("ok" decided here, from
 * c->failed, never from what was written so far), then either wait for
 * the next request (agent) or close (host).
 */
static void complete(struct sup *s, struct ctl_conn *c)
{
	size_t n;

	if (c->replied || c->phase == CP_FREE)
		return;
	if (c->failed) {
		jb_init(&c->j, c->out, sizeof(c->out) - 2);
		jb_obj_begin(&c->j);
		jb_bool(&c->j, "ok", false);
		jb_str(&c->j, "error", c->err);
	}
	jb_obj_end(&c->j);
	n = c->j.len;
	c->out[n++] = '\n';
	c->replied = true;
	if (C.uploader == (int)ctl_conn_index(c))
		C.uploader = -1;
	if (!c->gone)
		C.tp->send(s, c, c->out, n);
	if (c->eof || c->gone) {
		C.tp->close(s, c);
		return;
	}
	if (c->agent) {
		begin_request(c, now_ns());
	} else {
		c->phase = CP_CLOSING;
		c->in_len = 0;
		c->deadline_ns = now_ns() + CTL_DRAIN_MS * MS;
		C.tp->shut(s, c);
	}
	C.tp->update(s, c);
}

/* ---- operations --------------------------------------------------------------- */

static struct part_rt *find_part(struct sup *s, struct ctl_conn *c, const char *name)
{
	int i = platform_find(s->plat, name);

	if (i < 0) {
		fail(c, "no partition called '%s'", name);
		return NULL;
	}
	return &s->parts[i];
}

static void part_json(struct jbuf *j, const struct part_rt *pr)
{
	const struct plat_part *p = pr->p;

	jb_obj_begin(j);
	jb_str(j, "name", p->name);
	jb_str(j, "state", lc_state_name(pr->state));
	jb_str(j, "role", plat_role_name(p->role));
	if (p->label[0])
		jb_str(j, "label", p->label);
	jb_u64(j, "pid", (uint64_t)pr->pid);
	if (pr->uid)
		jb_u64(j, "uid", pr->uid);
	jb_u64(j, "vcpus", p->vcpus);
	jb_u64(j, "memory_mib", p->mem_bytes / MiB);
	jb_u64(j, "restarts", pr->restarts);
	jb_str(j, "restart", plat_restart_name(p->restart));
	jb_i64(j, "exit_code", pr->exit_code);
	jb_obj_end(j);
}

static enum ctl_res op_list(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	unsigned i;

	(void)argc, (void)argv;
	jb_arr_begin(&c->j, "partitions");
	for (i = 0; i < s->plat->nparts; i++)
		part_json(&c->j, &s->parts[i]);
	jb_arr_end(&c->j);
	jb_arr_begin(&c->j, "links");
	for (i = 0; i < s->plat->nlinks; i++) {
		const struct plat_link *l = &s->plat->links[i];

		jb_obj_begin(&c->j);
		jb_str(&c->j, "name", l->name);
		jb_arr_begin(&c->j, "ends");
		jb_str(&c->j, NULL, l->ends[0]);
		jb_str(&c->j, NULL, l->ends[1]);
		jb_arr_end(&c->j);
		jb_bool(&c->j, "up", link_is_up(s, (int)i));
		jb_obj_end(&c->j);
	}
	jb_arr_end(&c->j);
	return CR_DONE;
}

/* Forward op to the named partition; its answer completes the request. */
static enum ctl_res to_partition(struct sup *s, struct ctl_conn *c, const char *name, uint32_t op)
{
	struct part_rt *pr = find_part(s, c, name);
	int r;

	if (!pr)
		return CR_FAIL;
	r = lc_ask(s, pr, op, NULL, c->token);
	if (r == -ESRCH)
		return fail(c, "partition '%s' is not running (state %s)", name, lc_state_name(pr->state));
	if (r == -EBUSY)
		return fail(c, "partition '%s' has %d control requests in flight; try again", name,
			    LC_ASK_MAX);
	if (r)
		return fail(c, "partition '%s': %s", name, strerror(-r));
	c->pending++;
	return CR_WAIT;
}

static enum ctl_res op_status(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	(void)argc;
	return to_partition(s, c, argv[0], LVMM_CTL_STATS);
}

static enum ctl_res op_pause(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	(void)argc;
	return to_partition(s, c, argv[0], LVMM_CTL_PAUSE);
}

static enum ctl_res op_resume(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	(void)argc;
	return to_partition(s, c, argv[0], LVMM_CTL_RESUME);
}

static void stop_body(struct ctl_conn *c, const struct part_rt *pr, const char *state)
{
	jb_str(&c->j, "partition", pr->p->name);
	jb_str(&c->j, "state", state);
	if (pr->pid)
		jb_u64(&c->j, "kill_after_ms", LC_STOP_GRACE_MS); /* then SIGKILL: docs/cli.md */
}

static enum ctl_res op_stop(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);
	char who[64];

	(void)argc;
	if (!pr)
		return CR_FAIL;
	if (lc_stop(s, pr, subject(s, c, who, sizeof(who))))
		return fail(c, "partition '%s' is not running (state %s)", argv[0],
			    lc_state_name(pr->state));
	stop_body(c, pr, lc_state_name(pr->state));
	return CR_DONE;
}

static enum ctl_res op_start(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);
	char err[CTL_ERR_MAX];
	int r;

	(void)argc;
	if (!pr)
		return CR_FAIL;
	r = lc_start(s, pr, err, sizeof(err));
	if (r == -EALREADY || r == -ESHUTDOWN)
		return fail(c, "%s", err);
	if (r)
		return fail(c, "partition '%s' did not start: %s", argv[0], err);
	jb_str(&c->j, "partition", pr->p->name);
	jb_str(&c->j, "state", lc_state_name(pr->state));
	jb_u64(&c->j, "pid", (uint64_t)pr->pid);
	return CR_DONE;
}

static enum ctl_res op_restart(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);
	char err[CTL_ERR_MAX];
	bool started;

	(void)argc;
	if (!pr)
		return CR_FAIL;
	if (lc_restart(s, pr, &started, err, sizeof(err)))
		return fail(c, "partition '%s' did not restart: %s", argv[0], err);
	if (!started) {
		stop_body(c, pr, "restarting");
		return CR_DONE;
	}
	jb_str(&c->j, "partition", pr->p->name);
	jb_str(&c->j, "state", lc_state_name(pr->state));
	jb_u64(&c->j, "pid", (uint64_t)pr->pid);
	return CR_DONE;
}

/* Bring link li up or down. Unchanged: nothing happens. Returns the ends asked. */
static unsigned set_link(struct sup *s, struct ctl_conn *c, int li, bool up)
{
	const struct plat_link *l = &s->plat->links[li];
	unsigned e, asked = 0;
	struct event ev;
	char who[64];

	if (!link_set_up(s, li, up))
		return 0;
	ev_begin(&ev, up ? "link_up" : "link_down", NULL);
	ev_str(&ev, "link", l->name);
	ev_str(&ev, "by", subject(s, c, who, sizeof(who)));
	ev_end(&ev);
	for (e = 0; e < 2; e++) {
		struct part_rt *pr = &s->parts[l->part[e]];
		int r = lc_ask(s, pr, up ? LVMM_CTL_LINK_UP : LVMM_CTL_LINK_DOWN,
			       pr->p->devs[l->dev[e]].id, c->token);

		if (!r)
			asked++;
		else if (r == -EBUSY)
			lc_link_push(s, pr, li); /* applied all the same, unconfirmed */
		/* -ESRCH: an end that is not running picks the state up when it is ready. */
	}
	c->pending += asked;
	return asked;
}

static enum ctl_res op_link(struct sup *s, struct ctl_conn *c, char **argv, bool up)
{
	int li = links_find(s, argv[0]);
	bool changed;

	if (li < 0)
		return fail(c, "no link called '%s'", argv[0]);
	changed = link_is_up(s, li) != up;
	jb_str(&c->j, "link", argv[0]);
	jb_str(&c->j, "state", up ? "up" : "down");
	jb_bool(&c->j, "changed", changed);
	return set_link(s, c, li, up) ? CR_WAIT : CR_DONE;
}

static enum ctl_res op_link_down(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	(void)argc;
	return op_link(s, c, argv, false);
}

static enum ctl_res op_link_up(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	(void)argc;
	return op_link(s, c, argv, true);
}

/* The seeds' outbreak containment: every link of the partition goes down. */
static enum ctl_res op_isolate(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);
	unsigned i, asked = 0;

	(void)argc;
	if (!pr)
		return CR_FAIL;
	jb_str(&c->j, "partition", argv[0]);
	jb_arr_begin(&c->j, "links_down");
	for (i = 0; i < s->plat->nlinks; i++) {
		const struct plat_link *l = &s->plat->links[i];

		if (l->part[0] != (int)pr->index && l->part[1] != (int)pr->index)
			continue;
		jb_str(&c->j, NULL, l->name);
		asked += set_link(s, c, (int)i, false);
	}
	jb_arr_end(&c->j);
	return asked ? CR_WAIT : CR_DONE;
}

/* policy-load BYTES: the policy follows the request line. */
static enum ctl_res op_policy_load(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	uint64_t n;
	size_t have;

	(void)s, (void)argc;
	if (parse_u64(argv[0], CTL_UPLOAD_MAX, &n) || !n)
		return fail(c, "policy-load: size must be 1-%d bytes", CTL_UPLOAD_MAX);
	if (C.uploader >= 0)
		return fail(c, "another policy upload is in progress");
	C.uploader = (int)ctl_conn_index(c);
	C.upload_len = 0;
	c->upload_want = (size_t)n;
	/* Bytes that came with the request line belong to the payload. */
	have = MIN(c->in_len, c->upload_want);
	memcpy(C.upload, c->in, have);
	memmove(c->in, c->in + have, c->in_len - have);
	c->in_len -= have;
	C.upload_len = have;
	c->upload_want -= have;
	return CR_UPLOAD;
}

/* The whole policy has arrived: parse (sandboxed), check against the live platform, switch. */
static void policy_uploaded(struct sup *s, struct ctl_conn *c)
{
	static char errbuf[2048];
	const char *part = c->agent ? s->parts[c->part].p->name : NULL;
	char why[CTL_ERR_MAX];
	struct event ev;

	C.uploader = -1;
	memset(&new_policy, 0, sizeof(new_policy));
	if (policy_compile(C.upload, C.upload_len, &new_policy, errbuf, sizeof(errbuf))) {
		fail(c, "the new policy is invalid: %s", errbuf);
		ev_begin(&ev, "policy_rejected", part);
		ev_str(&ev, "reason", errbuf);
		ev_end(&ev);
		return;
	}
	if (acm_reload(s, &new_policy, why, sizeof(why))) {
		fail(c, "policy '%s' refused: %s; nothing changed", new_policy.name, why);
		ev_begin(&ev, "policy_rejected", part);
		ev_str(&ev, "policy", new_policy.name);
		ev_str(&ev, "reason", why);
		ev_end(&ev);
		return;
	}
	s->plat->policy = new_policy;
	jb_str(&c->j, "policy", new_policy.name);
	ev_begin(&ev, "policy_loaded", part);
	ev_str(&ev, "policy", new_policy.name);
	ev_end(&ev);
}

static enum ctl_res op_acm(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	uint64_t d, den, ev, hits;

	(void)argc, (void)argv;
	acm_stats(&d, &den, &ev, &hits);
	jb_str(&c->j, "policy", s->plat->policy.present ? s->plat->policy.name : "none");
	jb_u64(&c->j, "decisions", d);
	jb_u64(&c->j, "denials", den);
	jb_u64(&c->j, "ste_evaluations", ev);
	jb_u64(&c->j, "ste_cache_hits", hits);
	return CR_DONE;
}

static enum ctl_res op_help(struct sup *s, struct ctl_conn *c, int argc, char **argv);

static const struct ctl_op ctl_ops[] = {
	{ .name = "list", .usage = "list", .run = op_list },
	{ .name = "status", .min_args = 1, .max_args = 1, .answer_body = true, .usage = "status PARTITION", .run = op_status },
	{ .name = "pause", .min_args = 1, .max_args = 1, .answer_body = true, .usage = "pause PARTITION", .run = op_pause },
	{ .name = "resume", .min_args = 1, .max_args = 1, .answer_body = true, .usage = "resume PARTITION", .run = op_resume },
	{ .name = "stop", .min_args = 1, .max_args = 1, .usage = "stop PARTITION", .run = op_stop },
	{ .name = "start", .min_args = 1, .max_args = 1, .usage = "start PARTITION", .run = op_start },
	{ .name = "restart", .min_args = 1, .max_args = 1, .usage = "restart PARTITION", .run = op_restart },
	{ .name = "link-down", .min_args = 1, .max_args = 1, .usage = "link-down LINK", .run = op_link_down },
	{ .name = "link-up", .min_args = 1, .max_args = 1, .usage = "link-up LINK", .run = op_link_up },
	{ .name = "isolate", .min_args = 1, .max_args = 1, .usage = "isolate PARTITION", .run = op_isolate },
	{ .name = "policy-load", .min_args = 1, .max_args = 1, .arg_not_target = true, .usage = "policy-load BYTES (then the policy)", .run = op_policy_load },
	{ .name = "acm", .usage = "acm", .run = op_acm },
	{ .name = "help", .usage = "help", .run = op_help },
};

static enum ctl_res op_help(struct sup *s, struct ctl_conn *c, int argc, char **argv)
{
	size_t i;

	(void)s, (void)argc, (void)argv;
	jb_arr_begin(&c->j, "operations");
	for (i = 0; i < ARRAY_SIZE(ctl_ops); i++)
		jb_str(&c->j, NULL, ctl_ops[i].usage);
	jb_arr_end(&c->j);
	return CR_DONE;
}

/* ---- partitions' answers ---------------------------------------------------------- */

static void stats_json(struct jbuf *j, const struct lvmm_ctl_reply *rep)
{
	unsigned i;

	jb_key_obj(j, "exits");
	jb_u64(j, "io", rep->exits_io);
	jb_u64(j, "mmio", rep->exits_mmio);
	jb_u64(j, "hlt", rep->exits_hlt);
	jb_u64(j, "other", rep->exits_other);
	jb_obj_end(j);
	jb_u64(j, "dma_faults", rep->dma_faults);
	jb_u64(j, "unhandled_io", rep->unhandled_io);
	jb_arr_begin(j, "devices");
	for (i = 0; i < rep->ndevs && i < LVMM_STATS_MAX_DEVS; i++) {
		const struct lvmm_dev_stats *d = &rep->devs[i];
		char id[LVMM_NAME_MAX];

		snprintf(id, sizeof(id), "%s", d->id);
		jb_obj_begin(j);
		jb_str(j, "id", id);
		jb_u64(j, "rx_packets", d->rx_packets);
		jb_u64(j, "rx_bytes", d->rx_bytes);
		jb_u64(j, "tx_packets", d->tx_packets);
		jb_u64(j, "tx_bytes", d->tx_bytes);
		jb_u64(j, "drops", d->drops);
		jb_u64(j, "reads", d->reads);
		jb_u64(j, "writes", d->writes);
		jb_u64(j, "read_bytes", d->read_bytes);
		jb_u64(j, "write_bytes", d->write_bytes);
		jb_u64(j, "errors", d->errors);
		jb_obj_end(j);
	}
	jb_arr_end(j);
}

void ctl_answer(struct sup *s, uint32_t token, struct part_rt *pr, int result,
		const struct lvmm_ctl_reply *rep)
{
	unsigned slot = token & 0xff;
	struct ctl_conn *c;

	if (slot >= CTL_CONN_MAX)
		return;
	c = &C.c[slot];
	if (c->phase != CP_WAIT || c->token != token || !c->pending)
		return; /* a request that was answered already, or a closed connection */
	if (result == -ESRCH && !rep)
		fail(c, "partition '%s' went away before answering", pr->p->name);
	else if (result)
		fail(c, "partition '%s' could not %s: %s", pr->p->name, c->op->name, strerror(-result));
	else if (c->op->answer_body) {
		jb_str(&c->j, "partition", pr->p->name);
		jb_str(&c->j, "state", lc_state_name(pr->state));
		if (rep && rep->op == LVMM_CTL_STATS)
			stats_json(&c->j, rep);
	}
	if (--c->pending == 0)
		complete(s, c);
}

/* ---- the request state machine ------------------------------------------------------ */

/* One complete request line (NUL-terminated, without its newline). */
static void dispatch(struct sup *s, struct ctl_conn *c, char *line)
{
	char *argv[CTL_MAX_ARGS + 2], *save = NULL, *tok, err[CTL_ERR_MAX];
	const struct ctl_op *op = NULL;
	enum ctl_res r;
	int argc = 0;
	size_t i;

	for (tok = strtok_r(line, " \t\r", &save); tok && argc < CTL_MAX_ARGS + 2;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	for (i = 0; argc && i < ARRAY_SIZE(ctl_ops); i++)
		if (!strcmp(ctl_ops[i].name, argv[0]))
			op = &ctl_ops[i];
	c->op = op;
	if (!argc)
		r = fail(c, "empty request; try 'help'");
	else if (!op)
		r = fail(c, "unknown operation '%.64s'; try 'help'", argv[0]);
	else if ((unsigned)argc - 1 < op->min_args || (unsigned)argc - 1 > op->max_args)
		r = fail(c, "usage: %s", op->usage);
	else if (acm_ctl_check(s, c->uid, c->agent ? s->parts[c->part].p->name : NULL, op->name,
			       argc > 1 && !op->arg_not_target ? argv[1] : NULL, err, sizeof(err)))
		r = fail(c, "%s", err);
	else
		r = op->run(s, c, argc - 1, argv + 1);
	switch (r) {
	case CR_WAIT:
		if (c->pending) {
			c->phase = CP_WAIT;
			c->deadline_ns = now_ns() + CTL_ANSWER_MS * MS;
			C.tp->update(s, c);
			return;
		}
		complete(s, c); /* nobody had to be asked */
		return;
	case CR_UPLOAD:
		if (c->upload_want) {
			c->phase = CP_UPLOAD;
			C.tp->update(s, c);
			return;
		}
		policy_uploaded(s, c);
		complete(s, c);
		return;
	case CR_DONE:
	case CR_FAIL:
	default:
		complete(s, c);
		return;
	}
}

static void overlong(struct sup *s, struct ctl_conn *c)
{
	bool agent = c->agent;

	c->in_len = 0;
	fail(c, "request longer than %d bytes", CTL_REQ_MAX - 1);
	complete(s, c);
	if (agent && c->phase == CP_LINE) {
		/* The rest of the line is dropped as it arrives, up to its newline. */
		c->phase = CP_DISCARD;
		c->deadline_ns = UINT64_MAX;
	}
}

/* Serve every complete line in c->in while the connection reads lines. */
static void process(struct sup *s, struct ctl_conn *c)
{
	char line[CTL_REQ_MAX];
	unsigned guard;

	for (guard = 0; guard < CTL_REQ_MAX && c->phase == CP_LINE && c->in_len; guard++) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t n;

		if (!nl) {
			if (c->in_len >= sizeof(c->in))
				overlong(s, c);
			return;
		}
		/* The line leaves the input buffer; what follows stays for the payload or the next request. */
		n = (size_t)(nl - c->in);
		memcpy(line, c->in, n);
		line[n] = 0;
		memmove(c->in, nl + 1, c->in_len - n - 1);
		c->in_len -= n + 1;
		dispatch(s, c, line);
	}
}

char *ctl_rx_buf(struct ctl_conn *c, size_t *room)
{
	switch (c->phase) {
	case CP_UPLOAD:
		*room = MIN(c->upload_want, sizeof(C.upload) - C.upload_len);
		return C.upload + C.upload_len;
	case CP_LINE:
		*room = sizeof(c->in) - c->in_len;
		return c->in + c->in_len;
	case CP_DISCARD:
	case CP_CLOSING:
		*room = sizeof(c->in); /* read and dropped */
		return c->in;
	case CP_WAIT:
	case CP_FREE:
	default:
		*room = 0;
		return c->in;
	}
}

/* Bytes arrived while reading a request: it is not idle. */
static void touch(struct ctl_conn *c)
{
	uint64_t now = now_ns();

	if (c->agent && c->deadline_ns == UINT64_MAX)
		c->started_ns = now; /* an agent's request starts with its first byte */
	c->deadline_ns = MIN(now + CTL_IDLE_MS * MS, c->started_ns + CTL_REQUEST_MS * MS);
}

void ctl_rx(struct sup *s, struct ctl_conn *c, size_t n)
{
	char *nl;

	if (!n)
		return;
	switch (c->phase) {
	case CP_UPLOAD:
		n = MIN(n, c->upload_want);
		C.upload_len += n;
		c->upload_want -= n;
		touch(c);
		if (!c->upload_want) {
			policy_uploaded(s, c);
			complete(s, c);
			process(s, c);
		}
		return;
	case CP_LINE:
		c->in_len = MIN(c->in_len + n, sizeof(c->in));
		touch(c);
		process(s, c);
		return;
	case CP_DISCARD:
		nl = memchr(c->in, '\n', MIN(n, sizeof(c->in)));
		if (!nl)
			return;
		c->in_len = MIN(n, sizeof(c->in)) - (size_t)(nl + 1 - c->in);
		memmove(c->in, nl + 1, c->in_len);
		begin_request(c, now_ns());
		process(s, c);
		return;
	case CP_CLOSING:
	case CP_WAIT:
	case CP_FREE:
	default:
		return; /* dropped: nothing is being read */
	}
}

size_t ctl_feed(struct sup *s, struct ctl_conn *c, const char *buf, size_t n)
{
	size_t done = 0, room;
	unsigned guard;

	for (guard = 0; guard < 1024 && done < n && c->phase != CP_FREE; guard++) {
		char *dst = ctl_rx_buf(c, &room);
		size_t k = MIN(room, n - done);

		if (!k)
			break;
		memcpy(dst, buf + done, k);
		done += k;
		ctl_rx(s, c, k);
	}
	return done;
}

void ctl_eof(struct sup *s, struct ctl_conn *c)
{
	c->eof = true;
	if (c->phase == CP_LINE && c->in_len && c->in_len < sizeof(c->in)) {
		/* A request ended by EOF instead of a newline is still a request. */
		c->in[c->in_len++] = '\n';
		process(s, c);
	}
	switch (c->phase) {
	case CP_UPLOAD:
		fail(c, "policy-load: the payload ended after %zu of %zu bytes", C.upload_len,
		     C.upload_len + c->upload_want);
		complete(s, c); /* and closes: eof */
		return;
	case CP_WAIT:
		C.tp->update(s, c); /* the answer is still sent; nothing more is read */
		return;
	case CP_FREE:
		return;
	case CP_LINE:
	case CP_DISCARD:
	case CP_CLOSING:
	default:
		C.tp->close(s, c); /* nothing (more) was asked */
		return;
	}
}

void ctl_hangup(struct sup *s, struct ctl_conn *c)
{
	c->gone = c->eof = true;
	if (c->phase != CP_FREE)
		C.tp->close(s, c); /* pending answers are dropped with the slot */
}

/* ---- time -------------------------------------------------------------------------- */

uint64_t ctl_next_deadline(struct sup *s)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	(void)s;
	for (i = 0; i < CTL_CONN_MAX; i++)
		if (C.c[i].phase != CP_FREE)
			next = MIN(next, C.c[i].deadline_ns);
	return next;
}

void ctl_on_timer(struct sup *s, uint64_t now)
{
	unsigned i;

	for (i = 0; i < CTL_CONN_MAX; i++) {
		struct ctl_conn *c = &C.c[i];

		if (c->phase == CP_FREE || c->deadline_ns > now)
			continue;
		switch (c->phase) {
		case CP_WAIT:
			cancel_asks(s, c);
			fail(c, "no answer from the partition within %u s", CTL_ANSWER_MS / 1000);
			complete(s, c);
			break;
		case CP_LINE:
		case CP_UPLOAD:
		case CP_DISCARD:
			c->in_len = 0;
			if (now - c->started_ns >= CTL_REQUEST_MS * MS)
				fail(c, "request not complete within %u s", CTL_REQUEST_MS / 1000);
			else
				fail(c, "idle for %u s without a complete request", CTL_IDLE_MS / 1000);
			complete(s, c);
			break;
		case CP_CLOSING:
		case CP_FREE:
		default:
			C.tp->close(s, c);
			break;
		}
	}
}

/* ---- connections ---------------------------------------------------------------------- */

void ctl_setup(struct sup *s, const struct ctl_transport *tp)
{
	unsigned i;

	for (i = 0; i < CTL_CONN_MAX; i++) {
		/*
		 * A slot never used is all zero (CP_FREE): leave it untouched, so
		 * its page (most of a slot is its reply buffer) stays out of
		 * memory. Every user of a slot checks its phase first.
		 */
		if (C.c[i].phase == CP_FREE && !C.c[i].in_len && !C.c[i].fd)
			continue;
		C.c[i].phase = CP_FREE;
		C.c[i].fd = -1;
		C.c[i].in_len = 0;
	}
	C.tp = tp;
	C.uploader = -1;
	C.upload_len = 0;
	s->ctl = &C;
}

static struct ctl_conn *conn_init(unsigned slot, bool agent, int part, uid_t uid, pid_t pid)
{
	struct ctl_conn *c = &C.c[slot];

	c->gen = ++C.conn_gen & 0xffffff;
	c->fd = -1;
	c->agent = agent;
	c->part = part;
	c->uid = uid;
	c->pid = pid;
	c->in_watched = false;
	c->eof = c->gone = false;
	c->in_len = 0;
	begin_request(c, now_ns());
	return c;
}

struct ctl_conn *ctl_conn_open_host(struct sup *s, uid_t uid, pid_t pid, char *err, size_t errlen)
{
	unsigned i, slot = CTL_HOST_MAX, mine = 0;

	(void)s;
	for (i = 0; i < CTL_HOST_MAX; i++) {
		if (C.c[i].phase == CP_FREE)
			slot = MIN(slot, i);
		else if (C.c[i].uid == uid)
			mine++;
	}
	if (mine >= CTL_HOST_PER_UID) {
		snprintf(err, errlen, "too many control clients of uid %u (at most %d at a time)",
			 (unsigned)uid, CTL_HOST_PER_UID);
		return NULL;
	}
	if (slot == CTL_HOST_MAX) {
		snprintf(err, errlen, "too many control clients (at most %d at a time)", CTL_HOST_MAX);
		return NULL;
	}
	return conn_init(slot, false, -1, uid, pid);
}

struct ctl_conn *ctl_conn_open_agent(struct sup *s, unsigned part)
{
	(void)s;
	if (part >= CTL_AGENT_MAX || C.c[CTL_HOST_MAX + part].phase != CP_FREE)
		return NULL;
	return conn_init(CTL_HOST_MAX + part, true, (int)part, (uid_t)-1, 0);
}

struct ctl_conn *ctl_conn_at(unsigned i)
{
	return i < CTL_CONN_MAX && C.c[i].phase != CP_FREE ? &C.c[i] : NULL;
}

unsigned ctl_conn_index(const struct ctl_conn *c)
{
	return (unsigned)(c - C.c);
}

struct ctl_conn *ctl_conn_agent(unsigned part)
{
	return part < CTL_AGENT_MAX ? ctl_conn_at(CTL_HOST_MAX + part) : NULL;
}

void ctl_conn_free(struct sup *s, struct ctl_conn *c)
{
	if (c->phase == CP_FREE)
		return;
	cancel_asks(s, c);
	if (C.uploader == (int)ctl_conn_index(c))
		C.uploader = -1;
	c->phase = CP_FREE;
	c->fd = -1;
	c->in_len = 0;
}

void ctl_shutdown(struct sup *s)
{
	unsigned i;

	for (i = 0; i < CTL_CONN_MAX; i++) {
		struct ctl_conn *c = &C.c[i];

		if (c->phase == CP_FREE)
			continue;
		cancel_asks(s, c);
		c->eof = true; /* complete() closes it */
		if (!c->replied && (!c->agent || c->in_len || c->phase != CP_LINE)) {
			fail(c, "the platform has shut down");
			complete(s, c);
		}
		if (c->phase != CP_FREE)
			C.tp->close(s, c);
	}
}
