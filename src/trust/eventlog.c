// SPDX-License-Identifier: MIT
/* Crypto-agile TCG event log writer, parser and replay; see eventlog.h. */
#include "trust/eventlog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SPEC_ID_SIG "Spec ID Event03" /* 15 characters + NUL = 16 bytes */
#define SHA1_LEN 20
#define HDR_EVENT_FIXED (4 + 4 + SHA1_LEN + 4)  /* PCRIndex, EventType, SHA-1 digest, EventSize */
/* TCG_EfiSpecIDEvent with one algorithm and no vendor info. */
#define SPEC_ID_LEN (16 + 4 + 1 + 1 + 1 + 1 + 4 + 4 + 1)
#define MAX_ALGS 8 /* more banks than any TPM has; bounds the parser */

static void le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int eventlog_init(struct eventlog *l, void *buf, size_t cap)
{
	uint8_t *p = buf;

	memset(l, 0, sizeof(*l));
	if (!buf || cap < HDR_EVENT_FIXED + SPEC_ID_LEN)
		return -ENOSPC;
	memset(p, 0, HDR_EVENT_FIXED + SPEC_ID_LEN);
	le32(p, 0);                /* PCRIndex */
	le32(p + 4, EV_NO_ACTION); /* EventType; the SHA-1 digest stays zero */
	le32(p + 28, SPEC_ID_LEN); /* EventSize */
	p += HDR_EVENT_FIXED;
	memcpy(p, SPEC_ID_SIG, 16);
	le32(p + 16, 0); /* platformClass: client */
	p[20] = 0;       /* specVersionMinor */
	p[21] = 2;       /* specVersionMajor: 2.0 */
	p[22] = 0;       /* specErrata */
	p[23] = 2;       /* uintnSize: 2 = UINT64 */
	le32(p + 24, 1); /* numberOfAlgorithms */
	le16(p + 28, TPM_ALG_SHA256);
	le16(p + 30, SHA256_LEN);
	p[32] = 0;       /* vendorInfoSize */
	l->buf = buf;
	l->cap = cap;
	l->len = HDR_EVENT_FIXED + SPEC_ID_LEN;
	return 0;
}

int eventlog_append(struct eventlog *l, uint32_t pcr, uint32_t type,
		    const uint8_t digest[SHA256_LEN], const void *data, uint32_t len)
{
	const size_t fixed = 4 + 4 + 4 + 2 + SHA256_LEN + 4;
	uint8_t *p;

	if (pcr >= EVENTLOG_PCRS || len > EVENTLOG_DATA_MAX || (len && !data))
		return -EINVAL;
	if (!l->buf || l->len > l->cap || fixed + len > l->cap - l->len)
		return -ENOSPC;
	p = l->buf + l->len;
	le32(p, pcr);
	le32(p + 4, type);
	le32(p + 8, 1); /* TPML_DIGEST_VALUES.count */
	le16(p + 12, TPM_ALG_SHA256);
	memcpy(p + 14, digest, SHA256_LEN);
	le32(p + 14 + SHA256_LEN, len);
	if (len)
		memcpy(p + fixed, data, len);
	l->len += fixed + len;
	l->events++;
	return 0;
}

static int bad(char *err, size_t errlen, size_t off, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "event log offset %zu: %s", off, why);
	return -EINVAL;
}

/* Bytes left from off; all offsets stay <= len. */
#define NEED(n, why)                                                \
	do {                                                        \
		if ((size_t)(n) > len - off)                        \
			return bad(err, errlen, off, why);          \
	} while (0)

int eventlog_parse(const uint8_t *log, size_t len,
		   int (*cb)(void *opaque, const struct eventlog_event *ev), void *opaque,
		   char *err, size_t errlen)
{
	struct { uint16_t alg, size; } algs[MAX_ALGS];
	uint32_t nalgs, hdr_size, i, count;
	size_t off = 0, spec;
	int events = 0, r;
	bool sha256 = false;

	if (!log)
		return bad(err, errlen, 0, "no log");
	/* The header event, in the SHA-1 format. */
	NEED(HDR_EVENT_FIXED, "truncated header event");
	if (rd32(log) != 0 || rd32(log + 4) != EV_NO_ACTION)
		return bad(err, errlen, 0, "first event is not PCR 0 EV_NO_ACTION");
	hdr_size = rd32(log + 28);
	off = HDR_EVENT_FIXED;
	spec = off;
	NEED(hdr_size, "header event data runs past the end");
	if (hdr_size < 16 + 4 + 4 + 4 || memcmp(log + spec, SPEC_ID_SIG, 16))
		return bad(err, errlen, spec, "no \"Spec ID Event03\" signature");
	if (log[spec + 21] != 2)
		return bad(err, errlen, spec + 21, "Spec ID event: not spec version 2");
	if (log[spec + 23] != 1 && log[spec + 23] != 2)
		return bad(err, errlen, spec + 23, "Spec ID event: bad uintnSize");
	nalgs = rd32(log + spec + 24);
	if (!nalgs || nalgs > MAX_ALGS || 28 + 4 * (size_t)nalgs + 1 > hdr_size)
		return bad(err, errlen, spec + 24, "Spec ID event: bad numberOfAlgorithms");
	for (i = 0; i < nalgs; i++) {
		algs[i].alg = rd16(log + spec + 28 + 4 * i);
		algs[i].size = rd16(log + spec + 30 + 4 * i);
		if (!algs[i].size || algs[i].size > 64)
			return bad(err, errlen, spec + 28 + 4 * i, "Spec ID event: bad digest size");
		if (algs[i].alg == TPM_ALG_SHA256) {
			if (algs[i].size != SHA256_LEN)
				return bad(err, errlen, spec + 28 + 4 * i,
					   "Spec ID event: SHA-256 with a size other than 32");
			sha256 = true;
		}
	}
	if (!sha256)
		return bad(err, errlen, spec + 24, "Spec ID event: no SHA-256 bank");
	/* vendorInfoSize + vendorInfo must end exactly at the header event's end. */
	if (28 + 4 * (size_t)nalgs + 1 + log[spec + 28 + 4 * nalgs] != hdr_size)
		return bad(err, errlen, spec, "Spec ID event: size does not match its contents");
	off = spec + hdr_size;

	/* TCG_PCR_EVENT2 entries; each consumes at least 12 bytes, so this loop is bounded. */
	while (off < len) {
		struct eventlog_event ev;
		bool have = false;
		size_t start = off;

		memset(&ev, 0, sizeof(ev));
		NEED(12, "truncated event header");
		ev.pcr = rd32(log + off);
		ev.type = rd32(log + off + 4);
		count = rd32(log + off + 8);
		off += 12;
		if (ev.pcr >= EVENTLOG_PCRS)
			return bad(err, errlen, start, "PCR index above 23");
		if (count != nalgs)
			return bad(err, errlen, start + 8,
				   "digest count differs from the Spec ID event's algorithms");
		for (i = 0; i < count; i++) {
			uint16_t alg, size = 0;
			uint32_t k;

			NEED(2, "truncated digest");
			alg = rd16(log + off);
			off += 2;
			for (k = 0; k < nalgs; k++)
				if (algs[k].alg == alg)
					size = algs[k].size;
			if (!size)
				return bad(err, errlen, off - 2, "digest of an algorithm not in the header");
			NEED(size, "truncated digest");
			if (alg == TPM_ALG_SHA256) {
				memcpy(ev.digest, log + off, SHA256_LEN);
				have = true;
			}
			off += size;
		}
		if (!have)
			return bad(err, errlen, start, "event without a SHA-256 digest");
		NEED(4, "truncated event size");
		ev.len = rd32(log + off);
		off += 4;
		if (ev.len > EVENTLOG_DATA_MAX)
			return bad(err, errlen, off - 4, "event data larger than 64 KiB");
		NEED(ev.len, "event data runs past the end");
		ev.data = log + off;
		off += ev.len;
		events++;
		if (cb) {
			r = cb(opaque, &ev);
			if (r)
				return r;
		}
	}
	return events;
}

int pcr_extend_sw(uint8_t pcr[SHA256_LEN], const uint8_t digest[SHA256_LEN])
{
	uint8_t buf[2 * SHA256_LEN];

	memcpy(buf, pcr, SHA256_LEN);
	memcpy(buf + SHA256_LEN, digest, SHA256_LEN);
	return digest_sha256(buf, sizeof(buf), pcr);
}

struct replay {
	uint8_t (*pcrs)[SHA256_LEN];
	uint32_t touched;
};

static int replay_one(void *opaque, const struct eventlog_event *ev)
{
	struct replay *r = opaque;

	if (ev->type == EV_NO_ACTION)
		return 0;
	r->touched |= 1U << ev->pcr;
	return pcr_extend_sw(r->pcrs[ev->pcr], ev->digest);
}

int eventlog_replay(const uint8_t *log, size_t len, uint8_t pcrs[EVENTLOG_PCRS][SHA256_LEN],
		    uint32_t *touched, char *err, size_t errlen)
{
	struct replay r = { .pcrs = pcrs };
	int n;

	memset(pcrs, 0, EVENTLOG_PCRS * SHA256_LEN);
	n = eventlog_parse(log, len, replay_one, &r, err, errlen);
	if (n < 0)
		return n;
	if (touched)
		*touched = r.touched;
	return 0;
}
