// SPDX-License-Identifier: MIT
#include "common/proto.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lvmm/ctl_proto.h"

int proto_send(int sock, uint16_t type, const void *payload, uint32_t len, const int *fds,
	       unsigned nfds, int flags)
{
	struct lvmm_msg_hdr hdr = {
		.magic = LVMM_PROTO_MAGIC, .version = LVMM_PROTO_VERSION, .type = type,
		.len = len, .nfds = nfds,
	};
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)payload, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int) * LVMM_MSG_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (len > LVMM_MSG_MAX_LEN || nfds > LVMM_MSG_MAX_FDS)
		return -EMSGSIZE;
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
	do {
		n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(hdr) + len)
		return -EIO;
	return 0;
}

int proto_check_hdr(const struct lvmm_msg_hdr *hdr, size_t n, unsigned nfds, uint32_t maxlen,
		    unsigned maxfds, bool truncated)
{
	if (n < sizeof(*hdr) || truncated)
		return -EPROTO;
	/* Partition messages, or the API front-end's range (include/lvmm/ctl_proto.h). */
	if (hdr->magic != LVMM_PROTO_MAGIC || hdr->version != LVMM_PROTO_VERSION || hdr->type == 0 ||
	    (hdr->type > LVMM_MSG_TYPE_MAX &&
	     (hdr->type < LVMM_MSG_API_FIRST || hdr->type > LVMM_MSG_API_LAST)))
		return -EPROTO;
	if (hdr->len != n - sizeof(*hdr) || hdr->len > maxlen)
		return -EPROTO;
	if (hdr->nfds != nfds || nfds > maxfds)
		return -EPROTO;
	return 0;
}

static bool str_ok(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

int proto_check_part_msg(const struct lvmm_msg_hdr *hdr, const void *payload)
{
	/* The exact length of each type a partition may send; CONFIG and CTL go the other way. */
	static const uint32_t len[] = { [LVMM_MSG_EVENT] = sizeof(struct lvmm_event),
					[LVMM_MSG_EXIT] = sizeof(struct lvmm_exit),
					[LVMM_MSG_CTL_REPLY] = sizeof(struct lvmm_ctl_reply) };
	const struct lvmm_event *e = payload;
	const struct lvmm_exit *x = payload;
	const struct lvmm_ctl_reply *r = payload;
	unsigned i;

	/* A partition never sends fds to the supervisor. */
	if (hdr->nfds || hdr->type >= ARRAY_SIZE(len) || hdr->len != len[hdr->type] ||
	    (!hdr->len && hdr->type != LVMM_MSG_READY))
		return -EPROTO;
	switch (hdr->type) {
	case LVMM_MSG_EVENT:
		return e->kind < 1 || e->kind > LVMM_EV_KIND_MAX || !str_ok(e->dev, sizeof(e->dev)) ? -EPROTO : 0;
	case LVMM_MSG_EXIT:
		return x->reason < 1 || x->reason > LVMM_EXIT_REASON_MAX || x->insn_len > sizeof(x->insn) ||
		       !str_ok(x->detail, sizeof(x->detail)) ? -EPROTO : 0;
	case LVMM_MSG_CTL_REPLY:
		if (r->op < 1 || r->op > LVMM_CTL_OP_MAX || r->result > 0 || r->result < -4095 ||
		    r->ndevs > LVMM_STATS_MAX_DEVS)
			return -EPROTO;
		for (i = 0; i < r->ndevs; i++)
			if (!str_ok(r->devs[i].id, sizeof(r->devs[i].id)) ||
			    !str_ok(r->devs[i].kind, sizeof(r->devs[i].kind)))
				return -EPROTO;
		return 0;
	default: /* READY: nothing but the header */
		return 0;
	}
}

static void close_fds(int *fds, unsigned n)
{
	while (n--)
		if (fds[n] >= 0)
			close(fds[n]);
}

int proto_recv(int sock, struct lvmm_msg_hdr *hdr, void *payload, uint32_t maxlen, int *fds,
	       unsigned maxfds, int flags)
{
	struct iovec iov[2] = { { hdr, sizeof(*hdr) }, { payload, maxlen } };
	union {
		char buf[CMSG_SPACE(sizeof(int) * LVMM_MSG_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {
		.msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	int got[LVMM_MSG_MAX_FDS];
	unsigned ngot = 0, i;
	struct cmsghdr *c;
	ssize_t n;
	int err = 0;

	if (maxlen > LVMM_MSG_MAX_LEN || maxfds > LVMM_MSG_MAX_FDS)
		return -EINVAL;
	do {
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (ngot < LVMM_MSG_MAX_FDS)
					got[ngot++] = fd;
				else
					close(fd);
			}
		}
	}
	if (n == 0)
		err = -EPIPE;
	else
		err = proto_check_hdr(hdr, (size_t)n, ngot, maxlen, maxfds,
				      (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0);
	if (err) {
		close_fds(got, ngot);
		return err;
	}
	if (fds)
		memcpy(fds, got, ngot * sizeof(int));
	return 0;
}
