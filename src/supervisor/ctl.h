/* SPDX-License-Identifier: MIT */
/*
 * The control API inside the supervisor, split in two:
 *
 *  - ctl.c: the request life cycle and the operations (one const table).
 *    A request is a checked fixed-layout struct lvmm_api_req
 *    (include/lvmm/ctl_proto.h) with a subject the transport determined;
 *    its answer is one struct lvmm_api_reply. No text is parsed and no JSON
 *    is written here: the sandboxed front-end (src/api) does both.
 *  - frontend.c: the transport: starts the front-end process, the channels
 *    to it, the listening socket, who the subject of a request is, agent
 *    channels, and the event stream.
 *
 * Per request:
 *
 *   ctl_request --checked, ACM, run--> done/failed --> reply, slot free
 *                                  --asked partitions--> WAIT --answers/timeout--> reply
 *
 * Every request gets exactly one reply: result 0 with the operation's body,
 * or -errno with the reason, when anything failed (a partition's own answer
 * included). Slots bound what one subject can have in flight.
 */
#ifndef LVMM_CTL_H
#define LVMM_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/platform.h"
#include "lvmm/ctl_proto.h"

#define CTL_HOST_MAX     16   /* host requests in flight */
#define CTL_HOST_PER_UID 12   /* of which one uid may hold (another uid keeps 4) */
#define CTL_AGENT_MAX    PLAT_MAX_PARTS /* one request per partition's agent channel */
#define CTL_REQ_SLOTS    (CTL_HOST_MAX + CTL_AGENT_MAX)
#define CTL_ANSWER_MS    3000 /* partitions must answer within this */
#define CTL_METRICS_MS   1000 /* metrics: a partition later than this is reported stale */
#define CTL_ATTEST_MS    10000 /* and a trust process an attestation (the front-end waits 15 s) */

_Static_assert(CTL_REQ_SLOTS <= 256, "request tokens keep the slot in 8 bits");
_Static_assert(PLAT_MAX_PARTS <= LVMM_API_MAX_PARTS, "list replies and event filters");
_Static_assert(PLAT_MAX_LINKS <= LVMM_API_MAX_LINKS, "list replies");

struct sup;
struct part_rt;
struct ctl_op;
struct lvmm_ctl_reply;

/*
 * Who asks: a host user (by the uid of its connection), a partition's agent
 * channel, or a remote client of the TLS listener (by its certificate).
 */
struct ctl_subject {
	bool agent;
	bool remote;
	int part;  /* agent: its partition index */
	uid_t uid; /* host: peer uid; remote: (uid_t)-1, never a real user's */
	uint8_t cert[32]; /* remote: SHA-256 of its certificate */
};

/* What an operation did with the request. */
enum ctl_res {
	CR_DONE, /* complete: reply with the body written */
	CR_FAIL, /* refused or failed: reply with the result and reason (ctl_fail) */
	CR_WAIT, /* partitions were asked (pending > 0); their answers complete it */
};

struct ctl_req {
	bool used;               /* the slot is taken (until the reply) */
	uint32_t token;          /* this request's name for lifecycle: generation << 8 | slot */
	struct ctl_subject sub;
	struct lvmm_api_req q;   /* the request, checked */
	const struct ctl_op *op;
	struct part_rt *pr;      /* the target partition (ops on partitions) */
	int li;                  /* the target link (ops on links), or -1 */
	int payload_fd;          /* policy-load: the sealed memfd; else -1 */
	int blob_fd;             /* an opaque result to send with the reply, or -1 */
	unsigned pending;        /* partition answers still expected */
	bool failed;
	uint64_t deadline_ns;    /* for the partitions' answers */
	struct lvmm_api_reply rep; /* the reply being built (a list goes to a shared buffer) */
};

/*
 * The transport under requests (frontend.c, or a test's fake): send one
 * reply of len bytes (and fd >= 0 with it); never blocks. The front-end
 * learns what it must know from the replies themselves (a policy loaded:
 * event filters decided again; the remote window).
 */
typedef void ctl_reply_fn(struct sup *s, const struct lvmm_api_reply *rep, size_t len, int fd);

/** ctl_setup() - reset every request slot; replies go out through reply. */
void ctl_setup(struct sup *s, ctl_reply_fn *reply);

/**
 * ctl_req_check() - is len bytes at q with nfds descriptors a well-formed
 * request? Exact length, op in range, flags zero, strings NUL-terminated,
 * the request id of [A-Za-z0-9._:-] only, arg_len in range and unused
 * bytes zero, one fd (the subject's connection) plus the payload for
 * policy-load. 0 or -EPROTO.
 */
int ctl_req_check(const struct lvmm_api_req *q, size_t len, unsigned nfds);

/**
 * ctl_request() - serve checked request q of subject sub (payload_fd: the
 * policy-load memfd, or -1; ctl takes it over). The reply goes out through
 * the transport, now or when partitions have answered.
 */
void ctl_request(struct sup *s, const struct ctl_subject *sub, const struct lvmm_api_req *q,
		 int payload_fd);

/** ctl_refuse() - answer request id (op) with result err and reason why, without serving it. */
void ctl_refuse(struct sup *s, uint32_t id, uint32_t op, int err, const char *why);

/** ctl_answer() - lc_hooks.answer: a partition answered (or cannot answer) request token. */
void ctl_answer(struct sup *s, uint32_t token, struct part_rt *pr, int result,
		const struct lvmm_ctl_reply *rep);

/**
 * ctl_subject_name() - sub as the audit trail names it ("uid:0",
 * "partition:svc", "cert:" and 64 hex digits), in buf (>= CTL_SUBJECT_MAX).
 */
const char *ctl_subject_name(struct sup *s, const struct ctl_subject *sub, char *buf, size_t n);
#define CTL_SUBJECT_MAX 80

/** ctl_remote_remaining_ms() - how long the remote window stays open (0: closed). */
uint64_t ctl_remote_remaining_ms(struct sup *s);
/** ctl_attested() - lc_hooks.attested: an attestation was answered (see lifecycle.h). */
void ctl_attested(struct sup *s, uint32_t token, struct part_rt *pr, int result, const char *why,
		  int fd, uint64_t size);


/** ctl_next_deadline() - the earliest request deadline (UINT64_MAX: none). */
uint64_t ctl_next_deadline(struct sup *s);

/** ctl_on_timer() - answer every request past its deadline. */
void ctl_on_timer(struct sup *s, uint64_t now);

/**
 * ctl_drop_all() - end every request in flight: answered "the platform has
 * shut down" when reply is true, else dropped (the front-end is gone).
 */
void ctl_drop_all(struct sup *s, bool reply);


/* ---- transport (frontend.c) ---- */

/**
 * fe_init() - set up the control API: bind the control socket at path
 * (NULL/"": none; a live socket there is refused, a stale one replaced) and
 * start the front-end when there is a socket or an agent channel. 0 or
 * -errno (printed).
 */
int fe_init(struct sup *s, const char *path);

/** fe_event() - epoll reported events for a TAG_API tag. */
void fe_event(struct sup *s, uint64_t tag, uint32_t events);

/** fe_reaped() - process pid ended: true if it was the front-end (restarted later). */
bool fe_reaped(struct sup *s, pid_t pid, int wstatus);

/** fe_next_deadline() - when the front-end is due to be restarted (UINT64_MAX: never). */
uint64_t fe_next_deadline(struct sup *s);

/** fe_on_timer() - restart the front-end if it is due. */
void fe_on_timer(struct sup *s, uint64_t now);

/** fe_listening() - true if the host control socket is open. */
bool fe_listening(struct sup *s);

/** fe_close() - answer and drop every request, stop the front-end, remove the socket. */
void fe_close(struct sup *s);

/**
 * fe_conn_uid() - the peer uid of fd if it is a stream accepted on the
 * listening socket bound at listen_path; -EACCES for anything else (a
 * socketpair, a listener, a connection to another server).
 */
int fe_conn_uid(int fd, const char *listen_path, uid_t *uid);

/**
 * fe_conn_remote() - 0 if fd is a TCP stream accepted on the listening
 * socket lfd (same local address and port), -EACCES for anything else.
 */
int fe_conn_remote(int fd, int lfd);

#endif
