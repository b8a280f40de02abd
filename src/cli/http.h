/* SPDX-License-Identifier: MIT */
/*
 * A minimal HTTP/1.1 client for lvmm's own control API over a Unix socket
 * (docs/api.md): one request per connection ("Connection: close"), the
 * response's body by Content-Length, chunked transfer coding, or until the
 * connection closes. Enough for `lvmm ctl`, `lvmm top` and the tests; not a
 * general client (no redirects, no TLS, no pipelining). libcurl would do,
 * but its static archive pulls in far more than lvmm's -static-pie binary
 * should carry for this.
 */
#ifndef LVMM_CLI_HTTP_H
#define LVMM_CLI_HTTP_H

#include <stddef.h>

#define HTTP_BODY_MAX (4 * 1024 * 1024) /* a larger body is an error */

struct http_resp {
	unsigned status;       /* e.g. 200, 404 */
	char request_id[64];   /* X-Request-Id of the answer, or "" */
	char *body;            /* NUL-terminated (malloc'd; http_resp_free) */
	size_t len;
};

/*
 * http_request() - send method path (with body of blen bytes, or none) to
 * the control socket sock and read the whole answer into *r, within
 * timeout_ms. 0, or -errno with a message in err (could not connect, no or
 * malformed answer).
 */
int http_request(const char *sock, const char *method, const char *path, const char *body,
		 size_t blen, struct http_resp *r, int timeout_ms, char *err, size_t errlen);

/*
 * http_follow() - GET path and hand each line of the (streamed) body to
 * line() as it arrives, until the server ends it, line() returns non-zero,
 * or nothing arrives for idle_ms (-1: wait for ever). r gets the status and
 * request id (and the body when the status is not 2xx). 0 or -errno.
 */
int http_follow(const char *sock, const char *path, int (*line)(const char *s, size_t n, void *ctx),
		void *ctx, struct http_resp *r, int idle_ms, char *err, size_t errlen);

/** http_resp_free() - release r's body. */
void http_resp_free(struct http_resp *r);

#endif
