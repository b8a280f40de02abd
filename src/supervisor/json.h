/* SPDX-License-Identifier: MIT */
/*
 * A bounded JSON writer for the supervisor's outputs (events, control API
 * replies). Strings are escaped (control bytes and non-ASCII as \u00XX), so
 * text that came from a partition cannot break the framing. Output beyond
 * the buffer is cut and marked truncated; nothing allocates.
 */
#ifndef LVMM_JSON_H
#define LVMM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf {
	char *buf;
	size_t cap, len;
	bool truncated;
	bool need_comma; /* a value was written at the current nesting level */
};

void jb_init(struct jbuf *j, char *buf, size_t cap);
void jb_raw(struct jbuf *j, const char *s);
void jb_obj_begin(struct jbuf *j);           /* { */
void jb_obj_end(struct jbuf *j);             /* } */
void jb_arr_begin(struct jbuf *j, const char *key); /* "key":[  (key NULL inside arrays) */
void jb_arr_end(struct jbuf *j);             /* ] */
void jb_key_obj(struct jbuf *j, const char *key); /* "key":{ */
void jb_str(struct jbuf *j, const char *key, const char *val);
void jb_u64(struct jbuf *j, const char *key, uint64_t val);
void jb_i64(struct jbuf *j, const char *key, int64_t val);
void jb_bool(struct jbuf *j, const char *key, bool val);
void jb_hex(struct jbuf *j, const char *key, uint64_t val); /* "0x..." string */
/* The text so far (always NUL-terminated). */
const char *jb_text(const struct jbuf *j);

#endif
