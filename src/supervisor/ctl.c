// SPDX-License-Identifier: MIT
/*
 * The control API. Operations are one const table (name, arguments,
 * handler); the transport here is a Unix stream socket carrying one request
 * line "OP ARG..." and answering one JSON object, after which the
 * connection closes. The socket is mode 0600, the peer's uid is checked
 * with SO_PEERCRED before anything is read, a request is at most
 * CTL_REQ_MAX bytes (checked before it is buffered further), and every
 * operation is put to the access-control module first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/events.h"
#include "supervisor/json.h"
#include "supervisor/policy_compile.h"
#include "supervisor/supervisor_int.h"

#define CTL_MAX_CLIENTS 8
#define CTL_REQ_MAX     1024
#define CTL_REPLY_MAX   16384
#define CTL_MAX_ARGS    4
#define CTL_TIMEOUT_NS  (3ULL * 1000000000ULL)
#define CTL_UPLOAD_MAX  (64 * 1024) /* a policy, checked before a byte is buffered */

struct ctl_client {
	bool used;
	int fd;
	uid_t uid;
	pid_t pid;
	char part[LVMM_NAME_MAX]; /* agent channel of this partition, or "" for a host client */
	bool persistent;          /* agent channels serve one request after another */
	char req[CTL_REQ_MAX];
	size_t len;
	size_t line_len;       /* bytes of the request line (tokenising splits it up) */
	bool dispatched;
	unsigned pending;      /* partition replies still expected */
	int failed;            /* first -errno among them */
	uint64_t deadline_ns;
	const struct ctl_op *op;
	size_t upload_want;    /* policy-load: payload bytes still to come */
	char reply[CTL_REPLY_MAX];
	struct jbuf j;
};

struct ctl_state {
	int listen_fd;
	int uploader;          /* the one client uploading, or -1 */
	size_t upload_len;
	char upload[CTL_UPLOAD_MAX];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_client c[CTL_MAX_CLIENTS];
	uint32_t seq;
};

struct ctl_op {
	const char *name;
	unsigned min_args, max_args;
	bool arg_not_target;  /* the argument is data (a size), not a partition or link */
	const char *usage;
	/* 0: reply complete; 1: waiting for partitions; <0: error (message already set). */
	int (*run)(struct sup *s, struct ctl_client *c, int argc, char **argv);
};

static struct ctl_state ctl_state = { .listen_fd = -1, .uploader = -1 };
static struct policy new_policy; /* 100+ KiB: not on the stack */

static int op_policy_load(struct sup *s, struct ctl_client *c, int argc, char **argv);

/* ---- replies -------------------------------------------------------------- */

static void reply_begin(struct ctl_client *c, bool ok)
{
	jb_init(&c->j, c->reply, sizeof(c->reply) - 2);
	jb_obj_begin(&c->j);
	jb_bool(&c->j, "ok", ok);
}

static int reply_error(struct ctl_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reply_error(struct ctl_client *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_begin(c, false);
	jb_str(&c->j, "error", msg);
	return -EINVAL;
}

static void client_close(struct sup *s, struct ctl_client *c)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++)
		if (s->parts[i].ctl_waiter == (int)(c - ctl_state.c))
			s->parts[i].ctl_waiter = -1;
	if (ctl_state.uploader == (int)(c - ctl_state.c))
		ctl_state.uploader = -1;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->used = false;
}

static void client_finish(struct sup *s, struct ctl_client *c)
{
	size_t n, used;

	if (c->j.len == 0)
		reply_begin(c, true);
	jb_obj_end(&c->j);
	n = c->j.len;
	c->reply[n++] = '\n';
	/* A client that does not read its answer only loses the answer. */
	if (send(c->fd, c->reply, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pr_debug("control: reply lost: %s", strerror(errno));
	if (!c->persistent) {
		client_close(s, c);
		return;
	}
	/* Agent channel: keep what followed this request and wait for the next one. */
	used = c->op && c->op->run == op_policy_load ? c->len : MIN(c->line_len + 1, c->len);
	memmove(c->req, c->req + used, c->len - used);
	c->len -= used;
	c->req[c->len] = 0;
	c->line_len = 0;
	c->dispatched = false;
	c->pending = 0;
	c->failed = 0;
	c->op = NULL;
	c->upload_want = 0;
	c->j.len = 0;
	c->deadline_ns = UINT64_MAX;
}

/* ---- helpers for operations ----------------------------------------------- */

static struct part_rt *find_part(struct sup *s, struct ctl_client *c, const char *name)
{
	int i = platform_find(s->plat, name);

	if (i < 0) {
		reply_error(c, "no partition called '%s'", name);
		return NULL;
	}
	return &s->parts[i];
}

/* Send a control message to a running partition; the reply completes the client. */
static int ask_partition(struct sup *s, struct ctl_client *c, struct part_rt *pr, uint32_t op,
			 const char *dev)
{
	struct lvmm_ctl m = { .op = op };

	if (!pr->pid || pr->sock < 0 || pr->state == PS_STARTING)
		return -ESRCH;
	if (pr->ctl_waiter >= 0)
		return -EBUSY;
	m.seq = ++ctl_state.seq;
	if (dev)
		snprintf(m.dev, sizeof(m.dev), "%s", dev);
	if (proto_send(pr->sock, LVMM_MSG_CTL, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
		return -EIO;
	pr->ctl_waiter = (int)(c - ctl_state.c);
	pr->ctl_seq = m.seq;
	pr->ctl_op = op;
	c->pending++;
	c->deadline_ns = now_ns() + CTL_TIMEOUT_NS;
	sup_arm_timer(s);
	return 0;
}

static void part_json(struct jbuf *j, struct sup *s, struct part_rt *pr)
{
	const struct plat_part *p = pr->p;

	jb_obj_begin(j);
	jb_str(j, "name", p->name);
	jb_str(j, "state", part_state_name(pr->state));
	jb_str(j, "role", plat_role_name(p->role));
	if (p->label[0])
		jb_str(j, "label", p->label);
	jb_u64(j, "pid", (uint64_t)pr->pid);
	jb_u64(j, "vcpus", p->vcpus);
	jb_u64(j, "memory_mib", p->mem_bytes / MiB);
	jb_u64(j, "restarts", pr->restarts);
	jb_str(j, "restart", plat_restart_name(p->restart));
	jb_i64(j, "exit_code", pr->exit_code);
	jb_obj_end(j);
	(void)s;
}

/* ---- operations ----------------------------------------------------------- */

static int op_list(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	unsigned i;

	(void)argc, (void)argv;
	reply_begin(c, true);
	jb_arr_begin(&c->j, "partitions");
	for (i = 0; i < s->plat->nparts; i++)
		part_json(&c->j, s, &s->parts[i]);
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
	return 0;
}

static int op_to_partition(struct sup *s, struct ctl_client *c, const char *name, uint32_t op)
{
	struct part_rt *pr = find_part(s, c, name);
	int r;

	if (!pr)
		return -ENOENT;
	r = ask_partition(s, c, pr, op, NULL);
	if (r == -ESRCH)
		return reply_error(c, "partition '%s' is not running (state %s)", name,
				   part_state_name(pr->state));
	if (r)
		return reply_error(c, "partition '%s': %s", name, strerror(-r));
	return 1;
}

static int op_status(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	(void)argc;
	return op_to_partition(s, c, argv[0], LVMM_CTL_STATS);
}

static int op_pause(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	(void)argc;
	return op_to_partition(s, c, argv[0], LVMM_CTL_PAUSE);
}

static int op_resume(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	(void)argc;
	return op_to_partition(s, c, argv[0], LVMM_CTL_RESUME);
}

static int op_stop(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);

	(void)argc;
	if (!pr)
		return -ENOENT;
	if (part_stop(s, pr))
		return reply_error(c, "partition '%s' is not running", argv[0]);
	reply_begin(c, true);
	jb_str(&c->j, "state", "stopping");
	return 0;
}

static int op_start(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);
	char err[256] = "";

	(void)argc;
	if (!pr)
		return -ENOENT;
	if (pr->pid || pr->state == PS_WAIT_RESTART)
		return reply_error(c, "partition '%s' is already %s", argv[0], part_state_name(pr->state));
	if (s->stopping)
		return reply_error(c, "the platform is shutting down");
	pr->restarts = 0;
	if (part_start_reason(s, pr, err, sizeof(err)))
		return reply_error(c, "partition '%s' did not start: %s", argv[0], err);
	reply_begin(c, true);
	jb_str(&c->j, "state", part_state_name(pr->state));
	jb_u64(&c->j, "pid", (uint64_t)pr->pid);
	return 0;
}

static int op_restart(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);

	(void)argc;
	if (!pr)
		return -ENOENT;
	if (!pr->pid)
		return op_start(s, c, argc, argv);
	pr->restart_requested = true;
	part_stop(s, pr);
	reply_begin(c, true);
	jb_str(&c->j, "state", "restarting");
	return 0;
}

/* Bring one link's two ends up or down. */
static int set_link(struct sup *s, struct ctl_client *c, int li, bool up)
{
	const struct plat_link *l = &s->plat->links[li];
	unsigned e;
	int asked = 0;

	link_set_up(s, li, up);
	{
		struct event ev;

		ev_begin(&ev, up ? "link_up" : "link_down", NULL);
		ev_str(&ev, "link", l->name);
		ev_end(&ev);
	}
	for (e = 0; e < 2; e++) {
		struct part_rt *pr = &s->parts[l->part[e]];
		const char *dev = pr->p->devs[l->dev[e]].id;

		/* A stopped end picks the state up when it starts. */
		if (!ask_partition(s, c, pr, up ? LVMM_CTL_LINK_UP : LVMM_CTL_LINK_DOWN, dev))
			asked++;
	}
	return asked;
}

static int op_link(struct sup *s, struct ctl_client *c, int argc, char **argv, bool up)
{
	int li = links_find(s, argv[0]);

	(void)argc;
	if (li < 0)
		return reply_error(c, "no link called '%s'", argv[0]);
	reply_begin(c, true);
	jb_str(&c->j, "link", argv[0]);
	jb_str(&c->j, "state", up ? "up" : "down");
	return set_link(s, c, li, up) ? 1 : 0;
}

static int op_link_down(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	return op_link(s, c, argc, argv, false);
}

static int op_link_up(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	return op_link(s, c, argc, argv, true);
}

/* The seeds' outbreak containment: every link of the partition goes down. */
static int op_isolate(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	struct part_rt *pr = find_part(s, c, argv[0]);
	unsigned i;
	int asked = 0;

	(void)argc;
	if (!pr)
		return -ENOENT;
	reply_begin(c, true);
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
	return asked ? 1 : 0;
}

/* policy-load BYTES: the policy follows the request line. */
static int op_policy_load(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	uint64_t n;
	size_t have;

	(void)argc;
	if (parse_u64(argv[0], CTL_UPLOAD_MAX, &n) || !n)
		return reply_error(c, "policy-load: size must be 1-%d bytes", CTL_UPLOAD_MAX);
	if (ctl_state.uploader >= 0)
		return reply_error(c, "another policy upload is in progress");
	ctl_state.uploader = (int)(c - ctl_state.c);
	ctl_state.upload_len = 0;
	c->upload_want = (size_t)n;
	/* Bytes that arrived with the request line belong to the payload. */
	have = c->line_len + 1 < c->len ? c->len - c->line_len - 1 : 0;
	if (have > c->upload_want)
		have = c->upload_want;
	memcpy(ctl_state.upload, c->req + c->line_len + 1, have);
	ctl_state.upload_len = have;
	c->upload_want -= have;
	c->dispatched = false; /* keep reading: the payload is still coming */
	return 2;
}

/* The whole policy has arrived: parse, check against the live platform, switch. */
static void policy_uploaded(struct sup *s, struct ctl_client *c)
{
	char errbuf[2048], why[256];
	struct event ev;

	/* The text may come from a partition: it is parsed in a sandboxed child. */
	memset(&new_policy, 0, sizeof(new_policy));
	ctl_state.uploader = -1;
	if (policy_compile(ctl_state.upload, ctl_state.upload_len, &new_policy, errbuf, sizeof(errbuf))) {
		reply_error(c, "the new policy is invalid: %s", errbuf);
		ev_begin(&ev, "policy_rejected", c->part[0] ? c->part : NULL);
		ev_str(&ev, "reason", errbuf);
		ev_end(&ev);
		return;
	}
	if (acm_reload(s, &new_policy, why, sizeof(why))) {
		reply_error(c, "policy '%s' refused: %s; nothing changed", new_policy.name, why);
		ev_begin(&ev, "policy_rejected", c->part[0] ? c->part : NULL);
		ev_str(&ev, "policy", new_policy.name);
		ev_str(&ev, "reason", why);
		ev_end(&ev);
		return;
	}
	s->plat->policy = new_policy;
	reply_begin(c, true);
	jb_str(&c->j, "policy", new_policy.name);
	ev_begin(&ev, "policy_loaded", c->part[0] ? c->part : NULL);
	ev_str(&ev, "policy", new_policy.name);
	ev_end(&ev);
}

static int op_acm(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	uint64_t d, den, ev, hits;

	(void)argc, (void)argv;
	acm_stats(&d, &den, &ev, &hits);
	reply_begin(c, true);
	jb_str(&c->j, "policy", s->plat->policy.present ? s->plat->policy.name : "none");
	jb_u64(&c->j, "decisions", d);
	jb_u64(&c->j, "denials", den);
	jb_u64(&c->j, "ste_evaluations", ev);
	jb_u64(&c->j, "ste_cache_hits", hits);
	return 0;
}

static int op_help(struct sup *s, struct ctl_client *c, int argc, char **argv);

static const struct ctl_op ctl_ops[] = {
	{ .name = "list", .usage = "list", .run = op_list },
	{ .name = "status", .min_args = 1, .max_args = 1, .usage = "status PARTITION", .run = op_status },
	{ .name = "pause", .min_args = 1, .max_args = 1, .usage = "pause PARTITION", .run = op_pause },
	{ .name = "resume", .min_args = 1, .max_args = 1, .usage = "resume PARTITION", .run = op_resume },
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

static int op_help(struct sup *s, struct ctl_client *c, int argc, char **argv)
{
	size_t i;

	(void)s, (void)argc, (void)argv;
	reply_begin(c, true);
	jb_arr_begin(&c->j, "operations");
	for (i = 0; i < ARRAY_SIZE(ctl_ops); i++)
		jb_str(&c->j, NULL, ctl_ops[i].usage);
	jb_arr_end(&c->j);
	return 0;
}

/* ---- partition replies ---------------------------------------------------- */

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

void ctl_on_reply(struct sup *s, struct part_rt *pr, const struct lvmm_ctl_reply *rep)
{
	struct ctl_client *c;

	if (pr->ctl_waiter < 0 || rep->seq != pr->ctl_seq)
		return; /* late or unsolicited: nobody waits for it */
	c = &ctl_state.c[pr->ctl_waiter];
	pr->ctl_waiter = -1;
	if (rep->result && !c->failed)
		c->failed = rep->result;
	if (rep->op == LVMM_CTL_PAUSE && !rep->result)
		pr->state = PS_PAUSED;
	else if (rep->op == LVMM_CTL_RESUME && !rep->result)
		pr->state = PS_RUNNING;
	if (rep->op == LVMM_CTL_STATS && !rep->result) {
		reply_begin(c, true);
		jb_str(&c->j, "partition", pr->p->name);
		jb_str(&c->j, "state", part_state_name(pr->state));
		stats_json(&c->j, rep);
	}
	if (--c->pending)
		return;
	if (c->failed && c->j.len)
		reply_error(c, "%s: %s", c->op ? c->op->name : "request", strerror(-c->failed));
	if (!c->j.len) {
		reply_begin(c, true);
		jb_str(&c->j, "partition", pr->p->name);
		jb_str(&c->j, "state", part_state_name(pr->state));
	}
	client_finish(s, c);
}

void ctl_part_gone(struct sup *s, struct part_rt *pr)
{
	struct ctl_client *c;

	if (pr->ctl_waiter < 0)
		return;
	c = &ctl_state.c[pr->ctl_waiter];
	pr->ctl_waiter = -1;
	if (!c->failed)
		c->failed = -ESRCH;
	if (--c->pending == 0) {
		reply_error(c, "partition '%s' went away before answering", pr->p->name);
		client_finish(s, c);
	}
}

uint64_t ctl_next_deadline(struct sup *s)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	(void)s;
	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_state.c[i].used)
			next = MIN(next, ctl_state.c[i].deadline_ns);
	return next;
}

void ctl_on_timer(struct sup *s, uint64_t now)
{
	unsigned i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *c = &ctl_state.c[i];

		if (!c->used || c->deadline_ns > now || (c->persistent && !c->pending && !c->upload_want))
			continue;
		if (c->pending)
			reply_error(c, "no answer from the partition within %llu s",
				    CTL_TIMEOUT_NS / 1000000000ULL);
		else
			reply_error(c, "request not completed within %llu s",
				    CTL_TIMEOUT_NS / 1000000000ULL);
		client_finish(s, c);
	}
}

/* ---- transport ------------------------------------------------------------ */

static void dispatch(struct sup *s, struct ctl_client *c)
{
	char *argv[CTL_MAX_ARGS + 2], *save = NULL, *tok;
	int argc = 0, r;
	size_t i;
	char err[256];

	c->dispatched = true;
	for (tok = strtok_r(c->req, " \t\r", &save); tok && argc < CTL_MAX_ARGS + 2;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (!argc) {
		reply_error(c, "empty request; try 'help'");
		client_finish(s, c);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(ctl_ops) && strcmp(ctl_ops[i].name, argv[0]); i++)
		;
	if (i == ARRAY_SIZE(ctl_ops)) {
		reply_error(c, "unknown operation '%s'; try 'help'", argv[0]);
		client_finish(s, c);
		return;
	}
	c->op = &ctl_ops[i];
	if ((unsigned)argc - 1 < c->op->min_args || (unsigned)argc - 1 > c->op->max_args) {
		reply_error(c, "usage: %s", c->op->usage);
		client_finish(s, c);
		return;
	}
	if (acm_ctl_check(s, c->uid, c->part[0] ? c->part : NULL, c->op->name,
			  argc > 1 && !c->op->arg_not_target ? argv[1] : NULL, err, sizeof(err))) {
		reply_error(c, "%s", err);
		client_finish(s, c);
		return;
	}
	r = c->op->run(s, c, argc - 1, argv + 1);
	if (r == 2) { /* an upload follows */
		if (!c->upload_want) {
			policy_uploaded(s, c);
			client_finish(s, c);
		}
		return;
	}
	if (r != 1 || c->pending == 0)
		client_finish(s, c);
}

static void on_client(struct sup *s, struct ctl_client *c, uint32_t events)
{
	ssize_t n;
	char *nl;

	if (c->upload_want) {
		n = recv(c->fd, ctl_state.upload + ctl_state.upload_len, c->upload_want, MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			client_close(s, c);
			return;
		}
		ctl_state.upload_len += (size_t)n;
		c->upload_want -= (size_t)n;
		if (!c->upload_want) {
			c->dispatched = true;
			policy_uploaded(s, c);
			client_finish(s, c);
		}
		return;
	}
	if (c->dispatched) {
		/* The request is being served; the peer closing early only loses the answer. */
		if (events & (EPOLLHUP | EPOLLERR))
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		return;
	}
	n = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len, MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		client_close(s, c);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = 0;
	if (c->persistent && c->deadline_ns == UINT64_MAX)
		c->deadline_ns = now_ns() + CTL_TIMEOUT_NS;
	nl = memchr(c->req, '\n', c->len);
	if (nl) {
		*nl = 0;
		c->line_len = (size_t)(nl - c->req);
		dispatch(s, c);
	} else if (c->len == sizeof(c->req) - 1) {
		reply_error(c, "request longer than %d bytes", CTL_REQ_MAX - 1);
		client_finish(s, c);
	}
}

static void on_accept(struct sup *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	unsigned i;
	int fd = accept4(ctl_state.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

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
		return;
	}
	for (i = 0; i < CTL_MAX_CLIENTS && ctl_state.c[i].used; i++)
		;
	if (i == CTL_MAX_CLIENTS) {
		static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";

		if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			pr_debug("control: busy reply lost");
		close(fd);
		return;
	}
	ctl_state.c[i] = (struct ctl_client){
		.used = true, .fd = fd, .uid = cred.uid, .pid = cred.pid,
		.deadline_ns = now_ns() + CTL_TIMEOUT_NS,
	};
	ev.data.u64 = TAG_CTL_CLIENT | i;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		ctl_state.c[i].used = false;
		return;
	}
	sup_arm_timer(s);
}

void ctl_on_event(struct sup *s, uint64_t tag, uint32_t events)
{
	unsigned idx = (unsigned)(tag & ~TAG_MASK);

	if ((tag & TAG_MASK) == TAG_CTL_LISTEN)
		on_accept(s);
	else if ((tag & TAG_MASK) == TAG_CTL_CLIENT && idx < CTL_MAX_CLIENTS && ctl_state.c[idx].used)
		on_client(s, &ctl_state.c[idx], events);
}

int ctl_init(struct sup *s, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_CTL_LISTEN };
	struct stat st;
	mode_t old;
	int fd;

	s->ctl = &ctl_state;
	if (!path || !path[0])
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("control socket path '%s' is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* Remove a stale socket left by a run that was killed, never any other file. */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			pr_err("control socket path '%s' exists and is not a socket", path);
			return -EEXIST;
		}
		if (unlink(path) < 0)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* the socket is created 0600: no window with wider access */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, CTL_MAX_CLIENTS) < 0) {
		int e = -errno;

		umask(old);
		pr_err("control socket '%s': %s", path, strerror(-e));
		close(fd);
		return e;
	}
	umask(old);
	ctl_state.listen_fd = fd;
	snprintf(ctl_state.path, sizeof(ctl_state.path), "%s", path);
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void ctl_close(struct sup *s)
{
	unsigned i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_state.c[i].used) {
			reply_error(&ctl_state.c[i], "the platform has shut down");
			client_finish(s, &ctl_state.c[i]);
		}
	if (ctl_state.listen_fd >= 0) {
		close(ctl_state.listen_fd);
		unlink(ctl_state.path);
		ctl_state.listen_fd = -1;
	}
}

bool ctl_listening(struct sup *s)
{
	(void)s;
	return ctl_state.listen_fd >= 0;
}

int ctl_attach_agent(struct sup *s, struct part_rt *pr)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	unsigned i;
	int sv[2];

	for (i = 0; i < CTL_MAX_CLIENTS && ctl_state.c[i].used; i++)
		;
	if (i == CTL_MAX_CLIENTS)
		return -EMFILE;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;

		close(sv[0]);
		close(sv[1]);
		return e;
	}
	ctl_state.c[i] = (struct ctl_client){
		.used = true, .fd = sv[0], .uid = (uid_t)-1, .persistent = true,
		.deadline_ns = UINT64_MAX,
	};
	snprintf(ctl_state.c[i].part, sizeof(ctl_state.c[i].part), "%s", pr->p->name);
	ev.data.u64 = TAG_CTL_CLIENT | i;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, sv[0], &ev) < 0) {
		int e = -errno;

		close(sv[0]);
		close(sv[1]);
		ctl_state.c[i].used = false;
		return e;
	}
	return sv[1];
}

void ctl_detach_agent(struct sup *s, struct part_rt *pr)
{
	unsigned i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_state.c[i].used && ctl_state.c[i].persistent &&
		    !strcmp(ctl_state.c[i].part, pr->p->name))
			client_close(s, &ctl_state.c[i]);
}
