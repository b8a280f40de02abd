// SPDX-License-Identifier: MIT
/*
 * Event followers (api.h). The supervisor's event lines go into one ring;
 * every follower (an HTTP stream, an agent channel) has its own read
 * position and filter, so a line is stored once however many follow, and
 * a slow follower costs nothing: when the ring has moved past it, it gets
 * one gap line saying how many lines it lost ({"event":"gap","lost":N}),
 * then the lines that are still there. Lines the supervisor could not send
 * (its channel was full) are a gap for every follower.
 *
 * A follower's filter is the supervisor's decision (op events): which
 * partitions' events it may see, and whether it may see the platform's.
 * When the policy changes, each follower's filter is asked for again with
 * its own connection as the subject; a refusal ends its stream.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

#define RING_N    1024      /* lines kept (2 KiB each at most) */
#define HIST_N    65536     /* partitions of past lines, for exact gap counts */
#define PART_ALL  (-2)      /* a gap line for everyone */

struct slot {
	int32_t part;           /* -1: the platform; PART_ALL: a gap every follower gets */
	uint32_t len;
	char line[LVMM_API_LINE_MAX];
};

static struct slot ring[RING_N];
static int16_t hist[HIST_N];
static uint64_t head;       /* position of the next line */
static uint64_t received, dropped;
static struct follower fl[API_FOLLOW_MAX];

static bool visible(const struct follower *f, int32_t part)
{
	if (part == PART_ALL)
		return true;
	if (part < 0)
		return f->platform;
	return part < LVMM_API_MAX_PARTS && (f->parts[part / 64] >> (part % 64) & 1);
}

static void wake_all(void)
{
	unsigned i;

	for (i = 0; i < API_FOLLOW_MAX; i++)
		if (fl[i].used && fl[i].wake)
			fl[i].wake(&fl[i]);
}

static void append(int32_t part, const char *line, size_t len)
{
	struct slot *s = &ring[head % RING_N];

	s->part = part;
	s->len = (uint32_t)len;
	memcpy(s->line, line, len);
	hist[head % HIST_N] = (int16_t)(part < -2 ? -1 : part);
	head++;
}

static size_t gap_line(char *buf, size_t n, uint64_t lost)
{
	struct timespec ts;
	int w;

	clock_gettime(CLOCK_REALTIME, &ts);
	w = snprintf(buf, n, "{\"ts\":%lld.%03ld,\"event\":\"gap\",\"lost\":%llu}\n",
		     (long long)ts.tv_sec, ts.tv_nsec / 1000000, (unsigned long long)lost);
	return w > 0 && (size_t)w < n ? (size_t)w : 0;
}

void events_push(const struct lvmm_api_event *m, size_t len)
{
	char gap[128];
	size_t g;

	if (len < offsetof(struct lvmm_api_event, line) || m->len > LVMM_API_LINE_MAX ||
	    len != offsetof(struct lvmm_api_event, line) + m->len || !m->len ||
	    m->line[m->len - 1] != '\n' || m->part < -1 || m->part >= LVMM_API_MAX_PARTS)
		return; /* not a line from a supervisor that works as specified */
	if (m->lost) {
		dropped += m->lost;
		g = gap_line(gap, sizeof(gap), m->lost);
		if (g)
			append(PART_ALL, gap, g);
	}
	received++;
	append(m->part, m->line, m->len);
	wake_all();
}

struct follower *follow_new(int conn_fd, void (*wake)(struct follower *), void *owner)
{
	unsigned i;

	for (i = 0; i < API_FOLLOW_MAX; i++)
		if (!fl[i].used) {
			memset(&fl[i], 0, sizeof(fl[i]));
			fl[i].used = true;
			fl[i].next = head;
			fl[i].conn_fd = conn_fd;
			fl[i].wake = wake;
			fl[i].owner = owner;
			return &fl[i];
		}
	return NULL;
}

void follow_set(struct follower *f, const struct lvmm_api_events *b)
{
	memcpy(f->parts, b->parts, sizeof(f->parts));
	f->platform = b->platform;
}

void follow_free(struct follower *f)
{
	if (f->asking)
		api_cancel(f->asking);
	memset(f, 0, sizeof(*f));
}

size_t follow_read(struct follower *f, char *buf, size_t n)
{
	size_t used = 0;
	uint64_t oldest = head > RING_N ? head - RING_N : 0, known = head > HIST_N ? head - HIST_N : 0, p;

	if (f->next < oldest) {
		/* Overrun: count what it would have seen (exactly, as far as the history reaches). */
		if (f->next < known) {
			f->lost += known - f->next;
			f->next = known;
		}
		for (p = f->next; p < oldest; p++)
			f->lost += visible(f, hist[p % HIST_N]);
		f->next = oldest;
	}
	if (f->lost) {
		size_t g = gap_line(buf, n, f->lost);

		if (!g)
			return 0;
		used = g;
		f->lost = 0;
	}
	for (; f->next < head; f->next++) {
		const struct slot *s = &ring[f->next % RING_N];

		if (!visible(f, s->part))
			continue;
		if (s->len > n - used)
			break;
		memcpy(buf + used, s->line, s->len);
		used += s->len;
	}
	return used;
}

/* The supervisor's new decision for f (or its refusal: the stream ends). */
static void redecided(void *ctx, const struct lvmm_api_reply *r, int err)
{
	struct follower *f = ctx;

	(void)err;
	f->asking = 0;
	if (!r || r->result || r->body != LVMM_BODY_EVENTS)
		f->ended = true;
	else
		follow_set(f, &r->u.events);
	if (f->wake)
		f->wake(f);
}

void events_policy_changed(void)
{
	unsigned i;

	for (i = 0; i < API_FOLLOW_MAX; i++) {
		struct follower *f = &fl[i];
		struct lvmm_api_req q = { .op = LVMM_OP_EVENTS };

		if (!f->used || f->ended || f->conn_fd < 0)
			continue;
		if (f->asking)
			api_cancel(f->asking);
		f->asking = 0;
		api_request_id(q.request_id, sizeof(q.request_id));
		if (api_submit(&q, f->conn_fd, -1, redecided, f, &f->asking)) {
			f->ended = true; /* cannot be re-decided: not shown more than it may see */
			if (f->wake)
				f->wake(f);
		}
	}
}

void events_stats(uint64_t *rcv, uint64_t *drp)
{
	*rcv = received;
	*drp = dropped;
}
