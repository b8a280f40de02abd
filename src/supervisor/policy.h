/* SPDX-License-Identifier: MIT */
/*
 * Decisions of the mandatory access-control policy (sHype,
 * ../shared/seeds/003_*) on the model of include/lvmm/policy_model.h,
 * which src/config produces. The decision functions here are pure: they
 * look only at the policy and at the counters passed in, so they are
 * table-tested without a platform.
 */
#ifndef LVMM_POLICY_H
#define LVMM_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "lvmm/policy_model.h"

/* ---- Simple Type Enforcement ------------------------------------------------ */

/* Decision cache: one entry per label pair, flushed when the policy changes. */
struct ste_cache {
	uint8_t d[POL_MAX_LABELS][POL_MAX_LABELS]; /* 0 unknown, 1 allow, 2 deny */
	uint64_t evaluations, denials, hits;
};

void ste_cache_flush(struct ste_cache *c);
/* Sharing between two labels is allowed iff they have an STE type in common. */
bool ste_allowed(const struct policy *p, struct ste_cache *c, int a, int b);

/* ---- Chinese Wall ---------------------------------------------------------- */

struct cw_state {
	uint32_t running[POL_MAX_TYPES];   /* running partitions per CW type */
	uint32_t aggregate[POL_MAX_TYPES]; /* partitions that forbid each type */
};

/* What one partition's start added to the state (kept so stop undoes it exactly). */
struct cw_contrib {
	uint64_t running; /* its own CW types */
	uint8_t agg[POL_MAX_TYPES];
};

/*
 * PRE: may a partition with label l start? On yes, the aggregate is raised
 * for the other types of every conflict set it belongs to (before it runs,
 * so partitions started together see each other) and *c records it; on no,
 * *blocking is the CW type that conflicts. true = allowed.
 */
bool cw_pre_start(const struct policy *p, struct cw_state *s, int l, struct cw_contrib *c,
		  int *blocking);
/* COMMIT: the partition runs; its types count as running. */
void cw_commit_start(struct cw_state *s, const struct cw_contrib *c);
/* FAIL: undo a PRE whose start did not happen. */
void cw_fail_start(struct cw_state *s, struct cw_contrib *c);
/* A committed partition ended. */
void cw_stopped(struct cw_state *s, struct cw_contrib *c);

/* ---- control API ------------------------------------------------------------ */

#define POL_NO_OBJECT (-1)  /* an operation on the platform, not on an object */
#define POL_UNLABELLED (-2) /* an object with no label of the policy: it shares nothing */
/* The object label of a partition labelled name: its index, or POL_UNLABELLED. */
int pol_obj_label(const struct policy *p, const char *name);

/*
 * May the subject (a uid, or a partition's agent channel when part != NULL)
 * perform op on an object with label obj_label (or POL_NO_OBJECT)? With no
 * clients section, host users may do everything and partitions nothing;
 * without a policy, everything is allowed (acm_ctl_check keeps a partition
 * to itself then). *rule names the rule that decided.
 */
bool ctl_allowed(const struct policy *p, struct ste_cache *c, uint32_t uid, const char *part,
		 int op, int obj_label, const char **rule);

/*
 * May the remote client with this certificate (SHA-256 of its DER) perform
 * op on an object with label obj_label? Only when a clients entry names the
 * certificate and grants op: without a policy or an entry, never.
 */
bool ctl_allowed_cert(const struct policy *p, struct ste_cache *c, const uint8_t cert[32], int op,
		      int obj_label, const char **rule);

#endif
