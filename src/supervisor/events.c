// SPDX-License-Identifier: MIT
/*
 * Events (events.h). Both forms are built side by side with one bounded
 * appender; the JSON form is a flat object, so it needs no general JSON
 * writer: keys are the supervisor's own, values are escaped strings or
 * decimal numbers.
 */
#include "supervisor/events.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

static int ev_fd = -1;
static bool ev_echo;
static uint64_t ev_count;
static uint64_t ev_lost;
static ev_sink_fn ev_sink;
static char ev_rid[64];

int events_open(const char *path, bool echo)
{
	ev_echo = echo;
	if (!path || !path[0])
		return 0;
	ev_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	return ev_fd < 0 ? -errno : 0;
}

void events_close(void)
{
	if (ev_fd >= 0)
		close(ev_fd);
	ev_fd = -1;
}

void events_set_sink(ev_sink_fn sink)
{
	ev_sink = sink;
}

void ev_set_request(const char *rid)
{
	snprintf(ev_rid, sizeof(ev_rid), "%s", rid ? rid : "");
}

uint64_t events_count(void)
{
	return ev_count;
}

/*
 * Room kept back in the JSON form for what ev_end adds: the request id
 * (at most 63 plain characters), "truncated" and the closing "}\n".
 */
#define EV_TAIL 112

/* Append to buf (up to EV_LINE_MAX, 2 kept back for the closing "}\n"); what does not fit is cut. */
static void app(char *buf, unsigned *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void app(char *buf, unsigned *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= EV_LINE_MAX - 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, EV_LINE_MAX - 2 - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = MIN(*len + (unsigned)n, (unsigned)EV_LINE_MAX - 3);
}

/*
 * A JSON field ended: one that ran into the cap would leave a cut string
 * (an invalid line), so it is left out whole and the line says so.
 */
static void field_end(struct event *e)
{
	if (e->jlen > EV_LINE_MAX - EV_TAIL)
		e->jlen = e->jok, e->cut = true;
	e->jok = e->jlen;
	e->json[e->jlen] = 0;
}

/*
 * A quoted string in either form: quote and backslash escaped; other
 * control and non-ASCII bytes as \u00XX in JSON, as \n, \t or \xNN in
 * logfmt.
 */
static void quoted(char *buf, unsigned *len, const char *s, bool json)
{
	const char *p;

	app(buf, len, "\"");
	for (p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"' || ch == '\\')
			app(buf, len, "\\%c", ch);
		else if (!json && (ch == '\n' || ch == '\t'))
			app(buf, len, "\\%c", ch == '\n' ? 'n' : 't');
		else if (ch < 0x20 || ch >= 0x7f)
			app(buf, len, json ? "\\u%04x" : "\\x%02x", ch);
		else
			app(buf, len, "%c", ch);
	}
	app(buf, len, "\"");
}

static void jstr(struct event *e, const char *s)
{
	quoted(e->json, &e->jlen, s, true);
}

/*
 * Human form, a logfmt value: bare when it is printable ASCII without
 * space, quote, backslash or '='; otherwise quoted, so every line splits
 * into key=value pairs.
 */
static void hstr(struct event *e, const char *s)
{
	const char *p;
	bool quote = !*s;

	for (p = s; *p && !quote; p++) {
		unsigned char ch = (unsigned char)*p;

		quote = ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '=';
	}
	if (quote)
		quoted(e->human, &e->hlen, s, false);
	else
		app(e->human, &e->hlen, "%s", s);
}

void ev_begin(struct event *e, const char *type, const char *partition)
{
	struct timespec ts;

	e->jlen = e->hlen = e->jok = 0;
	e->cut = false;
	e->partition = partition;
	clock_gettime(CLOCK_REALTIME, &ts);
	app(e->json, &e->jlen, "{\"ts\":%lld.%03ld,\"event\":", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000000);
	jstr(e, type);
	app(e->human, &e->hlen, "lvmm: event=");
	hstr(e, type);
	if (partition) {
		app(e->json, &e->jlen, ",\"partition\":");
		jstr(e, partition);
		app(e->human, &e->hlen, " partition=");
		hstr(e, partition);
	}
	field_end(e);
}

static void str_field(struct event *e, const char *key, const char *val)
{
	app(e->json, &e->jlen, ",\"%s\":", key);
	jstr(e, val ? val : "");
	app(e->human, &e->hlen, " %s=", key);
	hstr(e, val ? val : "");
}

void ev_str(struct event *e, const char *key, const char *val)
{
	str_field(e, key, val);
	field_end(e);
}

void ev_u64(struct event *e, const char *key, uint64_t val)
{
	app(e->json, &e->jlen, ",\"%s\":%" PRIu64, key, val);
	app(e->human, &e->hlen, " %s=%" PRIu64, key, val);
	field_end(e);
}

void ev_i64(struct event *e, const char *key, int64_t val)
{
	app(e->json, &e->jlen, ",\"%s\":%" PRId64, key, val);
	app(e->human, &e->hlen, " %s=%" PRId64, key, val);
	field_end(e);
}

void ev_hex(struct event *e, const char *key, uint64_t val)
{
	app(e->json, &e->jlen, ",\"%s\":\"0x%" PRIx64 "\"", key, val);
	app(e->human, &e->hlen, " %s=0x%" PRIx64, key, val);
	field_end(e);
}

void ev_wstatus(struct event *e, int wstatus)
{
	ev_u64(e, WIFSIGNALED(wstatus) ? "signal" : "status",
	       (uint64_t)(WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus)));
}

void ev_end(struct event *e)
{
	if (e->cut)
		app(e->json, &e->jlen, ",\"truncated\":true");
	if (ev_rid[0])
		str_field(e, "request_id", ev_rid); /* in the room kept for it */
	e->json[e->jlen++] = '}';
	e->json[e->jlen++] = '\n';
	e->json[e->jlen] = 0;
	e->human[e->hlen++] = '\n';
	e->human[e->hlen] = 0;
	ev_count++;
	/* The log is best effort: a full disk must not stop the partitions. */
	if (ev_fd >= 0 && write_full(ev_fd, e->json, e->jlen))
		ev_lost++;
	if (ev_echo && write_full(STDERR_FILENO, e->human, e->hlen))
		ev_lost++;
	if (ev_sink)
		ev_sink(e->partition, e->json, e->jlen);
}
