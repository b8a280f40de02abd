// SPDX-License-Identifier: MIT
#include "virtio/iov.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

size_t iov_length(const struct iovec *iov, unsigned n)
{
	size_t total = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

/* Copy between buf and the bytes [off, off+len) of the iovecs, in either direction. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, uint8_t *buf, size_t len,
		       bool to_buf)
{
	size_t done = 0;
	unsigned i;

	for (i = 0; i < n && done < len; i++) {
		uint8_t *seg = (uint8_t *)iov[i].iov_base;
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_buf)
			memcpy(buf + done, seg + off, chunk);
		else
			memcpy(seg + off, buf + done, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	size_t done = iov_copy(iov, n, off, buf, len, true);

	/*
	 * The guest may rewrite its memory at any time: force the copy to be
	 * the only read, so later uses of buf cannot be turned back into loads
	 * from guest memory by the compiler.
	 */
	__asm__ __volatile__("" ::: "memory");
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
	/* iov_copy writes only into the iovecs in this direction. */
	return iov_copy(iov, n, off, (uint8_t *)(uintptr_t)buf, len, false);
}

unsigned iov_slice(const struct iovec *src, unsigned n, size_t off, size_t len,
		   struct iovec *dst, unsigned cap)
{
	unsigned i, out = 0;

	for (i = 0; i < n && len && out < cap; i++) {
		size_t chunk;

		if (off >= src[i].iov_len) {
			off -= src[i].iov_len;
			continue;
		}
		chunk = src[i].iov_len - off;
		if (chunk > len)
			chunk = len;
		dst[out].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[out].iov_len = chunk;
		out++;
		len -= chunk;
		off = 0;
	}
	return out;
}

void iov_advance(struct iovec **iov, unsigned *n, size_t bytes)
{
	while (*n && bytes) {
		if (bytes < (*iov)->iov_len) {
			(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + bytes;
			(*iov)->iov_len -= bytes;
			return;
		}
		bytes -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	/* Skip elements that became empty so callers never pass 0-length lists around. */
	while (*n && !(*iov)->iov_len) {
		(*iov)++;
		(*n)--;
	}
}

void *iov_byte_ptr(const struct iovec *iov, unsigned n, size_t off)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (off < iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + off;
		off -= iov[i].iov_len;
	}
	return NULL;
}
