// SPDX-License-Identifier: MIT
/*
 * The control API's HTTP client (http.h): an incremental response parser
 * (status line and headers, then the body by length, chunks or EOF) fed
 * from a non-blocking socket under a deadline.
 */
#include "cli/http.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384

enum pstate { P_HEAD, P_LEN, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER, P_EOF, P_DONE };

struct parser {
	enum pstate st;
	char head[HEAD_MAX];
	size_t head_len;
	unsigned long long left; /* body bytes (P_LEN) or chunk bytes (P_CHUNK_DATA) still due */
	char line[64];           /* chunk-size or trailer line being read */
	size_t line_len;
	struct http_resp *r;
	/* Body bytes go to the buffer, and whole lines to line() when following. */
	int (*line_cb)(const char *s, size_t n, void *ctx);
	void *ctx;
	size_t cap;
	size_t line_start;       /* following: start of the line not yet handed over */
	bool stop;
	char err[128];
};

void http_resp_free(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

static int connect_to(const char *sock, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", sock);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		snprintf(err, errlen, "cannot connect to %s: %s", sock, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	return fd;
}

/* Room for n more bytes and a NUL in the body buffer. */
static int reserve(struct parser *p, size_t n)
{
	struct http_resp *r = p->r;

	if (r->len + n > HTTP_BODY_MAX) {
		snprintf(p->err, sizeof(p->err), "answer (or line) larger than %d bytes", HTTP_BODY_MAX);
		return -EMSGSIZE;
	}
	while (r->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8192;
		char *b = realloc(r->body, cap);

		if (!b)
			return -ENOMEM;
		r->body = b;
		p->cap = cap;
	}
	return 0;
}

static int body_bytes(struct parser *p, const char *s, size_t n)
{
	struct http_resp *r = p->r;
	int e = reserve(p, n);

	if (e)
		return e;
	memcpy(r->body + r->len, s, n);
	r->len += n;
	r->body[r->len] = 0;
	if (p->line_cb && r->status >= 200 && r->status < 300) {
		/* Following: whole lines go to the callback; only the unfinished one is kept. */
		size_t i;

		for (i = p->line_start; i < r->len && !p->stop; i++)
			if (r->body[i] == '\n') {
				if (p->line_cb(r->body + p->line_start, i - p->line_start, p->ctx))
					p->stop = true;
				p->line_start = i + 1;
			}
		memmove(r->body, r->body + p->line_start, r->len - p->line_start);
		r->len -= p->line_start;
		r->body[r->len] = 0;
		p->line_start = 0;
	}
	return 0;
}

/* The status line and headers are complete in p->head. */
static int parse_head(struct parser *p)
{
	char *save = NULL, *l = strtok_r(p->head, "\r\n", &save);
	bool chunked = false, have_len = false;
	unsigned long long len = 0;

	if (!l || sscanf(l, "HTTP/1.%*1[01] %3u", &p->r->status) != 1 || p->r->status < 100) {
		snprintf(p->err, sizeof(p->err), "not an HTTP answer");
		return -EPROTO;
	}
	while ((l = strtok_r(NULL, "\r\n", &save))) {
		char *v = strchr(l, ':');

		if (!v)
			continue;
		*v++ = 0;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!strcasecmp(l, "Content-Length")) {
			char *end;

			errno = 0;
			len = strtoull(v, &end, 10);
			if (errno || *end || !isdigit((unsigned char)*v))
				return -EPROTO;
			have_len = true;
		} else if (!strcasecmp(l, "Transfer-Encoding")) {
			chunked = !strcasecmp(v, "chunked");
		} else if (!strcasecmp(l, "X-Request-Id")) {
			snprintf(p->r->request_id, sizeof(p->r->request_id), "%s", v);
		}
	}
	if (chunked)
		p->st = P_CHUNK_SIZE;
	else if (have_len)
		p->st = len ? P_LEN : P_DONE, p->left = len;
	else
		p->st = P_EOF;
	return 0;
}

/* Feed n received bytes. 0, or -errno (p->err says why). */
static int feed(struct parser *p, const char *s, size_t n)
{
	while (n && p->st != P_DONE && !p->stop) {
		size_t k;
		int r;

		switch (p->st) {
		case P_HEAD: {
			char *end;

			k = sizeof(p->head) - 1 - p->head_len;
			if (!k) {
				snprintf(p->err, sizeof(p->err), "headers longer than %d bytes", HEAD_MAX);
				return -EPROTO;
			}
			k = k < n ? k : n;
			memcpy(p->head + p->head_len, s, k);
			p->head_len += k;
			p->head[p->head_len] = 0;
			end = strstr(p->head, "\r\n\r\n");
			if (!end) {
				s += k, n -= k;
				break;
			}
			/* What came after the headers is body. */
			k -= p->head_len - (size_t)(end + 4 - p->head);
			s += k, n -= k;
			end[2] = 0;
			r = parse_head(p);
			if (r)
				return r;
			break;
		}
		case P_LEN:
		case P_CHUNK_DATA: /* p->left more bytes of the body, or of this chunk */
			k = n < p->left ? n : (size_t)p->left;
			r = body_bytes(p, s, k);
			if (r)
				return r;
			p->left -= k, s += k, n -= k;
			if (!p->left)
				p->st = p->st == P_LEN ? P_DONE : P_CHUNK_CRLF;
			break;
		case P_EOF:
			return body_bytes(p, s, n);
		case P_CHUNK_SIZE:
		case P_CHUNK_CRLF:
		case P_TRAILER:
			/* One line at a time. */
			if (*s != '\n') {
				if (p->line_len + 1 >= sizeof(p->line)) {
					snprintf(p->err, sizeof(p->err), "malformed chunked answer");
					return -EPROTO;
				}
				if (*s != '\r')
					p->line[p->line_len++] = *s;
				s++, n--;
				break;
			}
			s++, n--;
			p->line[p->line_len] = 0;
			p->line_len = 0;
			if (p->st == P_CHUNK_CRLF) {
				p->st = P_CHUNK_SIZE;
			} else if (p->st == P_TRAILER) {
				if (!p->line[0])
					p->st = P_DONE;
			} else {
				char *end;

				errno = 0;
				p->left = strtoull(p->line, &end, 16);
				if (errno || end == p->line || (*end && *end != ';')) {
					snprintf(p->err, sizeof(p->err), "malformed chunk size");
					return -EPROTO;
				}
				p->st = p->left ? P_CHUNK_DATA : P_TRAILER;
			}
			break;
		case P_DONE:
		default:
			return 0;
		}
	}
	return 0;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int exchange(const char *sock, const char *method, const char *path, const char *body,
		    size_t blen, struct parser *p, int timeout_ms, bool idle, char *err, size_t errlen)
{
	char head[1024];
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : ms_now() + (uint64_t)timeout_ms;
	int fd, n, r = 0;
	ssize_t w;
	size_t off = 0;

	if (body)
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			     "Accept: application/json\r\nContent-Type: application/yaml\r\n"
			     "Content-Length: %zu\r\n\r\n", method, path, blen);
	else
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			     "Accept: application/json\r\n\r\n", method, path);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		snprintf(err, errlen, "request too long");
		return -EINVAL;
	}
	fd = connect_to(sock, err, errlen);
	if (fd < 0)
		return fd;
	/*
	 * A server that refuses us answers and closes before reading all: a
	 * failed send is reported only if no answer comes.
	 */
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n)
		while (body && off < blen && (w = send(fd, body + off, blen - off, MSG_NOSIGNAL)) > 0)
			off += (size_t)w;
	for (;;) {
		char buf[16384];
		uint64_t now = ms_now();
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t got;

		if (now >= deadline) {
			snprintf(err, errlen, "no answer within %d s", timeout_ms / 1000);
			r = -ETIMEDOUT;
			break;
		}
		if (poll(&pf, 1, deadline == UINT64_MAX ? -1 : (int)(deadline - now)) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0) {
			/* EOF (or a reset after the answer): a complete or EOF-delimited body is fine. */
			if (p->st == P_EOF || p->st == P_DONE || (p->st != P_HEAD && p->stop))
				p->st = P_DONE;
			else {
				snprintf(err, errlen, p->st == P_HEAD && !p->head_len ?
					 "the server closed the connection without answering" :
					 "the answer was cut short");
				r = -EPIPE;
			}
			break;
		}
		r = feed(p, buf, (size_t)got);
		if (r) {
			snprintf(err, errlen, "%s", p->err);
			break;
		}
		if (p->st == P_DONE || p->stop)
			break;
		if (idle && timeout_ms >= 0)
			deadline = ms_now() + (uint64_t)timeout_ms;
	}
	close(fd);
	return r;
}

int http_request(const char *sock, const char *method, const char *path, const char *body,
		 size_t blen, struct http_resp *r, int timeout_ms, char *err, size_t errlen)
{
	static struct parser p;
	int e;

	memset(&p, 0, sizeof(p));
	memset(r, 0, sizeof(*r));
	p.r = r;
	e = exchange(sock, method, path, body, blen, &p, timeout_ms, false, err, errlen);
	if (e)
		http_resp_free(r);
	else if (!r->body)
		r->body = calloc(1, 1);
	return e;
}

int http_follow(const char *sock, const char *path, int (*line)(const char *s, size_t n, void *ctx),
		void *ctx, struct http_resp *r, int idle_ms, char *err, size_t errlen)
{
	static struct parser p;
	int e;

	memset(&p, 0, sizeof(p));
	memset(r, 0, sizeof(*r));
	p.r = r;
	p.line_cb = line;
	p.ctx = ctx;
	e = exchange(sock, "GET", path, NULL, 0, &p, idle_ms, true, err, errlen);
	if (r->body && r->len < p.cap)
		r->body[r->len] = 0;
	return e;
}
