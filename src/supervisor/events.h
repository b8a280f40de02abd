/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's event log: one flat JSON object per line (to a file, when
 * configured, and to the API front-end's event stream) and a one-line logfmt
 * form on stderr (docs/events.md). Fields are added one by one; strings are
 * escaped in both forms, so partition-supplied text cannot break a line.
 *
 *   struct event e; ev_begin(&e, "partition_exit", "user");
 *   ev_str(&e, "reason", "triple-fault"); ev_u64(&e, "status", 4); ev_end(&e);
 */
#ifndef LVMM_EVENTS_H
#define LVMM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EV_LINE_MAX 2048

struct event {
	char json[EV_LINE_MAX];
	char human[EV_LINE_MAX];
	unsigned jlen, hlen;
	unsigned jok;          /* JSON length after the last field that fit whole */
	bool cut;              /* a field did not fit and was left out */
	const char *partition; /* what it is about, or NULL */
};

/* Where every event line also goes (the API front-end): partition or NULL, the JSON line. */
typedef void (*ev_sink_fn)(const char *partition, const char *line, size_t len);

/* Open the JSON-lines file (append) or "" for none; echo: print logfmt lines on stderr. 0 or -errno. */
int events_open(const char *path, bool echo);
/* Close the event log. */
void events_close(void);
/* Send every event line to sink as well (NULL: no more). */
void events_set_sink(ev_sink_fn sink);
/* Events until ev_set_request(NULL) carry request_id=rid (a control request's id; "" none). */
void ev_set_request(const char *rid);

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
/* How a child ended: key "signal" or "status", the number. */
void ev_wstatus(struct event *e, int wstatus);
/* Write the event; never fails the caller (a lost line is counted). */
void ev_end(struct event *e);

/* Number of events written. */
uint64_t events_count(void);

#endif
