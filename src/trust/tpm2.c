// SPDX-License-Identifier: MIT
/* TPM 2.0 command builders and strict response parsers; see tpm2.h. */
#include "trust/tpm2.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#define TPM_RS_PW          0x40000009U
#define TPM_ALG_ECC        0x0023
#define TPM_ALG_SHA256     0x000b
#define TPM_ALG_NULL       0x0010
#define TPM_ALG_ECDSA      0x0018
#define TPM_ECC_NIST_P256  0x0003
#define TPM_GENERATED      0xff544347U
#define TPM_ST_ATTEST_QUOTE 0x8018

/* Object attributes of the attestation key (Part 2, 8.3). */
#define OA_FIXED_TPM            (1U << 1)
#define OA_FIXED_PARENT         (1U << 4)
#define OA_SENSITIVE_DATA_ORIGIN (1U << 5)
#define OA_USER_WITH_AUTH       (1U << 6)
#define OA_NO_DA                (1U << 10)
#define OA_RESTRICTED           (1U << 16)
#define OA_SIGN                 (1U << 18)
#define AK_ATTRS (OA_FIXED_TPM | OA_FIXED_PARENT | OA_SENSITIVE_DATA_ORIGIN | \
		  OA_USER_WITH_AUTH | OA_NO_DA | OA_RESTRICTED | OA_SIGN)

/* ---- writer --------------------------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t cap, len;
	bool err;
};

static void w_bytes(struct wr *w, const void *d, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void w8(struct wr *w, uint8_t v) { w_bytes(w, &v, 1); }
static void w16(struct wr *w, uint16_t v) { uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v }; w_bytes(w, b, 2); }
static void w32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, 4);
}

static void put32_at(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void w_begin(struct wr *w, uint8_t *buf, size_t cap, uint16_t tag, uint32_t code)
{
	*w = (struct wr){ .p = buf, .cap = buf ? cap : 0 };
	w16(w, tag);
	w32(w, 0); /* size, patched by w_end */
	w32(w, code);
}

static int w_end(struct wr *w)
{
	if (w->err || w->len > 0x7fffffff)
		return -ENOSPC;
	put32_at(w->p + 2, (uint32_t)w->len);
	return (int)w->len;
}

/* Authorization area with one password session (an empty password when len is 0). */
static void w_pw_session(struct wr *w, const uint8_t *pw, size_t len)
{
	if (len > TPM2_AUTH_MAX) {
		w->err = true;
		return;
	}
	w32(w, (uint32_t)(4 + 2 + 1 + 2 + len)); /* authorizationSize */
	w32(w, TPM_RS_PW);
	w16(w, 0); /* nonceCaller */
	w8(w, 0);  /* sessionAttributes */
	w16(w, (uint16_t)len);
	w_bytes(w, pw, len);
}

static void w_pcr_selection(struct wr *w, uint32_t mask)
{
	w32(w, 1); /* one bank */
	w16(w, TPM_ALG_SHA256);
	w8(w, 3);  /* sizeofSelect: PCRs 0-23 */
	w8(w, (uint8_t)mask);
	w8(w, (uint8_t)(mask >> 8));
	w8(w, (uint8_t)(mask >> 16));
}

/* ---- reader --------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t left;
	bool err;
};

static const uint8_t *r_bytes(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->err || n > r->left) {
		r->err = true;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint8_t r8(struct rd *r) { const uint8_t *p = r_bytes(r, 1); return p ? p[0] : 0; }
static uint16_t r16(struct rd *r) { const uint8_t *p = r_bytes(r, 2); return p ? (uint16_t)(p[0] << 8 | p[1]) : 0; }
static uint32_t r32(struct rd *r)
{
	const uint8_t *p = r_bytes(r, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

/* A TPM2B: size then bytes; the size must be <= max. *len may be NULL to skip. */
static const uint8_t *r_tpm2b(struct rd *r, size_t max, uint16_t *len)
{
	uint16_t n = r16(r);

	if (n > max)
		r->err = true;
	if (len)
		*len = n;
	return r_bytes(r, n);
}

/* A sub-reader over the next n bytes, which this reader skips. */
static struct rd r_sub(struct rd *r, size_t n)
{
	const uint8_t *p = r_bytes(r, n);

	return p ? (struct rd){ .p = p, .left = n } : (struct rd){ .err = true };
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int tpm2_parse_header(const uint8_t *rsp, size_t len, uint32_t *rc)
{
	uint16_t tag;
	uint32_t code;

	if (rc)
		*rc = 0;
	if (!rsp || len < TPM2_HDR_LEN)
		return -EPROTO;
	tag = (uint16_t)(rsp[0] << 8 | rsp[1]);
	if ((tag != TPM2_ST_NO_SESSIONS && tag != TPM2_ST_SESSIONS) || be32(rsp + 2) != len)
		return -EPROTO;
	code = be32(rsp + 6);
	if (rc)
		*rc = code;
	if (code) /* an error response is exactly a header */
		return len == TPM2_HDR_LEN ? -EREMOTEIO : -EPROTO;
	return 0;
}

int tpm2_command_header(const uint8_t *cmd, size_t len, uint16_t *tag, uint32_t *code)
{
	uint16_t t;

	if (!cmd || len < TPM2_HDR_LEN)
		return -EPROTO;
	t = (uint16_t)(cmd[0] << 8 | cmd[1]);
	if ((t != TPM2_ST_NO_SESSIONS && t != TPM2_ST_SESSIONS) || be32(cmd + 2) != len)
		return -EPROTO;
	if (tag)
		*tag = t;
	if (code)
		*code = be32(cmd + 6);
	return 0;
}

int tpm2_build_error(uint8_t *buf, size_t cap, uint32_t rc)
{
	struct wr w;

	w_begin(&w, buf, cap, TPM2_ST_NO_SESSIONS, rc);
	return w_end(&w);
}

/* Start parsing a successful response: header, then `handles` handles, then
 * (with sessions) the parameterSize, returning a reader over the parameters. */
static int rsp_begin(const uint8_t *rsp, size_t len, uint32_t *rc, unsigned handles,
		     uint32_t *handle, struct rd *params)
{
	struct rd r;
	int e;

	e = tpm2_parse_header(rsp, len, rc);
	if (e)
		return e;
	r = (struct rd){ .p = rsp + TPM2_HDR_LEN, .left = len - TPM2_HDR_LEN };
	if (handles) {
		uint32_t h = r32(&r);

		if (handle)
			*handle = h;
	}
	if (rsp[1] == (TPM2_ST_SESSIONS & 0xff)) {
		uint32_t psize = r32(&r);

		*params = r_sub(&r, psize);
		/* What follows is the response auth area, which lvmm does not need. */
	} else {
		*params = r;
	}
	return r.err || params->err ? -EPROTO : 0;
}

/* ---- commands ------------------------------------------------------------- */

int tpm2_build_startup_clear(uint8_t *buf, size_t cap)
{
	struct wr w;

	w_begin(&w, buf, cap, TPM2_ST_NO_SESSIONS, TPM2_CC_STARTUP);
	w16(&w, TPM2_SU_CLEAR);
	return w_end(&w);
}

int tpm2_build_pcr_extend(uint8_t *buf, size_t cap, uint32_t pcr,
			  const uint8_t digest[SHA256_LEN])
{
	struct wr w;

	if (pcr >= TPM2_PCR_COUNT)
		return -EINVAL;
	w_begin(&w, buf, cap, TPM2_ST_SESSIONS, TPM2_CC_PCR_EXTEND);
	w32(&w, pcr); /* a PCR's handle is its index */
	w_pw_session(&w, NULL, 0);
	w32(&w, 1); /* TPML_DIGEST_VALUES.count */
	w16(&w, TPM_ALG_SHA256);
	w_bytes(&w, digest, SHA256_LEN);
	return w_end(&w);
}

int tpm2_build_pcr_read(uint8_t *buf, size_t cap, uint32_t mask)
{
	struct wr w;

	if (!mask || mask >> TPM2_PCR_COUNT)
		return -EINVAL;
	w_begin(&w, buf, cap, TPM2_ST_NO_SESSIONS, TPM2_CC_PCR_READ);
	w_pcr_selection(&w, mask);
	return w_end(&w);
}

int tpm2_parse_pcr_read(const uint8_t *rsp, size_t len, uint32_t asked,
			uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN], uint32_t *got, uint32_t *rc)
{
	uint32_t nsel, ndig, mask = 0, i;
	struct rd r;
	int e;

	e = rsp_begin(rsp, len, rc, 0, NULL, &r);
	if (e)
		return e;
	(void)r32(&r); /* pcrUpdateCounter */
	nsel = r32(&r);
	if (nsel > 1) /* lvmm asks for one bank; the TPM answers with at most that */
		return -EPROTO;
	if (nsel == 1) {
		const uint8_t *sel;
		uint8_t n;

		if (r16(&r) != TPM_ALG_SHA256)
			return -EPROTO;
		n = r8(&r);
		if (n < 1 || n > 4)
			return -EPROTO;
		sel = r_bytes(&r, n);
		if (!sel)
			return -EPROTO;
		for (i = 0; i < n; i++)
			mask |= (uint32_t)sel[i] << (8 * i);
		if (n == 4 && sel[3])
			return -EPROTO; /* PCRs above 23 */
	}
	if (mask & ~asked)
		return -EPROTO;
	ndig = r32(&r);
	if (ndig != (uint32_t)__builtin_popcount(mask) || ndig > 8)
		return -EPROTO;
	/* Digests come in selection order, lowest PCR first. */
	for (i = 0; i < TPM2_PCR_COUNT; i++) {
		const uint8_t *d;
		uint16_t n;

		if (!(mask & (1U << i)))
			continue;
		d = r_tpm2b(&r, SHA256_LEN, &n);
		if (!d || n != SHA256_LEN)
			return -EPROTO;
		memcpy(pcrs[i], d, SHA256_LEN);
	}
	if (r.err || r.left)
		return -EPROTO;
	*got = mask;
	return 0;
}

int tpm2_build_platform_change_auth(uint8_t *buf, size_t cap, const uint8_t *auth,
				    size_t auth_len, const uint8_t *new_auth, size_t new_len)
{
	struct wr w;

	if (new_len > TPM2_AUTH_MAX || auth_len > TPM2_AUTH_MAX)
		return -EINVAL;
	w_begin(&w, buf, cap, TPM2_ST_SESSIONS, TPM2_CC_HIERARCHY_CHANGE_AUTH);
	w32(&w, TPM2_RH_PLATFORM);
	w_pw_session(&w, auth, auth_len);
	w16(&w, (uint16_t)new_len);
	w_bytes(&w, new_auth, new_len);
	return w_end(&w);
}

/* The AK's TPMT_PUBLIC template (unique left empty: the TPM derives the key from its seed). */
static void w_ak_template(struct wr *w)
{
	w16(w, TPM_ALG_ECC);
	w16(w, TPM_ALG_SHA256); /* nameAlg */
	w32(w, AK_ATTRS);
	w16(w, 0);              /* authPolicy: none */
	w16(w, TPM_ALG_NULL);   /* symmetric: none (a signing key) */
	w16(w, TPM_ALG_ECDSA);  /* scheme */
	w16(w, TPM_ALG_SHA256); /*   its hash */
	w16(w, TPM_ECC_NIST_P256);
	w16(w, TPM_ALG_NULL);   /* kdf */
	w16(w, 0);              /* unique.x */
	w16(w, 0);              /* unique.y */
}

int tpm2_build_create_ak(uint8_t *buf, size_t cap, const uint8_t *auth, size_t auth_len)
{
	struct wr w, t;
	uint8_t tmpl[64];

	t = (struct wr){ .p = tmpl, .cap = sizeof(tmpl) };
	w_ak_template(&t);
	if (t.err)
		return -ENOSPC;
	w_begin(&w, buf, cap, TPM2_ST_SESSIONS, TPM2_CC_CREATE_PRIMARY);
	w32(&w, TPM2_RH_PLATFORM);
	w_pw_session(&w, auth, auth_len);
	w16(&w, 4); /* inSensitive: TPM2B_SENSITIVE_CREATE */
	w16(&w, 0); /*   userAuth: empty (the handle never outlives one supervisor job) */
	w16(&w, 0); /*   data: none */
	w16(&w, (uint16_t)t.len); /* inPublic */
	w_bytes(&w, tmpl, t.len);
	w16(&w, 0); /* outsideInfo */
	w32(&w, 0); /* creationPCR: none */
	return w_end(&w);
}

int tpm2_parse_create_ak(const uint8_t *rsp, size_t len, struct tpm2_ak *ak, uint32_t *rc)
{
	const uint8_t *x, *y, *name;
	uint16_t pubsize, xl, yl, nl;
	struct rd r, pub;
	int e;

	memset(ak, 0, sizeof(*ak));
	e = rsp_begin(rsp, len, rc, 1, &ak->handle, &r);
	if (e)
		return e;
	pubsize = r16(&r);
	pub = r_sub(&r, pubsize);
	/* The public area must be exactly the template we asked for, plus the point. */
	if (r16(&pub) != TPM_ALG_ECC || r16(&pub) != TPM_ALG_SHA256 || r32(&pub) != AK_ATTRS ||
	    r16(&pub) != 0 || r16(&pub) != TPM_ALG_NULL || r16(&pub) != TPM_ALG_ECDSA ||
	    r16(&pub) != TPM_ALG_SHA256 || r16(&pub) != TPM_ECC_NIST_P256 ||
	    r16(&pub) != TPM_ALG_NULL)
		return -EPROTO;
	x = r_tpm2b(&pub, TPM2_ECC_COORD, &xl);
	y = r_tpm2b(&pub, TPM2_ECC_COORD, &yl);
	if (pub.err || pub.left || !x || !y || xl != TPM2_ECC_COORD || yl != TPM2_ECC_COORD)
		return -EPROTO;
	memcpy(ak->x, x, TPM2_ECC_COORD);
	memcpy(ak->y, y, TPM2_ECC_COORD);
	(void)r_tpm2b(&r, 0xffff, NULL); /* creationData */
	(void)r_tpm2b(&r, 64, NULL);     /* creationHash */
	(void)r16(&r);                   /* creationTicket: tag */
	(void)r32(&r);                   /*   hierarchy */
	(void)r_tpm2b(&r, 64, NULL);     /*   digest */
	name = r_tpm2b(&r, sizeof(ak->name), &nl);
	if (r.err || !name || nl != sizeof(ak->name))
		return -EPROTO;
	memcpy(ak->name, name, nl);
	return 0;
}

int tpm2_build_quote(uint8_t *buf, size_t cap, uint32_t key, const uint8_t *nonce,
		     size_t nonce_len, uint32_t mask)
{
	struct wr w;

	if (nonce_len > TPM2_NONCE_MAX || !mask || mask >> TPM2_PCR_COUNT)
		return -EINVAL;
	w_begin(&w, buf, cap, TPM2_ST_SESSIONS, TPM2_CC_QUOTE);
	w32(&w, key);
	w_pw_session(&w, NULL, 0);
	w16(&w, (uint16_t)nonce_len); /* qualifyingData */
	w_bytes(&w, nonce, nonce_len);
	w16(&w, TPM_ALG_NULL); /* inScheme: the key's own (ECDSA-SHA256) */
	w_pcr_selection(&w, mask);
	return w_end(&w);
}

int tpm2_parse_quote(const uint8_t *rsp, size_t len, struct tpm2_quote *q, uint32_t *rc)
{
	const uint8_t *att, *sig_start, *rr, *ss;
	uint16_t alen, rl, sl;
	struct rd r;
	int e;

	memset(q, 0, sizeof(*q));
	e = rsp_begin(rsp, len, rc, 0, NULL, &r);
	if (e)
		return e;
	att = r_tpm2b(&r, TPM2_ATTEST_MAX, &alen);
	if (!att || !alen)
		return -EPROTO;
	memcpy(q->attest, att, alen);
	q->attest_len = alen;
	sig_start = r.p;
	if (r16(&r) != TPM_ALG_ECDSA || r16(&r) != TPM_ALG_SHA256)
		return -EPROTO;
	rr = r_tpm2b(&r, TPM2_ECC_COORD, &rl);
	ss = r_tpm2b(&r, TPM2_ECC_COORD, &sl);
	if (r.err || !rr || !ss || !rl || !sl)
		return -EPROTO;
	/* Left-pad r and s to 32 bytes (a TPM may drop leading zeros). */
	memcpy(q->r + TPM2_ECC_COORD - rl, rr, rl);
	memcpy(q->s + TPM2_ECC_COORD - sl, ss, sl);
	q->sig_len = (uint16_t)(r.p - sig_start);
	if (q->sig_len > sizeof(q->sig))
		return -EPROTO;
	memcpy(q->sig, sig_start, q->sig_len);
	return 0;
}

int tpm2_check_attest(const uint8_t *attest, size_t len, const uint8_t *nonce, size_t nonce_len,
		      uint32_t mask, uint8_t pcr_digest[SHA256_LEN])
{
	struct rd r = { .p = attest, .left = len };
	const uint8_t *extra, *sel, *dig;
	uint16_t xl, dl;
	uint32_t got = 0;
	uint8_t n;

	if (r32(&r) != TPM_GENERATED || r16(&r) != TPM_ST_ATTEST_QUOTE)
		return -EPROTO;
	(void)r_tpm2b(&r, 2 + 64, NULL); /* qualifiedSigner */
	extra = r_tpm2b(&r, TPM2_NONCE_MAX + 2, &xl);
	(void)r_bytes(&r, 8 + 4 + 4 + 1 + 8); /* clockInfo, firmwareVersion */
	if (r32(&r) != 1 || r16(&r) != TPM_ALG_SHA256)
		return -EPROTO;
	n = r8(&r);
	if (n < 1 || n > 4)
		return -EPROTO;
	sel = r_bytes(&r, n);
	dig = r_tpm2b(&r, SHA256_LEN, &dl);
	if (r.err || r.left || !sel || !dig || dl != SHA256_LEN || (xl && !extra))
		return -EPROTO;
	for (unsigned i = 0; i < n; i++)
		got |= (uint32_t)sel[i] << (8 * i);
	if (xl != nonce_len || (xl && memcmp(extra, nonce, xl)) || got != mask)
		return -EBADMSG;
	memcpy(pcr_digest, dig, SHA256_LEN);
	return 0;
}

int tpm2_build_flush(uint8_t *buf, size_t cap, uint32_t handle)
{
	struct wr w;

	w_begin(&w, buf, cap, TPM2_ST_NO_SESSIONS, TPM2_CC_FLUSH_CONTEXT);
	w32(&w, handle);
	return w_end(&w);
}

int tpm2_ak_pem(const struct tpm2_ak *ak, char *pem, size_t cap)
{
	/* DER SubjectPublicKeyInfo for id-ecPublicKey on prime256v1 (RFC 5480), up to the point. */
	static const uint8_t spki_p256[] = {
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
	};
	static const char head[] = "-----BEGIN PUBLIC KEY-----\n";
	static const char tail[] = "-----END PUBLIC KEY-----\n";
	uint8_t der[sizeof(spki_p256) + 1 + 2 * TPM2_ECC_COORD];
	unsigned char b64[4 * ((sizeof(der) + 2) / 3) + 1];
	size_t n = 0, i, k;
	int blen;

	memcpy(der, spki_p256, sizeof(spki_p256));
	der[sizeof(spki_p256)] = 0x04; /* uncompressed point */
	memcpy(der + sizeof(spki_p256) + 1, ak->x, TPM2_ECC_COORD);
	memcpy(der + sizeof(spki_p256) + 1 + TPM2_ECC_COORD, ak->y, TPM2_ECC_COORD);
	blen = EVP_EncodeBlock(b64, der, sizeof(der));
	if (blen <= 0)
		return -EIO;
	/* PEM: 64 base64 characters per line. */
	if (cap < sizeof(head) + sizeof(tail) + (size_t)blen + (size_t)blen / 64 + 2)
		return -ENOSPC;
	memcpy(pem, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	for (i = 0; i < (size_t)blen; i += 64) {
		k = MIN((size_t)blen - i, 64);
		memcpy(pem + n, b64 + i, k);
		n += k;
		pem[n++] = '\n';
	}
	memcpy(pem + n, tail, sizeof(tail));
	return 0;
}
