/* SPDX-License-Identifier: MIT */
/*
 * The mandatory access-control policy (sHype, ../shared/seeds/003_*):
 * Simple Type Enforcement types, Chinese Wall types and conflict sets,
 * labels that name sets of both, labelled resources and control clients.
 * The decision functions here are pure: they look only at the policy and
 * at the counters passed in, so they are table-tested without a platform.
 */
#ifndef LVMM_POLICY_H
#define LVMM_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "lvmm/proto.h"

#define POL_MAX_TYPES   64 /* STE and CW types each: one bit per type */
#define POL_MAX_LABELS  64
#define POL_MAX_SETS    16
#define POL_MAX_RES     64
#define POL_MAX_CLIENTS 32
#define POL_NAME_MAX    LVMM_NAME_MAX
#define POL_RES_NAME_MAX 1024

enum pol_res_kind { RES_TAP = 1, RES_DISK, RES_LINK, RES_HOST_CPU, RES_SOCKET };

struct pol_label {
	char name[POL_NAME_MAX];
	uint64_t ste; /* STE types */
	uint64_t cw;  /* Chinese Wall types */
};

struct pol_set {
	char name[POL_NAME_MAX];
	uint64_t types; /* CW types that must never run side by side */
};

struct pol_res {
	enum pol_res_kind kind;
	char name[POL_RES_NAME_MAX]; /* TAP name, disk path, link name, socket path */
	int cpu;                     /* RES_HOST_CPU */
	int label;
};

/* Control operations a client may be allowed (bit = 1 << enum). */
enum pol_op {
	OP_LIST = 0, OP_STATUS, OP_PAUSE, OP_RESUME, OP_STOP, OP_START, OP_RESTART,
	OP_LINK_DOWN, OP_LINK_UP, OP_ISOLATE, OP_POLICY_LOAD, OP_ACM, OP_HELP, OP_COUNT
};

struct pol_client {
	bool by_uid;
	uint32_t uid;
	char partition[POL_NAME_MAX]; /* when !by_uid: a partition's agent channel */
	int label;
	uint32_t ops; /* bit per enum pol_op */
};

struct policy {
	bool present;    /* false: no MAC policy, every decision allows */
	char name[64];
	char ste_names[POL_MAX_TYPES][POL_NAME_MAX];
	unsigned nste;
	char cw_names[POL_MAX_TYPES][POL_NAME_MAX];
	unsigned ncw;
	struct pol_label labels[POL_MAX_LABELS];
	unsigned nlabels;
	struct pol_set sets[POL_MAX_SETS];
	unsigned nsets;
	struct pol_res res[POL_MAX_RES];
	unsigned nres;
	struct pol_client clients[POL_MAX_CLIENTS];
	unsigned nclients;     /* 0 with a policy: the control API is unmediated */
	char manager[POL_NAME_MAX]; /* partition that may load policies, or "" */
	bool audit_all;        /* log allowed decisions too */
};

/* Index of a label / the label of a resource, or -1. */
int pol_label_find(const struct policy *p, const char *name);
int pol_res_label(const struct policy *p, enum pol_res_kind kind, const char *name, int cpu);
/* Operation id for a control-API name ("link-down"), or -1. */
int pol_op_find(const char *name);
const char *pol_op_name(int op);

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

/*
 * May the subject (a uid, or a partition's agent channel when part != NULL)
 * perform op on an object with label obj_label (-1: no object)? With no
 * clients section, everything is allowed. *rule names the rule that decided.
 */
bool ctl_allowed(const struct policy *p, struct ste_cache *c, uint32_t uid, const char *part,
		 int op, int obj_label, const char **rule);

#endif
