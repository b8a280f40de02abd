/* SPDX-License-Identifier: MIT */
/*
 * Verified boot: a signed manifest in `sha256sum` format lists the SHA-256
 * of every part of a partition's boot set, and lvmm refuses (or replaces)
 * a boot set that does not match it exactly.
 *
 *   <64 hex digits><space><space or '*'><NAME>\n
 *
 * NAME is the basename of the kernel and of the initrd, and "@cmdline" for
 * the SHA-256 of the exact command-line bytes (`printf %s "$CMDLINE" |
 * sha256sum`). The signature is Ed25519 over the manifest's exact bytes
 * (`openssl pkeyutl -sign -rawin`), checked with a PEM public key.
 * docs/trust.md has the commands.
 *
 * The parser is strict: a malformed line, bad hex, a duplicate name, a
 * missing newline at the end (a truncated file), a missing entry and an
 * extra entry are each an error naming the line or the entry.
 */
#ifndef LVMM_TRUST_MANIFEST_H
#define LVMM_TRUST_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "trust/digest.h"

#define MANIFEST_MAX_BYTES   (64 * 1024)
#define MANIFEST_MAX_ENTRIES 16
#define MANIFEST_NAME_MAX    255
#define MANIFEST_CMDLINE     "@cmdline"
#define ED25519_SIG_LEN      64
#define PUBKEY_PEM_MAX       (16 * 1024)

struct manifest_entry {
	char name[MANIFEST_NAME_MAX + 1];
	uint8_t digest[SHA256_LEN];
	unsigned line;
};

struct manifest {
	unsigned n;
	struct manifest_entry e[MANIFEST_MAX_ENTRIES];
};

/*
 * Parse text[0..len) into m. 0, or -EINVAL with "line N: ..." (or a
 * whole-file problem) in err.
 */
int manifest_parse(const char *text, size_t len, struct manifest *m, char *err,
		   size_t errlen) MUST_CHECK;

/*
 * Verify an Ed25519 signature (sig, siglen) over msg[0..msglen) with the
 * PEM public key pem[0..pemlen) ("-----BEGIN PUBLIC KEY-----", as written by
 * `openssl pkey -pubout`). 0; -EINVAL for an unusable key or a signature
 * of the wrong size; -EBADMSG if the signature does not verify; -EIO from
 * libcrypto. err says which.
 */
int manifest_verify_signature(const void *msg, size_t msglen, const void *sig, size_t siglen,
			      const char *pem, size_t pemlen, char *err, size_t errlen) MUST_CHECK;

/*
 * SHA-256 of the PEM public key pem[0..pemlen) in its DER form
 * (SubjectPublicKeyInfo, what `openssl pkey -pubin -outform DER` writes):
 * names the authority that approved a boot set, in the measurement and the
 * events, independent of the PEM's line breaks. 0 or -EINVAL / -EIO.
 */
int manifest_key_digest(const char *pem, size_t pemlen, uint8_t out[SHA256_LEN]) MUST_CHECK;

/* What a partition boots, by name and digest (each part hashed once). */
struct boot_set {
	char kernel_name[MANIFEST_NAME_MAX + 1]; /* basename of the kernel path */
	uint8_t kernel[SHA256_LEN];
	uint64_t kernel_size;
	char initrd_name[MANIFEST_NAME_MAX + 1]; /* "" when there is no initrd */
	uint8_t initrd[SHA256_LEN];
	uint64_t initrd_size;
	uint8_t cmdline[SHA256_LEN];             /* SHA-256 of the exact cmdline bytes */
};

/*
 * Fill b from the (sealed) kernel and initrd fds (initrd_fd < 0: none) and
 * the command line; the names are the basenames of the paths. 0 or -errno
 * (-EINVAL: a name the manifest could not hold, or two parts with one name).
 */
int boot_set_hash(struct boot_set *b, const char *kernel_path, int kernel_fd,
		  const char *initrd_path, int initrd_fd, const char *cmdline) MUST_CHECK;

/*
 * The same, the images being memfds that are still being filled
 * (digest_sha256_filling()): -ETIMEDOUT unless sealed and hashed by
 * deadline_ns, which bounds the whole set. deadline_ns 0: the images are
 * whole already (boot_set_hash()).
 */
int boot_set_hash_filling(struct boot_set *b, const char *kernel_path, int kernel_fd,
			  const char *initrd_path, int initrd_fd, const char *cmdline,
			  uint64_t deadline_ns) MUST_CHECK;

/* Why a boot set failed verification: enough for a `verify_failed` event. */
struct verify_failure {
	char file[MANIFEST_NAME_MAX + 1];  /* entry name, or "manifest" / "signature" / "key" */
	char expected[SHA256_HEX_LEN + 1]; /* digest in the manifest ("" if none) */
	char actual[SHA256_HEX_LEN + 1];   /* digest of what would boot ("" if none) */
	char reason[320];
};

/*
 * Check b against m: every part present with its digest, nothing else.
 * 0, or -EBADMSG with the first problem in f (a mismatch names the file
 * and both digests; a missing entry has no expected digest; an extra entry
 * has no actual digest).
 */
int manifest_check_boot_set(const struct manifest *m, const struct boot_set *b,
			    struct verify_failure *f) MUST_CHECK;

/*
 * The whole check, in the order that trusts nothing unverified: the
 * signature over the exact manifest bytes, then the parse, then the boot
 * set. 0, or a negative errno with f filled (file "signature", "key" or
 * "manifest" for problems with those inputs).
 */
int manifest_verify(const void *manifest, size_t mlen, const void *sig, size_t siglen,
		    const char *pem, size_t pemlen, const struct boot_set *b,
		    struct verify_failure *f) MUST_CHECK;

#endif
