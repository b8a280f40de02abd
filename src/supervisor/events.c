// SPDX-License-Identifier: MIT
#include "supervisor/events.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

static int ev_fd = -1;
static bool ev_echo;
static uint64_t ev_count;
static uint64_t ev_lost;

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

uint64_t events_count(void)
{
	return ev_count;
}

static void happ(struct event *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void happ(struct event *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->hlen >= sizeof(e->human) - 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->human + e->hlen, sizeof(e->human) - 2 - e->hlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		e->hlen = MIN(e->hlen + (unsigned)n, (unsigned)sizeof(e->human) - 2);
}

/*
 * Human form, a logfmt value: bare when it is printable ASCII without
 * space, quote, backslash or '='; otherwise double-quoted with \" \\ \n \t
 * and \xNN escapes, so every line splits into key=value pairs.
 */
static void hstr(struct event *e, const char *s)
{
	const char *p;
	bool quote = !*s;

	for (p = s; *p && !quote; p++) {
		unsigned char ch = (unsigned char)*p;

		quote = ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '=';
	}
	if (!quote) {
		happ(e, "%s", s);
		return;
	}
	happ(e, "\"");
	for (p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"' || ch == '\\')
			happ(e, "\\%c", ch);
		else if (ch == '\n')
			happ(e, "\\n");
		else if (ch == '\t')
			happ(e, "\\t");
		else if (ch < 0x20 || ch >= 0x7f)
			happ(e, "\\x%02x", ch);
		else
			happ(e, "%c", ch);
	}
	happ(e, "\"");
}

void ev_begin(struct event *e, const char *type, const char *partition)
{
	struct timespec ts;
	char t[32];

	e->hlen = 0;
	e->quiet = false;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Room for the closing brace and newline is kept back. */
	jb_init(&e->j, e->json, sizeof(e->json) - 2);
	jb_obj_begin(&e->j);
	snprintf(t, sizeof(t), "%lld.%03ld", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	jb_raw(&e->j, "\"ts\":");
	jb_raw(&e->j, t);
	e->j.need_comma = true;
	jb_str(&e->j, "event", type);
	happ(e, "lvmm: event=");
	hstr(e, type);
	if (partition) {
		jb_str(&e->j, "partition", partition);
		happ(e, " partition=");
		hstr(e, partition);
	}
}

void ev_str(struct event *e, const char *key, const char *val)
{
	jb_str(&e->j, key, val);
	happ(e, " %s=", key);
	hstr(e, val ? val : "");
}

void ev_u64(struct event *e, const char *key, uint64_t val)
{
	jb_u64(&e->j, key, val);
	happ(e, " %s=%" PRIu64, key, val);
}

void ev_i64(struct event *e, const char *key, int64_t val)
{
	jb_i64(&e->j, key, val);
	happ(e, " %s=%" PRId64, key, val);
}

void ev_hex(struct event *e, const char *key, uint64_t val)
{
	jb_hex(&e->j, key, val);
	happ(e, " %s=0x%" PRIx64, key, val);
}

void ev_end(struct event *e)
{
	size_t n;

	jb_obj_end(&e->j);
	n = e->j.len;
	e->json[n++] = '\n';
	e->human[e->hlen++] = '\n';
	ev_count++;
	/* The log is best effort: a full disk must not stop the partitions. */
	if (ev_fd >= 0 && write_full(ev_fd, e->json, n))
		ev_lost++;
	if (ev_echo && !e->quiet && write_full(STDERR_FILENO, e->human, e->hlen))
		ev_lost++;
}
