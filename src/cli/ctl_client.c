// SPDX-License-Identifier: MIT
/*
 * lvmm ctl [--json] [SOCKET|NAME] OP [ARGS]: a client of the control API
 * (docs/api.md) over its Unix socket. Operations come from the front-end's
 * own table (src/api/ops.c: method, path, argument), so the CLI and the
 * API cannot disagree about them. Readable tables by default, the API's
 * JSON with --json. Exit status 0 when the answer is a success, 1 when
 * the supervisor refused or failed, 2 for usage or connection problems.
 */
#include "cli/ctl_client.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/http.h"
#include "cli/on_sleep.h"
#include "common/util.h"
#include "shared/parse.h"

#define ANSWER_MS 20000 /* the supervisor answers within 3 s (attest: 10 s); the front-end within 15 */

const char ctl_usage[] =
	"Usage: lvmm ctl [--json] [SOCKET|NAME] OP [ARGS]\n"
	"\n"
	"Controls a running platform through its control API (HTTP/JSON on a Unix\n"
	"socket: 'control:' in the platform file or 'lvmm run ... --control SOCKET').\n"
	"SOCKET is a path; a NAME without '/' means " LVMM_RUN_DIR "/NAME.sock; with neither,\n"
	"the one socket in " LVMM_RUN_DIR " is used. Prints a readable answer, or the API's\n"
	"JSON with --json.\n"
	"\n"
	"Operations:\n"
	"  list                    partitions (state, pid, role, restarts) and links\n"
	"  status PARTITION        exits by reason, DMA faults, per-device counters\n"
	"  pause PARTITION         stop running its vCPUs (devices stay)\n"
	"  resume PARTITION\n"
	"  stop PARTITION          stop it (its restart policy does not apply)\n"
	"  start PARTITION         start a partition that has ended\n"
	"  restart PARTITION       stop it and start it again\n"
	"  shutdown PARTITION [S]  ask the guest to power off (ACPI power button); stop it\n"
	"                          if it has not after S seconds (default 30)\n"
	"  reboot PARTITION [S]    the same, then start it again\n"
	"  link-down LINK          cut a link (both ends see link down)\n"
	"  link-up LINK\n"
	"  isolate PARTITION       bring down every link of the partition\n"
	"  policy-load FILE        replace the access-control policy; refused (and nothing\n"
	"                          changes) if anything running would become illegal\n"
	"  acm                     policy name and decision counters\n"
	"  events                  follow the platform's events (Ctrl-C ends)\n"
	"  remote enable --minutes N   let remote administrators (TLS client certificates,\n"
	"                          'remote:' in the platform file) in for N minutes (1-1440;\n"
	"                          --seconds N for a shorter window); local users only\n"
	"  remote disable          close the remote window now\n"
	"  remote status           is it open, and for how long\n"
	"  attest PARTITION NONCE_HEX\n"
	"                          PCRs 17-22 of the partition's vTPM, a quote over them with\n"
	"                          the nonce (1-64 bytes in hex), the attestation key and the\n"
	"                          event log (docs/trust.md; use --json to keep them)\n"
	"  on-sleep [--timeout-ms N] PROGRAM [ARGS...]\n"
	"                          follow the events; each time the platform sleeps (ACPI S3)\n"
	"                          run PROGRAM (absolute path, no shell), killed after N ms\n"
	"                          (default 10000); LVMM_SLEEP_PARTITION names who asked\n"
	"  version                 lvmm's and the API's version\n"
	"  help                    the operations the API serves\n"
	"\n"
	"Exit status: 0 ok, 1 the supervisor refused or failed, 2 usage or no connection.\n";

static bool json_out;

/* ---- the socket ------------------------------------------------------------------- */

/* No socket given: the only one in the run directory, if there is exactly one. */
static int default_socket(char *out, size_t n)
{
	char dir[256], probe[PATH_MAX];
	struct dirent *d;
	unsigned found = 0;
	DIR *dp;

	if (ctl_socket_path("x", probe, sizeof(probe)))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(probe, '/') - probe), probe);
	dp = opendir(dir);
	if (!dp) {
		fprintf(stderr, "lvmm ctl: no control socket given and %s cannot be read: %s\n", dir,
			strerror(errno));
		return -ENOENT;
	}
	while ((d = readdir(dp))) {
		size_t l = strlen(d->d_name);
		struct stat st;
		char path[PATH_MAX];

		if (l < 6 || strcmp(d->d_name + l - 5, ".sock"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (stat(path, &st) || !S_ISSOCK(st.st_mode))
			continue;
		if (!found++)
			snprintf(out, n, "%s", path);
	}
	closedir(dp);
	if (found == 1)
		return 0;
	fprintf(stderr, "lvmm ctl: no control socket given and %s has %s: name one "
		"(lvmm ctl SOCKET|NAME OP)\n", dir, found ? "several" : "none");
	return -ENOENT;
}

/* ---- readable output ------------------------------------------------------------------- */

static const char *sget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static long long iget(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* A table: rows of cells, columns as wide as their widest cell. */
#define TCOLS 12
#define TROWS (LVMM_API_MAX_PARTS + 1)
static char cells[TROWS][TCOLS][40];

static void table_print(unsigned rows, unsigned cols)
{
	size_t w[TCOLS] = { 0 };
	unsigned r, c;

	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++)
			w[c] = MAX(w[c], strlen(cells[r][c]));
	for (r = 0; r < rows; r++) {
		for (c = 0; c + 1 < cols; c++)
			printf("%-*s  ", (int)w[c], cells[r][c]);
		printf("%s\n", cells[r][cols - 1]);
	}
}

static void cell(unsigned r, unsigned c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cell(unsigned r, unsigned c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cells[r][c], sizeof(cells[r][c]), fmt, ap);
	va_end(ap);
}

static void show_list(json_t *o)
{
	static const char *const head[] = { "PARTITION", "STATE", "ROLE", "LABEL", "PID", "UID",
					    "VCPUS", "MEMORY", "RESTARTS", "RESTART", "EXIT" };
	json_t *parts = json_object_get(o, "partitions"), *links = json_object_get(o, "links"), *e;
	unsigned rows = 1, c;
	size_t i;

	for (c = 0; c < ARRAY_SIZE(head); c++)
		cell(0, c, "%s", head[c]);
	json_array_foreach (parts, i, e) {
		if (rows >= TROWS)
			break;
		cell(rows, 0, "%s", sget(e, "name"));
		cell(rows, 1, "%s", sget(e, "state"));
		cell(rows, 2, "%s", sget(e, "role"));
		cell(rows, 3, "%s", sget(e, "label"));
		if (iget(e, "pid"))
			cell(rows, 4, "%lld", iget(e, "pid"));
		else
			cell(rows, 4, "-");
		cell(rows, 5, "%s", "-");
		if (json_object_get(e, "uid"))
			cell(rows, 5, "%lld", iget(e, "uid"));
		cell(rows, 6, "%lld", iget(e, "vcpus"));
		cell(rows, 7, "%lldM", iget(e, "memory_mib"));
		cell(rows, 8, "%lld", iget(e, "restarts"));
		cell(rows, 9, "%s", sget(e, "restart"));
		cell(rows, 10, "%lld", iget(e, "exit_code"));
		rows++;
	}
	table_print(rows, (unsigned)ARRAY_SIZE(head));
	if (!json_array_size(links))
		return;
	printf("\n");
	cell(0, 0, "LINK");
	cell(0, 1, "ENDS");
	cell(0, 2, "STATE");
	rows = 1;
	json_array_foreach(links, i, e) {
		json_t *ends = json_object_get(e, "ends");

		if (rows >= TROWS)
			break;
		cell(rows, 0, "%s", sget(e, "name"));
		cell(rows, 1, "%s <-> %s", json_string_value(json_array_get(ends, 0)) ?: "?",
		     json_string_value(json_array_get(ends, 1)) ?: "?");
		cell(rows, 2, "%s", json_is_true(json_object_get(e, "up")) ? "up" : "down");
		rows++;
	}
	table_print(rows, 3);
}

static void show_part(json_t *o)
{
	static const char *const head[] = { "DEVICE", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES",
					    "DROPS", "READS", "WRITES", "READ_BYTES", "WRITE_BYTES",
					    "ERRORS" };
	static const char *const keys[] = { "id", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
					    "drops", "reads", "writes", "read_bytes", "write_bytes",
					    "errors" };
	json_t *exits = json_object_get(o, "exits"), *devs = json_object_get(o, "devices"), *e;
	unsigned rows = 1, c;
	size_t i;

	printf("%s: %s", sget(o, "partition"), sget(o, "state"));
	if (json_object_get(o, "pid"))
		printf(", pid %lld", iget(o, "pid"));
	if (json_object_get(o, "kill_after_ms"))
		printf(" (killed if it has not stopped %lld ms from now)", iget(o, "kill_after_ms"));
	if (json_object_get(o, "timeout_ms"))
		printf("; power button pressed (%s if it has not ended %lld ms from now)",
		       sget(o, "then"), iget(o, "timeout_ms"));
	printf("\n");
	if (!exits)
		return;
	printf("exits: io %lld, mmio %lld, hlt %lld, other %lld\n", iget(exits, "io"),
	       iget(exits, "mmio"), iget(exits, "hlt"), iget(exits, "other"));
	printf("DMA faults: %lld, unhandled I/O: %lld\n", iget(o, "dma_faults"), iget(o, "unhandled_io"));
	printf("integrity violations: %lld (%lld not reported), protected ranges: %lld\n",
	       iget(o, "integrity_violations"), iget(o, "violations_suppressed"),
	       iget(o, "protected_ranges"));
	if (!json_array_size(devs))
		return;
	for (c = 0; c < ARRAY_SIZE(head); c++)
		cell(0, c, "%s", head[c]);
	json_array_foreach(devs, i, e) {
		if (rows >= TROWS)
			break;
		cell(rows, 0, "%s", sget(e, "id"));
		for (c = 1; c < ARRAY_SIZE(keys); c++)
			cell(rows, c, "%lld", iget(e, keys[c]));
		rows++;
	}
	table_print(rows, (unsigned)ARRAY_SIZE(head));
}

/* metrics: one row per partition (lvmm top -b shows rates; GET /metrics everything). */
static void show_metrics(json_t *o)
{
	static const char *const head[] = { "PARTITION", "STATE", "UPTIME_S", "CPU_S", "VCPU_S",
					    "RSS_MIB", "EXITS", "DMA_FAULTS", "RESTARTS" };
	json_t *e, *ex;
	unsigned rows = 1, c;
	size_t i;

	for (c = 0; c < ARRAY_SIZE(head); c++)
		cell(0, c, "%s", head[c]);
	json_array_foreach(json_object_get(o, "partitions"), i, e) {
		if (rows >= TROWS)
			break;
		ex = json_object_get(e, "exits");
		cell(rows, 0, "%s", sget(e, "name"));
		cell(rows, 1, "%s%s", sget(e, "state"), json_is_true(json_object_get(e, "stale")) ? "*" : "");
		cell(rows, 2, "%.1f", json_number_value(json_object_get(e, "uptime_seconds")));
		cell(rows, 3, "%.2f", json_number_value(json_object_get(e, "cpu_seconds")));
		cell(rows, 4, "%.2f", json_number_value(json_object_get(e, "vcpu_seconds")));
		cell(rows, 5, "%lld", iget(e, "resident_bytes") >> 20);
		cell(rows, 6, "%lld", iget(ex, "io") + iget(ex, "mmio") + iget(ex, "hlt") + iget(ex, "other"));
		cell(rows, 7, "%lld", iget(e, "dma_faults"));
		cell(rows, 8, "%lld", iget(e, "restarts"));
		rows++;
	}
	table_print(rows, (unsigned)ARRAY_SIZE(head));
	if (json_object_get(o, "acm"))
		printf("ACM: policy %s, %lld decisions, %lld denials\n", sget(json_object_get(o, "acm"), "policy"),
		       iget(json_object_get(o, "acm"), "decisions"), iget(json_object_get(o, "acm"), "denials"));
}

static void show(const char *op, json_t *o)
{
	json_t *a;
	size_t i;

	if (!strcmp(op, "list")) {
		show_list(o);
	} else if (!strcmp(op, "metrics")) {
		show_metrics(o);
	} else if (json_object_get(o, "quote")) {
		json_t *q = json_object_get(o, "quote");
		const char *k;

		printf("%s: attested, nonce %s\n", sget(o, "partition"), sget(o, "nonce"));
		json_object_foreach(json_object_get(o, "pcrs"), k, a)
			printf("pcr%s=%s\n", k, json_string_value(a) ?: "?");
		printf("quote: %zu bytes signed, %zu bytes of signature; event log: %zu bytes "
		       "(base64); --json for all of it\n", strlen(sget(q, "attest")) / 2,
		       strlen(sget(q, "signature")) / 2, strlen(sget(o, "eventlog")));
	} else if (json_object_get(o, "links_down")) {
		printf("%s: links down:", sget(o, "partition"));
		json_array_foreach(json_object_get(o, "links_down"), i, a)
			printf(" %s", json_string_value(a));
		printf("%s\n", json_array_size(json_object_get(o, "links_down")) ? "" : " none");
	} else if (json_object_get(o, "partition")) {
		show_part(o);
	} else if (json_object_get(o, "link")) {
		printf("%s: %s%s\n", sget(o, "link"), sget(o, "state"),
		       json_is_false(json_object_get(o, "changed")) ? " (it was already)" : "");
	} else if (json_object_get(o, "decisions")) {
		printf("policy: %s\ndecisions: %lld\ndenials: %lld\nSTE evaluations: %lld\n"
		       "STE cache hits: %lld\n", sget(o, "policy"), iget(o, "decisions"),
		       iget(o, "denials"), iget(o, "ste_evaluations"), iget(o, "ste_cache_hits"));
	} else if (json_object_get(o, "policy")) {
		printf("policy loaded: %s\n", sget(o, "policy"));
	} else if (json_object_get(o, "operations")) {
		json_array_foreach(json_object_get(o, "operations"), i, a)
			printf("%s\n", json_string_value(a));
	} else if (json_object_get(o, "configured")) {
		if (!json_is_true(json_object_get(o, "configured")))
			printf("remote: not configured (no 'remote:' in the platform file)\n");
		else if (json_is_true(json_object_get(o, "open")))
			printf("remote: open on %s for %lld s more\n", sget(o, "listen"), iget(o, "remaining_s"));
		else
			printf("remote: closed (%s)\n", sget(o, "listen"));
	} else if (json_object_get(o, "version")) {
		printf("lvmm %s, control API v%lld\n", sget(o, "version"), iget(o, "api"));
	} else {
		printf("ok\n");
	}
}

/* ---- events ------------------------------------------------------------------------------- */

/* One event line: as it is (--json), or "HH:MM:SS.mmm event partition key=value ...". */
static int event_line(const char *s, size_t n, void *ctx)
{
	json_t *o, *v;
	const char *k;
	char when[32] = "";
	double ts;

	(void)ctx;
	if (json_out) {
		printf("%.*s\n", (int)n, s);
		fflush(stdout);
		return 0;
	}
	o = json_loadb(s, n, 0, NULL);
	if (!o) {
		printf("%.*s\n", (int)n, s);
		return 0;
	}
	ts = json_number_value(json_object_get(o, "ts"));
	if (ts > 0) {
		time_t t = (time_t)ts;
		struct tm tm;

		localtime_r(&t, &tm);
		snprintf(when, sizeof(when), "%02d:%02d:%02d.%03d ", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)((ts - (double)t) * 1000));
	}
	printf("%s%s", when, sget(o, "event"));
	json_object_foreach(o, k, v) {
		if (!strcmp(k, "ts") || !strcmp(k, "event"))
			continue;
		if (json_is_string(v))
			printf(" %s=%s", k, json_string_value(v));
		else if (json_is_integer(v))
			printf(" %s=%" JSON_INTEGER_FORMAT, k, json_integer_value(v));
		else if (json_is_boolean(v))
			printf(" %s=%s", k, json_is_true(v) ? "true" : "false");
	}
	printf("\n");
	fflush(stdout);
	json_decref(o);
	return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static char policy_buf[LVMM_API_UPLOAD_MAX + 1];

/* The answer: printed, and its status says the exit status. */
static int report(const char *op, const struct http_resp *r)
{
	json_t *o = json_loadb(r->body, r->len, 0, NULL);
	bool ok = r->status >= 200 && r->status < 300;

	if (json_out || !o) {
		fputs(r->body, stdout);
		if (!r->len || r->body[r->len - 1] != '\n')
			putchar('\n');
	} else if (ok) {
		show(op, o);
	} else {
		fprintf(stderr, "lvmm ctl: %s: %s\n", op, json_string_value(json_object_get(o, "error")) ?:
			"failed");
	}
	json_decref(o);
	return ok ? 0 : 1;
}

static bool is_op(const char *s)
{
	return api_op_by_name(s) || !strcmp(s, "version") || !strcmp(s, "remote") || !strcmp(s, "on-sleep");
}

int ctl_client_main(int argc, char **argv)
{
	char sock[PATH_MAX], path[256], err[256];
	const struct api_op *op = NULL;
	struct http_resp r;
	const char *body = NULL, *arg;
	uint64_t secs = 0;
	size_t blen = 0;
	int i = 1, e;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
			json_out = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(ctl_usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "lvmm ctl: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (i < argc && !is_op(argv[i])) {
		if (ctl_socket_path(argv[i], sock, sizeof(sock))) {
			fprintf(stderr, "lvmm ctl: socket path too long\n");
			return 2;
		}
		i++;
	} else if (i < argc && default_socket(sock, sizeof(sock))) {
		return 2;
	}
	if (i >= argc) {
		/* No operation is a usage error, not a request: nothing was done. */
		fputs(ctl_usage, stderr);
		return 2;
	}
	if (!strcmp(argv[i], "version")) {
		if (argc - i != 1)
			goto usage;
		e = http_request(sock, "GET", "/v1/version", NULL, 0, &r, ANSWER_MS, err, sizeof(err));
		goto answered;
	}
	if (!strcmp(argv[i], "on-sleep"))
		return ctl_on_sleep(sock, argc - i, argv + i);
	if (!strcmp(argv[i], "remote")) {
		/* "remote enable ..." is the operation remote-enable */
		static char name[32];

		if (i + 1 >= argc || snprintf(name, sizeof(name), "remote-%s", argv[i + 1]) >= (int)sizeof(name) ||
		    !api_op_by_name(name)) {
			fprintf(stderr, "lvmm ctl: usage: lvmm ctl [SOCKET|NAME] remote enable --minutes N | "
				"remote disable | remote status\n");
			return 2;
		}
		argv[++i] = name;
	}
	op = api_op_by_name(argv[i]);
	if (!op) {
		fprintf(stderr, "lvmm ctl: unknown operation '%s'; try 'lvmm ctl --help'\n", argv[i]);
		return 2;
	}
	if (op->arg == ARG_WINDOW) {
		uint64_t wsecs;

		if (argc - i != 3 || strncmp(argv[i + 1], "--", 2) ||
		    api_window_parse(argv[i + 1] + 2, argv[i + 2], &wsecs)) {
			fprintf(stderr, "lvmm ctl: remote enable --minutes N (1-%d) or --seconds N (1-%d)\n",
				LVMM_REMOTE_MAX_S / 60, LVMM_REMOTE_MAX_S);
			return 2;
		}
		snprintf(path, sizeof(path), "%s?seconds=%llu", op->path, (unsigned long long)wsecs);
		e = http_request(sock, op->method, path, NULL, 0, &r, ANSWER_MS, err, sizeof(err));
		goto answered;
	}
	if (argc - i != (op->arg == ARG_NONE ? 1 : op->arg == ARG_PART_HEX ? 3 : 2) &&
	    !(op->arg == ARG_PART_SECS && argc - i == 3))
		goto usage;
	arg = op->arg == ARG_NONE ? "" : argv[i + 1];
	if (argc - i == 3 && op->arg == ARG_PART_SECS && api_secs_parse(op, argv[i + 2], &secs, err, sizeof(err))) {
		fprintf(stderr, "lvmm ctl: %s\n", err);
		return 2;
	}
	if (op->arg == ARG_POLICY) {
		FILE *f = fopen(arg, "r");

		if (!f) {
			fprintf(stderr, "lvmm ctl: %s: %s\n", arg, strerror(errno));
			return 2;
		}
		blen = fread(policy_buf, 1, sizeof(policy_buf), f);
		fclose(f);
		if (blen == 0 || blen == sizeof(policy_buf)) {
			fprintf(stderr, "lvmm ctl: %s: a policy is 1 byte to 64 KiB\n", arg);
			return 2;
		}
		body = policy_buf;
	} else if (op->arg != ARG_NONE && (!arg[0] || strpbrk(arg, "/?#% \t\r\n"))) {
		fprintf(stderr, "lvmm ctl: bad argument '%s'\n", arg);
		return 2;
	}
	{
		const char *brace = strstr(op->path, "{}");

		if (brace)
			snprintf(path, sizeof(path), "%.*s%s%s", (int)(brace - op->path), op->path, arg, brace + 2);
		else
			snprintf(path, sizeof(path), "%s", op->path);
		if (secs)
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "?timeout=%" PRIu64, secs);
		/* attest's nonce: checked by the front-end; only hex digits go into the URL. */
		if (op->arg == ARG_PART_HEX) {
			const char *hex = argv[i + 2];

			if (!hex[0] || strspn(hex, "0123456789abcdefABCDEF") != strlen(hex) ||
			    strlen(hex) > 2 * LVMM_API_ARG_MAX) {
				fprintf(stderr, "lvmm ctl: the nonce must be 1-%d bytes in hex\n", LVMM_API_ARG_MAX);
				return 2;
			}
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "?nonce=%s", hex);
		}
	}
	if (op->id == LVMM_OP_EVENTS) {
		e = http_follow(sock, path, event_line, NULL, &r, -1, err, sizeof(err));
		if (!e && r.status >= 200 && r.status < 300) {
			http_resp_free(&r);
			return 0;
		}
		goto answered;
	}
	e = http_request(sock, op->method, path, body, blen, &r, ANSWER_MS, err, sizeof(err));
answered:
	if (e) {
		fprintf(stderr, "lvmm ctl: %s\n", err);
		http_resp_free(&r);
		return 2;
	}
	e = report(argv[i], &r);
	http_resp_free(&r);
	return e;
usage:
	fprintf(stderr, "lvmm ctl: usage: lvmm ctl [--json] [SOCKET|NAME] %s\n",
		!op ? "version" : op->arg == ARG_POLICY ? "policy-load FILE" : op->usage);
	return 2;
}
