// SPDX-License-Identifier: MIT
#include "supervisor/json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void jb_init(struct jbuf *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	j->truncated = false;
	j->need_comma = false;
	if (cap)
		buf[0] = 0;
}

static void jb_printf(struct jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_printf(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->len + 1 >= j->cap) {
		j->truncated = true;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->cap - j->len) {
		j->truncated = true;
		j->len = j->cap - 1;
		j->buf[j->len] = 0;
		return;
	}
	j->len += (size_t)n;
}

/* Append n bytes; what does not fit is cut (and marked), as jb_printf() does. */
static void jb_put(struct jbuf *j, const char *s, size_t n)
{
	if (j->len + 1 >= j->cap) {
		j->truncated = true;
		return;
	}
	if (n >= j->cap - j->len) {
		n = j->cap - j->len - 1;
		j->truncated = true;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = 0;
}

void jb_raw(struct jbuf *j, const char *s)
{
	jb_put(j, s, strlen(s));
}

/* Runs of plain characters are copied at once: this formats every event and reply. */
static void jb_string(struct jbuf *j, const char *s)
{
	jb_put(j, "\"", 1);
	while (*s) {
		size_t n = 0;
		unsigned char c;

		while ((c = (unsigned char)s[n]) >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			n++;
		jb_put(j, s, n);
		s += n;
		if (!*s)
			break;
		c = (unsigned char)*s++;
		if (c == '"' || c == '\\')
			jb_printf(j, "\\%c", c);
		else
			jb_printf(j, "\\u%04x", c);
	}
	jb_put(j, "\"", 1);
}

static void jb_key(struct jbuf *j, const char *key)
{
	if (j->need_comma)
		jb_raw(j, ",");
	j->need_comma = true;
	if (key) {
		jb_string(j, key);
		jb_raw(j, ":");
	}
}

void jb_obj_begin(struct jbuf *j)
{
	if (j->need_comma)
		jb_raw(j, ",");
	jb_raw(j, "{");
	j->need_comma = false;
}

void jb_obj_end(struct jbuf *j)
{
	jb_raw(j, "}");
	j->need_comma = true;
}

void jb_key_obj(struct jbuf *j, const char *key)
{
	jb_key(j, key);
	jb_raw(j, "{");
	j->need_comma = false;
}

void jb_arr_begin(struct jbuf *j, const char *key)
{
	jb_key(j, key);
	jb_raw(j, "[");
	j->need_comma = false;
}

void jb_arr_end(struct jbuf *j)
{
	jb_raw(j, "]");
	j->need_comma = true;
}

void jb_str(struct jbuf *j, const char *key, const char *val)
{
	jb_key(j, key);
	jb_string(j, val ? val : "");
}

void jb_u64(struct jbuf *j, const char *key, uint64_t val)
{
	jb_key(j, key);
	jb_printf(j, "%" PRIu64, val);
}

void jb_i64(struct jbuf *j, const char *key, int64_t val)
{
	jb_key(j, key);
	jb_printf(j, "%" PRId64, val);
}

void jb_bool(struct jbuf *j, const char *key, bool val)
{
	jb_key(j, key);
	jb_raw(j, val ? "true" : "false");
}

void jb_hex(struct jbuf *j, const char *key, uint64_t val)
{
	jb_key(j, key);
	jb_printf(j, "\"0x%" PRIx64 "\"", val);
}

const char *jb_text(const struct jbuf *j)
{
	return j->buf;
}
