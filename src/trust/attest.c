// SPDX-License-Identifier: MIT
/*
 * attest's answer as JSON members (attest.h): names, hex and base64, with a
 * cursor that stops at the buffer's end (an answer that does not fit is
 * refused whole, never cut).
 */
#include "trust/attest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

struct out {
	char *p;
	size_t cap, len;
	int err;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->err = -ENOSPC;
	else
		o->len += (size_t)n;
}

static void put_hex(struct out *o, const char *name, const uint8_t *d, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	put(o, "\"%s\":\"", name);
	if (!o->err && o->cap - o->len <= 2 * n + 1)
		o->err = -ENOSPC;
	for (i = 0; !o->err && i < n; i++) {
		o->p[o->len++] = hex[d[i] >> 4];
		o->p[o->len++] = hex[d[i] & 15];
	}
	put(o, "\"");
}

/* A JSON string: quotes, backslashes and newlines escaped; other control characters refused. */
static void put_str(struct out *o, const char *name, const char *s)
{
	put(o, "\"%s\":\"", name);
	for (; !o->err && *s; s++) {
		bool esc = *s == '"' || *s == '\\' || *s == '\n';

		if ((unsigned char)*s < 0x20 && *s != '\n')
			o->err = -EINVAL;
		else if (o->cap - o->len < 3)
			o->err = -ENOSPC;
		else if (esc)
			o->p[o->len++] = '\\';
		if (!o->err)
			o->p[o->len++] = *s == '\n' ? 'n' : *s;
	}
	put(o, "\"");
}

/* RFC 4648 base64. */
static void put_base64(struct out *o, const char *name, const uint8_t *d, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	put(o, "\"%s\":\"", name);
	if (!o->err && o->cap - o->len <= (n + 2) / 3 * 4 + 1)
		o->err = -ENOSPC;
	for (i = 0; !o->err && i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
			     (i + 2 < n ? d[i + 2] : 0);

		o->p[o->len++] = a[v >> 18 & 63];
		o->p[o->len++] = a[v >> 12 & 63];
		o->p[o->len++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		o->p[o->len++] = i + 2 < n ? a[v & 63] : '=';
	}
	put(o, "\"");
}

int attest_json(char *out, size_t cap, const struct attest_answer *a)
{
	struct out o = { .p = out, .cap = cap };
	unsigned i;

	put_str(&o, "partition", a->partition);
	put(&o, ",");
	put_hex(&o, "nonce", a->nonce, a->nonce_len);
	put(&o, ",\"pcrs\":{");
	for (i = 17; i <= 22; i++) { /* the PCRs lvmm measures into (LVMM_TRUST_PCR_MASK) */
		char name[4];

		snprintf(name, sizeof(name), "%u", i);
		put(&o, i == 17 ? "" : ",");
		put_hex(&o, name, a->pcrs[i], 32);
	}
	put(&o, "},\"quote\":{");
	put_hex(&o, "attest", a->attest, a->attest_len);
	put(&o, ",");
	put_hex(&o, "signature", a->sig, a->sig_len);
	put(&o, "},");
	put_str(&o, "ak_pem", a->ak_pem);
	put(&o, ",");
	put_base64(&o, "eventlog", a->log, a->log_len);
	return o.err ? o.err : (int)o.len;
}
