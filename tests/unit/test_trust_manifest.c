// SPDX-License-Identifier: MIT
/*
 * Verified boot (src/trust/manifest.c, digest.c): the sha256sum-format
 * parser on well-formed and malformed manifests (each problem named with
 * its line), Ed25519 signatures made by the openssl CLI (good, wrong key,
 * truncated, altered manifest, not Ed25519, not PEM), boot sets checked
 * against a manifest (mismatch with both digests, missing entry, extra
 * entry), one-pass hashing of sealed memfds, and the exact openssl commands
 * docs/trust.md gives a newcomer, run from the document itself.
 */
#include <sys/mman.h>

#include "trust/digest.h"
#include "trust/manifest.h"
#include "unit/trust_test.h"
#include "unit/unit.h"

static char err[512];

static int parse(const char *text, struct manifest *m)
{
	err[0] = 0;
	return manifest_parse(text, strlen(text), m, err, sizeof(err));
}

#define H1 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H2 "60303AE22B998861BCE3B28F33EEC1BE758A213C86C93C076DBE9F558C11C752"
#define H3 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_parse_ok(void)
{
	struct manifest m;

	CHECK_EQ(parse(H1 "  vmlinuz\n" H2 " *initrd.img\n" H3 "  @cmdline\n", &m), 0);
	CHECK_EQ(m.n, 3);
	CHECK_STR(m.e[0].name, "vmlinuz");
	CHECK_STR(m.e[1].name, "initrd.img");
	CHECK_STR(m.e[2].name, "@cmdline");
	CHECK_EQ(m.e[1].line, 2);
	CHECK_EQ(m.e[0].digest[0], 0x9f);
	CHECK_EQ(m.e[1].digest[0], 0x60); /* upper-case hex, as sha256sum -c accepts */
	/* Names may contain spaces (everything after the separator is the name). */
	CHECK_EQ(parse(H1 "  my kernel\n", &m), 0);
	CHECK_STR(m.e[0].name, "my kernel");
}

static void test_parse_malformed(void)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "", "empty" },
		{ H1 "  vmlinuz", "line 1: no newline at the end of the file (truncated" },
		{ H1 "  vmlinuz\n" H1, "line 2: no newline" },
		{ "9f86d08  vmlinuz\n", "line 1: expected 64 hex digits" },
		{ "9g86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  k\n",
		  "line 1: expected 64 hex digits" },
		{ H1 " vmlinuz\n", "line 1: expected two spaces" },
		{ H1 "vmlinuz\n", "line 1: expected two spaces" },
		{ H1 "  \n", "line 1: no file name" },
		{ H1 "  vmlinuz\r\n", "line 1: carriage return" },
		{ H1 "  vmlinuz\n\n", "line 2: empty line" },
		{ "\\" H1 "  vm\\nlinuz\n", "line 1: escaped file names" },
		{ H1 "  boot/vmlinuz\n", "line 1: 'boot/vmlinuz' has a directory" },
		{ H1 "  vm\tlinuz\n", "line 1: control character" },
		{ H1 "  vmlinuz\n" H2 "  vmlinuz\n", "line 2: duplicate entry 'vmlinuz' (first on line 1)" },
		{ "SHA256 (vmlinuz) = " H1 "\n", "line 1: expected 64 hex digits" },
	};
	struct manifest m;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_EQ(parse(bad[i].text, &m), -EINVAL);
		if (!strstr(err, bad[i].want)) {
			printf("# case %zu: got \"%s\", want \"%s\"\n", i, err, bad[i].want);
			CHECK(0);
		}
	}
	/* A NUL byte in the middle (the text is not a C string). */
	{
		char t[] = H1 "  vm\0inuz\n";

		CHECK_EQ(manifest_parse(t, sizeof(t) - 1, &m, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "line 1: NUL byte") != NULL);
	}
	/* Too many entries, too long a name, too big a file. */
	{
		static char t[MANIFEST_MAX_BYTES + 2];
		size_t n = 0;

		for (int i = 0; i <= MANIFEST_MAX_ENTRIES; i++)
			n += (size_t)sprintf(t + n, H1 "  f%d\n", i);
		CHECK_EQ(manifest_parse(t, n, &m, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "line 17: more than 16 entries") != NULL);
		n = (size_t)sprintf(t, H1 "  ");
		memset(t + n, 'a', 256);
		t[n + 256] = '\n';
		CHECK_EQ(manifest_parse(t, n + 257, &m, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "line 1: name is 256 bytes") != NULL);
		memset(t, '\n', sizeof(t));
		CHECK_EQ(manifest_parse(t, MANIFEST_MAX_BYTES + 1, &m, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "at most 65536") != NULL);
	}
}

static struct boot_set bs(const char *k, const char *kd, const char *i, const char *id,
			  const char *cd)
{
	struct boot_set b;

	memset(&b, 0, sizeof(b));
	strcpy(b.kernel_name, k);
	if (digest_from_hex(kd, 32, b.kernel))
		abort();
	if (i) {
		strcpy(b.initrd_name, i);
		if (digest_from_hex(id, 32, b.initrd))
			abort();
	}
	if (digest_from_hex(cd, 32, b.cmdline))
		abort();
	return b;
}

static void test_boot_set(void)
{
	struct manifest m;
	struct verify_failure f;
	struct boot_set b;

	CHECK_EQ(parse(H1 "  vmlinuz\n" H2 "  initrd.img\n" H3 "  @cmdline\n", &m), 0);
	b = bs("vmlinuz", H1, "initrd.img", H2, H3);
	CHECK_EQ(manifest_check_boot_set(&m, &b, &f), 0);
	/* A tampered kernel: the file and both digests. */
	b = bs("vmlinuz", H3, "initrd.img", H2, H3);
	CHECK_EQ(manifest_check_boot_set(&m, &b, &f), -EBADMSG);
	CHECK_STR(f.file, "vmlinuz");
	CHECK_STR(f.expected, H1);
	CHECK_STR(f.actual, H3);
	CHECK(strstr(f.reason, "line 1") != NULL);
	/* Another command line. */
	b = bs("vmlinuz", H1, "initrd.img", H2, H1);
	CHECK_EQ(manifest_check_boot_set(&m, &b, &f), -EBADMSG);
	CHECK_STR(f.file, "@cmdline");
	/* An initrd the manifest does not list. */
	b = bs("vmlinuz", H1, "other.img", H2, H3);
	CHECK_EQ(manifest_check_boot_set(&m, &b, &f), -EBADMSG);
	CHECK_STR(f.file, "other.img");
	CHECK_STR(f.expected, "");
	CHECK(strstr(f.reason, "no entry for 'other.img'") != NULL);
	/* No initrd, but the manifest has one: an extra entry. */
	b = bs("vmlinuz", H1, NULL, NULL, H3);
	CHECK_EQ(manifest_check_boot_set(&m, &b, &f), -EBADMSG);
	CHECK_STR(f.file, "initrd.img");
	CHECK_STR(f.actual, "");
	CHECK(strstr(f.reason, "line 2: extra entry") != NULL);
	/* A manifest without @cmdline fails too. */
	CHECK_EQ(parse(H1 "  vmlinuz\n", &m), 0);
	CHECK_EQ(manifest_check_boot_set(&m, &b, &f), -EBADMSG);
	CHECK_STR(f.file, "@cmdline");
}

static void test_digest(void)
{
	uint8_t d[SHA256_LEN], e[SHA256_LEN];
	char h[SHA256_HEX_LEN + 1];
	uint64_t size = 0;
	int fd, p[2];

	CHECK_EQ(digest_sha256("abc", 3, d), 0);
	digest_to_hex(d, SHA256_LEN, h);
	CHECK_STR(h, H3);
	CHECK_EQ(digest_sha256("", 0, d), 0);
	digest_to_hex(d, SHA256_LEN, h);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* A sealed memfd, as the supervisor hands boot images around. */
	fd = memfd_create("kernel", MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "abc", 3), 3);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);
	CHECK_EQ(digest_sha256_fd(fd, e, &size), 0);
	CHECK_EQ(size, 3);
	digest_to_hex(e, SHA256_LEN, h);
	CHECK_STR(h, H3);
	/* The file offset is not used: hashing twice gives the same answer. */
	memset(e, 0, sizeof(e));
	CHECK_EQ(digest_sha256_fd(fd, e, NULL), 0);
	digest_to_hex(e, SHA256_LEN, h);
	CHECK_STR(h, H3);
	close(fd);
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(digest_sha256_fd(p[0], e, NULL), -EINVAL);
	close(p[0]);
	close(p[1]);
	CHECK_EQ(digest_from_hex("zz", 1, d), -EINVAL);
}

static int memfd_with(const char *s)
{
	int fd = memfd_create("img", MFD_ALLOW_SEALING);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
	return fd;
}

static void test_boot_set_hash(void)
{
	struct boot_set b;
	int k = memfd_with("kernel"), i = memfd_with("initrd");
	uint8_t d[SHA256_LEN];

	CHECK_EQ(boot_set_hash(&b, "/boot/vmlinuz-6.1", k, "initrd.img", i, "quiet"), 0);
	CHECK_STR(b.kernel_name, "vmlinuz-6.1");
	CHECK_STR(b.initrd_name, "initrd.img");
	CHECK_EQ(b.kernel_size, 6);
	CHECK_EQ(digest_sha256("quiet", 5, d), 0);
	CHECK(!memcmp(d, b.cmdline, SHA256_LEN));
	CHECK_EQ(boot_set_hash(&b, "/boot/vmlinuz", k, NULL, -1, NULL), 0);
	CHECK_STR(b.initrd_name, "");
	/* Names the manifest could not tell apart. */
	CHECK_EQ(boot_set_hash(&b, "/a/img", k, "/b/img", i, ""), -EINVAL);
	CHECK_EQ(boot_set_hash(&b, "/a/@cmdline", k, NULL, -1, ""), -EINVAL);
	CHECK_EQ(boot_set_hash(&b, "/a/", k, NULL, -1, ""), -EINVAL);
	close(k);
	close(i);
}

/* ---- with the openssl CLI ------------------------------------------------------- */

static char *slurp(const char *name, size_t *len)
{
	static char bufs[12][16384];
	static int next;
	char *b = bufs[next++ % 12];
	long n = tt_read(name, b, sizeof(bufs[0]) - 1);

	if (n < 0)
		n = 0;
	b[n] = 0;
	*len = (size_t)n;
	return b;
}

/* The commands block of docs/trust.md, unchanged, as a shell script. */
static int extract_doc_commands(void)
{
	static char doc[65536];
	FILE *f = fopen("docs/trust.md", "r");
	size_t n;
	char *start, *end;

	if (!f)
		return -1;
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = 0;
	start = strstr(doc, "<!-- test: trust-commands");
	start = start ? strstr(start, "```sh\n") : NULL;
	end = start ? strstr(start + 6, "```") : NULL;
	if (!start || !end)
		return -1;
	*end = 0;
	return tt_write("doc-commands.sh", start + 6, strlen(start + 6));
}

static void test_docs_commands(void)
{
	struct verify_failure f;
	struct boot_set b;
	char out[4096], path[256], path2[256];
	size_t ml, sl, kl;
	const char *man, *sig, *key;
	int k, i, r;

	CHECK_EQ(extract_doc_commands(), 0);
	CHECK_EQ(tt_write("vmlinuz", "a kernel image", 14), 0);
	CHECK_EQ(tt_write("initrd.img", "an initrd", 9), 0);
	r = tt_sh(out, sizeof(out), "sh -e doc-commands.sh");
	if (r)
		printf("# docs/trust.md's commands said:\n%s\n", out);
	CHECK_EQ(r, 0);
	man = slurp("user.manifest", &ml);
	sig = slurp("user.manifest.sig", &sl);
	key = slurp("it-pub.pem", &kl);
	k = open(tt_path(path, sizeof(path), "vmlinuz"), O_RDONLY);
	i = open(tt_path(path2, sizeof(path2), "initrd.img"), O_RDONLY);
	CHECK(k >= 0 && i >= 0);
	CHECK_EQ(boot_set_hash(&b, path, k, path2, i, "console=ttyS0 quiet"), 0);
	r = manifest_verify(man, ml, sig, sl, key, kl, &b, &f);
	if (r)
		printf("# %s: %s\n", f.file, f.reason);
	CHECK_EQ(r, 0);
	/* Another command line than the one signed. */
	CHECK_EQ(boot_set_hash(&b, path, k, path2, i, "console=ttyS0"), 0);
	CHECK_EQ(manifest_verify(man, ml, sig, sl, key, kl, &b, &f), -EBADMSG);
	CHECK_STR(f.file, "@cmdline");
	close(k);
	close(i);
}

static void test_signatures(void)
{
	struct verify_failure f;
	struct boot_set b;
	static char m2[65536];
	char out[4096];
	size_t ml, sl, kl, ol, rl;
	const char *man, *sig, *key, *other, *rsa;
	int r;

	/* Made by test_docs_commands; a second key and an RSA key for the negative cases. */
	r = tt_sh(out, sizeof(out),
		  "openssl genpkey -algorithm ed25519 -out other.pem && "
		  "openssl pkey -in other.pem -pubout -out other-pub.pem && "
		  "openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 -out rsa.pem && "
		  "openssl pkey -in rsa.pem -pubout -out rsa-pub.pem");
	CHECK_EQ(r, 0);
	man = slurp("user.manifest", &ml);
	sig = slurp("user.manifest.sig", &sl);
	key = slurp("it-pub.pem", &kl);
	other = slurp("other-pub.pem", &ol);
	CHECK_EQ(manifest_verify_signature(man, ml, sig, sl, key, kl, err, sizeof(err)), 0);
	/* Wrong key. */
	CHECK_EQ(manifest_verify_signature(man, ml, sig, sl, other, ol, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "does not verify") != NULL);
	/* Truncated signature. */
	CHECK_EQ(manifest_verify_signature(man, ml, sig, sl - 1, key, kl, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "63 bytes") != NULL);
	/* One byte of the manifest changed after signing (a digest swapped). */
	memcpy(m2, man, ml);
	m2[3] = m2[3] == 'a' ? 'b' : 'a';
	CHECK_EQ(manifest_verify_signature(m2, ml, sig, sl, key, kl, err, sizeof(err)), -EBADMSG);
	/* A manifest with a line appended after signing. */
	memcpy(m2, man, ml);
	memcpy(m2 + ml, H1 "  extra\n", 64 + 8);
	CHECK_EQ(manifest_verify_signature(m2, ml + 72, sig, sl, key, kl, err, sizeof(err)), -EBADMSG);
	/* Not an Ed25519 key; not a key at all. */
	rsa = slurp("rsa-pub.pem", &rl);
	CHECK_EQ(manifest_verify_signature(man, ml, sig, sl, rsa, rl, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "Ed25519 signatures only") != NULL);
	CHECK_EQ(manifest_verify_signature(man, ml, sig, sl, man, ml, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a PEM public key") != NULL);
	/* The private key file is not what lvmm takes either. */
	{
		const char *priv = slurp("it.pem", &rl);

		CHECK_EQ(manifest_verify_signature(man, ml, sig, sl, priv, rl, err, sizeof(err)),
			 -EINVAL);
	}
	/* manifest_verify names which input failed. */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(manifest_verify(man, ml, sig, sl, other, ol, &b, &f), -EBADMSG);
	CHECK_STR(f.file, "signature");
	CHECK_EQ(manifest_verify(man, ml, sig, sl, rsa, rl, &b, &f), -EINVAL);
	CHECK_STR(f.file, "key");
	/* A signed but malformed manifest is still refused (by the parser). */
	CHECK_EQ(tt_write("bad.manifest", "hello\n", 6), 0);
	CHECK_EQ(tt_sh(out, sizeof(out),
		       "openssl pkeyutl -sign -rawin -inkey it.pem -in bad.manifest -out bad.sig"), 0);
	{
		size_t bl, bsl;
		const char *bm = slurp("bad.manifest", &bl), *bsig = slurp("bad.sig", &bsl);

		CHECK_EQ(manifest_verify(bm, bl, bsig, bsl, key, kl, &b, &f), -EINVAL);
		CHECK_STR(f.file, "manifest");
		CHECK(strstr(f.reason, "line 1") != NULL);
	}
}

int main(void)
{
	RUN(test_parse_ok);
	RUN(test_parse_malformed);
	RUN(test_boot_set);
	RUN(test_digest);
	RUN(test_boot_set_hash);
	if (!tt_have("openssl")) {
		printf("skip - test_docs_commands: openssl not found (Debian: apt-get install openssl)\n");
		printf("skip - test_signatures: openssl not found\n");
		return unit_done();
	}
	if (tt_mkdir("trust-manifest")) {
		printf("not ok - test_docs_commands: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN(test_docs_commands);
	RUN(test_signatures);
	if (!unit_tests_failed)
		tt_cleanup();
	else
		printf("# files kept in %s\n", tt_dir);
	return unit_done();
}
