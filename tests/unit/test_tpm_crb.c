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
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/proto.h"
#include "devices/registry.h"
#include "devices/tpm_crb.h"
#include "lvmm/guest_abi.h"
#include "common/log.h"
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

/*
 * A VM with 1 MiB of RAM, an MMIO bus and an I/O thread's epoll set (not
 * running: the test dispatches with iothread_poll), and the device's fds.
 */
static struct vm vm;
static uint8_t *ram;
static int vm_fds[4];

static void vm_setup(void)
{
	memset(&vm, 0, sizeof(vm));
	ram = calloc(1, 1 << 20);
	CHECK(ram != NULL);
	CHECK_EQ(gmem_add_slot(&vm.gmem, 0, 1 << 20, ram, 0, false), 0);
	bus_init(&vm.mmio, "mmio");
	CHECK_EQ(iothread_init(&vm.io), 0);
	vm.fds = vm_fds;
	vm.nfds = 4;
}

static void vm_teardown(void)
{
	iothread_destroy(&vm.io);
	free(ram);
}

static struct lvmm_dev_cfg tpm_cfg(int32_t sock_idx, int32_t log_idx)
{
	struct lvmm_dev_cfg c;

	memset(&c, 0, sizeof(c));
	c.type = LVMM_DEV_TPM;
	strcpy(c.id, "tpm0");
	c.fd[0] = sock_idx;
	c.fd[1] = log_idx;
	c.fd[2] = c.fd[3] = LVMM_NO_FD;
	return c;
}

static void guest_send(const uint8_t *cmd, size_t n)
{
	uint32_t one = 1;

	for (size_t i = 0; i < n; i++)
		bus_access(&vm.mmio, true, LVMM_TPM_CRB_DATA + i, (void *)(cmd + i), 1);
	bus_access(&vm.mmio, true, LVMM_TPM_CRB_BASE + CRB_CTRL_START, &one, 4);
}

static uint32_t guest_start_reg(void)
{
	uint32_t v = 0xdead;

	bus_access(&vm.mmio, false, LVMM_TPM_CRB_BASE + CRB_CTRL_START, &v, 4);
	return v;
}

static uint32_t guest_rsp_code(void)
{
	uint8_t h[10];

	for (int i = 0; i < 10; i++)
		bus_access(&vm.mmio, false, LVMM_TPM_CRB_DATA + i, h + i, 1);
	return (uint32_t)h[6] << 24 | (uint32_t)h[7] << 16 | (uint32_t)h[8] << 8 | h[9];
}

/* Dispatch the I/O thread's events until CTRL_START reads 0 or ms pass. */
static void poll_until_answered(int ms)
{
	for (int i = 0; i < ms / 10 && guest_start_reg(); i++)
		iothread_poll(&vm.io, 10);
}

static void test_partition_device(void)
{
	static struct lvmm_tpm_msg m;
	struct lvmm_dev_cfg cfg;
	struct lvmm_msg_hdr hdr;
	int sv[2], log, r;
	void *state = NULL;
	const struct bus_dev *bd;

	vm_setup();
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	log = memfd_create("eventlog", MFD_ALLOW_SEALING);
	CHECK_EQ(write(log, "Spec ID Event03 goes here", 25), 25);
	CHECK_EQ(fcntl(log, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);
	memset(ram + LVMM_TPM_EVENTLOG_BASE, 0xee, LVMM_TPM_EVENTLOG_SIZE);
	vm_fds[0] = sv[0];
	vm_fds[1] = log;
	cfg = tpm_cfg(0, 1);
	CHECK_EQ(tpm_crb_ops.create(&vm, &cfg, &state), 0);
	/* The log where the TPM2 table says, zeros after it. */
	CHECK(!memcmp(ram + LVMM_TPM_EVENTLOG_BASE, "Spec ID Event03 goes here", 25));
	CHECK_EQ(ram[LVMM_TPM_EVENTLOG_BASE + 25], 0);
	CHECK_EQ(ram[LVMM_TPM_EVENTLOG_BASE + LVMM_TPM_EVENTLOG_SIZE - 1], 0);
	bd = bus_find(&vm.mmio, LVMM_TPM_CRB_BASE + 0x4c, 4);
	CHECK(bd && bd->len == LVMM_TPM_CRB_SIZE);
	/* A guest command goes to the trust process as one LVMM_MSG_TPM_CMD on fd[0]. */
	guest_send(getrandom_cmd, 12);
	r = proto_recv(sv[1], &hdr, &m, sizeof(m), NULL, 0, MSG_DONTWAIT);
	CHECK_EQ(r, 0);
	CHECK_EQ(hdr.type, LVMM_MSG_TPM_CMD);
	CHECK(lvmm_tpm_msg_ok(&m, hdr.len));
	CHECK_EQ(m.len, 12);
	CHECK_EQ(m.locality, 0);
	CHECK(!memcmp(m.data, getrandom_cmd, 12));
	CHECK_EQ(guest_start_reg(), 1);
	/* An answer for another command is dropped; the right one completes it. */
	memcpy(m.data, "\x80\x01\0\0\0\x0a\0\0\0\x00", 10);
	m.len = 10;
	m.seq++;
	CHECK_EQ(proto_send(sv[1], LVMM_MSG_TPM_RSP, &m, sizeof(m), NULL, 0, 0), 0);
	iothread_poll(&vm.io, 100);
	CHECK_EQ(guest_start_reg(), 1);
	m.seq--;
	CHECK_EQ(proto_send(sv[1], LVMM_MSG_TPM_RSP, &m, sizeof(m), NULL, 0, 0), 0);
	poll_until_answered(1000);
	CHECK_EQ(guest_start_reg(), 0);
	CHECK_EQ(guest_rsp_code(), 0);
	/* A structurally bad message (pad not zero): the channel is broken, never trusted again. */
	guest_send(getrandom_cmd, 12);
	CHECK_EQ(proto_recv(sv[1], &hdr, &m, sizeof(m), NULL, 0, MSG_DONTWAIT), 0);
	m.len = 10;
	m.pad[1] = 1;
	CHECK_EQ(proto_send(sv[1], LVMM_MSG_TPM_RSP, &m, sizeof(m), NULL, 0, 0), 0);
	poll_until_answered(1000);
	CHECK_EQ(guest_start_reg(), 0);
	CHECK_EQ(guest_rsp_code(), 0x101);
	/* Later commands fail at once, and nothing more goes out. */
	guest_send(getrandom_cmd, 12);
	CHECK_EQ(guest_start_reg(), 0);
	CHECK_EQ(guest_rsp_code(), 0x101);
	CHECK_EQ(proto_recv(sv[1], &hdr, &m, sizeof(m), NULL, 0, MSG_DONTWAIT), -EAGAIN);
	tpm_crb_ops.destroy(state);
	close(sv[0]);
	close(sv[1]);
	close(log);
	vm_teardown();
}

/* The trust process goes away with a command in flight: TPM_RC_FAILURE, not a stuck START. */
static void test_partition_device_peer_gone(void)
{
	static struct lvmm_tpm_msg m;
	struct lvmm_dev_cfg cfg;
	struct lvmm_msg_hdr hdr;
	void *state = NULL;
	int sv[2];

	vm_setup();
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	vm_fds[0] = sv[0];
	cfg = tpm_cfg(0, LVMM_NO_FD);
	CHECK_EQ(tpm_crb_ops.create(&vm, &cfg, &state), 0);
	guest_send(getrandom_cmd, 12);
	CHECK_EQ(proto_recv(sv[1], &hdr, &m, sizeof(m), NULL, 0, MSG_DONTWAIT), 0);
	CHECK_EQ(guest_start_reg(), 1);
	close(sv[1]);
	poll_until_answered(1000);
	CHECK_EQ(guest_start_reg(), 0);
	CHECK_EQ(guest_rsp_code(), 0x101);
	guest_send(getrandom_cmd, 12);
	CHECK_EQ(guest_rsp_code(), 0x101);
	tpm_crb_ops.destroy(state);
	close(sv[0]);
	vm_teardown();
}

/* A trust process that never answers: TPM_RC_FAILURE after the deadline; its late answer is dropped. */
static void test_partition_device_timeout(void)
{
	static struct lvmm_tpm_msg m;
	struct lvmm_dev_cfg cfg;
	struct lvmm_msg_hdr hdr;
	unsigned saved = tpm_crb_answer_timeout_ms;
	void *state = NULL;
	uint64_t t0;
	int sv[2];

	vm_setup();
	tpm_crb_answer_timeout_ms = 200;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	vm_fds[0] = sv[0];
	cfg = tpm_cfg(0, LVMM_NO_FD);
	CHECK_EQ(tpm_crb_ops.create(&vm, &cfg, &state), 0);
	t0 = now_ns();
	guest_send(getrandom_cmd, 12);
	CHECK_EQ(proto_recv(sv[1], &hdr, &m, sizeof(m), NULL, 0, MSG_DONTWAIT), 0);
	iothread_poll(&vm.io, 50);
	CHECK_EQ(guest_start_reg(), 1); /* not before its time */
	poll_until_answered(3000);
	CHECK_EQ(guest_start_reg(), 0);
	CHECK_EQ(guest_rsp_code(), 0x101);
	CHECK(now_ns() - t0 >= 200000000ULL);
	/* The late answer finds nothing in flight: the error stays. */
	memcpy(m.data, "\x80\x01\0\0\0\x0a\0\0\0\x00", 10);
	m.len = 10;
	CHECK_EQ(proto_send(sv[1], LVMM_MSG_TPM_RSP, &m, sizeof(m), NULL, 0, 0), 0);
	iothread_poll(&vm.io, 100);
	CHECK_EQ(guest_rsp_code(), 0x101);
	/* The channel still works for the next command. */
	guest_send(getrandom_cmd, 12);
	CHECK_EQ(proto_recv(sv[1], &hdr, &m, sizeof(m), NULL, 0, MSG_DONTWAIT), 0);
	memcpy(m.data, "\x80\x01\0\0\0\x0a\0\0\0\x00", 10);
	m.len = 10;
	CHECK_EQ(proto_send(sv[1], LVMM_MSG_TPM_RSP, &m, sizeof(m), NULL, 0, 0), 0);
	poll_until_answered(1000);
	CHECK_EQ(guest_rsp_code(), 0);
	tpm_crb_answer_timeout_ms = saved;
	tpm_crb_ops.destroy(state);
	close(sv[0]);
	close(sv[1]);
	vm_teardown();
}

/* The config entry's fds: a SEQPACKET socket, an event log that fits, nothing else. */
static void test_partition_device_config(void)
{
	struct lvmm_dev_cfg cfg;
	char err[160];
	void *state = NULL;
	int sv[2], st[2], log, file;

	vm_setup();
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, st), 0);
	log = memfd_create("eventlog", 0);
	file = memfd_create("notasocket", 0);
	vm_fds[0] = sv[0];
	vm_fds[1] = log;
	vm_fds[2] = st[0];
	vm_fds[3] = file;
	cfg = tpm_cfg(0, 1);
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), 0);
	cfg = tpm_cfg(LVMM_NO_FD, 1);
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), -EBADF);
	CHECK(strstr(err, "trust process") != NULL);
	cfg = tpm_cfg(2, 1);
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), -ENOTSOCK);
	cfg = tpm_cfg(3, 1);
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), -ENOTSOCK);
	cfg = tpm_cfg(0, 4);
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), -EBADF);
	cfg = tpm_cfg(0, 1);
	cfg.fd[2] = 3;
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), -EBADF);
	/* A log larger than the area is refused, by the check and by create. */
	CHECK_EQ(ftruncate(log, LVMM_TPM_EVENTLOG_SIZE + 1), 0);
	cfg = tpm_cfg(0, 1);
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), -EFBIG);
	CHECK_EQ(tpm_crb_ops.create(&vm, &cfg, &state), -EFBIG);
	/* Exactly the area's size fits. */
	CHECK_EQ(ftruncate(log, LVMM_TPM_EVENTLOG_SIZE), 0);
	CHECK_EQ(tpm_crb_check_cfg(&cfg, vm_fds, 4, err, sizeof(err)), 0);
	cfg.fd[0] = 5; /* not one of the config's fds */
	CHECK_EQ(tpm_crb_ops.create(&vm, &cfg, &state), -EBADF);
	close(sv[0]);
	close(sv[1]);
	close(st[0]);
	close(st[1]);
	close(log);
	close(file);
	vm_teardown();
}

int main(void)
{
	RUN(test_linux_sequence);
	RUN(test_malformed_commands);
	RUN(test_flood_and_busy);
	RUN(test_bad_completion_and_backend);
	RUN(test_other_localities);
	RUN(test_partition_device);
	RUN(test_partition_device_peer_gone);
	RUN(test_partition_device_timeout);
	RUN(test_partition_device_config);
	return unit_done();
}
