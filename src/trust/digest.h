/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 (OpenSSL libcrypto's EVP) of a buffer or of a whole file
 * descriptor, and the hex helpers the manifest and the events use.
 *
 * A boot image is hashed once, in one pass over its sealed memfd: the
 * digest is then used for verification (manifest.c), measurement into
 * the vTPM and the event log, so that what was checked is exactly what
 * was measured and what the partition loads.
 */
#ifndef LVMM_TRUST_DIGEST_H
#define LVMM_TRUST_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64 /* without the NUL */

/* Load libcrypto without reading any OpenSSL configuration file. Idempotent. 0 or -EIO. */
int trust_crypto_init(void) MUST_CHECK;

/* SHA-256 of buf[0..len) into out. 0 or -EIO (libcrypto failure). */
int digest_sha256(const void *buf, size_t len, uint8_t out[SHA256_LEN]) MUST_CHECK;

/*
 * SHA-256 of the whole file behind fd (from offset 0 to its size, in one
 * pass over a read-only mapping; the file offset is not used or moved).
 * *size (optional) receives the byte count hashed. 0 or -errno: -EINVAL
 * for something that is not a regular file or memfd, -EFBIG above
 * DIGEST_FD_MAX, -EIO from libcrypto.
 */
#define DIGEST_FD_MAX (4ULL << 30)
int digest_sha256_fd(int fd, uint8_t out[SHA256_LEN], uint64_t *size) MUST_CHECK;

/*
 * The same for a memfd that its writer is still filling (the trust process
 * hashing a boot image while the partition copies it in): hashed as it
 * grows, final once it is sealed against writes and hashed to its end.
 * -EINVAL for anything but a memfd that is sealed or can still be;
 * -ETIMEDOUT if it is not sealed and hashed by deadline_ns (now_ns()).
 */
int digest_sha256_filling(int fd, uint8_t out[SHA256_LEN], uint64_t *size,
			  uint64_t deadline_ns) MUST_CHECK;

/* Lower-case hex of n bytes into out (2n characters + NUL; out must hold 2n+1). */
void digest_to_hex(const uint8_t *d, size_t n, char *out);

/*
 * Parse exactly 2n hex digits (either case) from hex into out[0..n).
 * 0 or -EINVAL (a non-hex character; out is then unspecified).
 */
int digest_from_hex(const char *hex, size_t n, uint8_t *out) MUST_CHECK;

#endif
