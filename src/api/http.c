// SPDX-License-Identifier: MIT
/*
 * HTTP/1.1 + JSON on the control socket (docs/api.md), with libmicrohttpd
 * in "external epoll" mode inside the front-end's one loop. A request is
 * routed from the op table (api_route), checked (request id, body size
 * before anything is buffered), sent to the supervisor with the client's
 * connection as the subject, and its connection is suspended until the
 * reply comes. GET /v1/events answers with a chunked stream of event lines
 * that follows the ring (follow.c) and is suspended while there is nothing
 * to send.
 *
 * Client mistakes get a 4xx with {"ok":false,"error":...,"request_id":...};
 * the request id (X-Request-Id, echoed or made up) is in every answer and
 * in the supervisor's audit events.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/policy.h"
#include "common/log.h"
#include "shared/parse.h"
#include "common/util.h"

#define CONN_MEMORY   (32 * 1024) /* per connection: request line and headers */
#define STREAM_BLOCK  8192
#define TLS_CONN_MAX  8           /* remote administrators at a time */
/* TLS 1.3 only; GnuTLS's NORMAL set otherwise (docs/api.md, "Remote management"). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

enum hphase { H_NEW, H_BODY, H_WAIT, H_DONE, H_STREAM };

struct hreq {
	enum hphase phase;
	struct MHD_Connection *conn;
	const struct api_op *op;
	char target[LVMM_NAME_MAX];
	uint64_t secs;           /* ARG_PART_SECS: ?timeout=SECONDS, or 0 */
	char rid[LVMM_API_RID_MAX];
	char *body;
	size_t body_len;
	bool too_big;
	bool suspended;
	bool prom;               /* GET /metrics: the answer in Prometheus' text format */
	uint32_t pending;        /* request id at the supervisor, while waiting */
	struct follower *f;      /* GET /v1/events */
	int slot;                /* in streams[], or -1 */
	char hello[192];         /* the stream's first line, until sent */
	size_t hello_len;
	uint64_t window;         /* ARG_WINDOW: seconds */
	bool remote;             /* on the TLS listener */
	uint8_t cert[32];        /* remote: SHA-256 of its verified client certificate */
};

/* Per connection: its peer's uid, for the per-uid limit. */
struct hconn {
	uint32_t uid;
};

static struct MHD_Daemon *daemon_, *tls_daemon;
static int remote_cls;         /* the TLS daemon's handler argument: &remote_cls */
static uint64_t remote_until;  /* monotonic ns the remote window closes at; 0: closed */
static struct hreq *streams[API_FOLLOW_MAX];
static struct { uint32_t uid; unsigned n; } uids[API_CONN_MAX + 8];
static unsigned nconn;

/* ---- answers --------------------------------------------------------------------------- */

static enum MHD_Result send_json(struct hreq *h, unsigned status, json_t *o, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	char *text;
	size_t len;

	json_object_set_new(o, "request_id", json_string(h->rid));
	/* Reals (metrics' seconds) as 0.27, not 0.27000000000000002. */
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_decref(o);
	if (!text)
		return MHD_NO;
	len = strlen(text);
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "X-Request-Id", h->rid);
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	h->phase = H_DONE;
	r = MHD_queue_response(h->conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result send_error(struct hreq *h, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct hreq *h, unsigned status, const char *fmt, ...)
{
	char why[LVMM_API_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return send_json(h, status, api_error_json(why), NULL);
}

/* GET /metrics: the metrics blob as Prometheus text (0.0.4), errors as JSON like any other. */
static enum MHD_Result send_prom(struct hreq *h, const struct lvmm_api_reply *r)
{
	const char *why = "malformed reply from the supervisor";
	void *m = r->body == LVMM_BODY_BLOB ? api_metrics_load(r, api_reply_fd, &why) : NULL;
	struct MHD_Response *resp;
	enum MHD_Result res;
	size_t len = 0;
	char *text = m ? api_metrics_text(m, &len) : NULL;

	free(m);
	if (!text)
		return send_error(h, 500, "%s", m ? "no memory for the metrics" : why);
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(resp, "X-Request-Id", h->rid);
	h->phase = H_DONE;
	res = MHD_queue_response(h->conn, 200, resp);
	MHD_destroy_response(resp);
	return res;
}

static void resume(struct hreq *h)
{
	if (h->suspended) {
		h->suspended = false;
		MHD_resume_connection(h->conn);
	}
}

/* ---- event streams ----------------------------------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hreq *h = cls;
	size_t n;

	(void)pos;
	if (!h->f || h->f->ended)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (h->hello_len && h->hello_len <= max) {
		memcpy(buf, h->hello, h->hello_len);
		n = h->hello_len;
		h->hello_len = 0;
		return (ssize_t)n;
	}
	n = follow_read(h->f, buf, max);
	if (n)
		return (ssize_t)n;
	/* Nothing now: off MHD's loop until a line comes (follower's wake). */
	h->suspended = true;
	MHD_suspend_connection(h->conn);
	return 0;
}

static void stream_wake(struct follower *f)
{
	resume(f->owner);
}

/* The supervisor said whose events this client may follow: start the stream. */
static void start_stream(struct hreq *h, const struct lvmm_api_reply *r)
{
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *resp;
	struct timespec ts;
	unsigned i, n = 0;
	int slot = -1, w;

	for (i = 0; i < API_FOLLOW_MAX && slot < 0; i++)
		if (!streams[i])
			slot = (int)i;
	ci = MHD_get_connection_info(h->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	h->f = slot >= 0 && ci ? follow_new(ci->connect_fd, stream_wake, h) : NULL;
	if (!h->f) {
		send_error(h, 429, "too many event streams (at most %d)", API_FOLLOW_MAX);
		return;
	}
	h->f->remote = h->remote;
	memcpy(h->f->cert, h->cert, sizeof(h->cert));
	follow_set(h->f, &r->u.events);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, h, NULL);
	if (!resp) {
		follow_free(h->f);
		h->f = NULL;
		send_error(h, 429, "cannot start an event stream now");
		return;
	}
	/* The first line says the stream is set up: whatever happens from now on is in it. */
	for (i = 0; i < r->u.events.nparts && i < LVMM_API_MAX_PARTS; i++)
		n += (unsigned)(r->u.events.parts[i / 64] >> (i % 64) & 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	w = snprintf(h->hello, sizeof(h->hello),
		     "{\"ts\":%lld.%03ld,\"event\":\"following\",\"partitions\":%u,\"platform\":%s,"
		     "\"request_id\":\"%s\"}\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000, n,
		     r->u.events.platform ? "true" : "false", h->rid);
	h->hello_len = w > 0 && (size_t)w < sizeof(h->hello) ? (size_t)w : 0;
	h->slot = slot;
	streams[slot] = h;
	h->phase = H_STREAM;
	MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
	MHD_add_response_header(resp, "X-Request-Id", h->rid);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_queue_response(h->conn, 200, resp);
	MHD_destroy_response(resp);
}

/* ---- requests --------------------------------------------------------------------------- */

static void replied(void *ctx, const struct lvmm_api_reply *r, int err)
{
	struct hreq *h = ctx;

	h->pending = 0;
	if (!r)
		send_error(h, 504, "the supervisor did not answer (%s)", strerror(-err));
	else if (!r->result && h->op->id == LVMM_OP_EVENTS)
		start_stream(h, r);
	else if (!r->result && h->prom)
		send_prom(h, r);
	else
		send_json(h, api_http_status(r->result), api_reply_json(r, api_reply_fd), NULL);
	resume(h);
}

static enum MHD_Result submit(struct hreq *h)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(h->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct lvmm_api_req q = { .op = h->op->id, .num = { h->secs } };
	char err[LVMM_API_ERR_MAX];
	int payload = -1, r;

	if (h->op->arg == ARG_POLICY) {
		if (h->too_big)
			return send_error(h, 413, "the policy is larger than %d bytes", LVMM_API_UPLOAD_MAX);
		if (!h->body_len)
			return send_error(h, 400, "the request body (the policy's text) is empty");
		payload = api_policy_memfd(h->body, h->body_len);
		if (payload < 0)
			return send_error(h, 429, "cannot take the policy now: %s", strerror(-payload));
	}
	if (h->op->arg == ARG_PART_HEX) {
		const char *nonce = MHD_lookup_connection_value(h->conn, MHD_GET_ARGUMENT_KIND, "nonce");

		if (!nonce || api_hex_arg(nonce, q.arg, &q.arg_len, err, sizeof(err)))
			return send_error(h, 400, "%s", nonce ? err : "the query parameter nonce=HEX is missing");
	}
	if (!ci)
		return MHD_NO;
	snprintf(q.target, sizeof(q.target), "%s", h->target);
	snprintf(q.request_id, sizeof(q.request_id), "%s", h->rid);
	if (h->op->arg == ARG_WINDOW)
		q.num[0] = h->window;
	if (h->remote)
		r = api_submit_remote(&q, h->cert, ci->connect_fd, replied, h, &h->pending);
	else
		r = api_submit(&q, ci->connect_fd, payload, replied, h, &h->pending);
	if (r)
		return send_error(h, 429, "the supervisor is busy (%s); try again", strerror(-r));
	h->phase = H_WAIT;
	h->suspended = true;
	MHD_suspend_connection(h->conn);
	return MHD_YES;
}

static bool uid_over_limit(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const struct hconn *hc = ci ? ci->socket_context : NULL;
	unsigned i;

	if (!hc)
		return false;
	for (i = 0; i < ARRAY_SIZE(uids); i++)
		if (uids[i].n && uids[i].uid == hc->uid)
			return uids[i].n > API_CONN_PER_UID;
	return false;
}

static bool remote_open(void)
{
	return remote_until && now_ns() < remote_until;
}

/*
 * The client's certificate, verified against the client CA (again: the
 * handshake required and verified it already), as the SHA-256 of its DER.
 */
static int peer_cert(struct MHD_Connection *c, uint8_t out[32])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t ss = ci ? (gnutls_session_t)ci->tls_session : NULL;
	const gnutls_datum_t *chain;
	unsigned n = 0, status = 1;
	size_t len = 32;

	if (!ss || gnutls_protocol_get_version(ss) != GNUTLS_TLS1_3 ||
	    gnutls_certificate_verify_peers2(ss, &status) || status)
		return -EACCES;
	chain = gnutls_certificate_get_peers(ss, &n);
	if (!chain || !n || gnutls_fingerprint(GNUTLS_DIG_SHA256, &chain[0], out, &len) || len != 32)
		return -EACCES;
	return 0;
}

/* Per TLS connection: its certificate, verified once (a chain check costs about 0.3 ms). */
struct tconn {
	bool verified;
	uint8_t cert[32];
};

static int remote_cert(struct MHD_Connection *c, uint8_t out[32])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct tconn *tc = ci ? ci->socket_context : NULL;

	if (!tc)
		return -EACCES;
	if (!tc->verified && peer_cert(c, tc->cert))
		return -EACCES;
	tc->verified = true;
	memcpy(out, tc->cert, sizeof(tc->cert));
	return 0;
}

/* First call for a request: route it and check what can be checked before the body. */
static enum MHD_Result begin(struct hreq *h, const char *url, const char *method)
{
	const char *rid = MHD_lookup_connection_value(h->conn, MHD_HEADER_KIND, "X-Request-Id");
	const char *cl = MHD_lookup_connection_value(h->conn, MHD_HEADER_KIND, "Content-Length");
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(h->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const struct hconn *hc = ci ? ci->socket_context : NULL;
	char allow[64];
	int r;

	if (rid && api_rid_ok(rid))
		snprintf(h->rid, sizeof(h->rid), "%s", rid);
	else
		api_request_id(h->rid, sizeof(h->rid));
	if (rid && !api_rid_ok(rid))
		return send_error(h, 400, "X-Request-Id must be 1-%d of the characters A-Z a-z 0-9 . _ : -",
				  LVMM_API_RID_MAX - 1);
	/*
	 * No window check here: a request on a connection accepted while the
	 * window was open goes to the supervisor, which refuses it and keeps
	 * it in the audit trail.
	 */
	if (h->remote && remote_cert(h->conn, h->cert))
		return send_error(h, 403, "a client certificate from the configured CA is required");
	if (!h->remote && nconn > API_CONN_MAX)
		return send_error(h, 429, "too many control clients (at most %d at a time)", API_CONN_MAX);
	/* (A TLS connection's context is a struct tconn, and its limit the daemon's.) */
	if (!h->remote && uid_over_limit(h->conn))
		return send_error(h, 429, "too many control clients of uid %u (at most %d at a time)",
				  hc ? hc->uid : 0, API_CONN_PER_UID);
	r = api_route(method, url, &h->op, h->target, sizeof(h->target), allow, sizeof(allow));
	if (r == 2) {
		h->prom = true;
		r = 0;
	}
	if (r == 1) {
		json_t *o = json_object();

		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "version", json_string(api_init.lvmm_version));
		json_object_set_new(o, "api", json_integer(LVMM_API_VERSION));
		return send_json(h, 200, o, NULL);
	}
	if (r == -EOPNOTSUPP)
		return send_json(h, 405, api_error_json("method not allowed for this path"), allow);
	if (r == -ENAMETOOLONG)
		return send_error(h, 404, "no %s called that: names are at most %d characters",
				  h->op->arg == ARG_LINK ? "link" : "partition", LVMM_NAME_MAX - 1);
	if (r)
		return send_error(h, 404, "no such path: %.128s (see GET /v1/help)", url);
	if (h->op->arg == ARG_PART_SECS) {
		const char *t = MHD_lookup_connection_value(h->conn, MHD_GET_ARGUMENT_KIND, "timeout");
		char why[96];

		if (t && api_secs_parse(h->op, t, &h->secs, why, sizeof(why)))
			return send_error(h, 400, "%s", why);
	}
	if (h->remote && h->op->arg == ARG_POLICY)
		return send_error(h, 403, "%s is for local clients only", h->op->name);
	if (h->op->arg == ARG_WINDOW) {
		const char *m = MHD_lookup_connection_value(h->conn, MHD_GET_ARGUMENT_KIND, "minutes");
		const char *sec = MHD_lookup_connection_value(h->conn, MHD_GET_ARGUMENT_KIND, "seconds");

		if (!m == !sec || api_window_parse(m ? "minutes" : "seconds", m ? m : sec, &h->window))
			return send_error(h, 400, "give the window as ?minutes=N (1-%d) or ?seconds=N (1-%d)",
					  LVMM_REMOTE_MAX_S / 60, LVMM_REMOTE_MAX_S);
	}
	/* Sizes are capped before anything is buffered. */
	if (h->op->arg == ARG_POLICY && cl) {
		uint64_t n;

		if (parse_u64(cl, UINT64_MAX, &n))
			return send_error(h, 400, "bad Content-Length");
		if (n > LVMM_API_UPLOAD_MAX)
			return send_error(h, 413, "the policy is larger than %d bytes", LVMM_API_UPLOAD_MAX);
	}
	h->phase = H_BODY;
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	struct hreq *h = *ctx;

	(void)cls, (void)version;
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return MHD_NO;
		h->conn = c;
		h->slot = -1;
		h->remote = cls == &remote_cls;
		*ctx = h;
		return begin(h, url, method);
	}
	if (h->phase != H_BODY)
		return MHD_YES; /* answered already; the rest of the body is dropped */
	if (*upload_size) {
		if (h->op->arg == ARG_POLICY && !h->too_big) {
			if (h->body_len + *upload_size > LVMM_API_UPLOAD_MAX) {
				h->too_big = true; /* chunked: found out while it arrives */
			} else {
				if (!h->body)
					h->body = malloc(LVMM_API_UPLOAD_MAX);
				if (!h->body)
					return MHD_NO;
				memcpy(h->body + h->body_len, upload, *upload_size);
				h->body_len += *upload_size;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return submit(h);
}

static void completed(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode toe)
{
	struct hreq *h = *ctx;

	(void)cls, (void)c, (void)toe;
	if (!h)
		return;
	if (h->pending)
		api_cancel(h->pending);
	if (h->f)
		follow_free(h->f);
	if (h->slot >= 0)
		streams[h->slot] = NULL;
	free(h->body);
	free(h);
	*ctx = NULL;
}

/* Connections are counted per peer uid (SO_PEERCRED), for the per-uid limit. */
static void notify(void *cls, struct MHD_Connection *c, void **sctx, enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct hconn *hc = *sctx;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	unsigned i, fr = ARRAY_SIZE(uids);

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		hc = calloc(1, sizeof(*hc));
		if (!hc || !ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			free(hc);
			return;
		}
		hc->uid = cred.uid;
		*sctx = hc;
		nconn++;
		for (i = 0; i < ARRAY_SIZE(uids); i++) {
			if (uids[i].n && uids[i].uid == hc->uid) {
				uids[i].n++;
				return;
			}
			if (!uids[i].n && fr == ARRAY_SIZE(uids))
				fr = i;
		}
		if (fr < ARRAY_SIZE(uids))
			uids[fr].uid = hc->uid, uids[fr].n = 1;
		return;
	}
	if (!hc)
		return;
	nconn--;
	for (i = 0; i < ARRAY_SIZE(uids); i++)
		if (uids[i].n && uids[i].uid == hc->uid) {
			uids[i].n--;
			break;
		}
	free(hc);
	*sctx = NULL;
}

/* ---- remote clients (TLS) ---------------------------------------------------------------- */

/* Closed window: a new TCP connection is closed at once, before any TLS. */
static enum MHD_Result tls_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	(void)cls, (void)addr, (void)len;
	return remote_open() ? MHD_YES : MHD_NO;
}

/*
 * Before the handshake: a client certificate is required, and verified
 * against the client CA in the handshake itself, so a client without one
 * (or with one from another CA) never gets to send a request.
 */
static void tls_notify(void *cls, struct MHD_Connection *c, void **sctx, enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED) {
		free(*sctx);
		*sctx = NULL;
		return;
	}
	*sctx = calloc(1, sizeof(struct tconn)); /* none: its requests are refused (403) */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session) {
		gnutls_certificate_server_set_request((gnutls_session_t)ci->tls_session, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert((gnutls_session_t)ci->tls_session, NULL, 0);
	}
}

int tls_init(int lfd, int epfd, const char *cert, const char *key, const char *ca)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 3 /* TAG_HTTP */ };
	const union MHD_DaemonInfo *di;

	tls_daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TLS, 0,
				      tls_accept, NULL, handler, &remote_cls,
				      MHD_OPTION_LISTEN_SOCKET, lfd,
				      MHD_OPTION_HTTPS_MEM_CERT, cert,
				      MHD_OPTION_HTTPS_MEM_KEY, key,
				      MHD_OPTION_HTTPS_MEM_TRUST, ca,
				      MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
				      MHD_OPTION_CONNECTION_LIMIT, (unsigned)TLS_CONN_MAX,
				      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_S,
				      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				      MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				      MHD_OPTION_NOTIFY_CONNECTION, tls_notify, NULL,
				      MHD_OPTION_END);
	if (!tls_daemon)
		return -EINVAL;
	di = MHD_get_daemon_info(tls_daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di || epoll_ctl(epfd, EPOLL_CTL_ADD, di->epoll_fd, &ev) < 0) {
		MHD_stop_daemon(tls_daemon);
		tls_daemon = NULL;
		return -EIO;
	}
	return 0;
}

void http_remote_window(uint64_t ms)
{
	unsigned i;

	remote_until = ms ? now_ns() + ms * 1000000ULL : 0;
	if (ms)
		return;
	/* Closed: remote event streams end (their requests are refused by the supervisor anyway). */
	for (i = 0; i < API_FOLLOW_MAX; i++)
		if (streams[i] && streams[i]->remote && streams[i]->f) {
			streams[i]->f->ended = true;
			resume(streams[i]);
		}
}

/* ---- the daemon ------------------------------------------------------------------------- */

int http_init(int lfd, int epfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 3 /* TAG_HTTP */ };
	const union MHD_DaemonInfo *di;

	daemon_ = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, handler, NULL,
				   MHD_OPTION_LISTEN_SOCKET, lfd,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned)(API_CONN_MAX + 8),
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_S,
				   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				   MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				   MHD_OPTION_NOTIFY_CONNECTION, notify, NULL,
				   MHD_OPTION_END);
	if (!daemon_)
		return -EIO;
	di = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di || epoll_ctl(epfd, EPOLL_CTL_ADD, di->epoll_fd, &ev) < 0)
		return -EIO;
	return 0;
}

void http_run(void)
{
	if (daemon_)
		MHD_run(daemon_);
	if (tls_daemon)
		MHD_run(tls_daemon);
}

int http_timeout_ms(void)
{
	MHD_UNSIGNED_LONG_LONG t, best = 60000;
	bool any = false;

	if (daemon_ && MHD_get_timeout(daemon_, &t) == MHD_YES)
		best = t < best ? t : best, any = true;
	if (tls_daemon && MHD_get_timeout(tls_daemon, &t) == MHD_YES)
		best = t < best ? t : best, any = true;
	return any ? (int)best : -1;
}

/* Suspended streams do not see their client leave: look once a second. */
void http_tick(void)
{
	unsigned i;

	if (remote_until && now_ns() >= remote_until)
		http_remote_window(0); /* the supervisor says so too, and refuses what still comes */
	for (i = 0; i < API_FOLLOW_MAX; i++) {
		struct hreq *h = streams[i];
		struct pollfd p;

		if (!h || !h->suspended || !h->f)
			continue;
		p.fd = h->f->conn_fd;
		p.events = POLLRDHUP;
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			h->f->ended = true;
			resume(h);
		}
	}
}

/* The supervisor is gone: end the streams and let the answers already queued go out. */
void http_close(void)
{
	unsigned i;

	if (!daemon_ && !tls_daemon)
		return;
	for (i = 0; i < API_FOLLOW_MAX; i++)
		if (streams[i] && streams[i]->f) {
			streams[i]->f->ended = true;
			resume(streams[i]);
		}
	for (i = 0; i < 20; i++) {
		const union MHD_DaemonInfo *di = daemon_ ?
			MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
		const union MHD_DaemonInfo *ti = tls_daemon ?
			MHD_get_daemon_info(tls_daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;

		/* Nobody left to answer: do not hold up the platform's exit (100 ms). */
		if ((!di || !di->num_connections) && (!ti || !ti->num_connections))
			break;
		http_run();
		poll(NULL, 0, 5);
	}
}
