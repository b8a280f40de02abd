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

/* Start writing into buf (cap bytes, always NUL-terminated); nothing is written yet. */
void jb_init(struct jbuf *j, char *buf, size_t cap);
/* Append s as it is (no escaping: only for the writer's own syntax and numbers). */
void jb_raw(struct jbuf *j, const char *s);
/* Open an object: "{", after a comma when a value precedes it at this level. */
void jb_obj_begin(struct jbuf *j);
/* Close an object: "}". */
void jb_obj_end(struct jbuf *j);
/* Open an array: "key":[ (key NULL for an array inside an array). */
void jb_arr_begin(struct jbuf *j, const char *key);
/* Close an array: "]". */
void jb_arr_end(struct jbuf *j);
/* Open a nested object: "key":{ */
void jb_key_obj(struct jbuf *j, const char *key);
/* "key":"val" with val escaped (NULL is ""); key NULL inside arrays. */
void jb_str(struct jbuf *j, const char *key, const char *val);
/* "key":decimal */
void jb_u64(struct jbuf *j, const char *key, uint64_t val);
/* "key":signed decimal */
void jb_i64(struct jbuf *j, const char *key, int64_t val);
/* "key":true|false */
void jb_bool(struct jbuf *j, const char *key, bool val);
/* "key":"0x..." (hex in a string: JSON numbers lose 64-bit precision) */
void jb_hex(struct jbuf *j, const char *key, uint64_t val);
/* The text so far (always NUL-terminated). */
const char *jb_text(const struct jbuf *j);

#endif
