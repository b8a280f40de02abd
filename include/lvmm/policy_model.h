/* SPDX-License-Identifier: MIT */
/*
 * The access-control policy model (sHype, docs/policy.md): Simple Type
 * Enforcement types, Chinese Wall types and conflict sets, labels naming
 * sets of both, labelled resources and control clients.
 *
 * src/config produces it (from a platform file, or from a policy uploaded
 * at run time, which the sandboxed API front-end parses and hands over as
 * this exact struct in a sealed memfd, struct lvmm_policy_upload below);
 * src/supervisor alone judges with it.
 * Because the compiled policy crosses a process boundary it is an ABI:
 * fixed-width members only (no bool, no enum: a hostile front-end could send a
 * byte that is not a valid bool), every count bounded by a POL_MAX_*, and
 * the layout pinned below. Change the layout => bump the revision.
 */
#ifndef LVMM_POLICY_MODEL_H
#define LVMM_POLICY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "lvmm/proto.h"

#define LVMM_POLICY_REVISION 2

#define POL_MAX_TYPES   64 /* STE and CW types each: one bit per type */
#define POL_MAX_LABELS  64
#define POL_MAX_SETS    16
#define POL_MAX_RES     64
#define POL_MAX_CLIENTS 32
#define POL_NAME_MAX    LVMM_NAME_MAX
#define POL_RES_NAME_MAX 1024

/* Kinds of labelled resources (struct pol_res.kind). */
enum pol_res_kind { RES_TAP = 1, RES_DISK, RES_LINK, RES_HOST_CPU, RES_SOCKET };

struct pol_label {
	char name[POL_NAME_MAX];
	uint64_t ste; /* STE types, bit i = ste_names[i] */
	uint64_t cw;  /* Chinese Wall types, bit i = cw_names[i] */
};

struct pol_set {
	char name[POL_NAME_MAX];
	uint64_t types; /* CW types that must never run side by side */
};

struct pol_res {
	uint32_t kind;               /* enum pol_res_kind */
	char name[POL_RES_NAME_MAX]; /* TAP name, disk path, link name, socket path */
	int32_t cpu;                 /* RES_HOST_CPU */
	int32_t label;               /* index into labels[], or -1 */
};

/* Control operations a client may be allowed (bit = 1 << enum). */
enum pol_op {
	OP_LIST = 0, OP_STATUS, OP_PAUSE, OP_RESUME, OP_STOP, OP_START, OP_RESTART,
	OP_LINK_DOWN, OP_LINK_UP, OP_ISOLATE, OP_POLICY_LOAD, OP_ACM, OP_HELP, OP_EVENTS,
	OP_SHUTDOWN, OP_REBOOT, OP_REMOTE_ENABLE, OP_REMOTE_DISABLE, OP_REMOTE_STATUS, OP_METRICS,
	OP_WAKE, OP_BUSY, OP_IDLE, OP_ATTEST, /* appended: the bits of the operations before keep their values */
	OP_COUNT
};
_Static_assert(OP_COUNT <= 32, "pol_client.ops has a bit per operation");

struct pol_client {
	uint8_t by_uid;               /* 1: a host user (uid); 0: a partition's agent channel */
	uint8_t by_cert;              /* 1: a remote client (TLS certificate); by_uid is then 0 */
	uint8_t pad[2];
	uint32_t uid;
	union {
		char partition[POL_NAME_MAX];  /* when !by_uid && !by_cert */
		uint8_t cert_sha256[32];       /* by_cert: SHA-256 of the certificate (DER) */
	};
	int32_t label;                /* index into labels[], or -1 */
	uint32_t ops;                 /* bit per enum pol_op */
};

struct policy {
	uint32_t revision;     /* LVMM_POLICY_REVISION when produced by src/config */
	uint8_t present;       /* 0: no MAC policy, every decision allows */
	uint8_t audit_all;     /* log allowed decisions too */
	uint8_t pad[2];
	uint32_t nste, ncw, nlabels, nsets, nres;
	uint32_t nclients;     /* 0 with a policy: the control API is unmediated */
	char name[64];
	char manager[POL_NAME_MAX]; /* partition that may load policies, or "" */
	struct pol_label labels[POL_MAX_LABELS];
	struct pol_set sets[POL_MAX_SETS];
	char ste_names[POL_MAX_TYPES][POL_NAME_MAX];
	char cw_names[POL_MAX_TYPES][POL_NAME_MAX];
	struct pol_client clients[POL_MAX_CLIENTS];
	struct pol_res res[POL_MAX_RES];
};

/*
 * Pinned layout of revision 2 (2: pol_client.by_cert) (x86-64, the only target), with no implicit
 * padding: a member moved or resized fails the build here, as a reminder
 * to bump LVMM_POLICY_REVISION.
 */
_Static_assert(POL_NAME_MAX == 32, "policy ABI: name size (and a SHA-256 in pol_client)");
_Static_assert(sizeof(struct pol_label) == 48, "policy ABI: pol_label");
_Static_assert(sizeof(struct pol_set) == 40, "policy ABI: pol_set");
_Static_assert(sizeof(struct pol_res) == 1036, "policy ABI: pol_res");
_Static_assert(sizeof(struct pol_client) == 48, "policy ABI: pol_client");
_Static_assert(offsetof(struct policy, revision) == 0, "policy ABI: revision first");
_Static_assert(offsetof(struct policy, nste) == 8, "policy ABI: counts");
_Static_assert(offsetof(struct policy, name) == 32, "policy ABI: name");
_Static_assert(offsetof(struct policy, labels) == 128, "policy ABI: labels");
_Static_assert(offsetof(struct policy, ste_names) == 3840, "policy ABI: ste_names");
_Static_assert(offsetof(struct policy, clients) == 7936, "policy ABI: clients");
_Static_assert(offsetof(struct policy, res) == 9472, "policy ABI: res");
_Static_assert(sizeof(struct policy) == 75776, "policy ABI: size");

/*
 * A policy-load upload as the front-end hands it to the supervisor: a
 * sealed memfd (F_SEAL_WRITE|SHRINK|GROW) of exactly this size. problems
 * 0: pol is the compiled policy; otherwise err holds the parser's
 * "<policy-load>:LINE: ..." messages, which the supervisor reports (after
 * its own permission check and audit) as it reports any invalid policy.
 */
#define LVMM_POLICY_ERR_MAX 2048
struct lvmm_policy_upload {
	int32_t problems;
	char err[LVMM_POLICY_ERR_MAX];
	uint8_t pad[4];
	struct policy pol;
};
_Static_assert(offsetof(struct lvmm_policy_upload, pol) == 2056, "policy ABI: upload");

/* Index of the label called name in p, or -1. */
int pol_label_find(const struct policy *p, const char *name);
/* Label index of the resource of this kind and name (or host CPU cpu), or -1 if unlabelled. */
int pol_res_label(const struct policy *p, enum pol_res_kind kind, const char *name, int cpu);

#endif
