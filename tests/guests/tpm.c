/* SPDX-License-Identifier: MIT */
/*
 * tpm: drives lvmm's TPM 2.0 CRB device (LVMM_TPM_CRB_BASE) from CPL3, the
 * way Linux's tpm_crb does, and prints what it got in a fixed format:
 *
 *   tpm: acpi TPM2 start 7 control 0xfed40040 laml 65536 lasa 0xf0000
 *   tpm: intf_id 0x...                       (the interface ID register)
 *   tpm: locality 0 granted | tpm: locality 0 NOT granted
 *   tpm: locality 1 refused | tpm: locality 1 GRANTED
 *   tpm: pcr17=HEX ... tpm: pcr22=HEX        (TPM2_PCR_Read, SHA-256 bank)
 *   tpm: malformed bad-tag rc=0x01e          (a command without a TPM 2.0 tag)
 *   tpm: malformed short rc=0x142            (a header whose size exceeds what was written)
 *   tpm: malformed vendor rc=0x143           (a vendor command: swtpm's SetLocality)
 *   tpm: flood N starts while busy, answer rc=0x000 len L
 *   tpm: flood N empty starts, all rc=0x142
 *   tpm: eventlog B bytes, E events, "Spec ID Event03" algs 1 sha256
 *   tpm: event 1: pcr P type 0xT sha256 HEX data "TEXT"
 *   tpm: done
 *
 * Every MMIO access exits to the VMM (the guest runs at CPL3 with the
 * identity map user-accessible). A command that gets no answer within
 * tpm_timeout_ms (default 10000) prints "tpm: TIMEOUT ..." and the guest
 * exits 3; a PCR read that fails exits 1; no CRB TPM at all ("tpm: no CRB
 * TPM ...") exits 4; otherwise 0.
 *
 * TPM2_Startup: lvmm's trust process has already started the TPM (and
 * measured into it); a PCR read answered TPM_RC_INITIALIZE makes the
 * guest send TPM2_Startup(CLEAR) and read again (a bare swtpm).
 *
 * Options: pcrs=FIRST-LAST (default 17-22, at most 8), flood=N (default
 * 1000), events=N (event lines printed, default 1).
 */
#include "rt.h"

#define CRB            0xfed40000ULL
#define CRB_LOC_STATE  0x00
#define CRB_LOC_CTRL   0x08
#define CRB_LOC_STS    0x0c
#define CRB_INTF_ID    0x30
#define CRB_CTRL_REQ   0x40
#define CRB_CTRL_STS   0x44
#define CRB_CTRL_CANCEL 0x48
#define CRB_CTRL_START 0x4c
#define CRB_BUF        0x80
#define CRB_BUF_SIZE   3968

#define EVENTLOG_BASE  0xf0000ULL
#define EVENTLOG_SIZE  0x10000U

#define TPM_RC_INITIALIZE 0x100
#define TPM_CC_STARTUP    0x144
#define TPM_CC_PCR_READ   0x17e
#define TPM_CC_GETRANDOM  0x17b
#define TPM_ALG_SHA256    0x000b

static uint8_t rsp[CRB_BUF_SIZE];
static uint32_t rsp_len;
static uint64_t timeout_ms = 10000;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t le32(const volatile uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t reg(uint32_t off)
{
	return mmio_read32(CRB + off);
}

static void set_reg(uint32_t off, uint32_t v)
{
	mmio_write32(CRB + off, v);
}

/* Wait until CTRL_START reads 0 (the answer is in); 0, or -1 on a timeout. */
static int wait_answer(void)
{
	uint64_t hz = rt_tsc_hz(), end = rdtsc() + timeout_ms * (hz / 1000);

	while (reg(CRB_CTRL_START) & 1)
		if ((int64_t)(rdtsc() - end) >= 0)
			return -1;
	return 0;
}

static void put_command(const uint8_t *cmd, uint32_t n)
{
	uint32_t i = 0;

	for (; i + 4 <= n; i += 4)
		mmio_write32(CRB + CRB_BUF + i,
			     (uint32_t)cmd[i] | (uint32_t)cmd[i + 1] << 8 |
				     (uint32_t)cmd[i + 2] << 16 | (uint32_t)cmd[i + 3] << 24);
	for (; i < n; i++)
		mmio_write8(CRB + CRB_BUF + i, cmd[i]);
}

/* The answer in the buffer into rsp (its header's size, bounded by the buffer). */
static void get_response(void)
{
	uint32_t i, v;

	for (i = 0; i < 12; i += 4) {
		v = mmio_read32(CRB + CRB_BUF + i);
		rsp[i] = (uint8_t)v, rsp[i + 1] = (uint8_t)(v >> 8);
		rsp[i + 2] = (uint8_t)(v >> 16), rsp[i + 3] = (uint8_t)(v >> 24);
	}
	rsp_len = be32(rsp + 2);
	if (rsp_len < 10 || rsp_len > CRB_BUF_SIZE)
		rsp_len = 10;
	for (i = 12; i < rsp_len; i += 4) {
		v = mmio_read32(CRB + CRB_BUF + i);
		rsp[i] = (uint8_t)v, rsp[i + 1] = (uint8_t)(v >> 8);
		rsp[i + 2] = (uint8_t)(v >> 16), rsp[i + 3] = (uint8_t)(v >> 24);
	}
}

static uint32_t rsp_code(void)
{
	return be32(rsp + 6);
}

/* Send cmd[0..n) and wait for the answer; 0 with rsp filled, -1 on a timeout. */
static int transact(const uint8_t *cmd, uint32_t n, const char *what)
{
	set_reg(CRB_CTRL_CANCEL, 0);
	put_command(cmd, n);
	set_reg(CRB_CTRL_START, 1);
	if (wait_answer()) {
		printf("tpm: TIMEOUT waiting for the answer to %s\n", what);
		return -1;
	}
	get_response();
	return 0;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void hex(const uint8_t *p, uint32_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (uint32_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* TPM2_PCR_Read of PCRs first..last in the SHA-256 bank. 0, 1 (TPM error) or -1 (timeout). */
static int pcr_read(unsigned first, unsigned last)
{
	uint8_t c[20];
	uint32_t sel = 0;

	for (unsigned i = first; i <= last; i++)
		sel |= 1U << i;
	put_be16(c, 0x8001);
	put_be32(c + 2, 20);
	put_be32(c + 6, TPM_CC_PCR_READ);
	put_be32(c + 10, 1);              /* one TPMS_PCR_SELECTION */
	put_be16(c + 14, TPM_ALG_SHA256);
	c[16] = 3;                        /* sizeofSelect */
	c[17] = (uint8_t)sel, c[18] = (uint8_t)(sel >> 8), c[19] = (uint8_t)(sel >> 16);
	if (transact(c, 20, "PCR_Read"))
		return -1;
	if (rsp_code() == TPM_RC_INITIALIZE) {
		/* A TPM nobody started: Startup(CLEAR), then read again. */
		static const uint8_t st[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };

		printf("tpm: TPM not started (rc=0x100): sending TPM2_Startup(CLEAR)\n");
		if (transact(st, 12, "Startup"))
			return -1;
		printf("tpm: startup rc=0x%03x\n", rsp_code());
		if (transact(c, 20, "PCR_Read"))
			return -1;
	}
	if (rsp_code()) {
		printf("tpm: pcr_read rc=0x%03x\n", rsp_code());
		return 1;
	}
	/* updateCounter, pcrSelectionOut (count, alg, size, bits), then TPML_DIGEST. */
	uint32_t off = 10 + 4;
	if (off + 4 > rsp_len)
		goto short_rsp;
	uint32_t nsel = be32(rsp + off);
	off += 4;
	for (uint32_t i = 0; i < nsel && i < 8; i++) {
		if (off + 3 > rsp_len)
			goto short_rsp;
		off += 3 + rsp[off + 2];
	}
	if (off + 4 > rsp_len)
		goto short_rsp;
	uint32_t ndig = be32(rsp + off);
	off += 4;
	unsigned pcr = first;
	for (uint32_t i = 0; i < ndig && i < 8; i++) {
		char h[2 * 64 + 1];
		if (off + 2 > rsp_len)
			goto short_rsp;
		uint16_t sz = be16(rsp + off);
		off += 2;
		if (sz > 64 || off + sz > rsp_len)
			goto short_rsp;
		while (pcr <= last && !(sel & (1U << pcr)))
			pcr++;
		hex(rsp + off, sz, h);
		printf("tpm: pcr%u=%s\n", pcr, h);
		pcr++;
		off += sz;
	}
	if (ndig != last - first + 1)
		printf("tpm: pcr_read returned %u digests for %u PCRs\n", ndig, last - first + 1);
	return 0;
short_rsp:
	printf("tpm: pcr_read response malformed (%u bytes)\n", rsp_len);
	return 1;
}

static int malformed(void)
{
	static const uint8_t bad_tag[12] = { 0x12, 0x34, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8 };
	/* The size field says 64 bytes; only 12 were written. */
	static const uint8_t short_cmd[12] = { 0x80, 0x01, 0, 0, 0, 64, 0, 0, 0x01, 0x7b, 0, 8 };
	/* swtpm's in-band TPM2_SetLocality (vendor command 0x20001000) asking for locality 4. */
	static const uint8_t vendor[11] = { 0x80, 0x01, 0, 0, 0, 11, 0x20, 0, 0x10, 0, 4 };

	if (transact(bad_tag, 12, "a command with a bad tag"))
		return -1;
	printf("tpm: malformed bad-tag rc=0x%03x\n", rsp_code());
	if (transact(short_cmd, 12, "a truncated command"))
		return -1;
	printf("tpm: malformed short rc=0x%03x\n", rsp_code());
	if (transact(vendor, 11, "a vendor command"))
		return -1;
	printf("tpm: malformed vendor rc=0x%03x\n", rsp_code());
	return 0;
}

/*
 * START written again and again while a command is out (a queue of one:
 * the device must ignore them), then again and again with nothing new in
 * the buffer (each answered at once with TPM_RC_COMMAND_SIZE).
 */
static int flood(uint64_t n)
{
	static const uint8_t getrandom[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8 };
	uint64_t busy = 0, bad = 0;

	set_reg(CRB_CTRL_CANCEL, 0);
	put_command(getrandom, 12);
	set_reg(CRB_CTRL_START, 1);
	for (uint64_t i = 0; i < n && (reg(CRB_CTRL_START) & 1); i++) {
		set_reg(CRB_CTRL_START, 1);
		busy++;
	}
	if (wait_answer()) {
		printf("tpm: TIMEOUT waiting for the answer after a flood of %lu starts\n", busy);
		return -1;
	}
	get_response();
	printf("tpm: flood %lu starts while busy, answer rc=0x%03x len %u\n", busy, rsp_code(),
	       rsp_len);
	for (uint64_t i = 0; i < n; i++) {
		set_reg(CRB_CTRL_START, 1);
		if (wait_answer()) {
			printf("tpm: TIMEOUT: empty start %lu never answered\n", i);
			return -1;
		}
		get_response();
		if (rsp_code() != 0x142)
			bad++;
	}
	if (bad)
		printf("tpm: flood %lu empty starts, %lu not rc=0x142\n", n, bad);
	else
		printf("tpm: flood %lu empty starts, all rc=0x142\n", n);
	return 0;
}

/* Printable event data, at most 60 characters. */
static void print_data(const volatile uint8_t *p, uint32_t n)
{
	char s[64];
	uint32_t i, k = 0;

	for (i = 0; i < n && k < 60; i++) {
		uint8_t ch = p[i];
		if (!ch && i == n - 1)
			break;
		s[k++] = ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '.';
	}
	s[k] = 0;
	printf(" data \"%s\"%s\n", s, i < n && k == 60 ? "..." : "");
}

/*
 * The event log lvmm put where the TPM2 table's LASA points: the
 * Spec ID event (SHA-1 format), then TCG_PCR_EVENT2 entries until an
 * empty one or the end of the area. Every length is checked against the
 * area (a broken log must not make the guest read past it).
 */
static void eventlog(int show)
{
	const volatile uint8_t *log = (const volatile uint8_t *)(uintptr_t)EVENTLOG_BASE;
	uint32_t off, size, nalg, events = 0, digest_size = 0;
	char sig[17];

	size = le32(log + 28);
	if (le32(log) != 0 || le32(log + 4) != 3 /* EV_NO_ACTION */ || size < 24 ||
	    32 + size > EVENTLOG_SIZE) {
		printf("tpm: eventlog none (pcr %u type 0x%x size %u)\n", le32(log), le32(log + 4),
		       size);
		return;
	}
	for (int i = 0; i < 16; i++)
		sig[i] = log[32 + i] >= 0x20 && log[32 + i] < 0x7f ? (char)log[32 + i] : 0;
	sig[16] = 0;
	nalg = le32(log + 32 + 24);
	for (uint32_t i = 0; i < nalg && i < 4 && 32 + 28 + 4 * i + 4 <= 32 + size; i++)
		if ((log[60 + 4 * i] | log[61 + 4 * i] << 8) == TPM_ALG_SHA256)
			digest_size = (uint32_t)(log[62 + 4 * i] | log[63 + 4 * i] << 8);
	off = 32 + size;
	while (off + 12 <= EVENTLOG_SIZE) {
		uint32_t pcr = le32(log + off), type = le32(log + off + 4), cnt = le32(log + off + 8);
		uint32_t p = off + 12, dsz = 0;
		uint8_t d[64];

		if (!pcr && !type)
			break; /* the zeros after the last event */
		if (cnt != 1 || digest_size != 32 || p + 2 + 32 + 4 > EVENTLOG_SIZE)
			break; /* lvmm writes one SHA-256 digest per event */
		if ((log[p] | log[p + 1] << 8) != TPM_ALG_SHA256)
			break;
		for (int i = 0; i < 32; i++)
			d[i] = log[p + 2 + i];
		p += 2 + 32;
		dsz = le32(log + p);
		p += 4;
		if (dsz > EVENTLOG_SIZE - p)
			break;
		events++;
		if ((int)events <= show) {
			char h[65];
			hex(d, 32, h);
			printf("tpm: event %u: pcr %u type 0x%x sha256 %s", events, pcr, type, h);
			print_data(log + p, dsz);
		}
		off = p + dsz;
	}
	printf("tpm: eventlog %u bytes, %u events, \"%s\" algs %u %s\n", off, events, sig, nalg,
	       digest_size == 32 ? "sha256" : "no-sha256");
}

/* The ACPI TPM2 table: how an OS finds the CRB and the event log. */
static void acpi_tpm2(void)
{
	const uint8_t *t = rt_acpi_table("TPM2");
	uint64_t control, lasa;
	uint32_t start, laml, len;

	if (!t) {
		printf("tpm: acpi no TPM2 table\n");
		return;
	}
	memcpy(&len, t + 4, 4);
	memcpy(&control, t + 40, 8);
	memcpy(&start, t + 48, 4);
	laml = 0, lasa = 0;
	if (len >= 76) {
		memcpy(&laml, t + 64, 4);
		memcpy(&lasa, t + 68, 8);
	}
	printf("tpm: acpi TPM2 start %u control 0x%lx laml %u lasa 0x%lx\n", start, control, laml,
	       lasa);
}

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

int main(void)
{
	unsigned first = 17, last = 22;
	char arg[32];
	int r;

	timeout_ms = arg_u64("tpm_timeout_ms", 10000);
	if (rt_cmdline_get("pcrs", arg, sizeof(arg)) > 0) {
		const char *e;
		first = (unsigned)rt_strtou64(arg, &e);
		last = *e == '-' ? (unsigned)rt_strtou64(e + 1, NULL) : first;
		if (first > 23 || last > 23 || last < first || last - first >= 8) {
			printf("tpm: bad pcrs=%s (FIRST-LAST within 0-23, at most 8)\n", arg);
			return 2;
		}
	}
	acpi_tpm2();
	uint32_t id = reg(CRB_INTF_ID);
	printf("tpm: intf_id 0x%08x\n", id);
	if ((id & 0xf) != 1) {
		/* Interface type 1 = CRB active; nothing there reads all ones. */
		printf("tpm: no CRB TPM at 0x%lx\n", (unsigned long)CRB);
		return 4;
	}
	/* Locality 0, as tpm_crb requests it: requestAccess, then locAssigned | tpmRegValidSts. */
	set_reg(CRB_LOC_CTRL, 1);
	printf("tpm: locality 0 %s\n", (reg(CRB_LOC_STATE) & 0x82) == 0x82 ? "granted" : "NOT granted");
	/* Locality 1: lvmm grants none but 0 (PCRs 17-22 must stay out of reach). */
	mmio_write32(CRB + 0x1000 + CRB_LOC_CTRL, 1);
	printf("tpm: locality 1 %s\n", mmio_read32(CRB + 0x1000 + CRB_LOC_STS) & 1 ? "GRANTED" : "refused");
	/* cmdReady: the device clears the bit when it is ready. */
	set_reg(CRB_CTRL_REQ, 1);
	for (int i = 0; reg(CRB_CTRL_REQ) & 1; i++)
		if (i == 100000) {
			printf("tpm: TIMEOUT: cmdReady never acknowledged\n");
			return 3;
		}

	r = pcr_read(first, last);
	if (r < 0)
		return 3;
	if (malformed() || flood(arg_u64("flood", 1000)))
		return 3;
	eventlog((int)arg_u64("events", 1));
	/* goIdle and relinquish, as a driver leaves it. */
	set_reg(CRB_CTRL_REQ, 2);
	set_reg(CRB_LOC_CTRL, 2);
	printf("tpm: done\n");
	return r ? 1 : 0;
}
