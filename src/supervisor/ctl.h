/* SPDX-License-Identifier: MIT */
/*
 * The control API, split in two:
 *
 *  - ctl.c: the request life cycle as an explicit state machine over a
 *    connection's bytes, and the operations. It knows no sockets: bytes come
 *    in through ctl_rx_buf()/ctl_rx(), replies go out through a
 *    struct ctl_transport, so unit tests and fuzzers drive it directly.
 *  - ctl_sock.c: the transport (the listening Unix socket, agent channels,
 *    epoll, recv/send, draining before close).
 *
 * A connection is a host client (one request, one reply, then closed) or a
 * partition's agent channel (one request after another). Per request:
 *
 *   LINE --newline/EOF--> dispatch --done/fail--> reply
 *                                 --asked partitions--> WAIT --answers/timeout--> reply
 *                                 --policy-load N--> UPLOAD --N bytes--> reply
 *   LINE --CTL_REQ_MAX bytes without newline--> reply error, then DISCARD
 *        (agent: up to the newline) or CLOSING (host: until EOF)
 *   host client after its reply: CLOSING (write side shut, input drained
 *        until EOF or CTL_DRAIN_MS, then closed: closing with unread input
 *        would reset the connection and lose the reply)
 *
 * Every request gets exactly one reply ("replied"): "ok":true with the
 * operation's fields, or "ok":false with "error" when anything failed,
 * including a partition's own answer.
 */
#ifndef LVMM_CTL_H
#define LVMM_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/platform.h"
#include "supervisor/json.h"

#define CTL_HOST_MAX     16   /* host client connections at a time */
#define CTL_HOST_PER_UID 12   /* of which one uid may hold (another uid keeps 4) */
#define CTL_AGENT_MAX    PLAT_MAX_PARTS /* one agent channel per partition */
#define CTL_CONN_MAX     (CTL_HOST_MAX + CTL_AGENT_MAX)
#define CTL_REQ_MAX      1024 /* a request line with its newline */
/* `list` with every partition and link at their longest names and numbers fits. */
#define CTL_REPLY_MAX    (4096 + PLAT_MAX_PARTS * 256 + PLAT_MAX_LINKS * 160)
#define CTL_UPLOAD_MAX   (64 * 1024) /* a policy, checked before a byte is buffered */
#define CTL_ERR_MAX      256
#define CTL_IDLE_MS      2000  /* a request must keep arriving (host clients; agents mid-request) */
#define CTL_REQUEST_MS   10000 /* and be complete within this after its first byte */
#define CTL_ANSWER_MS    3000  /* partitions must answer within this */
#define CTL_DRAIN_MS     1000  /* a host client's input is drained this long after its reply */

struct sup;
struct part_rt;
struct ctl_op;
struct lvmm_ctl_reply;

enum ctl_phase {
	CP_FREE = 0, /* slot unused */
	CP_LINE,     /* reading a request line */
	CP_UPLOAD,   /* reading a policy-load payload */
	CP_WAIT,     /* waiting for partitions' answers */
	CP_DISCARD,  /* agent: an over-long line was answered; dropping it up to its newline */
	CP_CLOSING,  /* host: answered; draining input until EOF, then closed */
};

/* What an operation did with the request. */
enum ctl_res {
	CR_DONE,   /* complete: reply "ok":true with the fields written */
	CR_FAIL,   /* refused or failed: reply "ok":false with c->err */
	CR_WAIT,   /* partitions were asked; their answers complete it */
	CR_UPLOAD, /* a payload follows the request line */
};

struct ctl_conn {
	/* Set by the transport. */
	int fd;
	bool agent;            /* a partition's agent channel (persistent) */
	int part;              /* its partition index, or -1 */
	uid_t uid;             /* host client's peer uid */
	pid_t pid;
	bool in_watched;       /* transport: EPOLLIN registered */
	uint32_t gen;          /* connection generation: a stale epoll event names an old one */
	/* The request (ctl.c). */
	enum ctl_phase phase;
	uint32_t token;        /* this request's name for lifecycle: generation << 8 | slot */
	bool replied;          /* the current request has its reply */
	bool failed;
	bool eof;              /* the peer will send nothing more */
	bool gone;             /* the peer can receive nothing more */
	const struct ctl_op *op;
	unsigned pending;      /* partition answers still expected */
	size_t upload_want;    /* policy-load: payload bytes still to come */
	uint64_t started_ns;   /* first byte of this request (or connect) */
	uint64_t deadline_ns;  /* meaning depends on phase; UINT64_MAX: none */
	size_t in_len;
	char in[CTL_REQ_MAX];  /* received, not yet consumed (a partial line) */
	char err[CTL_ERR_MAX];
	struct jbuf j;         /* the reply being built */
	char out[CTL_REPLY_MAX];
};

/* The transport under connections (ctl_sock.c, or a test's fake). */
struct ctl_transport {
	/* Send one complete reply line; a peer that does not read only loses it. */
	void (*send)(struct sup *s, struct ctl_conn *c, const char *buf, size_t len);
	/* A host client is answered: no more output (shutdown SHUT_WR); input is drained. */
	void (*shut)(struct sup *s, struct ctl_conn *c);
	/* Close the connection; ctl_conn_free() follows from the transport. */
	void (*close)(struct sup *s, struct ctl_conn *c);
	/* The phase changed: start or stop reading (nothing is read while waiting). */
	void (*update)(struct sup *s, struct ctl_conn *c);
};

/** ctl_setup() - reset every connection slot, use transport tp, hook into the life cycle. */
void ctl_setup(struct sup *s, const struct ctl_transport *tp);

/** ctl_answer() - lc_hooks.answer: a partition answered (or cannot answer) request token. */
void ctl_answer(struct sup *s, uint32_t token, struct part_rt *pr, int result,
		const struct lvmm_ctl_reply *rep);

/**
 * ctl_conn_open_host() - a slot for a new host client of uid; NULL when the
 * pool is full or uid holds CTL_HOST_PER_UID (err says which).
 */
struct ctl_conn *ctl_conn_open_host(struct sup *s, uid_t uid, pid_t pid, char *err, size_t errlen);

/** ctl_conn_open_agent() - the agent slot of partition part; NULL if it is in use. */
struct ctl_conn *ctl_conn_open_agent(struct sup *s, unsigned part);

/** ctl_conn_at() - slot i (0 <= i < CTL_CONN_MAX), or NULL if free or out of range. */
struct ctl_conn *ctl_conn_at(unsigned i);

/** ctl_conn_index() - the slot number of c. */
unsigned ctl_conn_index(const struct ctl_conn *c);

/** ctl_conn_agent() - the open agent channel of partition part, or NULL. */
struct ctl_conn *ctl_conn_agent(unsigned part);

/** ctl_conn_free() - release c's slot; partitions' answers to it are dropped. */
void ctl_conn_free(struct sup *s, struct ctl_conn *c);

/**
 * ctl_rx_buf() - where the transport may put the next received bytes and
 * how many (*room; 0: read nothing now, e.g. while waiting for partitions).
 */
char *ctl_rx_buf(struct ctl_conn *c, size_t *room);

/** ctl_rx() - n bytes were put at ctl_rx_buf(): run the state machine on them. */
void ctl_rx(struct sup *s, struct ctl_conn *c, size_t n);

/** ctl_feed() - copy up to n bytes through ctl_rx_buf()/ctl_rx(); returns how many were taken. */
size_t ctl_feed(struct sup *s, struct ctl_conn *c, const char *buf, size_t n);

/** ctl_eof() - the peer finished sending: a request without its newline is still served. */
void ctl_eof(struct sup *s, struct ctl_conn *c);

/** ctl_hangup() - the peer is gone entirely: its reply, if any is pending, is dropped. */
void ctl_hangup(struct sup *s, struct ctl_conn *c);

/** ctl_next_deadline() - the earliest request deadline (UINT64_MAX: none). */
uint64_t ctl_next_deadline(struct sup *s);

/** ctl_on_timer() - answer or close every request past its deadline. */
void ctl_on_timer(struct sup *s, uint64_t now);

/** ctl_shutdown() - the platform is gone: answer every open request, close everything. */
void ctl_shutdown(struct sup *s);

/* ---- transport (ctl_sock.c) ---- */

/**
 * ctl_sock_init() - set up the control API: listen on path (NULL/"": no
 * host socket; a live socket there is refused, a stale one replaced) and
 * serve agent channels. 0 or -errno (printed).
 */
int ctl_sock_init(struct sup *s, const char *path);

/** ctl_sock_event() - epoll reported events for a TAG_CTL_* tag. */
void ctl_sock_event(struct sup *s, uint64_t tag, uint32_t events);

/** ctl_sock_listening() - true if the host control socket is open. */
bool ctl_sock_listening(struct sup *s);

/** ctl_sock_close() - answer and close every connection, remove the socket. */
void ctl_sock_close(struct sup *s);

#endif
