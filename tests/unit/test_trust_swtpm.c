// SPDX-License-Identifier: MIT
/*
 * swtpm control protocol and process (src/trust/swtpm.c), the TPM 2.0
 * command builders (tpm2.c) and the supervisor's jobs (vtpm.c) against
 * a real swtpm 0.7 over socketpairs:
 *   - the control messages byte for byte against a scripted peer (no swtpm
 *     needed): big-endian codes, result codes, short/extra/missing replies;
 *   - swtpm's sandbox as lvmm starts it (fds, seccomp, uid, --terminate);
 *   - the locality/PCR table docs/trust.md relies on, measured again;
 *   - a measured start: PCRs equal lvmm's prediction, tpm2_eventlog's replay
 *     of lvmm's event log equals the vTPM's PCRs, a quote verifies with
 *     tpm2_checkquote (and not with a wrong nonce), the attestation key is
 *     the same after a restart on the same state;
 *   - what the guest must not do (extend PCRs 17-22, use the platform
 *     hierarchy, smuggle a locality in swtpm's command prefix).
 * The swtpm parts print "skip -" when swtpm is not installed.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "common/log.h"
#include "trust/eventlog.h"
#include "trust/measure.h"
#include "trust/swtpm.h"
#include "trust/tpm2.h"
#include "trust/vtpm.h"
#include "unit/trust_test.h"
#include "unit/unit.h"

/* ---- scripted peer ------------------------------------------------------------ */

static struct swtpm fake;
static int peer_ctrl = -1, peer_data = -1;

static void fake_open(void)
{
	int c[2], d[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, c) || socketpair(AF_UNIX, SOCK_STREAM, 0, d))
		abort();
	fake = (struct swtpm){ .ctrl_fd = c[0], .data_fd = d[0], .timeout_ms = 300 };
	peer_ctrl = c[1];
	peer_data = d[1];
}

static void fake_close(void)
{
	close(fake.ctrl_fd);
	close(fake.data_fd);
	close(peer_ctrl);
	close(peer_data);
}

static void queue(int fd, const void *b, size_t n)
{
	if (write(fd, b, n) != (ssize_t)n)
		abort();
}

/* What the client sent, without waiting for more. */
static size_t sent(int fd, uint8_t *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);

	return n > 0 ? (size_t)n : 0;
}

static const uint8_t ok4[4] = { 0, 0, 0, 0 };

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_ctrl_wire_format(void)
{
	uint8_t b[64], caps[8] = { 0, 0, 0, 0, 0, 0, 0x3f, 0xff }, bs[16] = {
		0, 0, 0, 0, 0, 0, 0x0f, 0x80, 0, 0, 0x0a, 0xf8, 0, 0, 0x10, 0 };
	uint32_t actual = 0, min = 0, max = 0;
	uint64_t c = 0;

	fake_open();
	queue(peer_ctrl, ok4, 4);
	CHECK_EQ(swtpm_init(&fake, 1), 0);
	CHECK_EQ(sent(peer_ctrl, b, sizeof(b)), 8);
	CHECK(!memcmp(b, "\0\0\0\x02\0\0\0\x01", 8));

	queue(peer_ctrl, ok4, 4);
	CHECK_EQ(swtpm_set_locality(&fake, 2), 0);
	CHECK_EQ(sent(peer_ctrl, b, sizeof(b)), 5);
	CHECK(!memcmp(b, "\0\0\0\x05\x02", 5));
	CHECK_EQ(swtpm_set_locality(&fake, 5), -EINVAL); /* never sent */
	CHECK_EQ(sent(peer_ctrl, b, sizeof(b)), 0);

	queue(peer_ctrl, caps, 8);
	CHECK_EQ(swtpm_get_capability(&fake, &c), 0);
	CHECK_EQ(c, 0x3fff);
	CHECK_EQ(sent(peer_ctrl, b, sizeof(b)), 4);
	CHECK(!memcmp(b, "\0\0\0\x01", 4));

	queue(peer_ctrl, bs, 16);
	CHECK_EQ(swtpm_set_buffersize(&fake, 3968, &actual, &min, &max), 0);
	CHECK_EQ(actual, 3968);
	CHECK_EQ(min, 0xaf8);
	CHECK_EQ(max, 4096);
	CHECK_EQ(sent(peer_ctrl, b, sizeof(b)), 8);
	CHECK(!memcmp(b, "\0\0\0\x11\0\0\x0f\x80", 8));

	queue(peer_ctrl, ok4, 4);
	CHECK_EQ(swtpm_ctrl_stop(&fake), 0);
	CHECK_EQ(sent(peer_ctrl, b, sizeof(b)), 4);
	CHECK(!memcmp(b, "\0\0\0\x0e", 4));
	queue(peer_ctrl, ok4, 4);
	CHECK_EQ(swtpm_shutdown(&fake), 0);
	CHECK_EQ(sent(peer_ctrl, b, sizeof(b)), 4);
	CHECK(!memcmp(b, "\0\0\0\x03", 4));
	fake_close();
}

static void test_ctrl_bad_replies(void)
{
	uint8_t b[64];
	static const uint8_t err[4] = { 0, 0, 0, 0x0a };
	uint32_t actual;

	fake_open();
	/* A TPM error: -EREMOTEIO with the code kept; only 4 bytes read. */
	queue(peer_ctrl, err, 4);
	CHECK_EQ(swtpm_set_buffersize(&fake, 4096, &actual, NULL, NULL), -EREMOTEIO);
	CHECK_EQ(fake.last_result, 0x0a);
	sent(peer_ctrl, b, sizeof(b));
	/* No reply at all: a timeout, not a hang. */
	CHECK_EQ(swtpm_init(&fake, 0), -ETIMEDOUT);
	sent(peer_ctrl, b, sizeof(b));
	/* More than the reply: the channel is out of step. */
	queue(peer_ctrl, "\0\0\0\0\0", 5);
	CHECK_EQ(swtpm_init(&fake, 0), -EPROTO);
	fake_close();

	/* A truncated reply, then EOF. */
	fake_open();
	queue(peer_ctrl, "\0\0", 2);
	shutdown(peer_ctrl, SHUT_WR);
	CHECK_EQ(swtpm_set_locality(&fake, 0), -EPIPE);
	fake_close();
}

/* A peer that answers each control command (one per read) with success, recording all bytes. */
static uint8_t rec[16384];
static size_t rec_len;

static void *responder(void *arg)
{
	unsigned answers = *(unsigned *)arg;
	struct pollfd p = { .fd = peer_ctrl, .events = POLLIN };

	while (answers && poll(&p, 1, 2000) == 1) {
		ssize_t n = recv(peer_ctrl, rec + rec_len, sizeof(rec) - rec_len, 0);
		uint32_t code;

		if (n <= 0)
			break;
		code = be32_at(rec + rec_len);
		rec_len += (size_t)n;
		/* HASH_DATA may arrive in pieces: answer once its announced length is in. */
		if (code == SWTPM_CMD_HASH_DATA) {
			size_t start = rec_len - (size_t)n, want = 8 + be32_at(rec + start + 4);

			while (rec_len - start < want && poll(&p, 1, 2000) == 1) {
				n = recv(peer_ctrl, rec + rec_len, want - (rec_len - start), 0);
				if (n <= 0)
					return NULL;
				rec_len += (size_t)n;
			}
		}
		queue(peer_ctrl, ok4, 4);
		answers--;
	}
	return NULL;
}

static void test_ctrl_hash_sequence_chunks(void)
{
	static uint8_t data[10000];
	unsigned answers = 5; /* START, 3 x DATA, END */
	uint8_t *b = rec;
	pthread_t th;
	size_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	fake_open();
	rec_len = 0;
	pthread_create(&th, NULL, responder, &answers);
	CHECK_EQ(swtpm_hash_sequence(&fake, data, sizeof(data)), 0);
	pthread_join(th, NULL);
	n = rec_len;
	CHECK_EQ(n, 4 + 3 * 8 + sizeof(data) + 4);
	CHECK(!memcmp(b, "\0\0\0\x06", 4));
	CHECK(!memcmp(b + 4, "\0\0\0\x07\0\0\x10\0", 8));          /* 4096 */
	CHECK(!memcmp(b + 12, data, 4096));
	CHECK(!memcmp(b + 12 + 4096, "\0\0\0\x07\0\0\x10\0", 8));
	CHECK(!memcmp(b + 20 + 8192, "\0\0\0\x07\0\0\x07\x10", 8)); /* 1808 */
	CHECK(!memcmp(b + 28 + 8192, data + 8192, 1808));
	CHECK(!memcmp(b + n - 4, "\0\0\0\x08", 4));
	fake_close();
}

static void test_ctrl_set_datafd(void)
{
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } ctl;
	uint8_t b[8];
	struct iovec iov = { b, sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	int sv[2], got = -1;
	struct stat st;

	fake_open();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		abort();
	queue(peer_ctrl, ok4, 4);
	CHECK_EQ(swtpm_set_datafd(&fake, sv[1]), 0);
	CHECK_EQ(recvmsg(peer_ctrl, &mh, MSG_DONTWAIT), 4);
	CHECK(!memcmp(b, "\0\0\0\x10", 4));
	c = CMSG_FIRSTHDR(&mh);
	CHECK(c && c->cmsg_type == SCM_RIGHTS);
	if (c)
		memcpy(&got, CMSG_DATA(c), sizeof(int));
	CHECK(got >= 0 && !fstat(got, &st) && S_ISSOCK(st.st_mode));
	if (got >= 0)
		close(got);
	close(sv[0]);
	close(sv[1]);
	fake_close();
}

static void test_data_transact_bounds(void)
{
	uint8_t cmd[12], rsp[64];
	size_t n = 0;
	static const uint8_t good[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0, 0, 0xaa, 0xbb };
	static const uint8_t big[10] = { 0x80, 0x01, 0, 0, 0x10, 0, 0, 0, 0, 0 };
	static const uint8_t tiny[10] = { 0x80, 0x01, 0, 0, 0, 4, 0, 0, 0, 0 };

	fake_open();
	CHECK(tpm2_build_startup_clear(cmd, sizeof(cmd)) == 12);
	queue(peer_data, good, 12);
	CHECK_EQ(swtpm_transact(&fake, cmd, 12, rsp, sizeof(rsp), &n), 0);
	CHECK_EQ(n, 12);
	CHECK_EQ(rsp[11], 0xbb);
	/* A response announcing more than the caller's buffer is refused, not read. */
	queue(peer_data, big, 10);
	CHECK_EQ(swtpm_transact(&fake, cmd, 12, rsp, sizeof(rsp), &n), -EPROTO);
	fake_close();
	fake_open();
	queue(peer_data, tiny, 10);
	CHECK_EQ(swtpm_transact(&fake, cmd, 12, rsp, sizeof(rsp), &n), -EPROTO);
	fake_close();
}

static void test_argv(void)
{
	struct swtpm_params p = { .state_dir = "/var/lib/x", .stderr_fd = -1 };
	char buf[512], *argv[SWTPM_ARGV_MAX], joined[1024] = "";

	CHECK_EQ(swtpm_build_argv(&p, 3, buf, sizeof(buf), argv, SWTPM_ARGV_MAX), 0);
	for (int i = 0; argv[i]; i++) {
		strcat(joined, argv[i]);
		strcat(joined, " ");
	}
	CHECK_STR(joined, "/usr/bin/swtpm socket --tpm2 --terminate --seccomp action=kill "
			  "--locality reject-locality-4 --tpmstate dir=/var/lib/x,mode=0600 "
			  "--ctrl type=unixio,clientfd=3 ");
	p.state_dir = "/a,b";
	CHECK_EQ(swtpm_build_argv(&p, 3, buf, sizeof(buf), argv, SWTPM_ARGV_MAX), -EINVAL);
	p.state_dir = NULL;
	CHECK_EQ(swtpm_build_argv(&p, 3, buf, sizeof(buf), argv, SWTPM_ARGV_MAX), -EINVAL);
	/* The state directory as an fd: swtpm starts in it, no path at all. */
	p.state_dir_fd = 7;
	CHECK_EQ(swtpm_build_argv(&p, 3, buf, sizeof(buf), argv, SWTPM_ARGV_MAX), 0);
	CHECK_STR(argv[9], "dir=.,mode=0600");
}

/* ---- real swtpm ------------------------------------------------------------------ */

#define TEST_UID 4242 /* when root: swtpm runs as this uid/gid */

static struct swtpm tpm;
static struct vtpm vt;
static char state[256];

static int spawn(const char *dir)
{
	struct swtpm_params p = { .state_dir = dir, .stderr_fd = -1 };
	int r;

	if (!geteuid()) {
		p.uid = TEST_UID;
		p.gid = TEST_UID;
	}
	r = swtpm_prepare_state_dir(dir, p.uid, p.gid);
	if (r)
		return r;
	r = swtpm_spawn(&tpm, &p, LVMM_TPM_BUF_MAX);
	if (!r)
		vtpm_init(&vt, &tpm);
	return r;
}

/* A raw TPM command on the data channel (bypassing the relay). */
static uint32_t raw(const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rlen)
{
	static uint8_t sink[4096];
	uint32_t rc = 0xffffffff;
	size_t n = 0;

	if (!rsp) {
		rsp = sink;
		rlen = &n;
	}
	if (swtpm_transact(&tpm, cmd, len, rsp, 4096, rlen))
		return rc;
	if (tpm2_parse_header(rsp, *rlen, &rc) == -EPROTO)
		return 0xfffffffe;
	return rc;
}

static void test_real_process(void)
{
	char path[64], line[256], fds[2048] = "";
	uint8_t cmd[64], rsp[4096];
	size_t rlen = 0;
	FILE *f;
	int nfd = 0, canary;

	canary = open(tt_path(line, sizeof(line), "fd-canary"), O_CREAT | O_RDWR, 0600);
	CHECK(canary >= 0);
	CHECK_EQ(spawn(state), 0);
	close(canary);
	CHECK((tpm.caps & SWTPM_CAPS_NEEDED) == SWTPM_CAPS_NEEDED);
	CHECK_EQ(swtpm_power_on(&tpm), 0);
	CHECK(tpm2_build_startup_clear(cmd, sizeof(cmd)) > 0);
	CHECK_EQ(raw(cmd, 12, NULL, NULL), 0);
	/* TPM2_GetCapability(TPM_PROPERTIES, MAX_COMMAND_SIZE, 2): the CRB's buffer size. */
	{
		static const uint8_t gc[] = { 0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7a,
					      0, 0, 0, 6, 0, 0, 0x01, 0x1e, 0, 0, 0, 2 };

		CHECK_EQ(raw(gc, sizeof(gc), rsp, &rlen), 0);
		CHECK_EQ(rlen, 10 + 1 + 4 + 4 + 2 * 8);
		CHECK(!memcmp(rsp + 19, "\0\0\x01\x1e\0\0\x0f\x80\0\0\x01\x1f\0\0\x0f\x80", 16));
	}
	/*
	 * Only fds 0-3 crossed the exec: the canary (inherited, not close-on-exec)
	 * is not among swtpm's fds; the others are swtpm's own (pipes, its lock,
	 * the data channel it was handed).
	 */
	snprintf(path, sizeof(path), "ls -l /proc/%d/fd", tpm.pid);
	f = popen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		nfd++;
		if (strlen(fds) + strlen(line) < sizeof(fds))
			strcat(fds, line);
		CHECK(strstr(line, "fd-canary") == NULL);
	}
	if (f)
		pclose(f);
	CHECK(nfd > 4);
	CHECK(strstr(fds, " 3 -> socket:") != NULL);
	/* seccomp filter mode, own session, and the partition's identity when root. */
	snprintf(path, sizeof(path), "/proc/%d/status", tpm.pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		unsigned a, b;

		if (!strncmp(line, "Seccomp:", 8))
			CHECK_EQ(atoi(line + 8), 2);
		if (!geteuid() && sscanf(line, "Uid: %u %u", &a, &b) == 2)
			CHECK(a == TEST_UID && b == TEST_UID);
		if (!geteuid() && sscanf(line, "Gid: %u %u", &a, &b) == 2)
			CHECK(a == TEST_UID && b == TEST_UID);
	}
	if (f)
		fclose(f);
	CHECK_EQ(getsid(tpm.pid), tpm.pid);
	CHECK_EQ(swtpm_stop(&tpm), 0);
	CHECK_EQ(tpm.pid, 0);
	CHECK_EQ(tpm.ctrl_fd, -1);
}

/*
 * The PC Client PCR attributes as swtpm 0.7.1 (libtpms) enforces them:
 * which localities may TPM2_PCR_Extend PCRs 16-23. docs/trust.md's table
 * (and the guest's locality-0-only CRB) rests on these numbers.
 */
static void test_real_locality_table(void)
{
	static const uint32_t expect[4] = {
		(1U << 16) | (1U << 23),                            /* locality 0 */
		(1U << 16) | (1U << 20) | (1U << 23),               /* locality 1 */
		0xff0000U,                                          /* locality 2 */
		0x1f0000U | (1U << 23),                             /* locality 3 */
	};
	uint8_t cmd[128], d[SHA256_LEN] = { 1 };
	int len;

	CHECK_EQ(spawn(state), 0);
	CHECK_EQ(swtpm_power_on(&tpm), 0);
	len = tpm2_build_startup_clear(cmd, sizeof(cmd));
	CHECK_EQ(raw(cmd, (size_t)len, NULL, NULL), 0);
	for (uint8_t loc = 0; loc < 4; loc++) {
		uint32_t allowed = 0;

		CHECK_EQ(swtpm_set_locality(&tpm, loc), 0);
		for (uint32_t pcr = 16; pcr < 24; pcr++) {
			uint32_t rc;

			len = tpm2_build_pcr_extend(cmd, sizeof(cmd), pcr, d);
			rc = raw(cmd, (size_t)len, NULL, NULL);
			CHECK(rc == 0 || rc == TPM2_RC_LOCALITY);
			if (!rc)
				allowed |= 1U << pcr;
		}
		if (allowed != expect[loc])
			printf("# locality %u may extend 0x%06x, expected 0x%06x\n", loc, allowed,
			       expect[loc]);
		CHECK_EQ(allowed, expect[loc]);
	}
	/* --locality reject-locality-4: nobody gets locality 4 (the hash sequence still works). */
	CHECK_EQ(swtpm_set_locality(&tpm, 4), -EREMOTEIO);
	CHECK_EQ(swtpm_set_locality(&tpm, 0), 0);
	swtpm_stop(&tpm);
}

static uint8_t kernel_digest[SHA256_LEN], initrd_digest[SHA256_LEN];

static void make_plan(struct measure_plan *p, struct boot_set *b, const char *cmdline,
		      const char *platform)
{
	struct measure_input in = {
		.partition = "user", .boot = b, .cmdline = cmdline, .platform = platform,
		.platform_len = strlen(platform), .outcome = MEASURE_VERIFIED,
		.key_digest = initrd_digest,
	};

	memset(b, 0, sizeof(*b));
	strcpy(b->kernel_name, "vmlinuz");
	strcpy(b->initrd_name, "initrd.img");
	if (digest_sha256("kernel bytes", 12, kernel_digest) ||
	    digest_sha256("initrd bytes", 12, initrd_digest) ||
	    digest_sha256(cmdline, strlen(cmdline), b->cmdline))
		abort();
	memcpy(b->kernel, kernel_digest, SHA256_LEN);
	memcpy(b->initrd, initrd_digest, SHA256_LEN);
	CHECK_EQ(measure_plan_build(&in, p), 0);
}

/* Parse tpm2_eventlog's "pcrs: sha256: N : 0x..." lines into pcrs; returns how many. */
static int eventlog_tool_pcrs(const char *out, uint8_t pcrs[24][SHA256_LEN])
{
	const char *p = strstr(out, "pcrs:");
	int n = 0;

	p = p ? strstr(p, "sha256:") : NULL;
	while (p && (p = strchr(p, '\n'))) {
		unsigned idx;
		char h[65];

		p++;
		if (sscanf(p, " %u : 0x%64[0-9A-Fa-f]", &idx, h) != 2 || idx >= 24)
			break;
		if (digest_from_hex(h, SHA256_LEN, pcrs[idx]))
			break;
		n++;
	}
	return n;
}

static void test_real_measured_start(void)
{
	static uint8_t pcrs[24][SHA256_LEN], want[24][SHA256_LEN], tool[24][SHA256_LEN], log[8192];
	static char out[65536];
	struct measure_plan plan;
	struct boot_set b;
	char err[256] = "";
	size_t loglen = 0;
	int r, n;

	make_plan(&plan, &b, "console=ttyS0 quiet", "name: user\nmemory: 256M\n");
	{
		uint64_t t0 = now_ns(), t1;

		CHECK_EQ(spawn(state), 0);
		t1 = now_ns();
		r = vtpm_start_measured(&vt, &plan, err, sizeof(err));
		printf("# measured: swtpm spawn %.1f ms, measured start (INIT .. locality 0) %.1f ms\n",
		       (double)(t1 - t0) / 1e6, (double)(now_ns() - t1) / 1e6);
	}
	if (r)
		printf("# %s\n", err);
	CHECK_EQ(r, 0);
	CHECK_EQ(vt.busy, VTPM_IDLE);
	CHECK_EQ(vt.locality, 0);
	CHECK_EQ(vtpm_sup_begin(&vt), 0);
	CHECK_EQ(vtpm_pcr_read(&vt, 0xff0000, pcrs, err, sizeof(err)), 0);
	CHECK_EQ(vtpm_sup_end(&vt), 0);
	CHECK_EQ(measure_plan_predict(&plan, want), 0);
	for (int i = 16; i < 24; i++)
		CHECK(!memcmp(pcrs[i], want[i], SHA256_LEN));
	/* PCR 17 went through the hash sequence, PCR 22 stays zero, 23 untouched. */
	CHECK(memcmp(pcrs[17], want[0], SHA256_LEN));
	CHECK(!memcmp(pcrs[22], want[0], SHA256_LEN));
	CHECK(!memcmp(pcrs[23], want[0], SHA256_LEN));

	/* The event log replays to the vTPM's values, by our parser and by tpm2-tools'. */
	CHECK_EQ(measure_plan_eventlog(&plan, log, sizeof(log), &loglen), 0);
	CHECK_EQ(tt_write("eventlog.bin", log, loglen), 0);
	{
		static uint8_t mine[24][SHA256_LEN];
		uint32_t touched = 0;

		CHECK_EQ(eventlog_replay(log, loglen, mine, &touched, err, sizeof(err)), 0);
		CHECK_EQ(touched, 0x3e0000);
		for (int i = 17; i < 23; i++)
			CHECK(!memcmp(mine[i], pcrs[i], SHA256_LEN));
	}
	if (!tt_have("tpm2_eventlog")) {
		printf("skip - test_real_eventlog_tool: tpm2_eventlog not found (Debian: tpm2-tools)\n");
	} else {
		r = tt_sh(out, sizeof(out), "tpm2_eventlog eventlog.bin");
		CHECK_EQ(r, 0);
		n = eventlog_tool_pcrs(out, tool);
		CHECK_EQ(n, 5); /* PCRs 17-21 */
		for (int i = 17; i < 22; i++)
			CHECK(!memcmp(tool[i], pcrs[i], SHA256_LEN));
		CHECK(strstr(out, "Spec ID Event03") != NULL);
		CHECK(strstr(out, "EV_COMPACT_HASH") != NULL);
		if (r || n != 5)
			printf("# tpm2_eventlog said:\n%s\n", out);
	}
	swtpm_stop(&tpm);
}

static void quote_once(struct tpm2_ak *ak, struct tpm2_quote *q, const uint8_t *nonce,
		       size_t nlen, uint8_t pcrs[24][SHA256_LEN])
{
	char err[256] = "";
	int r;

	CHECK_EQ(vtpm_sup_begin(&vt), 0);
	CHECK_EQ(vtpm_pcr_read(&vt, MEASURE_PCRS_MASK, pcrs, err, sizeof(err)), 0);
	r = vtpm_quote(&vt, nonce, nlen, MEASURE_PCRS_MASK, (const uint8_t(*)[SHA256_LEN])pcrs, ak,
		       q, err, sizeof(err));
	if (r)
		printf("# %s\n", err);
	CHECK_EQ(r, 0);
	CHECK_EQ(vtpm_sup_end(&vt), 0);
}

static void test_real_quote(void)
{
	static uint8_t pcrs[24][SHA256_LEN], pcrfile[6 * SHA256_LEN];
	static const uint8_t nonce[20] = "lvmm-nonce-12345678";
	static char out[8192], pem[512];
	struct tpm2_ak ak, ak2, ak3;
	struct tpm2_quote q;
	struct measure_plan plan;
	struct boot_set b;
	char err[256], nhex[64];
	int r;

	make_plan(&plan, &b, "console=ttyS0", "name: user\n");
	CHECK_EQ(spawn(state), 0);
	CHECK_EQ(vtpm_start_measured(&vt, &plan, err, sizeof(err)), 0);
	{
		uint64_t t0 = now_ns();

		quote_once(&ak, &q, nonce, sizeof(nonce), pcrs);
		printf("# measured: PCR read + CreatePrimary(P-256) + Quote + Flush %.1f ms\n",
		       (double)(now_ns() - t0) / 1e6);
	}
	CHECK_EQ(tpm2_ak_pem(&ak, pem, sizeof(pem)), 0);
	for (int i = 0; i < 6; i++)
		memcpy(pcrfile + i * SHA256_LEN, pcrs[17 + i], SHA256_LEN);
	CHECK_EQ(tt_write("ak.pem", pem, strlen(pem)), 0);
	CHECK_EQ(tt_write("quote.msg", q.attest, q.attest_len), 0);
	CHECK_EQ(tt_write("quote.sig", q.sig, q.sig_len), 0);
	CHECK_EQ(tt_write("quote.pcrs", pcrfile, sizeof(pcrfile)), 0);
	digest_to_hex(nonce, sizeof(nonce), nhex);
	if (!tt_have("tpm2_checkquote")) {
		printf("skip - test_real_checkquote: tpm2_checkquote not found (Debian: tpm2-tools)\n");
	} else {
		r = tt_sh(out, sizeof(out),
			  "tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig -f quote.pcrs "
			  "-l sha256:17,18,19,20,21,22 -g sha256 -q %s", nhex);
		if (r)
			printf("# tpm2_checkquote said:\n%s\n", out);
		CHECK_EQ(r, 0);
		/* The same quote does not verify for another nonce, or other PCR values. */
		nhex[0] = nhex[0] == '0' ? '1' : '0';
		CHECK(tt_sh(out, sizeof(out),
			    "tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig -f quote.pcrs "
			    "-l sha256:17,18,19,20,21,22 -g sha256 -q %s", nhex) != 0);
		nhex[0] = nhex[0] == '0' ? '1' : '0';
		pcrfile[0] ^= 1;
		CHECK_EQ(tt_write("bad.pcrs", pcrfile, sizeof(pcrfile)), 0);
		CHECK(tt_sh(out, sizeof(out),
			    "tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig -f bad.pcrs "
			    "-l sha256:17,18,19,20,21,22 -g sha256 -q %s", nhex) != 0);
	}
	/* OpenSSL reads the key too. */
	CHECK_EQ(tt_sh(out, sizeof(out), "openssl pkey -pubin -in ak.pem -noout"), 0);
	/* The attestation key is the same after a restart on the same state ... */
	swtpm_stop(&tpm);
	CHECK_EQ(spawn(state), 0);
	CHECK_EQ(vtpm_start_measured(&vt, &plan, err, sizeof(err)), 0);
	quote_once(&ak2, &q, nonce, sizeof(nonce), pcrs);
	CHECK(!memcmp(ak.x, ak2.x, 32) && !memcmp(ak.y, ak2.y, 32));
	swtpm_stop(&tpm);
	/* ... and another vTPM (fresh state) has another key. */
	{
		char other[300];

		snprintf(other, sizeof(other), "%s-other", state);
		CHECK_EQ(spawn(other), 0);
		CHECK_EQ(vtpm_start_measured(&vt, &plan, err, sizeof(err)), 0);
		quote_once(&ak3, &q, nonce, sizeof(nonce), pcrs);
		CHECK(memcmp(ak.x, ak3.x, 32));
		swtpm_stop(&tpm);
	}
}

/* A guest command through the relay, synchronously (the test plays the partition). */
static uint32_t guest(const uint8_t *cmd, size_t len, struct lvmm_tpm_msg *rsp)
{
	static struct lvmm_tpm_msg m;
	struct vtpm_event ev;
	struct pollfd p = { .fd = tpm.data_fd, .events = POLLIN };
	int r;

	memset(&m, 0, sizeof(m));
	m.seq = 77;
	m.len = (uint32_t)len;
	memcpy(m.data, cmd, len);
	r = vtpm_guest_submit(&vt, &m, rsp);
	if (r == VTPM_SUBMIT_REPLY)
		goto done;
	if (r != VTPM_SUBMIT_SENT)
		return 0xdeadbeef;
	for (int i = 0; i < 100; i++) {
		if (poll(&p, 1, 5000) != 1)
			return 0xdeadbeef;
		r = vtpm_on_readable(&vt, &ev, rsp);
		if (r < 0)
			return 0xdeadbeef;
		if (r == 1 && ev.guest_reply)
			goto done;
	}
	return 0xdeadbeef;
done:
	if (rsp->seq != 77 || rsp->len < 10)
		return 0xdeadbeef;
	return (uint32_t)rsp->data[6] << 24 | (uint32_t)rsp->data[7] << 16 |
	       (uint32_t)rsp->data[8] << 8 | rsp->data[9];
}

static void test_real_guest_limits(void)
{
	static struct lvmm_tpm_msg rsp;
	uint8_t cmd[256], d[SHA256_LEN] = { 7 }, auth[4] = { 0 };
	struct measure_plan plan;
	struct boot_set b;
	char err[256];
	int len;

	make_plan(&plan, &b, "", "name: user\n");
	CHECK_EQ(spawn(state), 0);
	CHECK_EQ(vtpm_start_measured(&vt, &plan, err, sizeof(err)), 0);
	/* Locality 0 can extend neither the measured PCRs 17-22 ... */
	for (uint32_t pcr = 17; pcr <= 22; pcr++) {
		len = tpm2_build_pcr_extend(cmd, sizeof(cmd), pcr, d);
		CHECK_EQ(guest(cmd, (size_t)len, &rsp), TPM2_RC_LOCALITY);
	}
	/* ... but may use 16 and 23 (and 0-15), as on a physical machine. */
	len = tpm2_build_pcr_extend(cmd, sizeof(cmd), 23, d);
	CHECK_EQ(guest(cmd, (size_t)len, &rsp), 0);
	/* The platform hierarchy has the supervisor's secret: no attestation key for the guest. */
	len = tpm2_build_create_ak(cmd, sizeof(cmd), NULL, 0);
	CHECK(guest(cmd, (size_t)len, &rsp) != 0);
	len = tpm2_build_platform_change_auth(cmd, sizeof(cmd), NULL, 0, auth, sizeof(auth));
	CHECK(guest(cmd, (size_t)len, &rsp) != 0);
	/* A second TPM2_Startup cannot reset the PCRs. */
	len = tpm2_build_startup_clear(cmd, sizeof(cmd));
	CHECK_EQ(guest(cmd, (size_t)len, &rsp), TPM2_RC_INITIALIZE);

	/*
	 * swtpm runs a command prefixed with "TPM_SEND_COMMAND, locality, size"
	 * at that locality, on any data channel (measured here, raw), and the
	 * locality sticks; the relay refuses such a prefix (it is no TPM 2.0 tag).
	 */
	len = tpm2_build_pcr_extend(cmd + 9, sizeof(cmd) - 9, 17, d);
	memcpy(cmd, "\0\0\0\x08\x03", 5);
	cmd[5] = 0;
	cmd[6] = 0;
	cmd[7] = 0;
	cmd[8] = (uint8_t)len;
	CHECK_EQ(guest(cmd, (size_t)len + 9, &rsp), TPM2_RC_BAD_TAG);
	{
		uint8_t r[64];
		ssize_t n;

		/* Raw: swtpm answers with a 4-byte size prefix and success, then an ack. */
		CHECK_EQ(trust_write_all(tpm.data_fd, cmd, (size_t)len + 9, 1000), 0);
		usleep(200000);
		n = recv(tpm.data_fd, r, sizeof(r), MSG_DONTWAIT);
		CHECK(n >= 14 && !memcmp(r + 4, "\x80\x02", 2) && !memcmp(r + 10, "\0\0\0\0", 4));
		if (n >= 14 && !memcmp(r + 10, "\0\0\0\0", 4))
			printf("# measured: swtpm 0.7.1 ran a prefixed PCR_Extend(17) at locality 3\n");
	}
	/* A vendor command (swtpm's in-band TPM2_SetLocality) never reaches swtpm. */
	memcpy(cmd, "\x80\x01\0\0\0\x0b\x20\0\x10\0\x03", 11);
	CHECK_EQ(guest(cmd, 11, &rsp), TPM2_RC_COMMAND_CODE);
	swtpm_stop(&tpm);
}

static void test_real_terminate(void)
{
	pid_t pid;
	int st = 0, w = 0;

	CHECK_EQ(spawn(state), 0);
	CHECK_EQ(swtpm_power_on(&tpm), 0);
	pid = tpm.pid;
	/* The supervisor dying closes the data channel: swtpm ends (--terminate). */
	close(tpm.data_fd);
	tpm.data_fd = -1;
	for (int i = 0; i < 300 && !w; i++) {
		w = waitpid(pid, &st, WNOHANG);
		usleep(10000);
	}
	CHECK_EQ(w, pid);
	CHECK(swtpm_reaped(&tpm, st) || !WIFSIGNALED(st));
	CHECK_EQ(tpm.pid, 0);
	swtpm_stop(&tpm); /* closes the control fd only */
	CHECK_EQ(tpm.ctrl_fd, -1);
	/* A missing binary: an error, nothing left behind. */
	{
		struct swtpm_params p = { .binary = "/nonexistent/swtpm", .state_dir = state,
					  .stderr_fd = -1 };

		CHECK(swtpm_spawn(&tpm, &p, 0) < 0);
		CHECK_EQ(tpm.pid, 0);
		CHECK_EQ(tpm.ctrl_fd, -1);
	}
}

int main(void)
{
	RUN(test_ctrl_wire_format);
	RUN(test_ctrl_bad_replies);
	RUN(test_ctrl_hash_sequence_chunks);
	RUN(test_ctrl_set_datafd);
	RUN(test_data_transact_bounds);
	RUN(test_argv);
	if (!tt_have("swtpm")) {
		printf("skip - test_real_swtpm: swtpm not found (Debian: apt-get install swtpm)\n");
		return unit_done();
	}
	if (tt_mkdir("trust-swtpm")) {
		printf("not ok - test_real_swtpm: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* swtpm may run as another uid: it must reach its state directory. */
	chmod(tt_dir, 0755);
	tt_path(state, sizeof(state), "state");
	RUN(test_real_process);
	RUN(test_real_locality_table);
	RUN(test_real_measured_start);
	RUN(test_real_quote);
	RUN(test_real_guest_limits);
	RUN(test_real_terminate);
	if (!unit_tests_failed)
		tt_cleanup();
	else
		printf("# files kept in %s\n", tt_dir);
	return unit_done();
}
