/* SPDX-License-Identifier: MIT */
/*
 * Supervisor <-> API front-end protocol (docs/api.md, docs/design.md).
 *
 * The front-end (lvmm-api, src/api) speaks HTTP/JSON to clients and the
 * text line protocol to partitions' agent channels; the supervisor speaks
 * only this: fixed-layout messages in the framing of include/lvmm/proto.h
 * (one SOCK_SEQPACKET packet per message, a checked header, fds by
 * SCM_RIGHTS), in a type range of its own. Two socketpairs: the control
 * channel (fd 3 of the front-end: requests, replies, notices) and the event
 * channel (fd 4: events only, so an event flood never delays a reply). The
 * listening control socket, bound by the supervisor, is the front-end's fd 5.
 *
 * Every request carries the subject's own connection as fds[0]: the
 * supervisor reads the subject from it (SO_PEERCRED of a connection accepted
 * on its own control socket, or the identity of a partition's agent channel
 * it created), never from a field the front-end fills in. The supervisor
 * checks every field of a request before using it (ctl_req_check()); the
 * front-end checks replies the same way (the supervisor is trusted, but a
 * bug must not become a crash there either).
 *
 * Change a layout => bump LVMM_API_VERSION (both sides are built together;
 * the version catches a stale lvmm-api next to a new lvmm).
 */
#ifndef LVMM_CTL_PROTO_H
#define LVMM_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "lvmm/proto.h"

#define LVMM_API_VERSION    6  /* 2: shutdown, reboot; lvmm_api_part.timeout_ms; 3: metrics, wake, busy, idle;
                                * 4: metrics gathered by the front-end (list, METRICS_PART, METRICS_ACM),
                                * lvmm_api_stats.vcpu_ns, lvmm_api_part.pid always set;
                                * 5: no REMOTE notice (the window comes with init.remote_ms and every
                                * remote body, lvmm_api_remote.remaining_ms);
                                * 6: no POLICY notice (the policy-load reply says it) */
#define LVMM_API_MAX_PARTS  256  /* list replies and event filters: >= PLAT_MAX_PARTS */
#define LVMM_API_MAX_LINKS  128  /* >= PLAT_MAX_LINKS (two per partition) */
#define LVMM_API_RID_MAX    64   /* request id incl. NUL: [A-Za-z0-9._:-], 1-63 chars */
#define LVMM_API_ERR_MAX    256
#define LVMM_API_ARG_MAX    64   /* opaque argument bytes (e.g. a nonce) */
#define LVMM_API_UPLOAD_MAX (64 * 1024) /* a policy: sealed memfd of 1..this bytes */
#define LVMM_API_BLOB_MAX   (1024 * 1024) /* an opaque result: sealed memfd of at most this */
#define LVMM_API_LINE_MAX   2048 /* one event line incl. its newline */
#define LVMM_API_STATE_MAX  16   /* "running", "restarting", ... incl. NUL */
#define LVMM_API_POWER_MAX_S 3600 /* shutdown/reboot: the longest timeout (num[0], seconds) */

/* Message types (struct lvmm_msg_hdr.type), apart from the partition protocol's. */
enum lvmm_api_msg {
	LVMM_MSG_API_FIRST = 0x101,
	LVMM_MSG_API_INIT = 0x101,   /* sup -> fe: struct lvmm_api_init (first message) */
	LVMM_MSG_API_REQ = 0x102,    /* fe -> sup: struct lvmm_api_req; fds: subject conn [, payload] */
	LVMM_MSG_API_REPLY = 0x103,  /* sup -> fe: struct lvmm_api_reply (+ body); fds: [blob] */
	LVMM_MSG_API_EVENT = 0x104,  /* sup -> fe (event channel): struct lvmm_api_event */
	LVMM_MSG_API_AGENT = 0x105,  /* sup -> fe: struct lvmm_api_agent; fd: the channel when open */
	/* 0x106: POLICY (until version 6: the front-end sees the policy-load reply instead) */
	LVMM_MSG_API_REMOTE_REQ = 0x107, /* fe -> sup: struct lvmm_api_remote_req; fds as REQ */
	LVMM_MSG_API_LAST = 0x107,
};

/*
 * Operations. The id is the protocol's; the name (docs/policy.md) is the
 * policy's operation and the text protocol's keyword. A new operation is one
 * id here, one entry in the supervisor's table (src/supervisor/ctl.c) and
 * one in the front-end's (src/api/ops.c); docs/api-interface notes say how.
 */
enum lvmm_api_op {
	LVMM_OP_LIST = 1,
	LVMM_OP_STATUS = 2,
	LVMM_OP_PAUSE = 3,
	LVMM_OP_RESUME = 4,
	LVMM_OP_STOP = 5,
	LVMM_OP_START = 6,
	LVMM_OP_RESTART = 7,
	LVMM_OP_LINK_DOWN = 8,
	LVMM_OP_LINK_UP = 9,
	LVMM_OP_ISOLATE = 10,
	LVMM_OP_POLICY_LOAD = 11, /* fds[1]: the policy text, a sealed memfd */
	LVMM_OP_ACM = 12,
	LVMM_OP_HELP = 13,
	LVMM_OP_EVENTS = 14,      /* may the subject follow events, and whose? */
	LVMM_OP_SHUTDOWN = 15,    /* num[0]: timeout in seconds (1..LVMM_API_POWER_MAX_S; 0: default) */
	LVMM_OP_REBOOT = 16,      /* num[0]: as shutdown */
	LVMM_OP_REMOTE_ENABLE = 17,  /* num[0]: the window in seconds (1..LVMM_REMOTE_MAX_S) */
	LVMM_OP_REMOTE_DISABLE = 18,
	LVMM_OP_REMOTE_STATUS = 19,
	LVMM_OP_METRICS = 20,     /* a list body: the partitions the subject may see metrics of, no links */
	LVMM_OP_WAKE = 21,        /* wake a partition asleep in ACPI S3 (and the platform) */
	LVMM_OP_BUSY = 22,        /* a service partition is busy: S3 waits (docs/acpi.md) */
	LVMM_OP_IDLE = 23,        /* ... no longer busy */
	LVMM_OP_ATTEST = 24,      /* target: a partition; arg: the nonce (1-64 bytes); reply: a blob */
	/*
	 * The front-end's steps of metrics (src/api/gather.c; policy operation
	 * `metrics`, not served to clients by id): one partition's counters
	 * (a part body, as status), and the ACM's counters (an acm body; refused
	 * unless the subject may see every partition's metrics).
	 */
	LVMM_OP_METRICS_PART = 25,
	LVMM_OP_METRICS_ACM = 26,
	LVMM_OP_MAX = 26,
};

/* ---- INIT (sup -> fe) ----------------------------------------------------- */

#define LVMM_API_INIT_LISTEN (1U << 0) /* fd 5 is the listening control socket */
/*
 * Remote management (docs/api.md, "Remote management"): fd 6 is the TCP
 * socket to serve TLS on; fds 7, 8, 9 are the server certificate, its key
 * and the client CA (PEM files opened by the supervisor, read once before
 * the sandbox).
 */
#define LVMM_API_INIT_TLS    (1U << 1)
#define LVMM_REMOTE_MAX_S    (1440 * 60) /* the longest remote window: a day */

struct lvmm_api_init {
	uint32_t version;       /* LVMM_API_VERSION */
	uint32_t flags;         /* LVMM_API_INIT_* */
	uint32_t sup_uid;       /* the supervisor's euid: root and it may connect */
	uint32_t nparts;        /* partitions of the platform (event filters' width) */
	uint32_t log_level;     /* messages on stderr, as the supervisor's (common/log.h) */
	uint32_t pad;
	char lvmm_version[32];  /* lvmm's version string */
	uint64_t remote_ms;     /* the remote window open this much longer (a restarted front-end) */
};

/* ---- REQ (fe -> sup) ---------------------------------------------------------- */

struct lvmm_api_req {
	uint32_t id;        /* the front-end's number for it, echoed in the reply */
	uint32_t op;        /* enum lvmm_api_op */
	uint32_t flags;     /* zero */
	uint32_t arg_len;   /* bytes used in arg (0..LVMM_API_ARG_MAX) */
	char target[LVMM_NAME_MAX];        /* partition or link name; "" for none */
	char request_id[LVMM_API_RID_MAX]; /* X-Request-Id, for the audit trail; may be "" */
	uint64_t num[2];    /* numeric arguments (op-specific; zero when unused) */
	uint8_t arg[LVMM_API_ARG_MAX];     /* opaque argument bytes (op-specific) */
};

/*
 * REMOTE_REQ (fe -> sup): a request from a client of the TLS listener. The
 * supervisor checks that fds[0] is a connection accepted on the TCP socket
 * it bound for TLS, and takes the client certificate's fingerprint from the
 * front-end, which verified the certificate against the configured client
 * CA in the TLS handshake (the supervisor does not parse TLS; docs/api.md
 * says what a compromised front-end could therefore do).
 */
struct lvmm_api_remote_req {
	struct lvmm_api_req q;
	uint8_t cert_sha256[32]; /* SHA-256 of the client certificate (DER) */
};

/* ---- REPLY (sup -> fe) -------------------------------------------------------- */

/* Which body follows the fixed reply (struct lvmm_api_reply.body). */
enum lvmm_api_body {
	LVMM_BODY_NONE = 0,   /* failed, or nothing to say (help) */
	LVMM_BODY_LIST = 1,   /* struct lvmm_api_list, nparts entries sent */
	LVMM_BODY_PART = 2,   /* struct lvmm_api_part */
	LVMM_BODY_LINK = 3,   /* struct lvmm_api_link */
	LVMM_BODY_ISOLATE = 4,/* struct lvmm_api_isolate */
	LVMM_BODY_ACM = 5,    /* struct lvmm_api_acm */
	LVMM_BODY_POLICY = 6, /* struct lvmm_api_policy */
	LVMM_BODY_EVENTS = 7, /* struct lvmm_api_events */
	LVMM_BODY_BLOB = 8,   /* struct lvmm_api_blob; fds[0]: sealed memfd, op-specific format */
	LVMM_BODY_REMOTE = 9, /* struct lvmm_api_remote */
	LVMM_BODY_MAX = 9,
};

struct lvmm_api_part_info {
	char name[LVMM_NAME_MAX];
	char label[LVMM_NAME_MAX];           /* "" without one */
	char state[LVMM_API_STATE_MAX];
	char role[LVMM_API_STATE_MAX];       /* "service", "user" */
	char restart[LVMM_API_STATE_MAX];    /* restart policy: never, on-crash, always */
	uint32_t pid, uid;                   /* 0: none */
	uint32_t vcpus, restarts;
	uint64_t memory_mib;
	int32_t exit_code;
	uint32_t pad;
};

struct lvmm_api_link_info {
	char name[LVMM_NAME_MAX];
	char ends[2][LVMM_NAME_MAX];
	uint32_t up;
	uint32_t pad;
};

struct lvmm_api_list {
	uint32_t nparts, nlinks;
	struct lvmm_api_link_info links[LVMM_API_MAX_LINKS];
	struct lvmm_api_part_info parts[LVMM_API_MAX_PARTS]; /* only nparts are sent */
};

#define LVMM_API_PART_PID        (1U << 0) /* pid is meaningful (start, restart of a stopped one) */
#define LVMM_API_PART_KILL_AFTER (1U << 1) /* kill_after_ms is (stop, restart) */
#define LVMM_API_PART_STATS      (1U << 2) /* stats are (status) */
#define LVMM_API_PART_POWER      (1U << 3) /* timeout_ms is (shutdown, reboot) */

struct lvmm_api_stats {
	uint64_t exits_io, exits_mmio, exits_hlt, exits_other;
	uint64_t dma_faults, unhandled_io;
	uint32_t ndevs;
	uint32_t pad;
	struct lvmm_dev_stats devs[LVMM_STATS_MAX_DEVS];
	/* protected memory (docs/protect.md) */
	uint64_t violations, violations_suppressed;
	uint32_t protected_ranges;
	uint32_t pad2;
	uint64_t vcpu_ns;       /* CPU time of its vCPU threads (the partition's word) */
};

/*
 * A partition's stats answer (struct lvmm_ctl_reply from exits_io on) is
 * copied into a status reply as it is: the two layouts must stay equal.
 */
_Static_assert(sizeof(struct lvmm_api_stats) ==
	       sizeof(struct lvmm_ctl_reply) - offsetof(struct lvmm_ctl_reply, exits_io) &&
	       offsetof(struct lvmm_api_stats, devs) - offsetof(struct lvmm_api_stats, exits_io) ==
	       offsetof(struct lvmm_ctl_reply, devs) - offsetof(struct lvmm_ctl_reply, exits_io) &&
	       offsetof(struct lvmm_api_stats, violations) ==
	       offsetof(struct lvmm_ctl_reply, violations) - offsetof(struct lvmm_ctl_reply, exits_io) &&
	       offsetof(struct lvmm_api_stats, vcpu_ns) ==
	       offsetof(struct lvmm_ctl_reply, vcpu_ns) - offsetof(struct lvmm_ctl_reply, exits_io),
	       "api ABI: lvmm_api_stats is lvmm_ctl_reply's counters");

struct lvmm_api_part {
	char partition[LVMM_NAME_MAX];
	char state[LVMM_API_STATE_MAX];
	uint32_t flags;         /* LVMM_API_PART_* */
	uint32_t pid;           /* the process that answered, 0 for none (shown with LVMM_API_PART_PID) */
	uint32_t kill_after_ms;
	uint32_t timeout_ms;    /* shutdown/reboot: stopped (restarted) if not ended by then */
	struct lvmm_api_stats stats;
};

struct lvmm_api_link {
	char link[LVMM_NAME_MAX];
	uint32_t up;            /* the state asked for */
	uint32_t changed;       /* 0: it was so already; nothing was done */
};

struct lvmm_api_isolate {
	char partition[LVMM_NAME_MAX];
	uint32_t nlinks;        /* links brought down */
	uint32_t pad;
	char links[LVMM_API_MAX_LINKS][LVMM_NAME_MAX];
};

struct lvmm_api_acm {
	char policy[64];        /* "none" without a policy */
	uint64_t decisions, denials, ste_evaluations, ste_cache_hits;
};

struct lvmm_api_policy {
	char policy[64];
};

/*
 * The events a subject may follow (LVMM_OP_EVENTS): bit i of parts = the
 * events of partition i; platform = events about no single partition.
 * The supervisor decides; the front-end filters with it, and asks again for
 * every follower when it relays a successful policy-load reply.
 */
struct lvmm_api_events {
	uint32_t nparts;
	uint32_t platform;
	uint64_t parts[LVMM_API_MAX_PARTS / 64];
};

/*
 * Formats of a blob. LVMM_BLOB_JSON_FIELDS: the memfd holds JSON object
 * members without the braces ("key":value,...), written by the supervisor
 * with snprintf (hex strings, numbers), which the front-end parses and
 * merges into the answer; the op needs no formatter of its own.
 */
#define LVMM_BLOB_JSON_FIELDS 1
/*
 * LVMM_BLOB_METRICS (op metrics, docs/metrics.md): struct lvmm_api_metrics,
 * then nparts struct lvmm_api_metrics_part, the partitions the subject may
 * see in the platform's order. Fixed records, which the front-end gathers
 * itself (src/api/gather.c: the supervisor no longer sends them) and renders
 * as Prometheus text (GET /metrics) or JSON (GET /v1/metrics).
 */
#define LVMM_BLOB_METRICS 2

/* An opaque result too large for a reply (e.g. attestation evidence). */
struct lvmm_api_blob {
	uint32_t format;        /* op-specific layout of the memfd's bytes */
	uint32_t pad;
	uint64_t size;          /* bytes in the memfd (<= LVMM_API_BLOB_MAX) */
};

/* The remote-management window (remote-enable, -disable, -status). */
struct lvmm_api_remote {
	uint32_t configured;    /* the platform file has a remote: section */
	uint32_t open;          /* remote clients are let in now */
	uint64_t remaining_ms;  /* until the window closes (0 when closed) */
	char listen[64];        /* ADDRESS:PORT it serves TLS on, "" without one */
};

#define LVMM_API_METRICS_PLATFORM (1U << 0) /* acm is filled: the subject sees every partition */

struct lvmm_api_metrics {
	uint32_t nparts;        /* records that follow */
	uint32_t flags;         /* LVMM_API_METRICS_* */
	uint64_t time_ms;       /* when sampled (CLOCK_REALTIME) */
	struct lvmm_api_acm acm;
};

#define LVMM_API_MREC_STATS (1U << 0) /* stats hold the partition's counters */
#define LVMM_API_MREC_STALE (1U << 1) /* it runs but did not answer this request in time */
#define LVMM_API_MREC_PROC  (1U << 2) /* cpu_ns and rss_bytes were measured (/proc/PID/stat, statm) */

struct lvmm_api_metrics_part {
	struct lvmm_api_part_info info; /* as in a list reply */
	uint32_t flags;         /* LVMM_API_MREC_* */
	uint32_t pad;
	uint64_t uptime_ns;     /* since its process started; 0 without one */
	uint64_t stats_age_ns;  /* how long ago the partition gave stats */
	uint64_t cpu_ns;        /* CPU time of the partition's process (all threads) */
	uint64_t vcpu_ns;       /* of which its vCPU threads' (from the stats answer: MREC_STATS) */
	uint64_t rss_bytes;     /* resident memory of the process (guest RAM touched included) */
	struct lvmm_api_stats stats;
};

struct lvmm_api_reply {
	uint32_t id;            /* the request's */
	uint32_t op;
	int32_t result;         /* 0, or -errno (docs/api.md: how it maps to HTTP) */
	uint32_t body;          /* enum lvmm_api_body */
	char error[LVMM_API_ERR_MAX]; /* why, when result != 0 */
	union {
		struct lvmm_api_part part;
		struct lvmm_api_link link;
		struct lvmm_api_isolate isolate;
		struct lvmm_api_acm acm;
		struct lvmm_api_policy policy;
		struct lvmm_api_events events;
		struct lvmm_api_blob blob;
		struct lvmm_api_remote remote;
	} u;                    /* LVMM_BODY_LIST: struct lvmm_api_list instead (larger) */
};

/* Bytes of a reply with body kind b (list: with n partitions); 0 for an unknown kind. */
static inline size_t lvmm_api_reply_len(uint32_t b, uint32_t n)
{
	size_t h = offsetof(struct lvmm_api_reply, u);

	switch (b) {
	case LVMM_BODY_NONE: return h;
	case LVMM_BODY_LIST: return h + offsetof(struct lvmm_api_list, parts) +
				    (size_t)n * sizeof(struct lvmm_api_part_info);
	case LVMM_BODY_PART: return h + sizeof(struct lvmm_api_part);
	case LVMM_BODY_LINK: return h + sizeof(struct lvmm_api_link);
	case LVMM_BODY_ISOLATE: return h + sizeof(struct lvmm_api_isolate);
	case LVMM_BODY_ACM: return h + sizeof(struct lvmm_api_acm);
	case LVMM_BODY_POLICY: return h + sizeof(struct lvmm_api_policy);
	case LVMM_BODY_EVENTS: return h + sizeof(struct lvmm_api_events);
	case LVMM_BODY_BLOB: return h + sizeof(struct lvmm_api_blob);
	case LVMM_BODY_REMOTE: return h + sizeof(struct lvmm_api_remote);
	default: return 0;
	}
}

/* ---- EVENT (sup -> fe, event channel) ------------------------------------------------ */

struct lvmm_api_event {
	uint64_t seq;           /* the supervisor's event number (1, 2, ...) */
	int32_t part;           /* the partition it is about, or -1 */
	uint32_t lost;          /* events the channel dropped just before this one */
	uint32_t len;           /* bytes used in line: one JSON object and '\n' */
	uint32_t pad;
	char line[LVMM_API_LINE_MAX];
};

/* ---- AGENT (sup -> fe) ------------------------------------------------------------------- */

struct lvmm_api_agent {
	uint32_t part;          /* partition index */
	uint32_t open;          /* 1: fds[0] is the channel's end; 0: it closed (drop it) */
	char name[LVMM_NAME_MAX];
};

_Static_assert(sizeof(struct lvmm_api_req) == 192, "api ABI: request");
_Static_assert(sizeof(struct lvmm_api_remote_req) == 224, "api ABI: remote request");
_Static_assert(sizeof(struct lvmm_api_list) + offsetof(struct lvmm_api_reply, u) <= LVMM_MSG_MAX_LEN,
	       "api ABI: a list reply fits a message");
_Static_assert(sizeof(struct lvmm_api_reply) <= LVMM_MSG_MAX_LEN, "api ABI: reply");
_Static_assert(sizeof(struct lvmm_api_event) <= LVMM_MSG_MAX_LEN, "api ABI: event");

#endif /* LVMM_CTL_PROTO_H */
