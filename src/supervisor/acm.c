// SPDX-License-Identifier: MIT
/*
 * The access control module: sHype's mediation hooks on top of the policy
 * decisions (policy.c). Partition start is PRE / COMMIT / FAIL for the
 * Chinese Wall; every resource grant and link is an STE decision; control
 * operations are checked per client; a new policy is accepted only if the
 * running platform stays legal under it. Every denial (and every decision
 * with audit_all) is an event naming subject, object, operation and rule.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/acm_grant.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/supervisor_int.h"

static struct {
	struct ste_cache cache;
	struct cw_state cw;
	struct cw_contrib contrib[PLAT_MAX_PARTS];
	bool committed[PLAT_MAX_PARTS];
	uint64_t decisions, denials;
} A;

static void audit(struct sup *s, bool allowed, const char *subject, const char *object,
		  const char *op, const char *rule)
{
	struct event e;

	A.decisions++;
	if (!allowed)
		A.denials++;
	if (allowed && !s->plat->policy.audit_all)
		return;
	ev_begin(&e, allowed ? "acm_allow" : "acm_deny", NULL);
	ev_str(&e, "subject", subject);
	ev_str(&e, "object", object);
	ev_str(&e, "operation", op);
	ev_str(&e, "rule", rule);
	ev_str(&e, "policy", s->plat->policy.present ? s->plat->policy.name : "none");
	ev_end(&e);
}

bool acm_cpu_allowed(const struct policy *pol, struct ste_cache *c, const struct plat_part *p,
		     int cpu, const char **why)
{
	int rl = pol_res_label(pol, RES_HOST_CPU, NULL, cpu);

	*why = "ste";
	if (!pol->present || rl < 0)
		return true;
	if (ste_allowed(pol, c, pol_label_find(pol, p->label), rl))
		return true;
	*why = "ste: partition and host CPU labels share no type";
	return false;
}

bool acm_device_allowed(const struct policy *pol, struct ste_cache *c, const struct platform *plat,
			unsigned pi, unsigned di, const char **why)
{
	const struct plat_part *p = &plat->parts[pi];
	const struct plat_dev *d = &p->devs[di];
	int lp = pol_label_find(pol, p->label), rl;
	char real[PATH_MAX];

	*why = "ste";
	if (!pol->present)
		return true;
	switch (d->type) {
	case LVMM_DEV_NET_LINK: {
		unsigned i;

		for (i = 0; i < plat->nlinks; i++) {
			const struct plat_link *l = &plat->links[i];
			int peer;

			if (strcmp(l->name, d->link))
				continue;
			peer = l->part[0] == (int)pi ? l->part[1] : l->part[0];
			if (peer < 0 || !ste_allowed(pol, c, lp, pol_label_find(pol, plat->parts[peer].label))) {
				*why = "ste: the link's two partitions share no type";
				return false;
			}
			rl = pol_res_label(pol, RES_LINK, l->name, -1);
			if (rl >= 0 && !ste_allowed(pol, c, lp, rl)) {
				*why = "ste: partition and link labels share no type";
				return false;
			}
			return true;
		}
		*why = "no such link";
		return false;
	}
	case LVMM_DEV_NET_TAP:
		rl = pol_res_label(pol, RES_TAP, d->tap, -1);
		break;
	case LVMM_DEV_BLK:
		rl = pol_res_label(pol, RES_DISK, realpath(d->path, real) ? real : d->path, -1);
		break;
	case LVMM_DEV_TPM:
		*why = "the partition's own vTPM: shared with nobody";
		return true;
	case LVMM_DEV_STREAM:
		if (d->control) {
			*why = "control channel: each request is mediated";
			return true;
		}
		rl = pol_res_label(pol, RES_SOCKET, d->path, -1);
		break;
	default:
		rl = -1;
		break;
	}
	if (rl < 0) {
		*why = "resource has no label in the policy";
		return false;
	}
	if (!ste_allowed(pol, c, lp, rl)) {
		*why = "ste: partition and resource labels share no type";
		return false;
	}
	return true;
}

int acm_init(struct sup *s)
{
	memset(&A, 0, sizeof(A));
	ste_cache_flush(&A.cache);
	(void)s;
	return 0;
}

int acm_partition_start_pre(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	const struct policy *pol = &s->plat->policy;
	const struct plat_part *p = pr->p;
	int l = pol_label_find(pol, p->label), blocking;
	unsigned k;
	const char *why;

	if (!pol->present)
		return 0;
	if (l < 0) {
		snprintf(err, errlen, "partition has no label of policy '%s'", pol->name);
		audit(s, false, p->name, "platform", "partition-start", "label: none");
		return -EACCES;
	}
	for (k = 0; k < p->n_host_cpus; k++)
		if (!acm_cpu_allowed(pol, &A.cache, p, p->host_cpus[k], &why)) {
			char obj[32];

			snprintf(obj, sizeof(obj), "host-cpu-%d", p->host_cpus[k]);
			snprintf(err, errlen, "host CPU %d refused by the policy (%s)", p->host_cpus[k], why);
			audit(s, false, p->name, obj, "grant", why);
			return -EACCES;
		}
	if (!cw_pre_start(pol, &A.cw, l, &A.contrib[pr->index], &blocking)) {
		const char *rival = "?";
		unsigned i;

		for (i = 0; i < s->plat->nparts; i++) {
			int li = pol_label_find(pol, s->plat->parts[i].label);

			if (A.committed[i] && li >= 0 && blocking >= 0)
				for (k = 0; k < pol->nsets; k++)
					if ((pol->sets[k].types >> blocking & 1) &&
					    (pol->labels[li].cw & pol->sets[k].types))
						rival = s->plat->parts[i].name;
		}
		snprintf(err, errlen, "Chinese Wall: its type '%s' conflicts with running partition '%s'",
			 blocking >= 0 ? pol->cw_names[blocking] : "?", rival);
		audit(s, false, p->name, rival, "partition-start", "chinese-wall");
		return -EACCES;
	}
	audit(s, true, p->name, "platform", "partition-start", "chinese-wall");
	return 0;
}

/*
 * The partition runs. It is recorded even without a policy: the first
 * policy loaded at run time must be checked against every partition that
 * runs (docs/policy.md), not only those started under a policy.
 */
void acm_partition_start_commit(struct sup *s, struct part_rt *pr)
{
	if (s->plat->policy.present)
		cw_commit_start(&A.cw, &A.contrib[pr->index]);
	A.committed[pr->index] = true;
}

void acm_partition_start_fail(struct sup *s, struct part_rt *pr)
{
	if (!s->plat->policy.present)
		return;
	cw_fail_start(&A.cw, &A.contrib[pr->index]);
}

void acm_partition_stop(struct sup *s, struct part_rt *pr)
{
	if (!A.committed[pr->index])
		return;
	if (s->plat->policy.present)
		cw_stopped(&A.cw, &A.contrib[pr->index]);
	A.committed[pr->index] = false;
}

bool acm_grant_device(struct sup *s, struct part_rt *pr, unsigned di)
{
	const char *why;
	bool ok = acm_device_allowed(&s->plat->policy, &A.cache, s->plat, pr->index, di, &why);
	const struct plat_dev *d = &pr->p->devs[di];

	if (s->plat->policy.present)
		audit(s, ok, pr->p->name,
		      d->type == LVMM_DEV_NET_LINK ? d->link : d->type == LVMM_DEV_NET_TAP ? d->tap :
		      d->control ? "control" : d->path,
		      d->type == LVMM_DEV_NET_LINK ? "link" : "grant", why);
	return ok;
}

int acm_ctl_check(struct sup *s, const struct ctl_subject *sub, int opi, const char *op,
		  const char *target, bool link, char *err, size_t errlen)
{
	const struct policy *pol = &s->plat->policy;
	const char *part = sub->agent ? s->parts[sub->part].p->name : NULL;
	int obj[3] = { POL_NO_OBJECT, POL_NO_OBJECT, POL_NO_OBJECT }, pi, li;
	const char *rule = "clients";
	char subject[CTL_SUBJECT_MAX];
	bool ok = true;
	unsigned k;

	if (!pol->present && !sub->remote) {
		/* Unmediated, but a partition's channel is no administrator: it acts on itself only. */
		if (!part || (target ? !link && !strcmp(target, part) : opi != OP_POLICY_LOAD))
			return 0;
		ok = false, rule = "no policy: a partition acts on itself only";
	} else if (target && link && (li = links_find(s, target)) >= 0) {
		/* A link is an object of its own label (if any) and of both its ends' labels. */
		const struct plat_link *l = &s->plat->links[li];

		obj[0] = pol_obj_label(pol, s->plat->parts[l->part[0]].label);
		obj[1] = pol_obj_label(pol, s->plat->parts[l->part[1]].label);
		obj[2] = pol_res_label(pol, RES_LINK, l->name, -1);
	} else if (target && !link && (pi = platform_find(s->plat, target)) >= 0)
		obj[0] = pol_obj_label(pol, s->plat->parts[pi].label);
	for (k = 0; ok && k < 3; k++)
		ok = sub->remote ? ctl_allowed_cert(pol, &A.cache, sub->cert, opi, obj[k], &rule) :
				   ctl_allowed(pol, &A.cache, sub->uid, part, opi, obj[k], &rule);
	ctl_subject_name(s, sub, subject, sizeof(subject));
	audit(s, ok, subject, target ? target : "platform", op, rule);
	if (!ok)
		snprintf(err, errlen, "denied by policy '%s': %s may not %s%s%s (%s)",
			 pol->present ? pol->name : "none", subject, op, target ? " " : "",
			 target ? target : "", rule);
	return ok ? 0 : -EACCES;
}

/*
 * Would the running platform be legal under pol? Replays every running
 * partition's start (Chinese Wall) and every grant and link it holds (STE).
 * On success the new state replaces the old one.
 */
int acm_reload(struct sup *s, const struct policy *pol, char *err, size_t errlen)
{
	static struct ste_cache cache;
	static struct cw_contrib contrib[PLAT_MAX_PARTS];
	struct cw_state cw;
	unsigned i, k;
	const char *why;
	int l, blocking;

	memset(&cw, 0, sizeof(cw));
	ste_cache_flush(&cache);
	memset(contrib, 0, sizeof(contrib));
	/* Labels first: a missing label is the root cause of every other refusal. */
	for (i = 0; i < s->plat->nparts; i++)
		if (A.committed[i] && pol->present && pol_label_find(pol, s->plat->parts[i].label) < 0) {
			snprintf(err, errlen, "running partition '%s' has no label in the new policy",
				 s->plat->parts[i].name);
			return -EPERM;
		}
	for (i = 0; i < s->plat->nparts; i++) {
		const struct plat_part *p = &s->plat->parts[i];

		if (!A.committed[i])
			continue;
		l = pol_label_find(pol, p->label);
		if (!cw_pre_start(pol, &cw, l, &contrib[i], &blocking)) {
			snprintf(err, errlen, "running partition '%s' would violate the Chinese Wall (type %s)",
				 p->name, blocking >= 0 ? pol->cw_names[blocking] : "?");
			return -EPERM;
		}
		cw_commit_start(&cw, &contrib[i]);
		for (k = 0; k < p->n_host_cpus; k++)
			if (!acm_cpu_allowed(pol, &cache, p, p->host_cpus[k], &why)) {
				snprintf(err, errlen, "running partition '%s' holds host CPU %d (%s)", p->name,
					 p->host_cpus[k], why);
				return -EPERM;
			}
		for (k = 0; k < p->ndevs; k++)
			if (s->parts[i].granted >> k & 1 &&
			    !acm_device_allowed(pol, &cache, s->plat, i, k, &why)) {
				snprintf(err, errlen, "running partition '%s' holds device %s (%s)", p->name,
					 p->devs[k].id, why);
				return -EPERM;
			}
	}
	A.cw = cw;
	memcpy(A.contrib, contrib, sizeof(contrib));
	ste_cache_flush(&A.cache);
	return 0;
}

void acm_stats(uint64_t *decisions, uint64_t *denials, uint64_t *evaluations, uint64_t *hits)
{
	*decisions = A.decisions;
	*denials = A.denials;
	*evaluations = A.cache.evaluations;
	*hits = A.cache.hits;
}
