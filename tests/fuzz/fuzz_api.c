// SPDX-License-Identifier: MIT
/*
 * The API front-end's own parsing (src/api: libmicrohttpd does the HTTP
 * framing, and is fuzzed by its authors): HTTP routing of any method and
 * path, the agent channels' request lines (a partition writes those), the
 * X-Request-Id check, replies as the supervisor could send them (checked
 * with api_reply_check, then formatted to JSON), and the event ring with
 * followers of any filter reading at any pace.
 *
 * Input: byte 0 selects the part; the rest is its input.
 *
 * Invariants: a route names an operation whose method matches and whose
 * argument is a bounded, '/'-free name; a parsed line gives an operation
 * with the argument it takes; a reply that passes the check formats to a
 * JSON object that serialises; followers get whole lines, each a JSON
 * object, never more than their buffer, and a gap line only after lost
 * lines.
 */
#include <errno.h>
#include <string.h>

#include "api/api.h"
#include "common/util.h"
#include "fuzz/fuzz.h"

/* events.c asks the supervisor again on a policy change; not reached here. */
int api_submit(struct lvmm_api_req *q, int conn_fd, int payload_fd, api_done_fn done, void *ctx,
	       uint32_t *id)
{
	(void)q, (void)conn_fd, (void)payload_fd, (void)done, (void)ctx, (void)id;
	return -ENOSYS;
}

void api_cancel(uint32_t id)
{
	(void)id;
}

void api_request_id(char *out, size_t n)
{
	snprintf(out, n, "r-fuzz");
}

static void route(const uint8_t *d, size_t n)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "" };
	char url[512], arg[LVMM_NAME_MAX], allow[64];
	const struct api_op *op;
	size_t k = MIN(n ? n - 1 : 0, sizeof(url) - 1);
	int r;

	memcpy(url, d + (n ? 1 : 0), k);
	url[k] = 0;
	r = api_route(methods[(n ? d[0] : 0) % 6], url, &op, arg, sizeof(arg), allow, sizeof(allow));
	if (r == 0) {
		FUZZ_CHECK(op && !strcmp(op->method, methods[(n ? d[0] : 0) % 6]));
		FUZZ_CHECK(strlen(arg) < LVMM_NAME_MAX && !strchr(arg, '/'));
		FUZZ_CHECK((op->arg == ARG_PART || op->arg == ARG_LINK) == (arg[0] != 0));
	} else if (r == -EOPNOTSUPP) {
		FUZZ_CHECK(allow[0]);
	} else {
		FUZZ_CHECK(r == 1 || r == -ENOENT || r == -ENAMETOOLONG);
	}
}

static void line(const uint8_t *d, size_t n)
{
	char buf[API_REQ_LINE_MAX], arg[LVMM_NAME_MAX], err[LVMM_API_ERR_MAX];
	const struct api_op *op;
	size_t k = MIN(n, sizeof(buf) - 1);
	uint64_t size;

	memcpy(buf, d, k);
	buf[k] = 0;
	if (api_line_parse(buf, &op, arg, sizeof(arg), &size, err, sizeof(err))) {
		FUZZ_CHECK(err[0]);
		return;
	}
	FUZZ_CHECK(op && strlen(arg) < LVMM_NAME_MAX);
	FUZZ_CHECK(op->arg != ARG_POLICY || (size >= 1 && size <= LVMM_API_UPLOAD_MAX));
	FUZZ_CHECK((op->arg == ARG_PART || op->arg == ARG_LINK) == (arg[0] != 0));
	memcpy(buf, d, k);
	buf[k] = 0;
	(void)api_rid_ok(buf);
}

static void reply(const uint8_t *d, size_t n)
{
	static union {
		struct lvmm_api_reply r;
		char raw[LVMM_MSG_MAX_LEN];
	} u;
	json_t *o;
	char *text;

	n = MIN(n, sizeof(u));
	memset(&u, 0, sizeof(u));
	memcpy(&u, d, n);
	if (api_reply_check(&u.r, n))
		return;
	o = api_reply_json(&u.r, -1);
	FUZZ_CHECK(json_is_object(o));
	text = json_dumps(o, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	free(text);
	json_decref(o);
}

static void noop_wake(struct follower *f)
{
	(void)f;
}

static void events(const uint8_t *d, size_t n)
{
	static struct lvmm_api_event m;
	static struct follower *f[3];
	struct fin in = { d, n };
	unsigned i;

	for (i = 0; i < 3; i++) {
		struct lvmm_api_events b = { .nparts = 64, .platform = i == 0 };

		if (f[i])
			follow_free(f[i]);
		f[i] = follow_new(-1, noop_wake, NULL);
		FUZZ_CHECK(f[i] != NULL);
		b.parts[0] = i == 2 ? 0x5 : ~0ULL;
		follow_set(f[i], &b);
	}
	while (in.left) {
		uint8_t op = (uint8_t)fin_bytes(&in, 1);

		if (op & 1) {
			/* A line from the supervisor (maybe malformed). */
			size_t len = (size_t)fin_bytes(&in, 1) * 8;

			memset(&m, 0, sizeof(m));
			m.part = (int32_t)(op >> 2) - 2;
			m.lost = op & 2 ? (uint32_t)fin_bytes(&in, 1) : 0;
			m.len = (uint32_t)MIN(len, sizeof(m.line));
			memset(m.line, 'x', m.len);
			if (m.len >= 2) {
				memcpy(m.line, "{}", 2);
				m.line[m.len - 1] = '\n';
				memset(m.line + 2, ' ', m.len - 3);
			}
			events_push(&m, offsetof(struct lvmm_api_event, line) + m.len);
		} else {
			/* A follower reads into a buffer of some size. */
			static char buf[8192];
			size_t want = ((size_t)fin_bytes(&in, 1) + 1) * 32, got, p = 0;

			got = follow_read(f[(op >> 1) % 3], buf, want);
			FUZZ_CHECK(got <= want);
			while (p < got) {
				char *nl = memchr(buf + p, '\n', got - p);

				FUZZ_CHECK(nl && buf[p] == '{');
				p = (size_t)(nl - buf) + 1;
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0: route(data + 1, size - 1); break;
	case 1: line(data + 1, size - 1); break;
	case 2: reply(data + 1, size - 1); break;
	default: events(data + 1, size - 1); break;
	}
	return 0;
}
