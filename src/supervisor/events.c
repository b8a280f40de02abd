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

static void japp(struct event *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void japp(struct event *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->jlen >= sizeof(e->json) - 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->json + e->jlen, sizeof(e->json) - 2 - e->jlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		e->jlen = MIN(e->jlen + (unsigned)n, (unsigned)sizeof(e->json) - 2);
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

/* JSON string escaping; control bytes and non-ASCII become \u00XX. */
static void jstr(struct event *e, const char *s)
{
	japp(e, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			japp(e, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			japp(e, "\\u%04x", ch);
		else
			japp(e, "%c", ch);
	}
	japp(e, "\"");
}

/* Human form: printable ASCII only. */
static void hstr(struct event *e, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		happ(e, "%c", ch >= 0x20 && ch < 0x7f ? ch : '?');
	}
}

void ev_begin(struct event *e, const char *type, const char *partition)
{
	struct timespec ts;

	e->jlen = e->hlen = 0;
	e->quiet = false;
	clock_gettime(CLOCK_REALTIME, &ts);
	japp(e, "{\"ts\":%lld.%03ld,\"event\":", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	jstr(e, type);
	happ(e, "lvmm: event %s", type);
	if (partition) {
		japp(e, ",\"partition\":");
		jstr(e, partition);
		happ(e, " partition=");
		hstr(e, partition);
	}
}

void ev_str(struct event *e, const char *key, const char *val)
{
	japp(e, ",");
	jstr(e, key);
	japp(e, ":");
	jstr(e, val ? val : "");
	happ(e, " %s=", key);
	hstr(e, val ? val : "");
}

void ev_u64(struct event *e, const char *key, uint64_t val)
{
	japp(e, ",");
	jstr(e, key);
	japp(e, ":%" PRIu64, val);
	happ(e, " %s=%" PRIu64, key, val);
}

void ev_i64(struct event *e, const char *key, int64_t val)
{
	japp(e, ",");
	jstr(e, key);
	japp(e, ":%" PRId64, val);
	happ(e, " %s=%" PRId64, key, val);
}

void ev_hex(struct event *e, const char *key, uint64_t val)
{
	japp(e, ",");
	jstr(e, key);
	japp(e, ":\"0x%" PRIx64 "\"", val);
	happ(e, " %s=0x%" PRIx64, key, val);
}

void ev_end(struct event *e)
{
	e->json[e->jlen++] = '}';
	e->json[e->jlen++] = '\n';
	e->human[e->hlen++] = '\n';
	ev_count++;
	if (ev_fd >= 0 && write_full(ev_fd, e->json, e->jlen))
		ev_fd = ev_fd; /* the log is best effort; the run goes on */
	if (ev_echo && !e->quiet && write_full(STDERR_FILENO, e->human, e->hlen))
		return;
}
