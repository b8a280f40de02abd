// SPDX-License-Identifier: MIT
/*
 * The supervisor's validation of what a partition sends it
 * (src/common/proto.c: proto_recv + proto_check_part_msg). A compromised
 * partition controls every byte of its packets and how many fds it
 * attaches, so the packet goes through a real SOCK_SEQPACKET socketpair.
 *
 * Input: byte 0 = fds to attach (low 2 bits: 0-3 copies of /dev/null),
 * the rest = the packet (at most LVMM_MSG_MAX_LEN + 64 bytes are sent).
 *
 * Invariants: an accepted message has exactly its type's length, no fds,
 * in-range enums and counts and NUL-terminated strings; no received fd is
 * ever left open, accepted or not; the header check agrees with itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/proto.h"
#include "lvmm/ctl_proto.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_sock.h"

static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void send_packet(int sock, const uint8_t *p, size_t n, unsigned nfds)
{
	int fds[3];
	unsigned i;

	for (i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fuzz_send_raw(sock, p, n, fds, nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

static void check_accepted(const struct lvmm_msg_hdr *h, const void *payload)
{
	FUZZ_CHECK(h->magic == LVMM_PROTO_MAGIC && h->version == LVMM_PROTO_VERSION);
	FUZZ_CHECK(h->nfds == 0);
	switch (h->type) {
	case LVMM_MSG_READY:
		FUZZ_CHECK(h->len == 0);
		break;
	case LVMM_MSG_EVENT: {
		const struct lvmm_event *e = payload;

		FUZZ_CHECK(h->len == sizeof(*e));
		FUZZ_CHECK(e->kind >= 1 && e->kind <= LVMM_EV_KIND_MAX);
		FUZZ_CHECK(strnlen(e->dev, sizeof(e->dev)) < sizeof(e->dev));
		break;
	}
	case LVMM_MSG_EXIT: {
		const struct lvmm_exit *x = payload;

		FUZZ_CHECK(h->len == sizeof(*x));
		FUZZ_CHECK(x->reason >= 1 && x->reason <= LVMM_EXIT_REASON_MAX);
		FUZZ_CHECK(x->insn_len <= sizeof(x->insn));
		FUZZ_CHECK(strnlen(x->detail, sizeof(x->detail)) < sizeof(x->detail));
		break;
	}
	case LVMM_MSG_CTL_REPLY: {
		const struct lvmm_ctl_reply *r = payload;
		unsigned i;

		FUZZ_CHECK(h->len == sizeof(*r));
		FUZZ_CHECK(r->op >= 1 && r->op <= LVMM_CTL_OP_MAX && r->result <= 0);
		FUZZ_CHECK(r->ndevs <= LVMM_STATS_MAX_DEVS);
		for (i = 0; i < r->ndevs; i++)
			FUZZ_CHECK(strnlen(r->devs[i].id, sizeof(r->devs[i].id)) < sizeof(r->devs[i].id));
		break;
	}
	default:
		FUZZ_CHECK(!"a supervisor-to-partition type was accepted from a partition");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int sv[2] = { -1, -1 };
	static union {
		struct lvmm_event ev;
		struct lvmm_exit ex;
		struct lvmm_ctl_reply rep;
	} u;
	struct lvmm_msg_hdr hdr;
	unsigned nfds = size ? data[0] & 3 : 0;
	int before, r;

	if (sv[0] < 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return 0;
		/* Room for the largest packet the harness sends. */
		r = 4 * LVMM_MSG_MAX_LEN;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &r, sizeof(r));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &r, sizeof(r));
	}
	if (size)
		data++, size--;
	if (size > LVMM_MSG_MAX_LEN + 64)
		size = LVMM_MSG_MAX_LEN + 64;
	before = lowest_free_fd();
	send_packet(sv[0], data, size, nfds);
	memset(&hdr, 0, sizeof(hdr));
	/* As the supervisor receives: no fds accepted, at most the largest payload. */
	r = proto_recv(sv[1], &hdr, &u, sizeof(u), NULL, 0, MSG_DONTWAIT);
	if (!r) {
		FUZZ_CHECK(hdr.len <= sizeof(u));
		if (!proto_check_part_msg(&hdr, &u))
			check_accepted(&hdr, &u);
	}
	FUZZ_CHECK(lowest_free_fd() == before); /* every received fd was closed */

	/* The header check alone, with the packet's own idea of its size and fds. */
	if (size >= sizeof(hdr)) {
		memcpy(&hdr, data, sizeof(hdr));
		if (!proto_check_hdr(&hdr, size, nfds, LVMM_MSG_MAX_LEN, LVMM_MSG_MAX_FDS, false))
			/* Partition/trust types, or the front-end's (checked by type further on). */
			FUZZ_CHECK(hdr.len == size - sizeof(hdr) && hdr.nfds == nfds &&
				   ((hdr.type >= 1 && hdr.type <= LVMM_MSG_TYPE_MAX) ||
				    (hdr.type >= LVMM_MSG_API_FIRST && hdr.type <= LVMM_MSG_API_LAST)));
		FUZZ_CHECK(proto_check_hdr(&hdr, size, nfds, LVMM_MSG_MAX_LEN, LVMM_MSG_MAX_FDS, true) ==
			   -EPROTO);
	}
	return 0;
}
