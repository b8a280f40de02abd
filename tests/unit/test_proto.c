// SPDX-License-Identifier: MIT
/*
 * The supervisor's validation of partition messages (src/common/proto.c):
 * every well-formed message a partition sends is accepted, and each way a
 * compromised partition could break one is refused, over a real
 * SOCK_SEQPACKET socketpair (so fds and truncation are real too).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/proto.h"
#include "unit/unit.h"

static int sv[2];
static union {
	struct lvmm_event ev;
	struct lvmm_exit ex;
	struct lvmm_ctl_reply rep;
	char raw[LVMM_MSG_MAX_LEN];
} in, out;

/* Send a message of type/len (with nfds fds), receive it as the supervisor does, validate. */
static int roundtrip(uint16_t type, uint32_t len, unsigned nfds)
{
	struct lvmm_msg_hdr h;
	int fds[2] = { -1, -1 }, r;
	unsigned i;

	for (i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	r = proto_send(sv[0], type, &out, len, fds, nfds, 0);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (r)
		return r;
	r = proto_recv(sv[1], &h, &in, sizeof(in.rep), NULL, 0, 0);
	return r ? r : proto_check_part_msg(&h, &in);
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

static void test_valid_messages_accepted(void)
{
	memset(&out, 0, sizeof(out));
	CHECK_EQ(roundtrip(LVMM_MSG_READY, 0, 0), 0);
	out.ev.kind = LVMM_EV_DMA_FAULT;
	snprintf(out.ev.dev, sizeof(out.ev.dev), "blk0");
	CHECK_EQ(roundtrip(LVMM_MSG_EVENT, sizeof(out.ev), 0), 0);
	memset(&out, 0, sizeof(out));
	out.ex.reason = LVMM_EXIT_SHUTDOWN;
	out.ex.insn_len = 16;
	snprintf(out.ex.detail, sizeof(out.ex.detail), "triple fault");
	CHECK_EQ(roundtrip(LVMM_MSG_EXIT, sizeof(out.ex), 0), 0);
	memset(&out, 0, sizeof(out));
	out.rep.op = LVMM_CTL_STATS;
	out.rep.result = -EBUSY;
	out.rep.ndevs = LVMM_STATS_MAX_DEVS;
	CHECK_EQ(roundtrip(LVMM_MSG_CTL_REPLY, sizeof(out.rep), 0), 0);
}

static void test_malformed_refused(void)
{
	int before = lowest_free_fd();

	memset(&out, 0, sizeof(out));
	/* Framing: a payload on READY, short or long fixed payloads, fds, wrong direction. */
	CHECK_EQ(roundtrip(LVMM_MSG_READY, 4, 0), -EPROTO);
	out.ev.kind = LVMM_EV_DMA_FAULT;
	CHECK_EQ(roundtrip(LVMM_MSG_EVENT, sizeof(out.ev) - 1, 0), -EPROTO);
	CHECK_EQ(roundtrip(LVMM_MSG_EVENT, sizeof(out.ev) + 8, 0), -EPROTO);
	CHECK_EQ(roundtrip(LVMM_MSG_READY, 0, 2), -EPROTO);
	CHECK_EQ(lowest_free_fd(), before); /* the refused message's fds were closed */
	CHECK_EQ(roundtrip(LVMM_MSG_CONFIG, 64, 0), -EPROTO);
	CHECK_EQ(roundtrip(LVMM_MSG_CTL, sizeof(struct lvmm_ctl), 0), -EPROTO);
	/* Fields: enums out of range, unterminated strings, counts past their arrays. */
	memset(&out, 0, sizeof(out));
	CHECK_EQ(roundtrip(LVMM_MSG_EVENT, sizeof(out.ev), 0), -EPROTO); /* kind 0 */
	out.ev.kind = LVMM_EV_KIND_MAX + 1;
	CHECK_EQ(roundtrip(LVMM_MSG_EVENT, sizeof(out.ev), 0), -EPROTO);
	out.ev.kind = 1;
	memset(out.ev.dev, 'x', sizeof(out.ev.dev));
	CHECK_EQ(roundtrip(LVMM_MSG_EVENT, sizeof(out.ev), 0), -EPROTO);
	memset(&out, 0, sizeof(out));
	out.ex.reason = LVMM_EXIT_REASON_MAX + 1;
	CHECK_EQ(roundtrip(LVMM_MSG_EXIT, sizeof(out.ex), 0), -EPROTO);
	out.ex.reason = 1;
	out.ex.insn_len = 17;
	CHECK_EQ(roundtrip(LVMM_MSG_EXIT, sizeof(out.ex), 0), -EPROTO);
	out.ex.insn_len = 0;
	memset(out.ex.detail, 'd', sizeof(out.ex.detail));
	CHECK_EQ(roundtrip(LVMM_MSG_EXIT, sizeof(out.ex), 0), -EPROTO);
	memset(&out, 0, sizeof(out));
	out.rep.op = LVMM_CTL_OP_MAX + 1;
	CHECK_EQ(roundtrip(LVMM_MSG_CTL_REPLY, sizeof(out.rep), 0), -EPROTO);
	out.rep.op = LVMM_CTL_PAUSE;
	out.rep.result = 1;
	CHECK_EQ(roundtrip(LVMM_MSG_CTL_REPLY, sizeof(out.rep), 0), -EPROTO);
	out.rep.result = 0;
	out.rep.ndevs = LVMM_STATS_MAX_DEVS + 1;
	CHECK_EQ(roundtrip(LVMM_MSG_CTL_REPLY, sizeof(out.rep), 0), -EPROTO);
	out.rep.ndevs = 1;
	memset(out.rep.devs[0].id, 'i', sizeof(out.rep.devs[0].id));
	CHECK_EQ(roundtrip(LVMM_MSG_CTL_REPLY, sizeof(out.rep), 0), -EPROTO);
	CHECK_EQ(lowest_free_fd(), before);
}

static void test_header_check(void)
{
	struct lvmm_msg_hdr h = {
		.magic = LVMM_PROTO_MAGIC, .version = LVMM_PROTO_VERSION, .type = LVMM_MSG_READY,
	};

	CHECK_EQ(proto_check_hdr(&h, sizeof(h), 0, 0, 0, false), 0);
	CHECK_EQ(proto_check_hdr(&h, sizeof(h), 0, 0, 0, true), -EPROTO);   /* truncated */
	CHECK_EQ(proto_check_hdr(&h, sizeof(h) - 1, 0, 0, 0, false), -EPROTO);
	CHECK_EQ(proto_check_hdr(&h, sizeof(h) + 1, 0, 1, 0, false), -EPROTO); /* len disagrees */
	CHECK_EQ(proto_check_hdr(&h, sizeof(h), 1, 0, 1, false), -EPROTO); /* nfds disagrees */
	h.len = 8;
	CHECK_EQ(proto_check_hdr(&h, sizeof(h) + 8, 0, 4, 0, false), -EPROTO); /* over maxlen */
	h.len = 0;
	h.type = LVMM_MSG_TYPE_MAX + 1;
	CHECK_EQ(proto_check_hdr(&h, sizeof(h), 0, 0, 0, false), -EPROTO);
	h.type = LVMM_MSG_READY;
	h.version = LVMM_PROTO_VERSION + 1;
	CHECK_EQ(proto_check_hdr(&h, sizeof(h), 0, 0, 0, false), -EPROTO);
	h.version = LVMM_PROTO_VERSION;
	h.magic ^= 1;
	CHECK_EQ(proto_check_hdr(&h, sizeof(h), 0, 0, 0, false), -EPROTO);
}

int main(void)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		printf("not ok - socketpair: %s\n", strerror(errno));
		return 1;
	}
	RUN(test_valid_messages_accepted);
	RUN(test_malformed_refused);
	RUN(test_header_check);
	return unit_done();
}
