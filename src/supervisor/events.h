/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's event log: one JSON object per line (to a file, when
 * configured) and a one-line logfmt form on stderr (docs/events.md). Fields are added one by
 * one; strings are escaped, so partition-supplied text cannot break a line.
 *
 *   struct event e; ev_begin(&e, "partition_exit", "user");
 *   ev_str(&e, "reason", "triple-fault"); ev_u64(&e, "status", 4); ev_end(&e);
 */
#ifndef LVMM_EVENTS_H
#define LVMM_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "supervisor/json.h"

#define EV_LINE_MAX 2048

struct event {
	char json[EV_LINE_MAX];
	char human[EV_LINE_MAX];
	struct jbuf j;
	unsigned hlen;
	bool quiet; /* JSON only */
};

/* Open the JSON-lines file (append) or "" for none; echo: print logfmt lines on stderr. 0 or -errno. */
int events_open(const char *path, bool echo);
/* Close the event log. */
void events_close(void);

/* Start an event of type, about partition (NULL: about the platform). */
void ev_begin(struct event *e, const char *type, const char *partition);
/* Add key=val (escaped in JSON, quoted in logfmt when needed; NULL is ""). */
void ev_str(struct event *e, const char *key, const char *val);
/* Add key=unsigned decimal. */
void ev_u64(struct event *e, const char *key, uint64_t val);
/* Add key=signed decimal. */
void ev_i64(struct event *e, const char *key, int64_t val);
/* Add key=0x... (a string in JSON). */
void ev_hex(struct event *e, const char *key, uint64_t val);
/* Write the event; never fails the caller (a lost line is counted). */
void ev_end(struct event *e);

/* Number of events written. */
uint64_t events_count(void);

#endif
