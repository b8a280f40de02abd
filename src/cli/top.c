// SPDX-License-Identifier: MIT
/*
 * lvmm top SOCKET|NAME [-b] [-n N] [-d SECONDS]: a live table of a platform's
 * partitions, as xentop shows Xen's domains. Each refresh reads the control
 * API's metrics once (GET /v1/metrics, docs/metrics.md: every partition's
 * state, counters, and its process's CPU time and resident memory, which
 * the supervisor reads from /proc) and shows rates over the refresh interval.
 * Interactive on a terminal (ncurses; q quits), or with -b one plain-text
 * frame per refresh on standard output, for scripts and tests.
 *
 * The control API's transport is one function (query(): GET over HTTP with
 * src/cli/http.c); the answers are read with a small JSON tokenizer of our
 * own, so the data layer does not depend on how a request reaches the
 * supervisor.
 */
#include "cli/top.h"

#include <ctype.h>
#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/http.h"
#include "common/log.h"
#include "shared/parse.h"
#include "common/util.h"
#include "lvmm/proto.h"

#define TOP_MAX_PARTS 256
#define TOP_REPLY_MAX (512 * 1024) /* /v1/metrics of 256 partitions with 12 devices each */
#define TOP_TOKENS 65536
#define QUERY_MS 5000 /* an answer takes at most 3 s (a partition's); then the platform is gone */

const char top_usage[] =
	"Usage: lvmm top SOCKET|NAME [-b] [-n N] [-d SECONDS]\n"
	"\n"
	"Shows the partitions of the platform whose control socket is SOCKET (a NAME\n"
	"without '/' means " LVMM_RUN_DIR "/NAME.sock, as for 'lvmm ctl'), refreshed\n"
	"every SECONDS (default 2; fractions allowed): state, vCPUs, CPU%% of the partition\n"
	"process, configured and resident memory, VM exits (total and per second), disk\n"
	"I/O (KiB/s), network packets per second, restarts and DMA faults. A state marked\n"
	"'*' is a partition that did not answer in time: its counters are its last ones.\n"
	"\n"
	"  -b, --batch[=N]   plain text on standard output instead of a full screen (N: as -n)\n"
	"  -n, --iterations N  stop after N refreshes (default: until q, or for ever with -b)\n"
	"  -d, --delay SECONDS  time between refreshes\n"
	"\n"
	"Interactive keys: q quits. Exit status 0, 1 when the platform stops answering,\n"
	"2 usage error or no connection.\n";

/* ---- the control API --------------------------------------------------------- */

/*
 * GET path from the control API (docs/api.md), its whole JSON answer in buf
 * (whatever the HTTP status: a refusal is {"ok":false,...}). 0, or -errno.
 */
static int query(const char *sock, const char *path, char *buf, size_t cap)
{
	struct http_resp r;
	char err[128];
	int e = http_request(sock, "GET", path, NULL, 0, &r, QUERY_MS, err, sizeof(err));

	if (!e && (!r.len || r.len >= cap))
		e = r.len ? -EMSGSIZE : -EPIPE;
	if (!e)
		memcpy(buf, r.body, r.len + 1);
	http_resp_free(&r);
	return e;
}

/* ---- a small JSON reader: tokens over the text, no allocation ------------------- */

enum jt { J_OBJ, J_ARR, J_STR, J_PRIM };

struct jtok {
	enum jt type;
	int start, end; /* the text (strings without their quotes) */
	int size;       /* members of an object (keys) or elements of an array */
	int next;       /* the token after this one and everything inside it */
};

struct json {
	const char *s;
	struct jtok t[TOP_TOKENS];
	int n;
};

/* Tokenize s; false if it is not JSON this reader knows (or too big). */
static bool json_parse(struct json *j, const char *s)
{
	int stack[64], depth = 0, i = 0, len = (int)strlen(s);

	j->s = s;
	j->n = 0;
	while (i < len) {
		char c = s[i];
		struct jtok *t;

		if (isspace((unsigned char)c) || c == ':' || c == ',') {
			i++;
			continue;
		}
		if (c == '}' || c == ']') {
			if (!depth)
				return false;
			j->t[stack[--depth]].next = j->n;
			i++;
			continue;
		}
		if (j->n == TOP_TOKENS)
			return false;
		t = &j->t[j->n];
		if (depth)
			j->t[stack[depth - 1]].size++;
		if (c == '{' || c == '[') {
			if (depth == (int)ARRAY_SIZE(stack))
				return false;
			*t = (struct jtok){ c == '{' ? J_OBJ : J_ARR, i, i, 0, 0 };
			stack[depth++] = j->n++;
			i++;
		} else if (c == '"') {
			int k = i + 1;

			while (k < len && s[k] != '"')
				k += s[k] == '\\' ? 2 : 1;
			if (k >= len)
				return false;
			*t = (struct jtok){ J_STR, i + 1, k, 0, j->n + 1 };
			j->n++;
			i = k + 1;
		} else {
			int k = i;

			while (k < len && !isspace((unsigned char)s[k]) && !strchr(",:]}", s[k]))
				k++;
			*t = (struct jtok){ J_PRIM, i, k, 0, j->n + 1 };
			j->n++;
			i = k;
		}
	}
	/* Object sizes counted keys and values alike: halve them. */
	for (i = 0; i < j->n; i++)
		if (j->t[i].type == J_OBJ)
			j->t[i].size /= 2;
	return !depth && j->n > 0;
}

static bool tok_is(const struct json *j, int i, const char *str)
{
	size_t n = strlen(str);

	return j->t[i].type == J_STR && (size_t)(j->t[i].end - j->t[i].start) == n &&
	       !memcmp(j->s + j->t[i].start, str, n);
}

/* The value of key in object obj, or -1. */
static int json_get(const struct json *j, int obj, const char *key)
{
	int i, k;

	if (obj < 0 || j->t[obj].type != J_OBJ)
		return -1;
	for (i = obj + 1, k = 0; k < j->t[obj].size && i < j->n; k++) {
		int v = j->t[i].next;

		if (v >= j->n)
			return -1;
		if (tok_is(j, i, key))
			return v;
		i = j->t[v].next;
	}
	return -1;
}

static uint64_t json_u64(const struct json *j, int obj, const char *key)
{
	int v = json_get(j, obj, key);

	return v >= 0 && j->t[v].type == J_PRIM ? strtoull(j->s + j->t[v].start, NULL, 10) : 0;
}

static double json_f64(const struct json *j, int obj, const char *key)
{
	int v = json_get(j, obj, key);

	return v >= 0 && j->t[v].type == J_PRIM ? strtod(j->s + j->t[v].start, NULL) : 0;
}

static bool json_true(const struct json *j, int obj, const char *key)
{
	int v = json_get(j, obj, key);

	return v >= 0 && j->t[v].type == J_PRIM && !strncmp(j->s + j->t[v].start, "true", 4);
}

static void json_str(const struct json *j, int obj, const char *key, char *out, size_t n)
{
	int v = json_get(j, obj, key);

	out[0] = 0;
	if (v >= 0 && j->t[v].type == J_STR)
		snprintf(out, n, "%.*s", j->t[v].end - j->t[v].start, j->s + j->t[v].start);
}

/* ---- samples ------------------------------------------------------------------ */

struct sample {
	char name[LVMM_NAME_MAX];
	char state[16];
	unsigned vcpus;
	uint64_t mem_mib, restarts, pid;
	bool live;            /* it has counters */
	bool stale;           /* it did not answer this time: they are its last ones */
	uint64_t exits, dma_faults, io_bytes, packets;
	double cpu_s;         /* CPU time of the partition process */
	uint64_t rss_kib;
};

struct frame {
	struct sample p[TOP_MAX_PARTS];
	unsigned n;
	uint64_t t_ns;
};

static struct json js;
static char reply[TOP_REPLY_MAX];
static struct frame frames[2];

/* One partition's counters from its /v1/metrics record (object o). */
static void counters(int o, struct sample *p)
{
	int ex = json_get(&js, o, "exits"), devs = json_get(&js, o, "devices"), d, k;

	p->cpu_s = json_f64(&js, o, "cpu_seconds");
	p->rss_kib = json_u64(&js, o, "resident_bytes") / 1024;
	p->stale = json_true(&js, o, "stale");
	if (ex < 0)
		return; /* no counters (yet): shown without them */
	p->live = true;
	p->exits = json_u64(&js, ex, "io") + json_u64(&js, ex, "mmio") + json_u64(&js, ex, "hlt") +
		   json_u64(&js, ex, "other");
	p->dma_faults = json_u64(&js, o, "dma_faults");
	if (devs < 0 || js.t[devs].type != J_ARR)
		return;
	for (d = devs + 1, k = 0; k < js.t[devs].size && d < js.n; k++, d = js.t[d].next) {
		char kind[32];

		json_str(&js, d, "kind", kind, sizeof(kind));
		if (!strcmp(kind, "uart"))
			continue; /* the console is not I/O in xentop's sense */
		p->io_bytes += json_u64(&js, d, "read_bytes") + json_u64(&js, d, "write_bytes");
		p->packets += json_u64(&js, d, "rx_packets") + json_u64(&js, d, "tx_packets");
	}
}

/* A whole frame: one metrics answer. 0, or -errno when the platform does not answer. */
static int sample_all(const char *sock, struct frame *fr)
{
	int parts, i, k, r;

	r = query(sock, "/v1/metrics", reply, sizeof(reply));
	if (r)
		return r;
	if (!json_parse(&js, reply))
		return -EPROTO;
	parts = json_get(&js, 0, "partitions");
	if (parts < 0 || js.t[parts].type != J_ARR)
		return -EPROTO;
	fr->n = 0;
	for (i = parts + 1, k = 0; k < js.t[parts].size && fr->n < TOP_MAX_PARTS; k++, i = js.t[i].next) {
		struct sample *p = &fr->p[fr->n++];

		memset(p, 0, sizeof(*p));
		json_str(&js, i, "name", p->name, sizeof(p->name));
		json_str(&js, i, "state", p->state, sizeof(p->state));
		p->vcpus = (unsigned)json_u64(&js, i, "vcpus");
		p->mem_mib = json_u64(&js, i, "memory_bytes") >> 20;
		p->restarts = json_u64(&js, i, "restarts");
		p->pid = json_u64(&js, i, "pid");
		counters(i, p);
	}
	fr->t_ns = now_ns();
	return 0;
}

/* ---- the table ---------------------------------------------------------------- */

static const char header[] =
	"NAME             STATE       VCPU   CPU%  MEM_MIB  RSS_MIB       EXITS  EXITS/S  IO_KIB/S   PKTS/S  RESTARTS  FAULTS";

static double rate(uint64_t now, uint64_t before, double secs)
{
	return now >= before && secs > 0 ? (double)(now - before) / secs : 0;
}

/* Row i of frame cur, with rates against prev (the same partition, same process). */
static void format_row(const struct frame *cur, const struct frame *prev, unsigned i, char *out,
		       size_t n)
{
	const struct sample *p = &cur->p[i], *q = NULL;
	double secs = (double)(cur->t_ns - prev->t_ns) / 1e9;
	char state[24];
	unsigned k;

	for (k = 0; k < prev->n; k++)
		if (!strcmp(prev->p[k].name, p->name) && prev->p[k].pid == p->pid && prev->p[k].live)
			q = &prev->p[k];
	snprintf(state, sizeof(state), "%s%s", p->state, p->stale ? "*" : "");
	if (!p->live) {
		snprintf(out, n, "%-16s %-10s %5u %6s %8" PRIu64 " %8s %11s %8s %9s %8s %9" PRIu64 " %7s",
			 p->name, state, p->vcpus, "-", p->mem_mib, "-", "-", "-", "-", "-",
			 p->restarts, "-");
		return;
	}
	snprintf(out, n, "%-16s %-10s %5u %6.1f %8" PRIu64 " %8" PRIu64 " %11" PRIu64
		 " %8.0f %9.1f %8.0f %9" PRIu64 " %7" PRIu64,
		 p->name, state, p->vcpus,
		 q && secs > 0 && p->cpu_s >= q->cpu_s ? (p->cpu_s - q->cpu_s) / secs * 100.0 : 0.0,
		 p->mem_mib, p->rss_kib / 1024, p->exits, q ? rate(p->exits, q->exits, secs) : 0.0,
		 q ? rate(p->io_bytes, q->io_bytes, secs) / 1024 : 0.0,
		 q ? rate(p->packets, q->packets, secs) : 0.0, p->restarts, p->dma_faults);
}

static void summary_line(const struct frame *fr, char *out, size_t n)
{
	unsigned i, run = 0, paused = 0, other = 0;
	time_t t = time(NULL);
	struct tm tm;
	char hms[16];

	for (i = 0; i < fr->n; i++) {
		if (!strcmp(fr->p[i].state, "running"))
			run++;
		else if (!strcmp(fr->p[i].state, "paused"))
			paused++;
		else
			other++;
	}
	localtime_r(&t, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(out, n, "lvmm top - %s  %u partitions: %u running, %u paused, %u other", hms, fr->n,
		 run, paused, other);
}

/* ---- modes -------------------------------------------------------------------- */

static int run_batch(const char *sock, long iterations, double delay)
{
	struct timespec ts = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };
	char line[256];
	long it;
	int cur = 0;
	unsigned i;

	if (sample_all(sock, &frames[cur]))
		return 1;
	for (it = 0; iterations <= 0 || it < iterations; it++) {
		nanosleep(&ts, NULL);
		cur ^= 1;
		if (sample_all(sock, &frames[cur])) {
			fprintf(stderr, "lvmm top: the platform at %s stopped answering\n", sock);
			return 1;
		}
		summary_line(&frames[cur], line, sizeof(line));
		printf("%s\n%s\n", line, header);
		for (i = 0; i < frames[cur].n; i++) {
			format_row(&frames[cur], &frames[cur ^ 1], i, line, sizeof(line));
			printf("%s\n", line);
		}
		printf("\n");
		fflush(stdout);
	}
	return 0;
}

static int run_screen(const char *sock, long iterations, double delay)
{
	char line[256];
	long it;
	int cur = 0, r = 0;
	unsigned i;

	if (sample_all(sock, &frames[cur]))
		return 1;
	if (!initscr()) {
		fprintf(stderr, "lvmm top: cannot set up the terminal; try -b\n");
		return 2;
	}
	cbreak();
	noecho();
	curs_set(0);
	for (it = 0; iterations <= 0 || it < iterations; it++) {
		/* The first frame comes within a second whatever the delay: rates need two samples. */
		uint64_t due = frames[cur].t_ns + (uint64_t)((it || delay < 1 ? delay : 1.0) * 1e9), now;
		bool quit = false;
		unsigned guard;

		/* Wait for the next refresh, reading keys meanwhile (q quits). */
		for (guard = 0; guard < 100000 && !quit && (now = now_ns()) < due; guard++) {
			int ch;

			timeout((int)((due - now) / 1000000) + 1);
			ch = getch();
			quit = ch == 'q' || ch == 'Q';
			if (ch == ERR && now_ns() < due)
				napms(10); /* no terminal input at all (EOF): do not spin */
		}
		if (quit)
			break;
		cur ^= 1;
		if (sample_all(sock, &frames[cur])) {
			r = 1;
			break;
		}
		erase();
		summary_line(&frames[cur], line, sizeof(line));
		mvaddnstr(0, 0, line, COLS);
		attron(A_REVERSE);
		mvaddnstr(2, 0, header, COLS);
		attroff(A_REVERSE);
		for (i = 0; i < frames[cur].n && (int)i + 3 < LINES - 1; i++) {
			format_row(&frames[cur], &frames[cur ^ 1], i, line, sizeof(line));
			mvaddnstr((int)i + 3, 0, line, COLS);
		}
		mvaddnstr(LINES - 1, 0, "q: quit", COLS);
		refresh();
	}
	endwin();
	if (r)
		fprintf(stderr, "lvmm top: the platform at %s stopped answering\n", sock);
	return r;
}

int top_main(int argc, char **argv)
{
	static char path[PATH_MAX];
	const char *sock = NULL;
	double delay = 2.0;
	long iterations = 0;
	bool batch = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(top_usage, stdout);
			return 0;
		} else if (!strcmp(a, "-b") || !strcmp(a, "--batch")) {
			batch = true;
		} else if (!strncmp(a, "--batch=", 8)) {
			batch = true;
			iterations = strtol(a + 8, &end, 10);
			if (*end || iterations <= 0)
				goto usage;
		} else if ((!strcmp(a, "-n") || !strcmp(a, "--iterations")) && i + 1 < argc) {
			iterations = strtol(argv[++i], &end, 10);
			if (*end || iterations <= 0)
				goto usage;
		} else if ((!strcmp(a, "-d") || !strcmp(a, "--delay")) && i + 1 < argc) {
			delay = strtod(argv[++i], &end);
			if (*end || !(delay >= 0.1 && delay <= 3600))
				goto usage;
		} else if (a[0] != '-' && !sock) {
			sock = a;
		} else {
			goto usage;
		}
	}
	if (!sock)
		goto usage;
	if (ctl_socket_path(sock, path, sizeof(path))) {
		fprintf(stderr, "lvmm top: socket path too long\n");
		return 2;
	}
	sock = path;
	if (!batch && !isatty(STDOUT_FILENO))
		batch = true; /* a pipe gets text frames, as top does */
	signal(SIGPIPE, SIG_IGN);
	if (sample_all(sock, &frames[0])) {
		fprintf(stderr, "lvmm top: no answer from a platform at %s\n", sock);
		return 2;
	}
	return batch ? run_batch(sock, iterations, delay) : run_screen(sock, iterations, delay);
usage:
	fputs(top_usage, stderr);
	return 2;
}
