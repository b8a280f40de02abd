// SPDX-License-Identifier: MIT
/*
 * SHA-256 through OpenSSL's EVP interface; see digest.h.
 *
 * Also home of the link-time stubs for the three glibc functions that a
 * static libcrypto.a references but lvmm never needs (see the end of this
 * file): every object here that calls libcrypto calls trust_crypto_init(),
 * so this object is always linked together with libcrypto.
 */
#include "trust/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/log.h"

int trust_crypto_init(void)
{
	static atomic_int done;

	if (atomic_load(&done))
		return 0;
	/*
	 * No configuration file: a system openssl.cnf could name engines or
	 * providers to load, which lvmm neither wants nor can (no dlopen in
	 * the static binary). The built-in default provider has SHA-256 and
	 * Ed25519.
	 */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		return -EIO;
	atomic_store(&done, 1);
	return 0;
}

int digest_sha256(const void *buf, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;

	if (trust_crypto_init())
		return -EIO;
	if (EVP_Digest(len ? buf : "", len, out, &n, EVP_sha256(), NULL) != 1 || n != SHA256_LEN)
		return -EIO;
	return 0;
}

/*
 * A memfd that its writer is still filling (the partition copies a boot
 * image while the trust process hashes it, on the other CPU): hash what is
 * there, in order, until it is sealed against writes and everything up to
 * its final size is hashed. The writer only appends and seals at the end,
 * and the reader's fd is read-only, so every byte hashed is a byte of the
 * sealed result: one pass, finished when the copy is.
 */
static int digest_growing(int fd, uint8_t out[SHA256_LEN], uint64_t *size, uint64_t deadline)
{
	static uint8_t buf[1 << 20];
	uint64_t done = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int r = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;

	/* Bounded: each round hashes bytes (at most DIGEST_FD_MAX in all) or waits until the deadline. */
	while (!r) {
		int seals = fcntl(fd, F_GET_SEALS); /* before the size: sealed means complete */
		struct stat st;
		ssize_t k;

		if (seals < 0 || fstat(fd, &st)) {
			r = -errno;
		} else if ((uint64_t)st.st_size > DIGEST_FD_MAX || (uint64_t)st.st_size < done) {
			r = -EFBIG;
		} else if ((uint64_t)st.st_size > done) {
			k = pread(fd, buf, MIN(sizeof(buf), (uint64_t)st.st_size - done), (off_t)done);
			if (k <= 0 || EVP_DigestUpdate(ctx, buf, (size_t)k) != 1)
				r = k < 0 ? -errno : -EIO;
			else
				done += (uint64_t)k;
		} else if (seals & F_SEAL_WRITE) {
			break;
		} else if (now_ns() > deadline) {
			r = -ETIMEDOUT;
		} else {
			usleep(500); /* the writer has not got further yet (it copies ~1 MiB per ms) */
		}
	}
	if (!r && (EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != SHA256_LEN))
		r = -EIO;
	EVP_MD_CTX_free(ctx);
	if (!r && size)
		*size = done;
	return r;
}

int digest_sha256_filling(int fd, uint8_t out[SHA256_LEN], uint64_t *size, uint64_t deadline_ns)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (trust_crypto_init())
		return -EIO;
	/*
	 * Sealed already, against shrinking too: the one-pass mapping (the
	 * partition made it; one that could shrink under the mapping would
	 * fault). Otherwise it must be a memfd that can still be sealed.
	 */
	if (seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) == (F_SEAL_WRITE | F_SEAL_SHRINK))
		return digest_sha256_fd(fd, out, size);
	if (seals < 0 || (seals & F_SEAL_SEAL))
		return -EINVAL;
	return digest_growing(fd, out, size, deadline_ns);
}

/*
 * The mapping's window: the trust process maps at most this much of an
 * image at once, so its address space stays within its bound
 * (shared/memlimit.h) whatever the image's size.
 */
#define DIGEST_WINDOW (32ULL << 20)

int digest_sha256_fd(int fd, uint8_t out[SHA256_LEN], uint64_t *size)
{
	EVP_MD_CTX *ctx;
	struct stat st;
	uint64_t off;
	unsigned int n = 0;
	int r;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0)
		return -EINVAL;
	if ((uint64_t)st.st_size > DIGEST_FD_MAX)
		return -EFBIG;
	if (size)
		*size = (uint64_t)st.st_size;
	if (trust_crypto_init())
		return -EIO;
	ctx = EVP_MD_CTX_new();
	r = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
	/*
	 * One pass over read-only mappings, a window at a time: no copy, and
	 * the same bytes the partition will map (the supervisor seals its
	 * memfds first, so they cannot change under us).
	 */
	for (off = 0; !r && off < (uint64_t)st.st_size; off += DIGEST_WINDOW) {
		size_t len = (size_t)MIN(DIGEST_WINDOW, (uint64_t)st.st_size - off);
		void *p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);

		if (p == MAP_FAILED) {
			r = -errno;
			break;
		}
		madvise(p, len, MADV_SEQUENTIAL);
		if (EVP_DigestUpdate(ctx, p, len) != 1)
			r = -EIO;
		munmap(p, len);
	}
	if (!r && (EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != SHA256_LEN))
		r = -EIO;
	EVP_MD_CTX_free(ctx);
	return r;
}

/*
 * libcrypto.a references dlopen() (loading engine and provider DSOs) and
 * getaddrinfo()/gethostbyname() (BIO socket helpers). lvmm uses neither,
 * and in a -static-pie binary glibc can only offer them with a link-time
 * warning ("requires at runtime the shared libraries..."). The Makefile
 * links with --wrap for these three names, which sends every reference to
 * the stubs below: they fail, so OpenSSL can never load code or resolve
 * names inside lvmm. (lvmm's own code calls none of them either; a future
 * caller of getaddrinfo would get EAI_FAIL, so the Makefile says so.)
 */
void *__wrap_dlopen(const char *file, int mode);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
struct hostent *__wrap_gethostbyname(const char *name);

void *__wrap_dlopen(const char *file, int mode)
{
	(void)file;
	(void)mode;
	return NULL;
}

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	(void)node;
	(void)service;
	(void)hints;
	(void)res;
	return EAI_FAIL;
}

struct hostent *__wrap_gethostbyname(const char *name)
{
	(void)name;
	h_errno = NO_RECOVERY;
	return NULL;
}
