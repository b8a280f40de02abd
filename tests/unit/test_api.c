// SPDX-License-Identifier: MIT
/*
 * The API front-end's own logic (src/api) without sockets: HTTP routes from
 * the op table, the agent channels' request lines (the same answers as the
 * text protocol always gave), replies checked and formatted (a body that is
 * not the op's, a blob of JSON fields in a sealed memfd), and the event ring:
 * filters, exact gap counts, whole lines only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/api.h"
#include "common/util.h"
#include "unit/unit.h"

/* follow.c asks the supervisor again on a policy change. */
static unsigned submitted;

int api_submit(struct lvmm_api_req *q, int conn_fd, int payload_fd, api_done_fn done, void *ctx,
	       uint32_t *id)
{
	(void)q, (void)conn_fd, (void)payload_fd, (void)done, (void)ctx;
	*id = ++submitted;
	return 0;
}

void api_cancel(uint32_t id)
{
	(void)id;
}

void api_request_id(char *out, size_t n)
{
	snprintf(out, n, "r-test");
}

static void test_routes(void)
{
	const struct api_op *op;
	char arg[LVMM_NAME_MAX], allow[64];

	CHECK_EQ(api_route("POST", "/v1/partitions/user/pause", &op, arg, sizeof(arg), allow, sizeof(allow)), 0);
	CHECK(op && op->id == LVMM_OP_PAUSE);
	CHECK_STR(arg, "user");
	CHECK_EQ(api_route("GET", "/v1/partitions/user", &op, arg, sizeof(arg), allow, sizeof(allow)), 0);
	CHECK(op && op->id == LVMM_OP_STATUS);
	CHECK_EQ(api_route("GET", "/v1/links", &op, arg, sizeof(arg), allow, sizeof(allow)), 0);
	CHECK(op && op->id == LVMM_OP_LIST && !arg[0]);
	CHECK_EQ(api_route("POST", "/v1/links/l0/down", &op, arg, sizeof(arg), allow, sizeof(allow)), 0);
	CHECK(op && op->id == LVMM_OP_LINK_DOWN);
	CHECK_STR(arg, "l0");
	CHECK_EQ(api_route("GET", "/v1/version", &op, arg, sizeof(arg), allow, sizeof(allow)), 1);
	/* The path exists with another method: 405 and what is allowed. */
	CHECK_EQ(api_route("DELETE", "/v1/partitions/user/pause", &op, arg, sizeof(arg), allow, sizeof(allow)), -EOPNOTSUPP);
	CHECK_STR(allow, "POST");
	CHECK_EQ(api_route("PUT", "/v1/partitions/user", &op, arg, sizeof(arg), allow, sizeof(allow)), -EOPNOTSUPP);
	CHECK_STR(allow, "GET");
	CHECK_EQ(api_route("GET", "/v1/partitions/", &op, arg, sizeof(arg), allow, sizeof(allow)), -ENOENT);
	CHECK_EQ(api_route("GET", "/v1/partitions//pause", &op, arg, sizeof(arg), allow, sizeof(allow)), -ENOENT);
	CHECK_EQ(api_route("POST", "/v1/partitions/a/pause/x", &op, arg, sizeof(arg), allow, sizeof(allow)), -ENOENT);
	CHECK_EQ(api_route("GET", "/v1/partitions/0123456789012345678901234567890123", &op, arg, sizeof(arg), allow,
			   sizeof(allow)), -ENAMETOOLONG);
	CHECK(op && op->id == LVMM_OP_STATUS);
}

static void test_lines(void)
{
	static const char *const bad[][2] = {
		{ "", "empty request; try 'help'" },
		{ "frobnicate", "unknown operation 'frobnicate'; try 'help'" },
		{ "pause", "usage: pause PARTITION" },
		{ "pause a b", "usage: pause PARTITION" },
		{ "list a", "usage: list" },
		{ "policy-load 0", "policy-load: size must be 1-65536 bytes" },
		{ "policy-load 99999999", "policy-load: size must be 1-65536 bytes" },
		{ "policy-load 12x", "policy-load: size must be 1-65536 bytes" },
	};
	char line[API_REQ_LINE_MAX], arg[LVMM_NAME_MAX], err[LVMM_API_ERR_MAX];
	const struct api_op *op;
	uint64_t size;
	unsigned k;

	for (k = 0; k < ARRAY_SIZE(bad); k++) {
		snprintf(line, sizeof(line), "%s", bad[k][0]);
		CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), &size, err, sizeof(err)), -EINVAL);
		CHECK_STR(err, bad[k][1]);
	}
	snprintf(line, sizeof(line), " status\tuser\r");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), &size, err, sizeof(err)), 0);
	CHECK(op && op->id == LVMM_OP_STATUS);
	CHECK_STR(arg, "user");
	snprintf(line, sizeof(line), "policy-load 0x10");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), &size, err, sizeof(err)), 0);
	CHECK_EQ(size, 16);
	snprintf(line, sizeof(line), "events");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), &size, err, sizeof(err)), 0);
	CHECK(op && op->id == LVMM_OP_EVENTS);
	CHECK(api_rid_ok("a-b_c.d:1") && !api_rid_ok("") && !api_rid_ok("a b") && !api_rid_ok("a\"b"));
}

static char *dump(json_t *o)
{
	static char buf[2048];
	char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	snprintf(buf, sizeof(buf), "%s", t ? t : "(null)");
	free(t);
	json_decref(o);
	return buf;
}

static void test_replies(void)
{
	static struct lvmm_api_reply r;

	memset(&r, 0, sizeof(r));
	r.op = LVMM_OP_PAUSE;
	r.body = LVMM_BODY_PART;
	snprintf(r.u.part.partition, sizeof(r.u.part.partition), "user");
	snprintf(r.u.part.state, sizeof(r.u.part.state), "paused");
	CHECK_EQ(api_reply_check(&r, lvmm_api_reply_len(LVMM_BODY_PART, 0)), 0);
	CHECK_EQ(api_reply_check(&r, lvmm_api_reply_len(LVMM_BODY_PART, 0) - 1), -EPROTO);
	CHECK_STR(dump(api_reply_json(&r, -1)), "{\"ok\":true,\"partition\":\"user\",\"state\":\"paused\"}");
	/* A body that is not the op's is not formatted (found by fuzz_api). */
	r.op = LVMM_OP_LIST;
	CHECK_STR(dump(api_reply_json(&r, -1)), "{\"ok\":false,\"error\":\"malformed reply from the supervisor\"}");
	r.op = LVMM_OP_PAUSE;
	r.result = -ECANCELED;
	snprintf(r.error, sizeof(r.error), "partition 'user' could not pause");
	CHECK_EQ(api_reply_check(&r, lvmm_api_reply_len(LVMM_BODY_PART, 0)), -EPROTO); /* failed with a body */
	r.body = LVMM_BODY_NONE;
	CHECK_STR(dump(api_reply_json(&r, -1)), "{\"ok\":false,\"error\":\"partition 'user' could not pause\"}");
	CHECK_EQ(api_http_status(-ECANCELED), 409);
	CHECK_EQ(api_http_status(-ENOENT), 404);
	CHECK_EQ(api_http_status(-EACCES), 403);
	CHECK_EQ(api_http_status(-EAGAIN), 429);
	CHECK_EQ(api_http_status(-ETIMEDOUT), 504);
}

/* An opaque result (any op may answer with one): JSON members in a sealed memfd, merged in. */
static void test_blob_merge(void)
{
	static struct lvmm_api_reply r;
	const char fields[] = "\"quote\":\"00ff\",\"pcrs\":[1,2]";
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	memset(&r, 0, sizeof(r));
	r.op = LVMM_OP_ACM;
	r.body = LVMM_BODY_BLOB;
	r.u.blob.format = LVMM_BLOB_JSON_FIELDS;
	r.u.blob.size = sizeof(fields) - 1;
	CHECK_EQ(api_reply_check(&r, lvmm_api_reply_len(LVMM_BODY_BLOB, 0)), 0);
	CHECK(fd >= 0 && write(fd, fields, sizeof(fields) - 1) == (ssize_t)sizeof(fields) - 1);
	CHECK_STR(dump(api_reply_json(&r, fd)), "{\"ok\":false,\"error\":\"the result is missing or not sealed\"}");
	CHECK(!fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW));
	CHECK_STR(dump(api_reply_json(&r, fd)), "{\"ok\":true,\"quote\":\"00ff\",\"pcrs\":[1,2]}");
	CHECK_STR(dump(api_reply_json(&r, -1)), "{\"ok\":false,\"error\":\"the result is missing or not sealed\"}");
	r.u.blob.size++;
	CHECK_STR(dump(api_reply_json(&r, fd)), "{\"ok\":false,\"error\":\"the result is missing or not sealed\"}");
	r.u.blob.size--;
	r.u.blob.format = 7;
	CHECK_STR(dump(api_reply_json(&r, fd)), "{\"ok\":false,\"error\":\"unknown result format\"}");
	close(fd);
	fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0 && write(fd, "\"a\":", 4) == 4 && !fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW));
	r.u.blob.format = LVMM_BLOB_JSON_FIELDS;
	r.u.blob.size = 4;
	CHECK_STR(dump(api_reply_json(&r, fd)), "{\"ok\":false,\"error\":\"the result is not JSON\"}");
	close(fd);
}

static unsigned woken;

static void wake(struct follower *f)
{
	(void)f;
	woken++;
}

static void push(int32_t part, const char *text, uint32_t lost)
{
	static struct lvmm_api_event m;

	memset(&m, 0, sizeof(m));
	m.part = part;
	m.lost = lost;
	m.len = (uint32_t)snprintf(m.line, sizeof(m.line), "%s\n", text);
	events_push(&m, offsetof(struct lvmm_api_event, line) + m.len);
}

static void test_followers(void)
{
	struct lvmm_api_events only_a = { .nparts = 2, .parts = { 1 } }, all = { .nparts = 2, .parts = { 3 }, .platform = 1 };
	struct follower *fa = follow_new(-1, wake, NULL), *fall = follow_new(-1, wake, NULL);
	static char buf[1 << 20];
	unsigned i;
	size_t n;

	CHECK(fa && fall);
	follow_set(fa, &only_a);
	follow_set(fall, &all);
	push(0, "{\"event\":\"x\",\"partition\":\"a\"}", 0);
	push(1, "{\"event\":\"x\",\"partition\":\"b\"}", 0);
	push(-1, "{\"event\":\"policy_loaded\"}", 0);
	CHECK_EQ(woken, 6);
	n = follow_read(fa, buf, sizeof(buf));
	buf[n] = 0;
	CHECK_STR(buf, "{\"event\":\"x\",\"partition\":\"a\"}\n");
	n = follow_read(fall, buf, 40); /* whole lines only */
	buf[n] = 0;
	CHECK_STR(buf, "{\"event\":\"x\",\"partition\":\"a\"}\n");
	n = follow_read(fall, buf, sizeof(buf));
	buf[n] = 0;
	CHECK_STR(buf, "{\"event\":\"x\",\"partition\":\"b\"}\n{\"event\":\"policy_loaded\"}\n");
	CHECK_EQ(follow_read(fall, buf, sizeof(buf)), 0);
	/* 3000 lines, a's every third: fa (not reading) lost exactly the a lines the ring dropped. */
	for (i = 0; i < 3000; i++)
		push((int32_t)(i % 3 == 0 ? 0 : 1), i % 3 == 0 ? "{\"event\":\"x\",\"partition\":\"a\"}" :
		     "{\"event\":\"x\",\"partition\":\"b\"}", 0);
	n = follow_read(fa, buf, sizeof(buf));
	buf[n] = 0;
	/* The ring keeps 1024 lines: the first 1976 are gone, 659 of them a's. */
	CHECK(strstr(buf, "\"event\":\"gap\",\"lost\":659}\n") != NULL);
	/* The supervisor's own losses are a gap for everyone, before the next line. */
	follow_read(fall, buf, sizeof(buf));
	push(0, "{\"event\":\"y\",\"partition\":\"a\"}", 5);
	n = follow_read(fall, buf, sizeof(buf));
	buf[n] = 0;
	CHECK(strstr(buf, "\"event\":\"gap\",\"lost\":5}\n{\"event\":\"y\"") != NULL);
	/* A malformed line from the supervisor is dropped. */
	{
		static struct lvmm_api_event m;

		memset(&m, 0, sizeof(m));
		m.len = 3;
		memcpy(m.line, "{}x", 3); /* no newline */
		events_push(&m, offsetof(struct lvmm_api_event, line) + 3);
		CHECK_EQ(follow_read(fall, buf, sizeof(buf)), 0);
	}
	/* A policy change asks the supervisor again for each follower. */
	fa->conn_fd = fall->conn_fd = 0;
	submitted = 0;
	events_policy_changed();
	CHECK_EQ(submitted, 2);
	CHECK(fa->asking && fall->asking);
	follow_free(fa);
	follow_free(fall);
}

int main(void)
{
	RUN(test_routes);
	RUN(test_lines);
	RUN(test_replies);
	RUN(test_blob_merge);
	RUN(test_followers);
	return unit_done();
}
