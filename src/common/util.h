/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every lvmm process. */
#ifndef LVMM_UTIL_H
#define LVMM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define MUST_CHECK __attribute__((warn_unused_result))

#define LVMM_VERSION "0.1.0"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* True if [start, start+len) lies inside [lo, lo+size), with no wrap-around anywhere. */
static inline bool range_within(uint64_t start, uint64_t len, uint64_t lo, uint64_t size)
{
	if (start < lo)
		return false;
	if (start - lo > size)
		return false;
	return len <= size - (start - lo);
}

/* True if [a, a+alen) and [b, b+blen) overlap; lengths of 0 never overlap. */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	if (!alen || !blen)
		return false;
	/* Written with differences so that ranges ending at 2^64 do not wrap. */
	return a <= b ? b - a < alen : a - b < blen;
}

/*
 * Parse a size such as "64M", "1G", "4096", "512K" (suffix K/M/G/T, optional
 * "iB"/"B"); a bare number is taken in units of default_unit. Returns 0 or -EINVAL / -ERANGE.
 */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out) MUST_CHECK;

/*
 * Parse an unsigned integer that must fit in max: decimal (leading zeros do
 * not mean octal: "010" is 10) or hexadecimal with a 0x prefix; no sign,
 * space or suffix. 0 or -EINVAL / -ERANGE.
 */
int parse_u64(const char *s, uint64_t max, uint64_t *out) MUST_CHECK;

/* read()/write() the whole buffer, retrying on EINTR and short transfers. 0 or -errno. */
int read_full(int fd, void *buf, size_t len) MUST_CHECK;
int write_full(int fd, const void *buf, size_t len) MUST_CHECK;
/* pread() the whole buffer at off; -EIO if the file is shorter. 0 or -errno. */
int pread_full(int fd, void *buf, size_t len, off_t off) MUST_CHECK;

/* Copy src into dst (size n) always NUL-terminating; returns -E2BIG if truncated. */
int strlcpy_checked(char *dst, const char *src, size_t n) MUST_CHECK;

/* Where control sockets given by name live (docs/api.md): root's runs. */
#define LVMM_RUN_DIR "/run/lvmm"
/*
 * The control socket for name: a name with a '/' is a path as it is; a bare
 * NAME is LVMM_RUN_DIR/NAME.sock, or $XDG_RUNTIME_DIR/lvmm/NAME.sock when
 * not root and that is set. 0 or -ENAMETOOLONG.
 */
int ctl_socket_path(const char *name, char *out, size_t n) MUST_CHECK;

#endif
