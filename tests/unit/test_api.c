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

static unsigned submitted_remote;

int api_submit_remote(struct lvmm_api_req *q, const uint8_t cert[32], int conn_fd, api_done_fn done,
		      void *ctx, uint32_t *id)
{
	(void)q, (void)cert, (void)conn_fd, (void)done, (void)ctx;
	submitted_remote++;
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
	/* G2's operations: the same pattern; the timeout is a query parameter (http.c). */
	CHECK_EQ(api_route("POST", "/v1/partitions/user/shutdown", &op, arg, sizeof(arg), allow, sizeof(allow)), 0);
	CHECK(op && op->id == LVMM_OP_SHUTDOWN && op->arg == ARG_PART_SECS);
	CHECK_STR(arg, "user");
	CHECK_EQ(api_route("POST", "/v1/partitions/user/reboot", &op, arg, sizeof(arg), allow, sizeof(allow)), 0);
	CHECK(op && op->id == LVMM_OP_REBOOT);
	CHECK_EQ(api_route("GET", "/v1/partitions/user/reboot", &op, arg, sizeof(arg), allow, sizeof(allow)), -EOPNOTSUPP);
	CHECK_STR(allow, "POST");
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
		{ "shutdown", "usage: shutdown PARTITION [SECONDS]" },
		{ "reboot user 5 x", "usage: reboot PARTITION [SECONDS]" },
		{ "shutdown user 0", "shutdown: the timeout must be 1-3600 seconds" },
		{ "reboot user 3601", "reboot: the timeout must be 1-3600 seconds" },
		{ "shutdown user -1", "shutdown: the timeout must be 1-3600 seconds" },
		{ "shutdown user 5s", "shutdown: the timeout must be 1-3600 seconds" },
		{ "attest user", "usage: attest PARTITION NONCE_HEX" },
		{ "attest user 0", "the nonce must be 1-64 bytes in hex (2-128 hex digits)" },
		{ "attest user 0g", "the nonce must be 1-64 bytes in hex (2-128 hex digits)" },
		{ "attest user 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
		  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00",
		  "the nonce must be 1-64 bytes in hex (2-128 hex digits)" },
	};
	char line[API_REQ_LINE_MAX], arg[LVMM_NAME_MAX], err[LVMM_API_ERR_MAX];
	const struct api_op *op;
	uint8_t bin[LVMM_API_ARG_MAX];
	uint32_t blen;
	uint64_t size;
	unsigned k;

	for (k = 0; k < ARRAY_SIZE(bad); k++) {
		snprintf(line, sizeof(line), "%s", bad[k][0]);
		CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), bin, &blen, &size, err, sizeof(err)), -EINVAL);
		CHECK_STR(err, bad[k][1]);
	}
	snprintf(line, sizeof(line), " status\tuser\r");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), bin, &blen, &size, err, sizeof(err)), 0);
	CHECK(op && op->id == LVMM_OP_STATUS);
	CHECK_STR(arg, "user");
	snprintf(line, sizeof(line), "policy-load 0x10");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), bin, &blen, &size, err, sizeof(err)), 0);
	CHECK_EQ(size, 16);
	snprintf(line, sizeof(line), "shutdown user");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), bin, &blen, &size, err, sizeof(err)), 0);
	CHECK(op && op->id == LVMM_OP_SHUTDOWN && size == 0); /* 0: the supervisor's default */
	CHECK_STR(arg, "user");
	snprintf(line, sizeof(line), "reboot user 3600");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), bin, &blen, &size, err, sizeof(err)), 0);
	CHECK(op && op->id == LVMM_OP_REBOOT && size == 3600);
	CHECK_STR(arg, "user");
	snprintf(line, sizeof(line), "events");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), bin, &blen, &size, err, sizeof(err)), 0);
	CHECK(op && op->id == LVMM_OP_EVENTS);
	CHECK_EQ(blen, 0);
	/* attest's nonce: the third word, decoded (the EAC service guest's line). */
	snprintf(line, sizeof(line), "attest user 00fFa5");
	CHECK_EQ(api_line_parse(line, &op, arg, sizeof(arg), bin, &blen, &size, err, sizeof(err)), 0);
	CHECK(op && op->id == LVMM_OP_ATTEST && op->body == LVMM_BODY_BLOB);
	CHECK_STR(arg, "user");
	CHECK(blen == 3 && bin[0] == 0 && bin[1] == 0xff && bin[2] == 0xa5);
	CHECK(api_rid_ok("a-b_c.d:1") && !api_rid_ok("") && !api_rid_ok("a b") && !api_rid_ok("a\"b"));
}

static char *dump(json_t *o)
{
	static char buf[8192];
	char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));

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
	/* shutdown/reboot: the deadline and what follows it. */
	r.op = LVMM_OP_REBOOT;
	r.u.part.flags = LVMM_API_PART_POWER;
	r.u.part.timeout_ms = 5000;
	snprintf(r.u.part.state, sizeof(r.u.part.state), "running");
	CHECK_STR(dump(api_reply_json(&r, -1)),
		  "{\"ok\":true,\"partition\":\"user\",\"state\":\"running\",\"timeout_ms\":5000,\"then\":\"restart\"}");
	r.op = LVMM_OP_SHUTDOWN;
	CHECK_STR(dump(api_reply_json(&r, -1)),
		  "{\"ok\":true,\"partition\":\"user\",\"state\":\"running\",\"timeout_ms\":5000,\"then\":\"stop\"}");
	r.op = LVMM_OP_PAUSE;
	r.u.part.flags = 0;
	snprintf(r.u.part.state, sizeof(r.u.part.state), "paused");
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

/* ---- metrics (src/api/metrics.c) ---- */

static struct {
	struct lvmm_api_metrics h;
	struct lvmm_api_metrics_part p[2];
} mb;

/* mb's first n bytes in a sealed memfd, and reply r saying so. */
static int metrics_fd(struct lvmm_api_reply *r, size_t n)
{
	int fd = memfd_create("m", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	memset(r, 0, sizeof(*r));
	r->op = LVMM_OP_METRICS;
	r->body = LVMM_BODY_BLOB;
	r->u.blob.format = LVMM_BLOB_METRICS;
	r->u.blob.size = n;
	if (fd < 0 || write(fd, &mb, n) != (ssize_t)n ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
		abort();
	return fd;
}

static void metrics_sample(void)
{
	struct lvmm_api_metrics_part *a = &mb.p[0], *b = &mb.p[1];

	memset(&mb, 0, sizeof(mb));
	mb.h.nparts = 2;
	mb.h.flags = LVMM_API_METRICS_PLATFORM;
	mb.h.time_ms = 1796183158924ULL;
	snprintf(mb.h.acm.policy, sizeof(mb.h.acm.policy), "p1");
	mb.h.acm.decisions = 10;
	mb.h.acm.denials = 3;
	snprintf(a->info.name, sizeof(a->info.name), "web");
	snprintf(a->info.label, sizeof(a->info.label), "x\"y\\z");
	snprintf(a->info.state, sizeof(a->info.state), "running");
	snprintf(a->info.role, sizeof(a->info.role), "service");
	snprintf(a->info.restart, sizeof(a->info.restart), "never");
	a->info.vcpus = 2;
	a->info.memory_mib = 64;
	a->info.restarts = 4;
	a->flags = LVMM_API_MREC_STATS | LVMM_API_MREC_PROC | LVMM_API_MREC_STALE;
	a->uptime_ns = 1500000000;
	a->cpu_ns = 2250000000;
	a->vcpu_ns = 2000000000;
	a->rss_bytes = 4096;
	a->stats.exits_io = 7;
	a->stats.exits_hlt = 1;
	a->stats.ndevs = 2;
	snprintf(a->stats.devs[0].id, LVMM_NAME_MAX, "net0");
	snprintf(a->stats.devs[0].kind, sizeof(a->stats.devs[0].kind), "virtio-net-tap");
	a->stats.devs[0].rx_packets = 5;
	a->stats.devs[0].throttled = 9;
	a->stats.devs[0].link_up = 1;
	snprintf(a->stats.devs[1].id, LVMM_NAME_MAX, "blk0");
	snprintf(a->stats.devs[1].kind, sizeof(a->stats.devs[1].kind), "virtio-blk");
	a->stats.devs[1].reads = 8;
	a->stats.devs[1].read_bytes = 4096;
	snprintf(b->info.name, sizeof(b->info.name), "off");
	snprintf(b->info.state, sizeof(b->info.state), "stopped");
	snprintf(b->info.role, sizeof(b->info.role), "user");
	snprintf(b->info.restart, sizeof(b->info.restart), "always");
	b->info.vcpus = 1;
	b->info.memory_mib = 16;
}

static void test_metrics_render(void)
{
	static struct lvmm_api_reply r;
	const char *why = NULL;
	size_t len = 0;
	char *text, *j;
	void *m;
	int fd;

	metrics_sample();
	fd = metrics_fd(&r, sizeof(mb));
	CHECK_EQ(api_reply_check(&r, lvmm_api_reply_len(LVMM_BODY_BLOB, 0)), 0);
	j = dump(api_reply_json(&r, fd));
	CHECK(strstr(j, "{\"ok\":true,\"time\":1796183158.924,\"acm\":{\"policy\":\"p1\",\"decisions\":10,"
			"\"allowed\":7,\"denials\":3,") == j);
	CHECK(strstr(j, "\"name\":\"web\",\"state\":\"running\",\"role\":\"service\",\"label\":\"x\\\"y\\\\z\","
			"\"pid\":0,\"vcpus\":2,\"memory_bytes\":67108864,\"restarts\":4,") != NULL);
	CHECK(strstr(j, "\"stale\":true,\"cpu_seconds\":2.25,") != NULL);
	CHECK(strstr(j, "\"exits\":{\"io\":7,\"mmio\":0,\"hlt\":1,\"other\":0}") != NULL);
	/* Each device with its model's counters only. */
	CHECK(strstr(j, "{\"id\":\"net0\",\"kind\":\"virtio-net-tap\",\"rx_packets\":5,") != NULL);
	CHECK(strstr(j, "\"throttled\":9,\"link_up\":true}") != NULL);
	CHECK(strstr(j, "{\"id\":\"blk0\",\"kind\":\"virtio-blk\",\"reads\":8,\"writes\":0,\"read_bytes\":4096,"
			"\"write_bytes\":0,\"errors\":0}") != NULL);
	CHECK(strstr(j, "\"name\":\"off\",\"state\":\"stopped\",\"role\":\"user\",\"pid\":0,\"vcpus\":1,"
			"\"memory_bytes\":16777216,\"restarts\":0,\"exit_code\":0,\"uptime_seconds\":0.0,\"stale\":false}") != NULL);
	m = api_metrics_load(&r, fd, &why);
	CHECK(m != NULL);
	text = m ? api_metrics_text(m, &len) : NULL;
	CHECK(text && len == strlen(text));
	if (text) {
		CHECK(!strncmp(text, "# HELP lvmm_partition_info ", 27));
		CHECK(strstr(text, "\nlvmm_partition_info{partition=\"web\",role=\"service\",label=\"x\\\"y\\\\z\",restart=\"never\"} 1\n"));
		CHECK(strstr(text, "\n# TYPE lvmm_partition_state gauge\nlvmm_partition_state{partition=\"web\",state=\"stopped\"} 0\n"));
		CHECK(strstr(text, "\nlvmm_partition_state{partition=\"web\",state=\"running\"} 1\n"));
		CHECK(strstr(text, "\nlvmm_partition_state{partition=\"off\",state=\"stopped\"} 1\n"));
		CHECK(strstr(text, "\nlvmm_partition_memory_bytes{partition=\"web\"} 67108864\n"));
		CHECK(strstr(text, "\nlvmm_partition_restarts_total{partition=\"web\"} 4\n"));
		CHECK(strstr(text, "\nlvmm_partition_stale{partition=\"web\"} 1\n"));
		CHECK(!strstr(text, "lvmm_partition_stale{partition=\"off\"}")); /* running or paused only */
		CHECK(strstr(text, "\nlvmm_partition_cpu_seconds_total{partition=\"web\"} 2.25\n"));
		CHECK(!strstr(text, "lvmm_partition_cpu_seconds_total{partition=\"off\"}"));
		CHECK(strstr(text, "\n# TYPE lvmm_partition_exits_total counter\n"
				   "lvmm_partition_exits_total{partition=\"web\",reason=\"io\"} 7\n"));
		CHECK(strstr(text, "\nlvmm_device_info{partition=\"web\",device=\"blk0\",kind=\"virtio-blk\"} 1\n"));
		CHECK(strstr(text, "\n# HELP lvmm_device_rx_packets_total "));
		CHECK(strstr(text, "\nlvmm_device_rx_packets_total{partition=\"web\",device=\"net0\"} 5\n"));
		CHECK(!strstr(text, "lvmm_device_rx_packets_total{partition=\"web\",device=\"blk0\"}"));
		CHECK(strstr(text, "\nlvmm_device_read_bytes_total{partition=\"web\",device=\"blk0\"} 4096\n"));
		CHECK(strstr(text, "\nlvmm_device_throttled_total{partition=\"web\",device=\"net0\"} 9\n"));
		CHECK(strstr(text, "\nlvmm_device_link_up{partition=\"web\",device=\"net0\"} 1\n"));
		CHECK(strstr(text, "\nlvmm_acm_decisions_total 10\n"));
		CHECK(strstr(text, "\nlvmm_acm_policy_info{policy=\"p1\"} 1\n"));
		CHECK(text[len - 1] == '\n');
	}
	free(text);
	free(m);
	close(fd);
	/* Without the platform flag: no ACM families. */
	mb.h.flags = 0;
	fd = metrics_fd(&r, sizeof(mb));
	m = api_metrics_load(&r, fd, &why);
	text = m ? api_metrics_text(m, &len) : NULL;
	CHECK(text && !strstr(text, "lvmm_acm_"));
	CHECK(!strstr(dump(api_reply_json(&r, fd)), "\"acm\""));
	free(text);
	free(m);
	close(fd);
}

/* The front-end checks the supervisor's records before using them. */
static void test_metrics_checked(void)
{
	static const char bad[] = "{\"ok\":false,\"error\":\"malformed metrics from the supervisor\"}";
	static struct lvmm_api_reply r;
	int fd;

	metrics_sample();
	fd = metrics_fd(&r, sizeof(mb) - 1); /* a record cut short */
	CHECK_STR(dump(api_reply_json(&r, fd)), bad);
	close(fd);
	mb.h.nparts = 3; /* more records than bytes */
	fd = metrics_fd(&r, sizeof(mb));
	CHECK_STR(dump(api_reply_json(&r, fd)), bad);
	close(fd);
	metrics_sample();
	mb.p[1].stats.ndevs = LVMM_STATS_MAX_DEVS + 1;
	fd = metrics_fd(&r, sizeof(mb));
	CHECK_STR(dump(api_reply_json(&r, fd)), bad);
	close(fd);
	metrics_sample();
	memset(mb.p[0].stats.devs[1].kind, 'k', sizeof(mb.p[0].stats.devs[1].kind)); /* no NUL */
	fd = metrics_fd(&r, sizeof(mb));
	CHECK_STR(dump(api_reply_json(&r, fd)), bad);
	close(fd);
	metrics_sample();
	memset(mb.p[1].info.state, 's', sizeof(mb.p[1].info.state));
	fd = metrics_fd(&r, sizeof(mb));
	CHECK_STR(dump(api_reply_json(&r, fd)), bad);
	close(fd);
	metrics_sample();
	fd = metrics_fd(&r, sizeof(mb));
	r.u.blob.size--; /* the reply and the memfd disagree */
	CHECK_STR(dump(api_reply_json(&r, fd)), "{\"ok\":false,\"error\":\"the metrics are missing or not sealed\"}");
	close(fd);
	fd = memfd_create("m", MFD_CLOEXEC); /* not sealed */
	CHECK(fd >= 0 && write(fd, &mb, sizeof(mb)) == (ssize_t)sizeof(mb));
	r.u.blob.size = sizeof(mb);
	CHECK_STR(dump(api_reply_json(&r, fd)), "{\"ok\":false,\"error\":\"the metrics are missing or not sealed\"}");
	close(fd);
	metrics_sample();
	mb.h.nparts = 0; /* nobody visible: an empty list */
	fd = metrics_fd(&r, sizeof(mb.h));
	CHECK(strstr(dump(api_reply_json(&r, fd)), "\"partitions\":[]") != NULL);
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

/* An error that echoes bytes which are no UTF-8 keeps its message (jansson refuses such strings). */
static void test_error_not_utf8(void)
{
	json_t *o = api_error_json("no partition called '\xff\xfe' (\xc3\xa9)");
	char *t = json_dumps(o, JSON_COMPACT);

	CHECK_STR(t, "{\"ok\":false,\"error\":\"no partition called '?" "?' (?" "?)\"}");
	free(t);
	json_decref(o);
	o = api_error_json("caf\xc3\xa9");
	CHECK_STR(json_string_value(json_object_get(o, "error")), "caf\xc3\xa9");
	json_decref(o);
}

int main(void)
{
	RUN(test_routes);
	RUN(test_lines);
	RUN(test_replies);
	RUN(test_blob_merge);
	RUN(test_metrics_render);
	RUN(test_metrics_checked);
	RUN(test_followers);
	RUN(test_error_not_utf8);
	return unit_done();
}
