// SPDX-License-Identifier: MIT
/*
 * Fuzz the verified-boot inputs (src/trust/manifest.c) and the event-log
 * parser (src/trust/eventlog.c).
 *
 * Input: mode byte, then:
 *   0  manifest text: parse, then check a fixed boot set against it
 *   1  manifest text, signed here with a fixed Ed25519 key, through
 *      manifest_verify() (so the fuzzer gets past the signature)
 *   2  siglen:u8, signature bytes, then a "PEM public key": the signature
 *      and key handling around OpenSSL
 *   3  an event log: parse and replay
 *
 * Invariants: a parsed manifest has 1..16 entries with non-empty
 * NUL-terminated names without '/', strictly increasing line numbers;
 * a boot-set failure names a file and carries the digests it should;
 * a signed manifest verifies iff it parses and matches.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fuzz/fuzz.h"
#include "trust/eventlog.h"
#include "trust/manifest.h"

/* A throw-away test key (openssl genpkey -algorithm ed25519); it signs nothing real. */
static const char priv_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEILKEbSnyJJvaYfX6NjCFUD8DrOSJwWOyIcPLQEGvFsC2\n"
	"-----END PRIVATE KEY-----\n";

static EVP_PKEY *key;
static char pub_pem[256];
static size_t pub_len;

static void setup(void)
{
	BIO *b;

	if (key)
		return;
	FUZZ_CHECK(trust_crypto_init() == 0);
	b = BIO_new_mem_buf(priv_pem, -1);
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	FUZZ_CHECK(key != NULL);
	b = BIO_new(BIO_s_mem());
	FUZZ_CHECK(PEM_write_bio_PUBKEY(b, key) == 1);
	pub_len = (size_t)BIO_read(b, pub_pem, sizeof(pub_pem) - 1);
	BIO_free(b);
}

static struct boot_set fixed_boot(void)
{
	struct boot_set b;

	memset(&b, 0, sizeof(b));
	strcpy(b.kernel_name, "vmlinuz");
	strcpy(b.initrd_name, "initrd.img");
	for (int i = 0; i < SHA256_LEN; i++) {
		b.kernel[i] = (uint8_t)i;
		b.initrd[i] = (uint8_t)(i * 3);
		b.cmdline[i] = (uint8_t)(i * 7);
	}
	return b;
}

static void check_manifest(const struct manifest *m)
{
	unsigned i, last = 0;

	FUZZ_CHECK(m->n >= 1 && m->n <= MANIFEST_MAX_ENTRIES);
	for (i = 0; i < m->n; i++) {
		size_t n = strnlen(m->e[i].name, sizeof(m->e[i].name));

		FUZZ_CHECK(n > 0 && n <= MANIFEST_NAME_MAX);
		FUZZ_CHECK(!strchr(m->e[i].name, '/'));
		FUZZ_CHECK(m->e[i].line > last);
		last = m->e[i].line;
	}
}

static void check_failure(const struct verify_failure *f, int r)
{
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EINVAL);
	if (r == -EBADMSG && strcmp(f->file, "signature")) {
		FUZZ_CHECK(f->file[0]);
		/* A mismatch has both digests; a missing entry only the actual one; an extra one only the expected. */
		FUZZ_CHECK(f->expected[0] || f->actual[0]);
		FUZZ_CHECK(!f->expected[0] || strlen(f->expected) == SHA256_HEX_LEN);
		FUZZ_CHECK(!f->actual[0] || strlen(f->actual) == SHA256_HEX_LEN);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct manifest m;
	struct boot_set b = fixed_boot();
	struct verify_failure f;
	char err[256];
	uint8_t mode;
	int r;

	if (!size)
		return 0;
	memset(&f, 0, sizeof(f));
	setup();
	mode = data[0] % 4;
	data++;
	size--;
	switch (mode) {
	case 0:
		r = manifest_parse((const char *)data, size, &m, err, sizeof(err));
		if (r) {
			FUZZ_CHECK(r == -EINVAL && err[0]);
			break;
		}
		check_manifest(&m);
		r = manifest_check_boot_set(&m, &b, &f);
		check_failure(&f, r);
		break;
	case 1: {
		uint8_t sig[ED25519_SIG_LEN];
		size_t slen = sizeof(sig);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int parsed;

		FUZZ_CHECK(ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1);
		FUZZ_CHECK(EVP_DigestSign(ctx, sig, &slen, data, size) == 1);
		EVP_MD_CTX_free(ctx);
		r = manifest_verify(data, size, sig, slen, pub_pem, pub_len, &b, &f);
		check_failure(&f, r);
		parsed = manifest_parse((const char *)data, size, &m, err, sizeof(err)) == 0;
		/* Signed correctly: only the manifest's own contents can fail it. */
		FUZZ_CHECK(parsed ? r != -EINVAL : r == -EINVAL);
		FUZZ_CHECK(strcmp(f.file, "signature") || r == 0);
		break;
	}
	case 2: {
		size_t siglen = size ? data[0] : 0;

		if (size)
			data++, size--;
		siglen = MIN(siglen, size);
		r = manifest_verify_signature("x", 1, data, siglen, (const char *)data + siglen,
					      size - siglen, err, sizeof(err));
		/* No key from this input can have signed "x" with these bytes... unless it did. */
		FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EBADMSG || r == -EIO);
		break;
	}
	case 3: {
		static uint8_t pcrs[EVENTLOG_PCRS][SHA256_LEN];
		uint32_t touched = 0;

		r = eventlog_replay(data, size, pcrs, &touched, err, sizeof(err));
		FUZZ_CHECK(r == 0 || (r == -EINVAL && err[0]));
		break;
	}
	default:
		break;
	}
	return 0;
}
