// SPDX-License-Identifier: MIT
/*
 * Signed boot manifests; see manifest.h and docs/trust.md.
 *
 * Runs in the supervisor on operator-supplied files (the manifest, its
 * signature and the key are read by the supervisor, never by a
 * partition), but treats them as untrusted anyway: bounded sizes, every
 * byte checked, and the signature checked before the manifest is parsed.
 */
#include "trust/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A printable representation of a name for messages: bounded, no control bytes. */
static void shown(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, k = 0;

	for (i = 0; i < n && k + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
		else
			out[k++] = (char)c;
	}
	if (i < n && k + 4 <= cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = 0;
}

static int parse_line(const char *s, size_t n, unsigned line, struct manifest *m, char *err,
		      size_t errlen)
{
	struct manifest_entry *e;
	const char *name;
	size_t i, nlen;
	char buf[80];

	if (!n) {
		errf(err, errlen, "line %u: empty line", line);
		return -EINVAL;
	}
	if (s[0] == '\\') {
		errf(err, errlen, "line %u: escaped file names (a leading '\\') are not supported",
		     line);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			errf(err, errlen, "line %u: carriage return (DOS line ending?)", line);
			return -EINVAL;
		}
		if (!s[i]) {
			errf(err, errlen, "line %u: NUL byte", line);
			return -EINVAL;
		}
	}
	for (i = 0; i < SHA256_HEX_LEN; i++) {
		if (i >= n || !is_hex(s[i])) {
			errf(err, errlen,
			     "line %u: expected 64 hex digits (a SHA-256) at the start of the line",
			     line);
			return -EINVAL;
		}
	}
	if (n < SHA256_HEX_LEN + 2 || s[SHA256_HEX_LEN] != ' ' ||
	    (s[SHA256_HEX_LEN + 1] != ' ' && s[SHA256_HEX_LEN + 1] != '*')) {
		errf(err, errlen,
		     "line %u: expected two spaces or \" *\" after the 64-digit SHA-256, then a name",
		     line);
		return -EINVAL;
	}
	name = s + SHA256_HEX_LEN + 2;
	nlen = n - SHA256_HEX_LEN - 2;
	if (!nlen) {
		errf(err, errlen, "line %u: no file name after the digest", line);
		return -EINVAL;
	}
	if (nlen > MANIFEST_NAME_MAX) {
		errf(err, errlen, "line %u: name is %zu bytes; at most %d", line, nlen,
		     MANIFEST_NAME_MAX);
		return -EINVAL;
	}
	for (i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/') {
			shown(name, nlen, buf, sizeof(buf));
			errf(err, errlen,
			     "line %u: '%s' has a directory; use the file's basename", line, buf);
			return -EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			errf(err, errlen, "line %u: control character in the name", line);
			return -EINVAL;
		}
	}
	for (i = 0; i < m->n; i++) {
		if (strlen(m->e[i].name) == nlen && !memcmp(m->e[i].name, name, nlen)) {
			shown(name, nlen, buf, sizeof(buf));
			errf(err, errlen, "line %u: duplicate entry '%s' (first on line %u)", line,
			     buf, m->e[i].line);
			return -EINVAL;
		}
	}
	if (m->n == MANIFEST_MAX_ENTRIES) {
		errf(err, errlen, "line %u: more than %d entries", line, MANIFEST_MAX_ENTRIES);
		return -EINVAL;
	}
	e = &m->e[m->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, nlen);
	e->line = line;
	return digest_from_hex(s, SHA256_LEN, e->digest);
}

int manifest_parse(const char *text, size_t len, struct manifest *m, char *err, size_t errlen)
{
	size_t pos = 0;
	unsigned line = 0;
	int r;

	memset(m, 0, sizeof(*m));
	if (!len) {
		errf(err, errlen, "the manifest is empty");
		return -EINVAL;
	}
	if (len > MANIFEST_MAX_BYTES) {
		errf(err, errlen, "the manifest is %zu bytes; at most %d", len, MANIFEST_MAX_BYTES);
		return -EINVAL;
	}
	/* At most MANIFEST_MAX_BYTES iterations: every line consumes a byte. */
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		line++;
		if (!nl) {
			errf(err, errlen,
			     "line %u: no newline at the end of the file (truncated manifest?)", line);
			return -EINVAL;
		}
		r = parse_line(text + pos, (size_t)(nl - (text + pos)), line, m, err, errlen);
		if (r)
			return r;
		pos = (size_t)(nl - text) + 1;
	}
	return 0;
}

int manifest_verify_signature(const void *msg, size_t msglen, const void *sig, size_t siglen,
			      const char *pem, size_t pemlen, char *err, size_t errlen)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	int r, v;

	if (trust_crypto_init()) {
		errf(err, errlen, "libcrypto failed to initialise");
		return -EIO;
	}
	if (!pemlen || pemlen > PUBKEY_PEM_MAX) {
		errf(err, errlen, "key: %zu bytes is not a PEM public key (at most %d)", pemlen,
		     PUBKEY_PEM_MAX);
		return -EINVAL;
	}
	if (siglen != ED25519_SIG_LEN) {
		errf(err, errlen, "signature: %zu bytes; an Ed25519 signature is %d bytes", siglen,
		     ED25519_SIG_LEN);
		return -EINVAL;
	}
	bio = BIO_new_mem_buf(pem, (int)pemlen);
	if (!bio) {
		r = -EIO;
		errf(err, errlen, "libcrypto: out of memory");
		goto out;
	}
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!key) {
		r = -EINVAL;
		errf(err, errlen,
		     "key: not a PEM public key (expected \"-----BEGIN PUBLIC KEY-----\", from "
		     "`openssl pkey -pubout`)");
		goto out;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
		r = -EINVAL;
		errf(err, errlen, "key: a %s key; lvmm verifies Ed25519 signatures only",
		     OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1) {
		r = -EIO;
		errf(err, errlen, "libcrypto: cannot set up Ed25519 verification");
		goto out;
	}
	/* Ed25519 is one-shot over the exact bytes (what pkeyutl -rawin signs). */
	v = EVP_DigestVerify(ctx, sig, siglen, msg, msglen);
	if (v == 1) {
		r = 0;
	} else if (v == 0) {
		r = -EBADMSG;
		errf(err, errlen,
		     "signature: does not verify with this key (wrong key, or the manifest changed "
		     "after it was signed)");
	} else {
		r = -EBADMSG;
		errf(err, errlen, "signature: malformed Ed25519 signature");
	}
out:
	/* Leave no queued libcrypto errors behind for the next, unrelated, call. */
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return r;
}

int manifest_key_digest(const char *pem, size_t pemlen, uint8_t out[SHA256_LEN])
{
	unsigned char *der = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	int r = -EINVAL, n;

	if (trust_crypto_init())
		return -EIO;
	if (!pemlen || pemlen > PUBKEY_PEM_MAX)
		return -EINVAL;
	bio = BIO_new_mem_buf(pem, (int)pemlen);
	if (bio)
		key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	n = key ? i2d_PUBKEY(key, &der) : -1;
	if (n > 0)
		r = digest_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	ERR_clear_error();
	EVP_PKEY_free(key);
	BIO_free(bio);
	return r;
}

static int set_name(char *dst, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!*base || strlen(base) > MANIFEST_NAME_MAX || !strcmp(base, MANIFEST_CMDLINE))
		return -EINVAL;
	strcpy(dst, base);
	return 0;
}

/* One image: through its mapping, or as it is filled (until fill_deadline_ns) when that is set. */
static int hash(int fd, uint8_t out[SHA256_LEN], uint64_t *size, uint64_t fill_deadline_ns)
{
	return fill_deadline_ns ? digest_sha256_filling(fd, out, size, fill_deadline_ns) :
				  digest_sha256_fd(fd, out, size);
}

static int hash_set(struct boot_set *b, const char *kernel_path, int kernel_fd,
		    const char *initrd_path, int initrd_fd, const char *cmdline,
		    uint64_t fill_deadline_ns)
{
	int r;

	memset(b, 0, sizeof(*b));
	if (!kernel_path || set_name(b->kernel_name, kernel_path))
		return -EINVAL;
	if (initrd_fd >= 0 && (!initrd_path || set_name(b->initrd_name, initrd_path) ||
			       !strcmp(b->initrd_name, b->kernel_name)))
		return -EINVAL;
	r = hash(kernel_fd, b->kernel, &b->kernel_size, fill_deadline_ns);
	if (r)
		return r;
	if (initrd_fd >= 0) {
		r = hash(initrd_fd, b->initrd, &b->initrd_size, fill_deadline_ns);
		if (r)
			return r;
	}
	cmdline = cmdline ? cmdline : "";
	return digest_sha256(cmdline, strlen(cmdline), b->cmdline);
}

int boot_set_hash(struct boot_set *b, const char *kernel_path, int kernel_fd,
		  const char *initrd_path, int initrd_fd, const char *cmdline)
{
	return hash_set(b, kernel_path, kernel_fd, initrd_path, initrd_fd, cmdline, 0);
}

int boot_set_hash_filling(struct boot_set *b, const char *kernel_path, int kernel_fd,
			  const char *initrd_path, int initrd_fd, const char *cmdline,
			  uint64_t deadline_ns)
{
	return hash_set(b, kernel_path, kernel_fd, initrd_path, initrd_fd, cmdline, deadline_ns);
}

static const struct manifest_entry *find(const struct manifest *m, const char *name)
{
	unsigned i;

	for (i = 0; i < m->n && i < MANIFEST_MAX_ENTRIES; i++)
		if (!strcmp(m->e[i].name, name))
			return &m->e[i];
	return NULL;
}

static int fail(struct verify_failure *f, const char *file, const uint8_t *expected,
		const uint8_t *actual, const char *reason)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->file, sizeof(f->file), "%s", file);
	if (expected)
		digest_to_hex(expected, SHA256_LEN, f->expected);
	if (actual)
		digest_to_hex(actual, SHA256_LEN, f->actual);
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	return -EBADMSG;
}

int manifest_check_boot_set(const struct manifest *m, const struct boot_set *b,
			    struct verify_failure *f)
{
	const struct { const char *name; const uint8_t *digest; } part[3] = {
		{ b->kernel_name, b->kernel },
		{ b->initrd_name, b->initrd },
		{ MANIFEST_CMDLINE, b->cmdline },
	};
	char reason[320];
	unsigned i, j;

	for (i = 0; i < 3; i++) {
		const struct manifest_entry *e;

		if (!part[i].name[0])
			continue; /* no initrd */
		e = find(m, part[i].name);
		if (!e) {
			snprintf(reason, sizeof(reason), "the manifest has no entry for '%s'",
				 part[i].name);
			return fail(f, part[i].name, NULL, part[i].digest, reason);
		}
		if (memcmp(e->digest, part[i].digest, SHA256_LEN)) {
			snprintf(reason, sizeof(reason),
				 "the SHA-256 of '%s' differs from the manifest's (line %u)",
				 part[i].name, e->line);
			return fail(f, part[i].name, e->digest, part[i].digest, reason);
		}
	}
	for (i = 0; i < m->n && i < MANIFEST_MAX_ENTRIES; i++) {
		bool known = false;

		for (j = 0; j < 3; j++)
			if (part[j].name[0] && !strcmp(m->e[i].name, part[j].name))
				known = true;
		if (!known) {
			snprintf(reason, sizeof(reason),
				 "line %u: extra entry '%s' is not part of this boot set", m->e[i].line,
				 m->e[i].name);
			return fail(f, m->e[i].name, m->e[i].digest, NULL, reason);
		}
	}
	return 0;
}

int manifest_verify(const void *manifest, size_t mlen, const void *sig, size_t siglen,
		    const char *pem, size_t pemlen, const struct boot_set *b,
		    struct verify_failure *f)
{
	struct manifest m;
	char err[256];
	int r;

	if (mlen > MANIFEST_MAX_BYTES) {
		snprintf(err, sizeof(err), "the manifest is %zu bytes; at most %d", mlen,
			 MANIFEST_MAX_BYTES);
		fail(f, "manifest", NULL, NULL, err);
		return -EINVAL;
	}
	r = manifest_verify_signature(manifest, mlen, sig, siglen, pem, pemlen, err, sizeof(err));
	if (r) {
		fail(f, strncmp(err, "key", 3) ? "signature" : "key", NULL, NULL, err);
		return r;
	}
	r = manifest_parse(manifest, mlen, &m, err, sizeof(err));
	if (r) {
		fail(f, "manifest", NULL, NULL, err);
		return r;
	}
	return manifest_check_boot_set(&m, b, f);
}
