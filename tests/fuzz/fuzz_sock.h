/* SPDX-License-Identifier: MIT */
/*
 * Raw datagrams for the harnesses of message receivers (fuzz_proto,
 * fuzz_trustmsg): the fuzz input goes on the socket as it is, header and
 * all, with nfds descriptors attached, so that the receiver's own checks
 * see every malformed header. proto_send() would refuse most of them.
 */
#ifndef LVMM_FUZZ_SOCK_H
#define LVMM_FUZZ_SOCK_H

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FUZZ_SOCK_MAX_FDS 4

/* Send n bytes and nfds (<= FUZZ_SOCK_MAX_FDS) fds; a datagram too large for the socket is dropped. */
static inline void fuzz_send_raw(int sock, const void *p, size_t n, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FUZZ_SOCK_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)p, n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > FUZZ_SOCK_MAX_FDS)
		nfds = FUZZ_SOCK_MAX_FDS;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* Too large for the socket: nothing arrives; the receiver sees EAGAIN. */
	}
}

#endif
