// SPDX-License-Identifier: MIT
/* Policy decisions: STE sharing, Chinese Wall co-location, control operations. */
#include "supervisor/policy.h"

#include <string.h>

static const char *const op_names[OP_COUNT] = {
	[OP_LIST] = "list", [OP_STATUS] = "status", [OP_PAUSE] = "pause",
	[OP_RESUME] = "resume", [OP_STOP] = "stop", [OP_START] = "start",
	[OP_RESTART] = "restart", [OP_LINK_DOWN] = "link-down", [OP_LINK_UP] = "link-up",
	[OP_ISOLATE] = "isolate", [OP_POLICY_LOAD] = "policy-load", [OP_ACM] = "acm", [OP_HELP] = "help",
	[OP_EVENTS] = "events",
};

int pol_op_find(const char *name)
{
	int i;

	for (i = 0; i < OP_COUNT; i++)
		if (!strcmp(op_names[i], name))
			return i;
	return -1;
}

const char *pol_op_name(int op)
{
	return op >= 0 && op < OP_COUNT ? op_names[op] : "?";
}

int pol_label_find(const struct policy *p, const char *name)
{
	unsigned i;

	for (i = 0; i < p->nlabels; i++)
		if (!strcmp(p->labels[i].name, name))
			return (int)i;
	return -1;
}

int pol_res_label(const struct policy *p, enum pol_res_kind kind, const char *name, int cpu)
{
	unsigned i;

	for (i = 0; i < p->nres; i++) {
		const struct pol_res *r = &p->res[i];

		if (r->kind != kind)
			continue;
		if (kind == RES_HOST_CPU ? r->cpu == cpu : !strcmp(r->name, name))
			return r->label;
	}
	return -1;
}

void ste_cache_flush(struct ste_cache *c)
{
	memset(c->d, 0, sizeof(c->d));
}

bool ste_allowed(const struct policy *p, struct ste_cache *c, int a, int b)
{
	uint8_t *slot;
	bool ok;

	if (!p->present)
		return true;
	if (a < 0 || b < 0 || (unsigned)a >= p->nlabels || (unsigned)b >= p->nlabels) {
		c->evaluations++;
		c->denials++;
		return false; /* an unlabelled subject or object shares nothing */
	}
	slot = &c->d[a][b];
	if (*slot) {
		c->hits++;
		if (*slot == 2)
			c->denials++;
		return *slot == 1;
	}
	c->evaluations++;
	ok = (p->labels[a].ste & p->labels[b].ste) != 0;
	if (!ok)
		c->denials++;
	/* Sharing is symmetric: fill both orders. */
	c->d[a][b] = c->d[b][a] = ok ? 1 : 2;
	return ok;
}

bool cw_pre_start(const struct policy *p, struct cw_state *s, int l, struct cw_contrib *c,
		  int *blocking)
{
	uint64_t mine;
	unsigned i, t;

	memset(c, 0, sizeof(*c));
	*blocking = -1;
	if (!p->present)
		return true;
	if (l < 0 || (unsigned)l >= p->nlabels)
		return false;
	mine = p->labels[l].cw;
	for (t = 0; t < POL_MAX_TYPES; t++)
		if ((mine >> t & 1) && s->aggregate[t]) {
			*blocking = (int)t;
			return false;
		}
	/* Every conflict set this partition is in now forbids its other types. */
	for (i = 0; i < p->nsets; i++) {
		uint64_t set = p->sets[i].types;

		if (!(set & mine))
			continue;
		for (t = 0; t < POL_MAX_TYPES; t++)
			if ((set >> t & 1) && !(mine >> t & 1)) {
				s->aggregate[t]++;
				c->agg[t]++;
			}
	}
	c->running = mine;
	return true;
}

void cw_commit_start(struct cw_state *s, const struct cw_contrib *c)
{
	unsigned t;

	for (t = 0; t < POL_MAX_TYPES; t++)
		if (c->running >> t & 1)
			s->running[t]++;
}

void cw_fail_start(struct cw_state *s, struct cw_contrib *c)
{
	unsigned t;

	for (t = 0; t < POL_MAX_TYPES; t++)
		s->aggregate[t] -= c->agg[t] <= s->aggregate[t] ? c->agg[t] : s->aggregate[t];
	memset(c, 0, sizeof(*c));
}

void cw_stopped(struct cw_state *s, struct cw_contrib *c)
{
	unsigned t;

	for (t = 0; t < POL_MAX_TYPES; t++)
		if ((c->running >> t & 1) && s->running[t])
			s->running[t]--;
	cw_fail_start(s, c);
}

bool ctl_allowed(const struct policy *p, struct ste_cache *c, uint32_t uid, const char *part,
		 int op, int obj_label, const char **rule)
{
	unsigned i;

	*rule = "no policy";
	if (!p->present)
		return true;
	if (op == OP_POLICY_LOAD) {
		/* Host administrators, and the designated policy-manager partition only. */
		if (part) {
			*rule = "policy_manager";
			return p->manager[0] && !strcmp(p->manager, part);
		}
	}
	if (!p->nclients) {
		*rule = "no clients section: control API unmediated";
		return !part; /* partitions get nothing they were not granted */
	}
	for (i = 0; i < p->nclients; i++) {
		const struct pol_client *cl = &p->clients[i];

		if (part ? (cl->by_uid || strcmp(cl->partition, part)) : (!cl->by_uid || cl->uid != uid))
			continue;
		if (!(cl->ops >> op & 1)) {
			*rule = "clients: operation not granted";
			return false;
		}
		if (obj_label >= 0 && !ste_allowed(p, c, cl->label, obj_label)) {
			*rule = "ste: client and target share no type";
			return false;
		}
		*rule = "clients";
		return true;
	}
	*rule = "clients: subject not listed";
	return false;
}
