// SPDX-License-Identifier: MIT
/* Policy decisions: STE sharing, Chinese Wall co-location, control operations. */
#include "supervisor/policy.h"

#include <string.h>

int pol_label_find(const struct policy *p, const char *name)
{
	unsigned i;

	for (i = 0; i < p->nlabels; i++)
		if (!strcmp(p->labels[i].name, name))
			return (int)i;
	return -1;
}

int pol_obj_label(const struct policy *p, const char *name)
{
	int l = pol_label_find(p, name);

	return l >= 0 ? l : POL_UNLABELLED;
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

/* The subject's clients entry: by uid, by partition, or (cert != NULL) by certificate. */
static bool client_is(const struct pol_client *cl, uint32_t uid, const char *part, const uint8_t *cert)
{
	if (cert)
		return cl->by_cert && !memcmp(cl->cert_sha256, cert, sizeof(cl->cert_sha256));
	if (cl->by_cert)
		return false; /* its bytes are no name: never compared as one */
	return part ? !cl->by_uid && !strcmp(cl->partition, part) : cl->by_uid && cl->uid == uid;
}

static bool decide(const struct policy *p, struct ste_cache *c, const struct pol_client *cl, int op,
		   int obj_label, const char **rule)
{
	if (!(cl->ops >> op & 1)) {
		*rule = "clients: operation not granted";
		return false;
	}
	if (obj_label != POL_NO_OBJECT && !ste_allowed(p, c, cl->label, obj_label)) {
		*rule = "ste: client and target share no type";
		return false;
	}
	*rule = "clients";
	return true;
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
	for (i = 0; i < p->nclients; i++)
		if (client_is(&p->clients[i], uid, part, NULL))
			return decide(p, c, &p->clients[i], op, obj_label, rule);
	*rule = "clients: subject not listed";
	return false;
}

bool ctl_allowed_cert(const struct policy *p, struct ste_cache *c, const uint8_t cert[32], int op,
		      int obj_label, const char **rule)
{
	unsigned i;

	/* Unlike local subjects, a remote one gets nothing it was not granted by name. */
	*rule = "remote: no policy grants remote clients anything";
	if (!p->present)
		return false;
	for (i = 0; i < p->nclients; i++)
		if (client_is(&p->clients[i], 0, NULL, cert))
			return decide(p, c, &p->clients[i], op, obj_label, rule);
	*rule = "clients: certificate not listed";
	return false;
}
