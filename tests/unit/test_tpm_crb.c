// SPDX-License-Identifier: MIT
/*
 * The TPM 2.0 CRB register model (src/devices/tpm_crb.c) driven the way
 * Linux's tpm_crb driver drives it (locality request, cmdReady, command in
 * the buffer, CTRL_START, poll, response, goIdle, relinquish), with a fake
 * backend; then the hostile cases: malformed commands answered with TPM
 * error codes (never a stuck device), CTRL_START floods queue nothing,
 * localities 1-4 never granted, stale or malformed completions, a buffer
 * the guest cannot change while the command is out; and the partition
 * device itself: the event log placed at LVMM_TPM_EVENTLOG_BASE and each
 * command sent to the supervisor as one LVMM_MSG_TPM_CMD.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/proto.h"
#include "devices/registry.h"
#include "devices/tpm_crb.h"
#include "lvmm/guest_abi.h"
#include "unit/unit.h"
#include "vmm/vm.h"

static struct {
	unsigned calls;
	uint32_t seq, len;
	uint8_t loc;
	uint8_t cmd[LVMM_TPM_BUF_MAX];
	int fail; /* make submit fail with this */
} be;

static int fake_submit(void *opaque, uint32_t seq, const uint8_t *cmd, uint32_t len, uint8_t loc)
{
	(void)opaque;
	be.calls++;
	be.seq = seq;
	be.len = len;
	be.loc = loc;
	memcpy(be.cmd, cmd, len);
	return be.fail;
}

static struct tpm_crb crb;

static void setup(void)
{
	struct tpm_crb_backend b = { .submit = fake_submit };

	memset(&be, 0, sizeof(be));
	tpm_crb_init(&crb, &b);
}

static uint32_t rd32(uint64_t off)
{
	uint32_t v;

	tpm_crb_read(&crb, off, &v, 4);
	return v;
}

static uint64_t rd64(uint64_t off)
{
	uint64_t v;

	tpm_crb_read(&crb, off, &v, 8);
	return v;
}

static void wr32(uint64_t off, uint32_t v)
{
	tpm_crb_write(&crb, off, &v, 4);
}

/* Like memcpy_toio: 8-byte stores, then single bytes for the tail. */
static void put_buffer(const uint8_t *b, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		tpm_crb_write(&crb, CRB_DATA_BUFFER + i, b + i, 8);
	for (; i < n; i++)
		tpm_crb_write(&crb, CRB_DATA_BUFFER + i, b + i, 1);
}

static uint32_t rsp_code(void)
{
	uint8_t h[10];

	for (int i = 0; i < 10; i++)
		tpm_crb_read(&crb, CRB_DATA_BUFFER + i, h + i, 1);
	return (uint32_t)h[6] << 24 | (uint32_t)h[7] << 16 | (uint32_t)h[8] << 8 | h[9];
}

/* TPM2_GetRandom(16): a typical first command. */
static const uint8_t getrandom_cmd[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 16 };

static void test_linux_sequence(void)
{
	static const uint8_t rsp[16] = { 0x80, 0x01, 0, 0, 0, 16, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4 };
	uint8_t got[16];

	setup();
	/* Probe: INTF_ID says CRB, version 1, locality 0 only, CRB capable. */
	CHECK_EQ(rd64(CRB_INTF_ID) & 0xff, 0x11);
	CHECK(rd64(CRB_INTF_ID) & (1U << 14));
	CHECK(!(rd64(CRB_INTF_ID) & (1U << 8)));
	/* __crb_request_locality: requestAccess, then locAssigned | tpmRegValidSts. */
	CHECK_EQ(rd32(CRB_LOC_STATE) & 0x82, 0x80);
	wr32(CRB_LOC_CTRL, CRB_LOC_CTRL_REQUEST);
	CHECK_EQ(rd32(CRB_LOC_STATE) & 0x82, 0x82);
	CHECK_EQ(rd32(CRB_LOC_STS) & 1, 1);
	/* __crb_cmd_ready: the bit clears (at once), the TPM is no longer idle. */
	CHECK_EQ(rd32(CRB_CTRL_STS) & CRB_CTRL_STS_IDLE, CRB_CTRL_STS_IDLE);
	wr32(CRB_CTRL_REQ, CRB_CTRL_REQ_CMD_READY);
	CHECK_EQ(rd32(CRB_CTRL_REQ), 0);
	CHECK_EQ(rd32(CRB_CTRL_STS), 0);
	/* crb_map_io: one shared buffer, same sizes, at base + 0x80. */
	CHECK_EQ(rd32(CRB_CTRL_CMD_SIZE), LVMM_TPM_BUF_MAX);
	CHECK_EQ(rd32(CRB_CTRL_RSP_SIZE), LVMM_TPM_BUF_MAX);
	CHECK_EQ(((uint64_t)rd32(CRB_CTRL_CMD_HADDR) << 32) | rd32(CRB_CTRL_CMD_LADDR),
		 LVMM_TPM_CRB_DATA);
	CHECK_EQ(rd64(CRB_CTRL_RSP_ADDR), LVMM_TPM_CRB_DATA);
	/* crb_send: cancel cleared, command copied, START. */
	wr32(CRB_CTRL_CANCEL, 0);
	put_buffer(getrandom_cmd, sizeof(getrandom_cmd));
	wr32(CRB_CTRL_START, CRB_START_INVOKE);
	CHECK_EQ(be.calls, 1);
	CHECK_EQ(be.len, 12);
	CHECK_EQ(be.loc, 0);
	CHECK(!memcmp(be.cmd, getrandom_cmd, 12));
	/* crb_status: not complete until the answer is in. */
	CHECK_EQ(rd32(CRB_CTRL_START), CRB_START_INVOKE);
	CHECK_EQ(tpm_crb_complete(&crb, be.seq, rsp, sizeof(rsp)), 0);
	CHECK_EQ(rd32(CRB_CTRL_START), 0);
	/* crb_recv: 8 bytes, then the rest; no error status. */
	CHECK_EQ(rd32(CRB_CTRL_STS) & CRB_CTRL_STS_ERROR, 0);
	tpm_crb_read(&crb, CRB_DATA_BUFFER, got, 8);
	tpm_crb_read(&crb, CRB_DATA_BUFFER + 8, got + 8, 8);
	CHECK(!memcmp(got, rsp, 16));
	/* goIdle, relinquish. */
	wr32(CRB_CTRL_REQ, CRB_CTRL_REQ_GO_IDLE);
	CHECK_EQ(rd32(CRB_CTRL_REQ), 0);
	CHECK_EQ(rd32(CRB_CTRL_STS), CRB_CTRL_STS_IDLE);
	wr32(CRB_LOC_CTRL, CRB_LOC_CTRL_RELINQUISH);
	CHECK_EQ(rd32(CRB_LOC_STATE) & 0x82, 0x80);
	/* Byte reads of registers see the same little-endian values. */
	{
		uint8_t b;

		tpm_crb_read(&crb, CRB_CTRL_CMD_SIZE + 1, &b, 1);
		CHECK_EQ(b, (LVMM_TPM_BUF_MAX >> 8) & 0xff);
	}
	tpm_crb_destroy(&crb);
}

static void start_with(const uint8_t *cmd, size_t n)
{
	put_buffer(cmd, n);
	wr32(CRB_CTRL_START, CRB_START_INVOKE);
}

static void test_malformed_commands(void)
{
	uint8_t c[64];

	setup();
	/* Shorter than a header. */
	start_with(getrandom_cmd, 5);
	CHECK_EQ(rsp_code(), 0x142);
	CHECK_EQ(rd32(CRB_CTRL_START), 0);
	/* A size field larger than what was written. */
	memcpy(c, getrandom_cmd, 12);
	c[5] = 40;
	start_with(c, 12);
	CHECK_EQ(rsp_code(), 0x142);
	/* Larger than the buffer. */
	c[4] = 0x20;
	c[5] = 0;
	start_with(c, 12);
	CHECK_EQ(rsp_code(), 0x142);
	/* Smaller than a header. */
	c[4] = 0;
	c[5] = 4;
	start_with(c, 12);
	CHECK_EQ(rsp_code(), 0x142);
	/* swtpm's TPM_SEND_COMMAND prefix (00 00 00 08 + locality): not a TPM 2.0 tag. */
	memcpy(c, "\0\0\0\x08\x04\0\0\0\x0c", 9);
	memcpy(c + 9, getrandom_cmd, 12);
	start_with(c, 21);
	CHECK_EQ(rsp_code(), 0x01e);
	/* A vendor command (swtpm's in-band TPM2_SetLocality). */
	start_with((const uint8_t *)"\x80\x01\0\0\0\x0b\x20\0\x10\0\x04", 11);
	CHECK_EQ(rsp_code(), 0x143);
	/* None of that reached the backend, and the device is not stuck. */
	CHECK_EQ(be.calls, 0);
	CHECK_EQ(crb.stats.rejected, 6);
	start_with(getrandom_cmd, 12);
	CHECK_EQ(be.calls, 1);
	CHECK_EQ(rd32(CRB_CTRL_START), 1);
	tpm_crb_destroy(&crb);
}

static void test_flood_and_busy(void)
{
	static const uint8_t rsp[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
	uint8_t b[12];

	setup();
	start_with(getrandom_cmd, 12);
	/* A guest hammering START (and rewriting the buffer) while the command is out. */
	for (int i = 0; i < 10000; i++)
		wr32(CRB_CTRL_START, CRB_START_INVOKE);
	put_buffer((const uint8_t *)"XXXXXXXXXXXX", 12);
	CHECK_EQ(be.calls, 1);
	CHECK_EQ(crb.stats.ignored_starts, 10000);
	tpm_crb_read(&crb, CRB_DATA_BUFFER, b, 8);
	tpm_crb_read(&crb, CRB_DATA_BUFFER + 8, b + 8, 4);
	CHECK(!memcmp(b, getrandom_cmd, 12));
	/* A completion for another command changes nothing. */
	CHECK_EQ(tpm_crb_complete(&crb, be.seq + 1, rsp, 10), -ESTALE);
	CHECK_EQ(rd32(CRB_CTRL_START), 1);
	CHECK_EQ(tpm_crb_complete(&crb, be.seq, rsp, 10), 0);
	CHECK_EQ(rsp_code(), 0);
	/* A second completion for it is stale too. */
	CHECK_EQ(tpm_crb_complete(&crb, be.seq, rsp, 10), -ESTALE);
	CHECK_EQ(crb.stats.stale, 2);
	tpm_crb_destroy(&crb);
}

static void test_bad_completion_and_backend(void)
{
	static const uint8_t lies[10] = { 0x80, 0x01, 0, 0, 0x40, 0, 0, 0, 0, 0 };

	setup();
	/* The backend cannot take the command: the guest gets TPM_RC_FAILURE now. */
	be.fail = -EAGAIN;
	start_with(getrandom_cmd, 12);
	CHECK_EQ(rd32(CRB_CTRL_START), 0);
	CHECK_EQ(rsp_code(), 0x101);
	/* A response whose header lies about its size is replaced by TPM_RC_FAILURE. */
	be.fail = 0;
	start_with(getrandom_cmd, 12);
	CHECK_EQ(tpm_crb_complete(&crb, be.seq, lies, 10), 0);
	CHECK_EQ(rd32(CRB_CTRL_START), 0);
	CHECK_EQ(rsp_code(), 0x101);
	start_with(getrandom_cmd, 12);
	CHECK_EQ(tpm_crb_complete(&crb, be.seq, lies, 5), 0);
	CHECK_EQ(rsp_code(), 0x101);
	tpm_crb_destroy(&crb);
}

static void test_other_localities(void)
{
	uint32_t v;

	setup();
	wr32(CRB_LOC_CTRL, CRB_LOC_CTRL_REQUEST);
	for (unsigned loc = 1; loc <= 4; loc++) {
		uint64_t p = loc * CRB_PAGE;

		/* LOC_STATE is aliased; the request is refused; nothing else is there. */
		CHECK_EQ(rd32(p + CRB_LOC_STATE), rd32(CRB_LOC_STATE));
		wr32(p + CRB_LOC_CTRL, CRB_LOC_CTRL_REQUEST);
		CHECK_EQ(rd32(p + CRB_LOC_STS), 0);
		CHECK_EQ(rd32(p + CRB_CTRL_CMD_SIZE), 0);
		/* A START from there does nothing. */
		tpm_crb_write(&crb, p + CRB_DATA_BUFFER, getrandom_cmd, 8);
		wr32(p + CRB_CTRL_START, CRB_START_INVOKE);
		CHECK_EQ(rd32(p + CRB_CTRL_START), 0);
	}
	CHECK_EQ(be.calls, 0);
	CHECK_EQ(crb.stats.denied, 12);
	/* Accesses that straddle a page end or the device's end are dropped. */
	v = 0xffffffff;
	tpm_crb_read(&crb, CRB_PAGE - 2, &v, 4);
	CHECK_EQ(v, 0);
	tpm_crb_write(&crb, CRB_PAGE - 4, "ABCDEFGH", 8);
	CHECK_EQ(crb.written, 0);
	tpm_crb_read(&crb, LVMM_TPM_CRB_SIZE, &v, 4);
	CHECK_EQ(v, 0);
	tpm_crb_destroy(&crb);
}

/* ---- the partition device ------------------------------------------------------ */

static void test_partition_device(void)
{
	static struct vm vm;
	static struct lvmm_tpm_msg m;
	struct lvmm_dev_cfg cfg;
	struct lvmm_msg_hdr hdr;
	uint8_t *ram = calloc(1, 1 << 20);
	int sv[2], fds[1], log, r;
	void *state = NULL;
	const struct bus_dev *bd;

	memset(&vm, 0, sizeof(vm));
	CHECK(ram != NULL);
	CHECK_EQ(gmem_add_slot(&vm.gmem, 0, 1 << 20, ram, 0, false), 0);
	bus_init(&vm.mmio, "mmio");
	pthread_mutex_init(&vm.sup_lock, NULL);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	vm.sup_fd = sv[0];
	log = memfd_create("eventlog", MFD_ALLOW_SEALING);
	CHECK_EQ(write(log, "Spec ID Event03 goes here", 25), 25);
	memset(ram + LVMM_TPM_EVENTLOG_BASE, 0xee, LVMM_TPM_EVENTLOG_SIZE);
	fds[0] = log;
	vm.fds = fds;
	vm.nfds = 1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.type = LVMM_DEV_TPM;
	strcpy(cfg.id, "tpm0");
	cfg.fd[0] = 0;
	cfg.fd[1] = cfg.fd[2] = cfg.fd[3] = LVMM_NO_FD;
	CHECK_EQ(tpm_crb_ops.create(&vm, &cfg, &state), 0);
	/* The log where the TPM2 table says, zeros after it. */
	CHECK(!memcmp(ram + LVMM_TPM_EVENTLOG_BASE, "Spec ID Event03 goes here", 25));
	CHECK_EQ(ram[LVMM_TPM_EVENTLOG_BASE + 25], 0);
	CHECK_EQ(ram[LVMM_TPM_EVENTLOG_BASE + LVMM_TPM_EVENTLOG_SIZE - 1], 0);
	bd = bus_find(&vm.mmio, LVMM_TPM_CRB_BASE + 0x4c, 4);
	CHECK(bd && bd->len == LVMM_TPM_CRB_SIZE);
	/* A guest command goes to the supervisor as one LVMM_MSG_TPM_CMD. */
	{
		uint32_t one = 1;

		for (int i = 0; i < 12; i++)
			bus_access(&vm.mmio, true, LVMM_TPM_CRB_DATA + i,
				   (void *)(getrandom_cmd + i), 1);
		bus_access(&vm.mmio, true, LVMM_TPM_CRB_BASE + CRB_CTRL_START, &one, 4);
	}
	r = proto_recv(sv[1], &hdr, &m, sizeof(m), NULL, 0, MSG_DONTWAIT);
	CHECK_EQ(r, 0);
	CHECK_EQ(hdr.type, LVMM_MSG_TPM_CMD);
	CHECK(lvmm_tpm_msg_ok(&m, hdr.len));
	CHECK_EQ(m.len, 12);
	CHECK(!memcmp(m.data, getrandom_cmd, 12));
	/* The supervisor's answer, checked structurally first. */
	m.pad[1] = 1;
	CHECK_EQ(tpm_crb_supervisor_rsp(state, &m, sizeof(m)), -EPROTO);
	m.pad[1] = 0;
	CHECK_EQ(tpm_crb_supervisor_rsp(state, &m, sizeof(m) - 1), -EPROTO);
	memcpy(m.data, "\x80\x01\0\0\0\x0a\0\0\0\0", 10);
	m.len = 10;
	CHECK_EQ(tpm_crb_supervisor_rsp(state, &m, sizeof(m)), 0);
	CHECK_EQ(tpm_crb_supervisor_rsp(state, &m, sizeof(m)), -ESTALE);
	{
		uint32_t st = 1;

		bus_access(&vm.mmio, false, LVMM_TPM_CRB_BASE + CRB_CTRL_START, &st, 4);
		CHECK_EQ(st, 0);
	}
	/* A log larger than the area is refused. */
	{
		void *s2 = NULL;
		static struct vm vm2;

		memcpy(&vm2, &vm, sizeof(vm2));
		bus_init(&vm2.mmio, "mmio");
		CHECK_EQ(ftruncate(log, LVMM_TPM_EVENTLOG_SIZE + 1), 0);
		CHECK_EQ(tpm_crb_ops.create(&vm2, &cfg, &s2), -EFBIG);
		cfg.fd[0] = 5; /* not one of the config's fds */
		CHECK_EQ(tpm_crb_ops.create(&vm2, &cfg, &s2), -EBADF);
	}
	tpm_crb_ops.destroy(state);
	close(log);
	close(sv[0]);
	close(sv[1]);
	free(ram);
}

int main(void)
{
	RUN(test_linux_sequence);
	RUN(test_malformed_commands);
	RUN(test_flood_and_busy);
	RUN(test_bad_completion_and_backend);
	RUN(test_other_localities);
	RUN(test_partition_device);
	return unit_done();
}
