// SPDX-License-Identifier: MIT
/*
 * The vTPM relay state machine (src/trust/vtpm.c) over socketpairs, with
 * this test playing swtpm: one outstanding command, a guest queue of one,
 * supervisor jobs that wait for the in-flight guest command and put swtpm
 * back to locality 0 before the queued guest command goes out, every guest
 * command answered exactly once (with a TPM error when refused or when
 * swtpm misbehaves), and swtpm's misbehaviour (oversized, unsolicited or
 * truncated responses) turning the vTPM into "broken" instead of
 * confusing it. No swtpm needed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "trust/tpm2.h"
#include "trust/vtpm.h"
#include "unit/unit.h"

static struct swtpm t;
static struct vtpm v;
static int peer_ctrl = -1, peer_data = -1;

/* The control-channel side of the fake swtpm: answers every command, records SET_LOCALITY. */
static pthread_t ctrl_thread;
static volatile int fail_locality = -1; /* answer SET_LOCALITY(this) with an error */
static uint8_t loc_log[64];
static volatile unsigned loc_n;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void *ctrl_peer(void *arg)
{
	struct pollfd p = { .fd = peer_ctrl, .events = POLLIN };
	uint8_t b[64];

	(void)arg;
	while (poll(&p, 1, 5000) == 1) {
		ssize_t n = recv(peer_ctrl, b, sizeof(b), 0);
		uint8_t res[4] = { 0, 0, 0, 0 };

		if (n < 4)
			break;
		if (be32(b) == SWTPM_CMD_SET_LOCALITY && n == 5) {
			if (loc_n < sizeof(loc_log))
				loc_log[loc_n++] = b[4];
			if (b[4] == fail_locality)
				res[3] = 0x3d;
		}
		if (write(peer_ctrl, res, 4) != 4)
			break;
	}
	return NULL;
}

static void setup(void)
{
	int c[2], d[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, c) || socketpair(AF_UNIX, SOCK_STREAM, 0, d))
		abort();
	t = (struct swtpm){ .ctrl_fd = c[0], .data_fd = d[0], .timeout_ms = 500 };
	peer_ctrl = c[1];
	peer_data = d[1];
	fail_locality = -1;
	loc_n = 0;
	vtpm_init(&v, &t);
	pthread_create(&ctrl_thread, NULL, ctrl_peer, NULL);
}

static void teardown(void)
{
	shutdown(peer_ctrl, SHUT_RDWR);
	close(t.ctrl_fd);
	pthread_join(ctrl_thread, NULL);
	close(t.data_fd);
	close(peer_ctrl);
	close(peer_data);
}

/* A guest command message: TPM2_PCR_Read (or any bytes with len). */
static void guest_msg(struct lvmm_tpm_msg *m, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->seq = seq;
	m->len = (uint32_t)tpm2_build_pcr_read(m->data, sizeof(m->data), 0x800000);
}

static uint32_t rc_of(const struct lvmm_tpm_msg *m)
{
	return m->len >= 10 ? be32(m->data + 6) : 0xffffffff;
}

/* What the relay wrote on the data channel (without waiting). */
static ssize_t data_sent(uint8_t *buf, size_t cap)
{
	struct pollfd p = { .fd = peer_data, .events = POLLIN };

	if (poll(&p, 1, 200) != 1)
		return 0;
	return recv(peer_data, buf, cap, MSG_DONTWAIT);
}

static void respond(const uint8_t *b, size_t n)
{
	if (write(peer_data, b, n) != (ssize_t)n)
		abort();
}

/* A 14-byte success response carrying a marker. */
static const uint8_t rsp14[14] = { 0x80, 0x01, 0, 0, 0, 14, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };

static void test_guest_roundtrip(void)
{
	static struct lvmm_tpm_msg m, r;
	struct vtpm_event ev;
	uint8_t b[4096];

	setup();
	guest_msg(&m, 5);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_SENT);
	CHECK_EQ(v.busy, VTPM_GUEST);
	CHECK_EQ(data_sent(b, sizeof(b)), m.len);
	CHECK(!memcmp(b, m.data, m.len));
	/* The response arrives in two pieces: nothing completes on the first. */
	respond(rsp14, 4);
	CHECK_EQ(vtpm_on_readable(&v, &ev, &r), 0);
	respond(rsp14 + 4, 10);
	CHECK_EQ(vtpm_on_readable(&v, &ev, &r), 1);
	CHECK(ev.guest_reply && !ev.sup_granted);
	CHECK_EQ(r.seq, 5);
	CHECK_EQ(r.len, 14);
	CHECK(!memcmp(r.data, rsp14, 14));
	CHECK_EQ(v.busy, VTPM_IDLE);
	CHECK_EQ(v.stats.guest_cmds, 1);
	teardown();
}

static void test_guest_refused(void)
{
	static struct lvmm_tpm_msg m, r;
	uint8_t b[4096];

	setup();
	/* swtpm's "TPM_SEND_COMMAND" prefix (it would carry a locality): no TPM 2.0 tag. */
	guest_msg(&m, 1);
	memmove(m.data + 9, m.data, m.len);
	memcpy(m.data, "\0\0\0\x08\x04\0\0\0", 8);
	m.data[8] = (uint8_t)m.len;
	m.len += 9;
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_REPLY);
	CHECK_EQ(rc_of(&r), TPM2_RC_BAD_TAG);
	CHECK_EQ(r.seq, 1);
	/* The header's size differs from the bytes sent. */
	guest_msg(&m, 2);
	m.len -= 1;
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_REPLY);
	CHECK_EQ(rc_of(&r), TPM2_RC_COMMAND_SIZE);
	/* A vendor command (swtpm's in-band TPM2_SetLocality). */
	memset(&m, 0, sizeof(m));
	memcpy(m.data, "\x80\x01\0\0\0\x0b\x20\0\x10\0\x04", 11);
	m.len = 11;
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_REPLY);
	CHECK_EQ(rc_of(&r), TPM2_RC_COMMAND_CODE);
	/* Any locality but 0. */
	guest_msg(&m, 4);
	m.locality = 3;
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_REPLY);
	CHECK_EQ(rc_of(&r), TPM2_RC_LOCALITY);
	/* Nothing of that reached swtpm. */
	CHECK_EQ(data_sent(b, sizeof(b)), 0);
	CHECK_EQ(v.stats.guest_rejected, 4);
	/* One at a time: a second command while one is in flight is answered RETRY. */
	guest_msg(&m, 5);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_SENT);
	guest_msg(&m, 6);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_REPLY);
	CHECK_EQ(rc_of(&r), TPM2_RC_RETRY);
	CHECK_EQ(r.seq, 6);
	CHECK_EQ(v.cur_seq, 5);
	teardown();
}

static void test_sup_waits_for_guest(void)
{
	static struct lvmm_tpm_msg m, r;
	struct vtpm_event ev;
	uint8_t b[4096];

	setup();
	guest_msg(&m, 9);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_SENT);
	data_sent(b, sizeof(b));
	CHECK_EQ(vtpm_sup_begin(&v), -EINPROGRESS);
	CHECK_EQ(vtpm_sup_begin(&v), -EBUSY);
	/* Not holding yet: no supervisor command may go out mid-guest-command. */
	CHECK_EQ(vtpm_sup_transact(&v, 2, b, 10, b, sizeof(b), &(size_t){ 0 }), -EPERM);
	respond(rsp14, 14);
	CHECK_EQ(vtpm_on_readable(&v, &ev, &r), 1);
	CHECK(ev.guest_reply && ev.sup_granted);
	CHECK_EQ(r.seq, 9);
	CHECK_EQ(v.busy, VTPM_SUP);
	CHECK_EQ(vtpm_sup_end(&v), 0);
	CHECK_EQ(v.busy, VTPM_IDLE);
	teardown();
}

static void test_guest_queued_during_sup(void)
{
	static struct lvmm_tpm_msg m, r;
	uint8_t cmd[128], b[4096], rsp[64];
	size_t rlen = 0;
	int len;

	setup();
	CHECK_EQ(vtpm_sup_begin(&v), 0);
	/* The supervisor extends at locality 2. */
	len = tpm2_build_pcr_extend(cmd, sizeof(cmd), 18, (uint8_t[32]){ 1 });
	respond(rsp14, 14); /* queued before: the call reads synchronously */
	CHECK_EQ(vtpm_sup_transact(&v, 2, cmd, (size_t)len, rsp, sizeof(rsp), &rlen), 0);
	CHECK_EQ(rlen, 14);
	CHECK_EQ(data_sent(b, sizeof(b)), len);
	CHECK_EQ(v.locality, 2);
	CHECK(loc_n == 1 && loc_log[0] == 2);
	/* A guest command now waits; a second one is refused. */
	guest_msg(&m, 21);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_QUEUED);
	CHECK_EQ(data_sent(b, sizeof(b)), 0);
	guest_msg(&m, 22);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_REPLY);
	CHECK_EQ(rc_of(&r), TPM2_RC_RETRY);
	/* Release: locality 0 first, then the queued command goes out. */
	CHECK_EQ(vtpm_sup_end(&v), 0);
	CHECK(loc_n == 2 && loc_log[1] == 0);
	CHECK_EQ(v.locality, 0);
	CHECK_EQ(v.busy, VTPM_GUEST);
	CHECK_EQ(v.cur_seq, 21);
	guest_msg(&m, 21);
	CHECK_EQ(data_sent(b, sizeof(b)), m.len);
	CHECK(!memcmp(b, m.data, m.len));
	CHECK_EQ(v.stats.guest_queued, 1);
	/* Locality 3 is the highest the supervisor may ask for; 4 is refused here. */
	CHECK_EQ(vtpm_sup_begin(&v), -EINPROGRESS);
	teardown();
}

static void test_locality_restore_fails(void)
{
	static struct lvmm_tpm_msg m, r;
	uint8_t cmd[128], rsp[64];
	size_t rlen;
	int len;

	setup();
	CHECK_EQ(vtpm_sup_begin(&v), 0);
	len = tpm2_build_pcr_extend(cmd, sizeof(cmd), 18, (uint8_t[32]){ 1 });
	respond(rsp14, 14);
	CHECK_EQ(vtpm_sup_transact(&v, 2, cmd, (size_t)len, rsp, sizeof(rsp), &rlen), 0);
	guest_msg(&m, 31);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_QUEUED);
	/* swtpm refuses to go back to locality 0: the queued command must not run at 2. */
	fail_locality = 0;
	CHECK(vtpm_sup_end(&v) < 0);
	CHECK(v.broken);
	CHECK(vtpm_fail(&v, &r));
	CHECK_EQ(r.seq, 31);
	CHECK_EQ(rc_of(&r), TPM2_RC_FAILURE);
	CHECK(!vtpm_fail(&v, &r));
	/* From now on: errors only. */
	guest_msg(&m, 32);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_REPLY);
	CHECK_EQ(rc_of(&r), TPM2_RC_FAILURE);
	CHECK_EQ(vtpm_sup_begin(&v), -EIO);
	teardown();
}

static void test_swtpm_misbehaves(void)
{
	static struct lvmm_tpm_msg m, r;
	static const uint8_t huge[10] = { 0x80, 0x01, 0, 0, 0x10, 0x00, 0, 0, 0, 0 };
	struct vtpm_event ev;
	uint8_t b[4096];

	/* A response larger than the CRB's buffer: the guest gets TPM_RC_FAILURE. */
	setup();
	guest_msg(&m, 41);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_SENT);
	data_sent(b, sizeof(b));
	respond(huge, sizeof(huge));
	CHECK_EQ(vtpm_on_readable(&v, &ev, &r), -EPROTO);
	CHECK(ev.guest_reply);
	CHECK_EQ(r.seq, 41);
	CHECK_EQ(rc_of(&r), TPM2_RC_FAILURE);
	CHECK(v.broken);
	teardown();

	/* A response nobody asked for. */
	setup();
	respond(rsp14, 14);
	CHECK_EQ(vtpm_on_readable(&v, &ev, &r), -EPROTO);
	CHECK(!ev.guest_reply);
	CHECK(v.broken);
	teardown();

	/* swtpm goes away mid-response. */
	setup();
	guest_msg(&m, 43);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_SENT);
	respond(rsp14, 6);
	shutdown(peer_data, SHUT_WR);
	CHECK_EQ(vtpm_on_readable(&v, &ev, &r), -EPIPE);
	CHECK(ev.guest_reply && r.seq == 43 && rc_of(&r) == TPM2_RC_FAILURE);
	teardown();

	/* swtpm never answers: the deadline says so, vtpm_fail() answers the guest. */
	setup();
	guest_msg(&m, 44);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_SENT);
	CHECK(!vtpm_timed_out(&v, now_ns()));
	CHECK(vtpm_timed_out(&v, now_ns() + (uint64_t)VTPM_GUEST_TIMEOUT_MS * 1000000 + 1));
	CHECK(vtpm_fail(&v, &r));
	CHECK(r.seq == 44 && rc_of(&r) == TPM2_RC_FAILURE);
	teardown();
}

static void test_supervisor_limits(void)
{
	uint8_t cmd[64], rsp[64];
	size_t rlen;

	setup();
	CHECK_EQ(vtpm_sup_begin(&v), 0);
	CHECK_EQ(vtpm_sup_begin(&v), -EBUSY);
	/* Locality 4 is never used through the relay. */
	CHECK_EQ(vtpm_sup_transact(&v, 4, cmd, 10, rsp, sizeof(rsp), &rlen), -EINVAL);
	CHECK_EQ(vtpm_sup_end(&v), 0);
	CHECK_EQ(vtpm_sup_end(&v), -EPERM);
	teardown();
}

/*
 * A partition that died with a command in swtpm left that command's
 * response on the data channel. The next start must drop it before its
 * own commands: otherwise TPM2_Startup would read the old response (here a
 * failure) as its own and every answer after it would be one off.
 */
static void test_restart_drains(void)
{
	static const uint8_t stale[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01 };
	static const uint8_t ok[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
	static struct lvmm_tpm_msg m, r;
	static const struct boot_set b = { .kernel_name = "vmlinuz" };
	struct measure_input in = { .partition = "p", .boot = &b, .cmdline = "", .platform = "x",
				    .platform_len = 1, .outcome = MEASURE_UNVERIFIED };
	struct measure_plan plan;
	char err[256] = "";
	uint8_t sink[8192];
	int rc;

	setup();
	CHECK_EQ(measure_plan_build(&in, &plan), 0);
	guest_msg(&m, 51);
	CHECK_EQ(vtpm_guest_submit(&v, &m, &r), VTPM_SUBMIT_SENT);
	data_sent(sink, sizeof(sink));
	/* The old partition is gone; its answer arrives, then the new start's answers. */
	respond(stale, sizeof(stale));
	for (int i = 0; i < 2 + 5; i++) /* Startup, HierarchyChangeAuth, 5 extends */
		respond(ok, sizeof(ok));
	rc = vtpm_start_measured(&v, &plan, err, sizeof(err));
	if (rc)
		printf("# %s\n", err);
	CHECK_EQ(rc, 0);
	CHECK_EQ(v.busy, VTPM_IDLE);
	CHECK(!v.broken);
	/* Everything was consumed, nothing left over. */
	CHECK_EQ(recv(t.data_fd, sink, 1, MSG_DONTWAIT), -1);
	teardown();
}

int main(void)
{
	RUN(test_guest_roundtrip);
	RUN(test_guest_refused);
	RUN(test_sup_waits_for_guest);
	RUN(test_guest_queued_during_sup);
	RUN(test_locality_restore_fails);
	RUN(test_swtpm_misbehaves);
	RUN(test_supervisor_limits);
	RUN(test_restart_drains);
	return unit_done();
}
