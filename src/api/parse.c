// SPDX-License-Identifier: MIT
/*
 * What the front-end parses itself (libmicrohttpd does the HTTP framing):
 * the route of an HTTP request, an agent channel's request line, and a
 * client's request id. Pure functions over bounded input, fuzzed by
 * tests/fuzz/fuzz_api.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/util.h"
#include "shared/parse.h"

bool api_rid_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= LVMM_API_RID_MAX - 1 ||
		    !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
			return false;
	return i > 0;
}

/*
 * Does url match pattern ("{}" = one non-empty path segment)? The segment
 * goes to arg (n bytes; a longer one does not fit any name: -ENAMETOOLONG).
 */
static int match(const char *pattern, const char *url, char *arg, size_t n)
{
	const char *p = pattern, *u = url;

	while (*p) {
		if (p[0] == '{' && p[1] == '}') {
			size_t len = strcspn(u, "/");

			if (!len)
				return -ENOENT;
			if (len >= n)
				return -ENAMETOOLONG;
			memcpy(arg, u, len);
			arg[len] = 0;
			u += len;
			p += 2;
			continue;
		}
		if (*p++ != *u++)
			return -ENOENT;
	}
	return *u ? -ENOENT : 0;
}

int api_route(const char *method, const char *url, const struct api_op **op, char *arg, size_t n,
	      char *allow, size_t an)
{
	size_t used = 0;
	unsigned i;

	*op = NULL;
	allow[0] = 0;
	arg[0] = 0;
	if (!strcmp(url, "/v1/version")) {
		if (!strcmp(method, "GET"))
			return 1;
		snprintf(allow, an, "GET");
		return -EOPNOTSUPP;
	}
	if (!strcmp(url, "/metrics")) { /* Prometheus' conventional path: its text, not JSON */
		*op = api_op_by_id(LVMM_OP_METRICS);
		if (!strcmp(method, "GET"))
			return 2;
		*op = NULL;
		snprintf(allow, an, "GET");
		return -EOPNOTSUPP;
	}
	if (!strcmp(url, "/v1/links"))
		url = "/v1/partitions"; /* the same answer: partitions and links */
	for (i = 0; i < api_nops; i++) {
		char tmp[LVMM_NAME_MAX] = "";
		int r = match(api_ops[i].path, url, tmp, sizeof(tmp));

		if (r == -ENOENT)
			continue;
		if (strcmp(api_ops[i].method, method)) {
			/* The path exists with other methods: 405 with Allow. */
			if (!strstr(allow, api_ops[i].method) && used + strlen(api_ops[i].method) + 3 < an)
				used += (size_t)snprintf(allow + used, an - used, "%s%s", used ? ", " : "",
							 api_ops[i].method);
			continue;
		}
		*op = &api_ops[i];
		if (r)
			return r; /* a name longer than any name */
		snprintf(arg, n, "%s", tmp);
		return 0;
	}
	return used ? -EOPNOTSUPP : -ENOENT;
}

int api_secs_parse(const struct api_op *op, const char *s, uint64_t *secs, char *err, size_t en)
{
	if (parse_u64(s, LVMM_API_POWER_MAX_S, secs) || !*secs) {
		snprintf(err, en, "%s: the timeout must be 1-%d seconds", op->name, LVMM_API_POWER_MAX_S);
		return -EINVAL;
	}
	return 0;
}

int api_hex_arg(const char *hex, uint8_t *out, uint32_t *len, char *err, size_t en)
{
	size_t n = strlen(hex), i;

	*len = 0;
	if (!n || n % 2 || n > 2 * LVMM_API_ARG_MAX || strspn(hex, "0123456789abcdefABCDEF") != n) {
		snprintf(err, en, "the nonce must be 1-%d bytes in hex (2-%d hex digits)", LVMM_API_ARG_MAX,
			 2 * LVMM_API_ARG_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i += 2) {
		char b[3] = { hex[i], hex[i + 1], 0 };

		out[i / 2] = (uint8_t)strtoul(b, NULL, 16);
	}
	*len = (uint32_t)(n / 2);
	return 0;
}

int api_line_parse(char *line, const struct api_op **op, char *arg, size_t n, uint8_t *bin,
		   uint32_t *blen, uint64_t *num, char *err, size_t en)
{
	char *argv[4], *save = NULL, *tok;
	unsigned argc = 0;

	*op = NULL;
	*num = 0;
	*blen = 0;
	arg[0] = 0;
	for (tok = strtok_r(line, " \t\r", &save); tok && argc < 4; tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (!argc) {
		snprintf(err, en, "empty request; try 'help'");
		return -EINVAL;
	}
	*op = api_op_by_name(argv[0]);
	if (!*op) {
		snprintf(err, en, "unknown operation '%.64s'; try 'help'", argv[0]);
		return -EINVAL;
	}
	if ((*op)->arg == ARG_WINDOW) {
		/* "remote-enable --minutes N": the seconds go in *num. */
		if (argc != 3 || strncmp(argv[1], "--", 2) || api_window_parse(argv[1] + 2, argv[2], num)) {
			snprintf(err, en, "usage: %s (at most %d minutes)", (*op)->usage,
				 LVMM_REMOTE_MAX_S / 60);
			return -EINVAL;
		}
		return 0;
	}
	if (argc != ((*op)->arg == ARG_NONE ? 1U : (*op)->arg == ARG_PART_HEX ? 3U : 2U) &&
	    !((*op)->arg == ARG_PART_SECS && argc == 3)) {
		snprintf(err, en, "usage: %s", (*op)->usage);
		return -EINVAL;
	}
	if ((*op)->arg == ARG_POLICY) {
		if (parse_u64(argv[1], LVMM_API_UPLOAD_MAX, num) || !*num) {
			snprintf(err, en, "policy-load: size must be 1-%d bytes", LVMM_API_UPLOAD_MAX);
			return -EINVAL;
		}
		return 0;
	}
	if (argc == 3 && (*op)->arg == ARG_PART_SECS && api_secs_parse(*op, argv[2], num, err, en))
		return -EINVAL;
	if (argc == 3 && (*op)->arg == ARG_PART_HEX && api_hex_arg(argv[2], bin, blen, err, en))
		return -EINVAL;
	if (argc >= 2 && strlen(argv[1]) >= n) {
		snprintf(err, en, "no %s called '%.64s'", (*op)->arg == ARG_LINK ? "link" : "partition",
			 argv[1]);
		return -ENOENT;
	}
	if (argc >= 2)
		snprintf(arg, n, "%s", argv[1]);
	return 0;
}
