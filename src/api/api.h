/* SPDX-License-Identifier: MIT */
/*
 * lvmm-api, the control API's front-end (docs/api.md). It runs sandboxed
 * outside the trusted core, started by the supervisor, and does everything
 * that parses rich input: HTTP/1.1 and JSON for host clients (http.c,
 * libmicrohttpd and jansson), the text line protocol of partitions' agent
 * channels (agent.c). It turns each request into one fixed-layout struct
 * lvmm_api_req for the supervisor (main.c), which decides and answers with
 * a struct lvmm_api_reply; ops.c turns replies into JSON. follow.c keeps
 * the supervisor's event lines in a ring that every follower reads at its
 * own pace.
 *
 * One thread, one epoll loop: the supervisor's channels, the agent
 * channels, libmicrohttpd's epoll fd and one timer.
 */
#ifndef LVMM_API_H
#define LVMM_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvmm/ctl_proto.h"

#define API_CONN_MAX      32    /* HTTP connections at a time (event streams included) */
#define API_CONN_PER_UID  24    /* of which one uid may hold */
#define API_FOLLOW_MAX    32    /* event followers (HTTP streams and agent channels) */
#define API_PENDING_MAX   128   /* requests waiting for the supervisor */
#define API_REPLY_MS      15000 /* the supervisor answers within 3 s (attest: 10 s); this is for a lost one */
#define API_IDLE_S        10    /* an HTTP connection idle this long is closed */
#define API_REQ_LINE_MAX  1024  /* an agent's request line, with its newline */
#define API_AGENT_IDLE_MS 2000  /* an agent's request must keep arriving */
#define API_AGENT_REQ_MS  10000 /* and be complete within this */

/* ---- operations (ops.c) ---- */

enum api_arg {
	ARG_NONE,   /* no argument */
	ARG_PART,   /* a partition name */
	ARG_LINK,   /* a link name */
	ARG_POLICY, /* the policy's text (HTTP: the body; agent: "policy-load N" + N bytes) */
	ARG_PART_SECS, /* a partition name and optional seconds, 1..LVMM_API_POWER_MAX_S, in
			* num[0] (HTTP: ?timeout=SECONDS; agent and lvmm ctl: a third word) */
	ARG_WINDOW, /* a time window: --minutes N | --seconds N (HTTP: ?minutes=N | ?seconds=N) */
	ARG_PART_HEX, /* a partition name and bytes in hex (attest's nonce; HTTP: ?nonce=HEX) */
};

struct api_op {
	uint32_t id;          /* enum lvmm_api_op */
	const char *name;     /* the text protocol's keyword and the policy's operation name */
	const char *usage;
	const char *method;   /* HTTP method */
	const char *path;     /* HTTP path; "{}" stands for the argument */
	enum api_arg arg;
	uint32_t body;        /* the reply body it answers with (enum lvmm_api_body) */
	/* Add the reply's fields to o (result 0, the body checked against len and kind). */
	void (*format)(json_t *o, const struct lvmm_api_reply *r);
};

extern const struct api_op api_ops[];
extern const unsigned api_nops;

/** api_op_by_name() - the operation called name, or NULL. */
const struct api_op *api_op_by_name(const char *name);

/** api_op_by_id() - the operation with protocol id id, or NULL. */
const struct api_op *api_op_by_id(uint32_t id);

/**
 * api_window_parse() - a remote window: unit "minutes" (1-1440) or
 * "seconds" (1-86400) and the number n, in seconds. 0 or -EINVAL.
 */
int api_window_parse(const char *unit, const char *n, uint64_t *secs);

/**
 * api_reply_check() - is a reply of len bytes well formed (its body's
 * length, counts in range, strings terminated)? 0 or -EPROTO.
 */
int api_reply_check(const struct lvmm_api_reply *r, size_t len);

/**
 * api_reply_json() - the answer as a JSON object {"ok":..., fields or
 * "error"}; blob_fd is the memfd that came with a LVMM_BODY_BLOB reply (or -1).
 */
json_t *api_reply_json(const struct lvmm_api_reply *r, int blob_fd);

/** api_http_status() - the HTTP status for a reply's result (0 or -errno). */
unsigned api_http_status(int result);

/** api_error_json() - {"ok":false,"error":why}. */
json_t *api_error_json(const char *why);

/* ---- metrics (metrics.c) ---- */

/**
 * api_metrics_load() - the LVMM_BLOB_METRICS result of reply r from memfd
 * fd, read whole and checked (sealed, sizes, counts, strings): a malloc'ed
 * copy for the two functions below (free it), or NULL with *why set.
 */
void *api_metrics_load(const struct lvmm_api_reply *r, int fd, const char **why);

/** api_metrics_json() - add the metrics' members to answer o (docs/metrics.md). */
void api_metrics_json(json_t *o, const void *blob);

/**
 * api_metrics_text() - the metrics as Prometheus text exposition format
 * 0.0.4: malloc'ed, *len bytes (NUL-terminated), or NULL.
 */
char *api_metrics_text(const void *blob, size_t *len);

/**
 * api_proc_read() - measure process pid through /proc directory fd proc:
 * CPU time (all threads) and uptime from PID/stat, resident memory from
 * PID/statm, into m. The process must be a child of ppid (the supervisor),
 * or the pid was reused: -ESRCH then, as for a gone one. 0 or -errno.
 */
int api_proc_read(int proc, int pid, int ppid, struct lvmm_api_metrics_part *m);

/**
 * api_proc_stat() - /proc/PID/stat's text (NUL-terminated): its parent,
 * user+system CPU time and start time (clock ticks since boot). 0 or -EINVAL.
 */
int api_proc_stat(const char *text, int *ppid, uint64_t *cpu_ticks, uint64_t *start_ticks);

/* ---- parsing (parse.c) ---- */

/**
 * api_route() - the operation for an HTTP request: 0 with *op and the
 * path's argument in arg (n bytes); 1 for GET /v1/version; 2 with *op
 * (metrics) for GET /metrics, answered as Prometheus text; -EOPNOTSUPP
 * when the path exists with other methods (listed in allow, an bytes);
 * -ENAMETOOLONG with *op when the argument is longer than any name;
 * -ENOENT for no such path.
 */
int api_route(const char *method, const char *url, const struct api_op **op, char *arg, size_t n,
	      char *allow, size_t an);

/**
 * api_line_parse() - an agent channel's request line (NUL-terminated,
 * without its newline; tokenised in place): 0 with *op, its argument in
 * arg (n bytes), for ARG_PART_HEX the third word decoded into bin
 * (LVMM_API_ARG_MAX bytes, *blen used), and in *num: for policy-load the
 * payload's size, for ARG_PART_SECS the seconds (0 when not given); or
 * -errno with the reason in err (as the answer's "error").
 */
int api_line_parse(char *line, const struct api_op **op, char *arg, size_t n, uint8_t *bin,
		   uint32_t *blen, uint64_t *num, char *err, size_t en);


/**
 * api_hex_arg() - hex (2-2*LVMM_API_ARG_MAX digits, an even number) into
 * out (LVMM_API_ARG_MAX bytes), *len bytes; -EINVAL with the reason in err.
 */
int api_hex_arg(const char *hex, uint8_t *out, uint32_t *len, char *err, size_t en);

/**
 * api_secs_parse() - an ARG_PART_SECS op's seconds (text s) into *secs:
 * 0, or -EINVAL with the reason in err.
 */
int api_secs_parse(const struct api_op *op, const char *s, uint64_t *secs, char *err, size_t en);

/* ---- the supervisor (main.c) ---- */

/*
 * A request's reply (r NULL: none came: the front-end gave up, err says
 * why); ctx is the submitter's. Called once per submitted request, unless
 * it was cancelled.
 */
typedef void (*api_done_fn)(void *ctx, const struct lvmm_api_reply *r, int err);

/** The memfd that came with the reply being handed to an api_done_fn, or -1 (closed after). */
extern int api_reply_fd;

/**
 * api_submit() - send request q to the supervisor with the subject's
 * connection (conn_fd) and a payload memfd (or -1; closed here). 0 with
 * *id set, or -errno (nothing was sent; done is not called).
 */
int api_submit(struct lvmm_api_req *q, int conn_fd, int payload_fd, api_done_fn done, void *ctx,
	       uint32_t *id);

/**
 * api_submit_remote() - api_submit() for a client of the TLS listener
 * whose verified certificate has SHA-256 cert (no payload: remote clients
 * cannot upload a policy).
 */
int api_submit_remote(struct lvmm_api_req *q, const uint8_t cert[32], int conn_fd, api_done_fn done,
		      void *ctx, uint32_t *id);

/** api_new_id() - a fresh request number. */
uint32_t api_new_id(void);

/** api_submit_raw() - send rq as it is (no gathering), with conn_fd; as api_submit(). */
int api_submit_raw(struct lvmm_api_remote_req *rq, bool remote, int conn_fd, api_done_fn done,
		   void *ctx, uint32_t *id);

/** api_cancel() - the submitter is gone: its reply is dropped when it comes. */
void api_cancel(uint32_t id);

/** The supervisor's init message (version, its uid, platform size). */
extern struct lvmm_api_init api_init;

/** api_request_id() - a fresh request id ("r-" and 16 hex digits). */
void api_request_id(char *out, size_t n);

/** api_rid_ok() - is s a valid client-supplied request id (1-63 of [A-Za-z0-9._:-])? */
bool api_rid_ok(const char *s);

/* ---- metrics, gathered (gather.c) ---- */

/** The /proc directory (O_PATH), or -1: no process figures. */
extern int gather_procfd;

/** gather_init() - before the sandbox: /proc's directory fd (or -1), the supervisor's pid. */
void gather_init(int proc_dir);

/**
 * gather_start() - answer metrics request rq (of a remote client when
 * remote) in steps with the subject's connection conn_fd; done is called
 * once with an LVMM_BODY_BLOB reply of LVMM_BLOB_METRICS (api_reply_fd) or
 * a failure, unless cancelled (api_cancel(*id)). 0, or -errno (done is not called).
 */
int gather_start(const struct lvmm_api_remote_req *rq, bool remote, int conn_fd, api_done_fn done,
		 void *ctx, uint32_t *id);

/** gather_cancel() - drop gathering id (true), or false: not a gathering. */
bool gather_cancel(uint32_t id);

/** gather_note() - a partition's answer p: its counters are the newest metrics show. */
void gather_note(const struct lvmm_api_part *p);

/* ---- HTTP (http.c) ---- */

/** http_init() - serve HTTP on listening fd lfd, adding libmicrohttpd's fd to epoll epfd. */
int http_init(int lfd, int epfd);

/** http_run() - let libmicrohttpd do its work (its fd was ready, or time passed). */
void http_run(void);

/** http_timeout_ms() - how long epoll may wait for libmicrohttpd's sake (-1: forever). */
int http_timeout_ms(void);

/** http_tick() - once a second: notice event streams whose client left. */
void http_tick(void);

/**
 * tls_init() - also serve HTTPS on TCP socket lfd: TLS 1.3 only, a client
 * certificate that chains to ca required; cert and key: the server's (PEM,
 * copied). Accepts clients only while the remote window is open.
 */
int tls_init(int lfd, int epfd, const char *cert, const char *key, const char *ca);

/** http_remote_window() - remote clients are let in for ms more (0: no more, from now). */
void http_remote_window(uint64_t ms);

/** http_close() - answer what waits and stop serving. */
void http_close(void);

/* ---- agent channels (agent.c) ---- */

/** agent_open() - partition part's agent channel is fd (name for messages). */
void agent_open(unsigned part, const char *name, int fd, int epfd);

/** agent_close() - partition part's channel is gone. */
void agent_close(unsigned part);

/** agent_event() - epoll events for partition part's channel. */
void agent_event(unsigned part, uint32_t events);

/** agent_tick() - deadlines of agent requests (now: monotonic ns). */
void agent_tick(uint64_t now);


/* ---- event followers (follow.c) ---- */

struct follower {
	bool used;
	bool ended;            /* no more lines: the stream ends */
	bool platform;         /* may see events about no partition */
	uint64_t next;         /* ring position of the next line to deliver */
	uint64_t parts[LVMM_API_MAX_PARTS / 64];
	uint64_t lost;         /* lines it could not get, not reported yet */
	int conn_fd;           /* the subject's connection, to ask again on a policy change */
	bool remote;           /* a TLS client: asks again with its certificate */
	uint8_t cert[32];
	uint32_t asking;       /* a pending re-decision (request id), or 0 */
	void (*wake)(struct follower *f); /* new lines, or ended */
	void *owner;
};

/** follow_new() - a follower from now on (NULL: API_FOLLOW_MAX reached). */
struct follower *follow_new(int conn_fd, void (*wake)(struct follower *), void *owner);

/** follow_set() - apply the supervisor's decision (an events body) to f. */
void follow_set(struct follower *f, const struct lvmm_api_events *b);

/** follow_free() - f is gone. */
void follow_free(struct follower *f);

/**
 * follow_read() - copy whole lines f may see into buf (at most n bytes),
 * a gap line first if it lost some; returns the bytes copied (0: none now).
 */
size_t follow_read(struct follower *f, char *buf, size_t n);

/** events_push() - a line from the supervisor (lost: lines dropped before it). */
void events_push(const struct lvmm_api_event *m, size_t len);

/** events_policy_changed() - ask the supervisor again for every follower's filter. */
void events_policy_changed(void);

/** events_stats() - lines received, and lines the supervisor could not send. */
void events_stats(uint64_t *received, uint64_t *dropped);

#endif
