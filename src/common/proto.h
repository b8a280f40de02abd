/* SPDX-License-Identifier: MIT */
/* Sending and receiving lvmm protocol messages (include/lvmm/proto.h). */
#ifndef LVMM_COMMON_PROTO_H
#define LVMM_COMMON_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "lvmm/proto.h"

/*
 * Send one message with optional fds. flags are passed to sendmsg (e.g.
 * MSG_DONTWAIT). Returns 0 or -errno.
 */
int proto_send(int sock, uint16_t type, const void *payload, uint32_t len, const int *fds,
	       unsigned nfds, int flags) MUST_CHECK;

/*
 * Receive one message into hdr + payload (at most maxlen bytes) and up to
 * maxfds fds. Everything is validated before return: magic, version, type
 * range, hdr.len == bytes received - header <= maxlen, hdr.nfds == fds
 * received <= maxfds, no truncation. On any failure every received fd is
 * closed. Returns 0, -EPIPE on orderly EOF, -EPROTO for a malformed message,
 * or -errno.
 */
int proto_recv(int sock, struct lvmm_msg_hdr *hdr, void *payload, uint32_t maxlen, int *fds,
	       unsigned maxfds, int flags) MUST_CHECK;

/*
 * The checks proto_recv() makes on a received packet of n bytes carrying
 * nfds descriptors (truncated: the kernel cut data or descriptors): magic,
 * version, type range, hdr.len == n - header <= maxlen, hdr.nfds == nfds
 * <= maxfds. 0 or -EPROTO.
 */
int proto_check_hdr(const struct lvmm_msg_hdr *hdr, size_t n, unsigned nfds, uint32_t maxlen,
		    unsigned maxfds, bool truncated);

/*
 * Is a message that passed proto_recv() one a partition may send the
 * supervisor? Its type's exact length, no fds, and every field the
 * supervisor uses in range (enums, counts, NUL-terminated strings).
 * 0 or -EPROTO.
 */
int proto_check_part_msg(const struct lvmm_msg_hdr *hdr, const void *payload);

/* True if the fixed-size string field is NUL-terminated within n bytes. */
static inline int proto_str_ok(const char *s, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (!s[i])
			return 1;
	return 0;
}

#endif
