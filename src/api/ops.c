// SPDX-License-Identifier: MIT
/*
 * The front-end's operations: one const table (protocol id, keyword,
 * usage, HTTP route, argument, formatter). The HTTP routes, the agent
 * channels' keywords, `help` and `lvmm ctl` all come from it. Formatters
 * turn the supervisor's fixed-layout replies into the JSON documented in
 * docs/cli.md and docs/api/openapi.yaml, after api_reply_check() has
 * checked the reply's length and strings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "api/api.h"
#include "common/util.h"
#include "shared/parse.h"

#define STR(o, k, v) set_str(o, k, v)
#define INT(o, k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
#define BOOL(o, k, v) json_object_set_new(o, k, json_boolean(v))

/*
 * A string member. An error can echo what a client sent (a partition name
 * in a URL, say), which need not be UTF-8, and jansson refuses such a
 * string: then every byte above 0x7f reads '?', so the member is there.
 */
static void set_str(json_t *o, const char *k, const char *v)
{
	json_t *s = json_string(v);
	char buf[4096], *p;

	if (!s) {
		snprintf(buf, sizeof(buf), "%s", v);
		for (p = buf; *p; p++)
			if ((unsigned char)*p > 0x7f)
				*p = '?';
		s = json_string(buf);
	}
	json_object_set_new(o, k, s);
}

static void fmt_list(json_t *o, const struct lvmm_api_reply *r)
{
	const struct lvmm_api_list *b = (const void *)&r->u;
	json_t *parts = json_array(), *links = json_array();
	unsigned i;

	for (i = 0; i < b->nparts; i++) {
		const struct lvmm_api_part_info *p = &b->parts[i];
		json_t *e = json_object();

		STR(e, "name", p->name);
		STR(e, "state", p->state);
		STR(e, "role", p->role);
		if (p->label[0])
			STR(e, "label", p->label);
		INT(e, "pid", p->pid);
		if (p->uid)
			INT(e, "uid", p->uid);
		INT(e, "vcpus", p->vcpus);
		INT(e, "memory_mib", p->memory_mib);
		INT(e, "restarts", p->restarts);
		STR(e, "restart", p->restart);
		INT(e, "exit_code", p->exit_code);
		json_array_append_new(parts, e);
	}
	for (i = 0; i < b->nlinks; i++) {
		const struct lvmm_api_link_info *l = &b->links[i];
		json_t *e = json_object(), *ends = json_array();

		STR(e, "name", l->name);
		json_array_append_new(ends, json_string(l->ends[0]));
		json_array_append_new(ends, json_string(l->ends[1]));
		json_object_set_new(e, "ends", ends);
		BOOL(e, "up", l->up);
		json_array_append_new(links, e);
	}
	json_object_set_new(o, "partitions", parts);
	json_object_set_new(o, "links", links);
}

static void fmt_part(json_t *o, const struct lvmm_api_reply *r)
{
	const struct lvmm_api_part *b = &r->u.part;
	const struct lvmm_api_stats *st = &b->stats;
	json_t *exits, *devs;
	unsigned i;

	STR(o, "partition", b->partition);
	STR(o, "state", b->state);
	if (b->flags & LVMM_API_PART_PID)
		INT(o, "pid", b->pid);
	if (b->flags & LVMM_API_PART_KILL_AFTER)
		INT(o, "kill_after_ms", b->kill_after_ms);
	if (b->flags & LVMM_API_PART_POWER) {
		/* What happens to a guest that has not powered off within timeout_ms. */
		INT(o, "timeout_ms", b->timeout_ms);
		STR(o, "then", r->op == LVMM_OP_REBOOT ? "restart" : "stop");
	}
	if (!(b->flags & LVMM_API_PART_STATS))
		return;
	exits = json_object();
	INT(exits, "io", st->exits_io);
	INT(exits, "mmio", st->exits_mmio);
	INT(exits, "hlt", st->exits_hlt);
	INT(exits, "other", st->exits_other);
	json_object_set_new(o, "exits", exits);
	INT(o, "dma_faults", st->dma_faults);
	INT(o, "unhandled_io", st->unhandled_io);
	INT(o, "integrity_violations", st->violations);
	INT(o, "violations_suppressed", st->violations_suppressed);
	INT(o, "protected_ranges", st->protected_ranges);
	devs = json_array();
	for (i = 0; i < st->ndevs; i++) {
		const struct lvmm_dev_stats *d = &st->devs[i];
		json_t *e = json_object();

		STR(e, "id", d->id);
		INT(e, "rx_packets", d->rx_packets);
		INT(e, "rx_bytes", d->rx_bytes);
		INT(e, "tx_packets", d->tx_packets);
		INT(e, "tx_bytes", d->tx_bytes);
		INT(e, "drops", d->drops);
		INT(e, "reads", d->reads);
		INT(e, "writes", d->writes);
		INT(e, "read_bytes", d->read_bytes);
		INT(e, "write_bytes", d->write_bytes);
		INT(e, "errors", d->errors);
		json_array_append_new(devs, e);
	}
	json_object_set_new(o, "devices", devs);
}

static void fmt_link(json_t *o, const struct lvmm_api_reply *r)
{
	STR(o, "link", r->u.link.link);
	STR(o, "state", r->u.link.up ? "up" : "down");
	BOOL(o, "changed", r->u.link.changed);
}

static void fmt_isolate(json_t *o, const struct lvmm_api_reply *r)
{
	json_t *a = json_array();
	unsigned i;

	STR(o, "partition", r->u.isolate.partition);
	for (i = 0; i < r->u.isolate.nlinks; i++)
		json_array_append_new(a, json_string(r->u.isolate.links[i]));
	json_object_set_new(o, "links_down", a);
}

static void fmt_policy(json_t *o, const struct lvmm_api_reply *r)
{
	STR(o, "policy", r->u.policy.policy);
}

static void fmt_acm(json_t *o, const struct lvmm_api_reply *r)
{
	STR(o, "policy", r->u.acm.policy);
	INT(o, "decisions", r->u.acm.decisions);
	INT(o, "denials", r->u.acm.denials);
	INT(o, "ste_evaluations", r->u.acm.ste_evaluations);
	INT(o, "ste_cache_hits", r->u.acm.ste_cache_hits);
}

static void fmt_remote(json_t *o, const struct lvmm_api_reply *r)
{
	const struct lvmm_api_remote *b = &r->u.remote;

	BOOL(o, "configured", b->configured);
	BOOL(o, "open", b->open);
	INT(o, "remaining_s", (b->remaining_ms + 999) / 1000);
	if (b->listen[0])
		STR(o, "listen", b->listen);
}

static void fmt_help(json_t *o, const struct lvmm_api_reply *r)
{
	json_t *a = json_array(), *routes = json_array();
	unsigned i;

	(void)r;
	for (i = 0; i < api_nops; i++) {
		const struct api_op *op = &api_ops[i];
		const char *brace = strstr(op->path, "{}");
		char route[96];

		json_array_append_new(a, json_string(op->usage));
		snprintf(route, sizeof(route), "%s %.*s%s%s", op->method,
			 (int)(brace ? brace - op->path : (long)strlen(op->path)), op->path,
			 brace ? (op->arg == ARG_LINK ? "{link}" : "{partition}") : "", brace ? brace + 2 : "");
		json_array_append_new(routes, json_string(route));
	}
	json_object_set_new(o, "operations", a);
	json_object_set_new(o, "routes", routes);
}

static void fmt_events(json_t *o, const struct lvmm_api_reply *r)
{
	const struct lvmm_api_events *b = &r->u.events;
	unsigned i, n = 0;

	for (i = 0; i < b->nparts && i < LVMM_API_MAX_PARTS; i++)
		n += (unsigned)(b->parts[i / 64] >> (i % 64) & 1);
	BOOL(o, "following", true);
	INT(o, "partitions", n);
	BOOL(o, "platform", b->platform);
}

const struct api_op api_ops[] = {
	{ .id = LVMM_OP_LIST, .body = LVMM_BODY_LIST, .name = "list", .usage = "list", .method = "GET", .path = "/v1/partitions", .format = fmt_list },
	{ .id = LVMM_OP_STATUS, .body = LVMM_BODY_PART, .name = "status", .usage = "status PARTITION", .method = "GET", .path = "/v1/partitions/{}", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_PAUSE, .body = LVMM_BODY_PART, .name = "pause", .usage = "pause PARTITION", .method = "POST", .path = "/v1/partitions/{}/pause", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_RESUME, .body = LVMM_BODY_PART, .name = "resume", .usage = "resume PARTITION", .method = "POST", .path = "/v1/partitions/{}/resume", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_STOP, .body = LVMM_BODY_PART, .name = "stop", .usage = "stop PARTITION", .method = "POST", .path = "/v1/partitions/{}/stop", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_START, .body = LVMM_BODY_PART, .name = "start", .usage = "start PARTITION", .method = "POST", .path = "/v1/partitions/{}/start", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_RESTART, .body = LVMM_BODY_PART, .name = "restart", .usage = "restart PARTITION", .method = "POST", .path = "/v1/partitions/{}/restart", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_LINK_DOWN, .body = LVMM_BODY_LINK, .name = "link-down", .usage = "link-down LINK", .method = "POST", .path = "/v1/links/{}/down", .arg = ARG_LINK, .format = fmt_link },
	{ .id = LVMM_OP_LINK_UP, .body = LVMM_BODY_LINK, .name = "link-up", .usage = "link-up LINK", .method = "POST", .path = "/v1/links/{}/up", .arg = ARG_LINK, .format = fmt_link },
	{ .id = LVMM_OP_ISOLATE, .body = LVMM_BODY_ISOLATE, .name = "isolate", .usage = "isolate PARTITION", .method = "POST", .path = "/v1/partitions/{}/isolate", .arg = ARG_PART, .format = fmt_isolate },
	{ .id = LVMM_OP_POLICY_LOAD, .body = LVMM_BODY_POLICY, .name = "policy-load", .usage = "policy-load BYTES (then the policy)", .method = "PUT", .path = "/v1/policy", .arg = ARG_POLICY, .format = fmt_policy },
	{ .id = LVMM_OP_ACM, .body = LVMM_BODY_ACM, .name = "acm", .usage = "acm", .method = "GET", .path = "/v1/acm", .format = fmt_acm },
	{ .id = LVMM_OP_HELP, .body = LVMM_BODY_NONE, .name = "help", .usage = "help", .method = "GET", .path = "/v1/help", .format = fmt_help },
	{ .id = LVMM_OP_EVENTS, .body = LVMM_BODY_EVENTS, .name = "events", .usage = "events", .method = "GET", .path = "/v1/events", .format = fmt_events },
	{ .id = LVMM_OP_SHUTDOWN, .body = LVMM_BODY_PART, .name = "shutdown", .usage = "shutdown PARTITION [SECONDS]", .method = "POST", .path = "/v1/partitions/{}/shutdown", .arg = ARG_PART_SECS, .format = fmt_part },
	{ .id = LVMM_OP_REBOOT, .body = LVMM_BODY_PART, .name = "reboot", .usage = "reboot PARTITION [SECONDS]", .method = "POST", .path = "/v1/partitions/{}/reboot", .arg = ARG_PART_SECS, .format = fmt_part },
	{ .id = LVMM_OP_REMOTE_ENABLE, .body = LVMM_BODY_REMOTE, .name = "remote-enable", .usage = "remote-enable --minutes N | --seconds N", .method = "POST", .path = "/v1/remote/enable", .arg = ARG_WINDOW, .format = fmt_remote },
	{ .id = LVMM_OP_REMOTE_DISABLE, .body = LVMM_BODY_REMOTE, .name = "remote-disable", .usage = "remote-disable", .method = "POST", .path = "/v1/remote/disable", .format = fmt_remote },
	{ .id = LVMM_OP_REMOTE_STATUS, .body = LVMM_BODY_REMOTE, .name = "remote-status", .usage = "remote-status", .method = "GET", .path = "/v1/remote", .format = fmt_remote },
	/* Also GET /metrics, as Prometheus text (api_route, http.c). */
	{ .id = LVMM_OP_METRICS, .body = LVMM_BODY_BLOB, .name = "metrics", .usage = "metrics", .method = "GET", .path = "/v1/metrics", .format = NULL },
	{ .id = LVMM_OP_WAKE, .body = LVMM_BODY_PART, .name = "wake", .usage = "wake PARTITION", .method = "POST", .path = "/v1/partitions/{}/wake", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_BUSY, .body = LVMM_BODY_PART, .name = "busy", .usage = "busy PARTITION", .method = "POST", .path = "/v1/partitions/{}/busy", .arg = ARG_PART, .format = fmt_part },
	{ .id = LVMM_OP_IDLE, .body = LVMM_BODY_PART, .name = "idle", .usage = "idle PARTITION", .method = "POST", .path = "/v1/partitions/{}/idle", .arg = ARG_PART, .format = fmt_part },
	/* The answer is the supervisor's blob of JSON members (docs/trust.md): no formatter. */
	{ .id = LVMM_OP_ATTEST, .body = LVMM_BODY_BLOB, .name = "attest", .usage = "attest PARTITION NONCE_HEX", .method = "POST", .path = "/v1/partitions/{}/attest", .arg = ARG_PART_HEX },
};
const unsigned api_nops = sizeof(api_ops) / sizeof(api_ops[0]);

const struct api_op *api_op_by_name(const char *name)
{
	unsigned i;

	for (i = 0; i < api_nops; i++)
		if (!strcmp(api_ops[i].name, name))
			return &api_ops[i];
	return NULL;
}

int api_window_parse(const char *unit, const char *n, uint64_t *secs)
{
	bool minutes = unit && !strcmp(unit, "minutes");
	uint64_t v;

	if (!unit || (!minutes && strcmp(unit, "seconds")) || !n ||
	    parse_u64(n, minutes ? LVMM_REMOTE_MAX_S / 60 : LVMM_REMOTE_MAX_S, &v) || !v)
		return -EINVAL;
	*secs = minutes ? v * 60 : v;
	return 0;
}

const struct api_op *api_op_by_id(uint32_t id)
{
	unsigned i;

	for (i = 0; i < api_nops; i++)
		if (api_ops[i].id == id)
			return &api_ops[i];
	return NULL;
}

static bool str_ok(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

int api_reply_check(const struct lvmm_api_reply *r, size_t len)
{
	const struct lvmm_api_list *l = (const void *)&r->u;
	unsigned i;

	if (len < offsetof(struct lvmm_api_reply, u) || !str_ok(r->error, sizeof(r->error)) ||
	    r->result > 0 || r->result < -4095 || r->body > LVMM_BODY_MAX || (r->result && r->body))
		return -EPROTO;
	if (r->body == LVMM_BODY_LIST) {
		if (len < offsetof(struct lvmm_api_reply, u) + offsetof(struct lvmm_api_list, parts) ||
		    l->nparts > LVMM_API_MAX_PARTS || l->nlinks > LVMM_API_MAX_LINKS ||
		    len != lvmm_api_reply_len(LVMM_BODY_LIST, l->nparts))
			return -EPROTO;
		for (i = 0; i < l->nparts; i++) {
			const struct lvmm_api_part_info *p = &l->parts[i];

			if (!str_ok(p->name, sizeof(p->name)) || !str_ok(p->label, sizeof(p->label)) ||
			    !str_ok(p->state, sizeof(p->state)) || !str_ok(p->role, sizeof(p->role)) ||
			    !str_ok(p->restart, sizeof(p->restart)))
				return -EPROTO;
		}
		for (i = 0; i < l->nlinks; i++)
			if (!str_ok(l->links[i].name, LVMM_NAME_MAX) || !str_ok(l->links[i].ends[0], LVMM_NAME_MAX) ||
			    !str_ok(l->links[i].ends[1], LVMM_NAME_MAX))
				return -EPROTO;
		return 0;
	}
	if (len != lvmm_api_reply_len(r->body, 0))
		return -EPROTO;
	switch (r->body) {
	case LVMM_BODY_PART:
		if (!str_ok(r->u.part.partition, LVMM_NAME_MAX) || !str_ok(r->u.part.state, LVMM_API_STATE_MAX) ||
		    r->u.part.stats.ndevs > LVMM_STATS_MAX_DEVS)
			return -EPROTO;
		for (i = 0; i < r->u.part.stats.ndevs; i++)
			if (!str_ok(r->u.part.stats.devs[i].id, LVMM_NAME_MAX) ||
			    !str_ok(r->u.part.stats.devs[i].kind, sizeof(r->u.part.stats.devs[i].kind)))
				return -EPROTO;
		return 0;
	case LVMM_BODY_LINK:
		return str_ok(r->u.link.link, LVMM_NAME_MAX) ? 0 : -EPROTO;
	case LVMM_BODY_ISOLATE:
		if (!str_ok(r->u.isolate.partition, LVMM_NAME_MAX) || r->u.isolate.nlinks > LVMM_API_MAX_LINKS)
			return -EPROTO;
		for (i = 0; i < r->u.isolate.nlinks; i++)
			if (!str_ok(r->u.isolate.links[i], LVMM_NAME_MAX))
				return -EPROTO;
		return 0;
	case LVMM_BODY_ACM:
		return str_ok(r->u.acm.policy, sizeof(r->u.acm.policy)) ? 0 : -EPROTO;
	case LVMM_BODY_POLICY:
		return str_ok(r->u.policy.policy, sizeof(r->u.policy.policy)) ? 0 : -EPROTO;
	case LVMM_BODY_EVENTS:
		return r->u.events.nparts <= LVMM_API_MAX_PARTS ? 0 : -EPROTO;
	case LVMM_BODY_BLOB:
		return r->u.blob.size <= LVMM_API_BLOB_MAX ? 0 : -EPROTO;
	case LVMM_BODY_REMOTE:
		return str_ok(r->u.remote.listen, sizeof(r->u.remote.listen)) ? 0 : -EPROTO;
	case LVMM_BODY_NONE:
	default:
		return 0;
	}
}

json_t *api_error_json(const char *why)
{
	json_t *o = json_object();

	BOOL(o, "ok", false);
	STR(o, "error", why);
	return o;
}

/*
 * A blob of JSON members (LVMM_BLOB_JSON_FIELDS): read whole from the sealed
 * memfd (bounded), parsed as an object, merged into o. NULL or the reason.
 */
static const char *merge_blob(json_t *o, const struct lvmm_api_reply *r, int fd)
{
	const int seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	const char *why;
	struct stat st;
	json_t *b;
	char *text;
	int got;

	if (r->u.blob.format == LVMM_BLOB_METRICS) {
		void *m = api_metrics_load(r, fd, &why);

		if (!m)
			return why;
		api_metrics_json(o, m);
		free(m);
		return NULL;
	}
	if (r->u.blob.format != LVMM_BLOB_JSON_FIELDS)
		return "unknown result format";
	if (fd < 0 || fstat(fd, &st) || (fcntl(fd, F_GET_SEALS) & seals) != seals ||
	    (uint64_t)st.st_size != r->u.blob.size || r->u.blob.size > LVMM_API_BLOB_MAX)
		return "the result is missing or not sealed";
	text = malloc((size_t)r->u.blob.size + 3);
	if (!text)
		return "no memory for the result";
	text[0] = '{';
	got = (int)pread(fd, text + 1, (size_t)r->u.blob.size, 0);
	if (got != (int)r->u.blob.size) {
		free(text);
		return "the result could not be read";
	}
	memcpy(text + 1 + got, "}", 2);
	b = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	if (!json_is_object(b)) {
		json_decref(b);
		return "the result is not JSON";
	}
	json_object_update_missing(o, b);
	json_decref(b);
	return NULL;
}

json_t *api_reply_json(const struct lvmm_api_reply *r, int blob_fd)
{
	const struct api_op *op = api_op_by_id(r->op);
	const char *why;
	json_t *o;

	if (r->result)
		return api_error_json(r->error);
	/*
	 * The body must be the op's (found by fuzz_api: a list formatter read a
	 * part body), or a blob, which any op may answer with: its formatter is
	 * then not used.
	 */
	if (!op || (r->body != op->body && r->body != LVMM_BODY_BLOB))
		return api_error_json("malformed reply from the supervisor");
	o = json_object();
	BOOL(o, "ok", true);
	if (r->body == LVMM_BODY_BLOB) {
		why = merge_blob(o, r, blob_fd);
		if (why) {
			json_decref(o);
			return api_error_json(why);
		}
	} else if (op->format) {
		op->format(o, r);
	}
	return o;
}

unsigned api_http_status(int result)
{
	switch (result) {
	case 0: return 200;
	case -EINVAL: case -EPROTO: return 400;
	case -EACCES: case -EPERM: return 403;
	case -ENOENT: return 404;
	case -EMSGSIZE: return 413;
	case -EAGAIN: return 429;
	case -ESRCH: case -EALREADY: case -EBUSY: case -ECANCELED: return 409;
	case -ESHUTDOWN: return 503;
	case -ETIMEDOUT: return 504;
	default: return 500;
	}
}
