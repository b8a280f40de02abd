/* SPDX-License-Identifier: MIT */
/*
 * Scatter-gather helpers for buffers that live in guest memory.
 *
 * The iovecs come from the chain walker, so every element already points
 * into a translated guest RAM range. Copies *out of* guest memory end with
 * a compiler barrier so that a value copied into a local is never re-read
 * from guest memory after it has been checked (no double fetch).
 */
#ifndef LVMM_VIRTIO_IOV_H
#define LVMM_VIRTIO_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Sum of the lengths of n elements. */
size_t iov_length(const struct iovec *iov, unsigned n);

/*
 * Copy up to len bytes starting at byte offset off of the iovec list into
 * buf. Returns the number of bytes copied (less than len if the list is
 * shorter).
 */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);

/* Copy up to len bytes from buf into the iovec list at byte offset off. Returns bytes copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);

/*
 * Describe bytes [off, off+len) of src in dst (at most cap elements).
 * Returns the number of elements written; the described range is cut
 * short if src is shorter or cap is reached (callers size dst >= n).
 */
unsigned iov_slice(const struct iovec *src, unsigned n, size_t off, size_t len,
		   struct iovec *dst, unsigned cap);

/*
 * Drop the first bytes of a mutable iovec array (partial preadv/pwritev/
 * writev). Updates *iov and *n in place.
 */
void iov_advance(struct iovec **iov, unsigned *n, size_t bytes);

/* Host address of byte off of the list, or NULL if off is past the end. */
void *iov_byte_ptr(const struct iovec *iov, unsigned n, size_t off);

#endif
