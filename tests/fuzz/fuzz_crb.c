// SPDX-License-Identifier: MIT
/*
 * Fuzz the TPM 2.0 CRB device (src/devices/tpm_crb.c): arbitrary guest
 * register and buffer accesses over all five locality pages, interleaved
 * with backend completions (right or wrong seq, any bytes) and backend
 * failures.
 *
 * Input: a sequence of ops, each one byte then its operands:
 *   0 write  off:u16 len:u8 value:u64
 *   1 read   off:u16 len:u8
 *   2 bulk   n:u8 bytes...            (memcpy_toio-style fill of the buffer at 0)
 *   3 start                           (write 1 to CTRL_START)
 *   4 complete seqdelta:u8 len:u16 bytes... (answer, seq = in-flight + delta)
 *   5 backend fails next submit
 *
 * Invariants: the backend never has more than one command; every command
 * it gets is 10..LVMM_TPM_BUF_MAX bytes with a TPM 2.0 tag, a header size
 * equal to its length and no vendor bit; CTRL_START reads 1 exactly while
 * one is out; every answer in the buffer has a header size of 10..BUF.
 */
#include <errno.h>
#include <string.h>

#include "devices/tpm_crb.h"
#include "lvmm/guest_abi.h"
#include "fuzz/fuzz.h"

static struct {
	unsigned outstanding;
	uint32_t seq;
	int fail;
} st;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int submit(void *opaque, uint32_t seq, const uint8_t *cmd, uint32_t len, uint8_t loc)
{
	uint16_t tag;

	(void)opaque;
	FUZZ_CHECK(st.outstanding == 0);
	FUZZ_CHECK(len >= LVMM_TPM_HDR_LEN && len <= LVMM_TPM_BUF_MAX);
	tag = (uint16_t)(cmd[0] << 8 | cmd[1]);
	FUZZ_CHECK(tag == 0x8001 || tag == 0x8002);
	FUZZ_CHECK(be32(cmd + 2) == len);
	FUZZ_CHECK(!(be32(cmd + 6) & 0x20000000U));
	FUZZ_CHECK(loc == 0);
	if (st.fail) {
		st.fail = 0;
		return -5;
	}
	st.outstanding = 1;
	st.seq = seq;
	return 0;
}

static void check(struct tpm_crb *c)
{
	uint32_t start = 0;

	tpm_crb_read(c, CRB_CTRL_START, &start, 4);
	FUZZ_CHECK(start == (st.outstanding ? 1U : 0U));
	FUZZ_CHECK(c->written <= LVMM_TPM_BUF_MAX);
	if (!st.outstanding && c->stats.commands + c->stats.rejected) {
		uint8_t h[10];

		tpm_crb_read(c, CRB_DATA_BUFFER, h, 8);
		tpm_crb_read(c, CRB_DATA_BUFFER + 8, h + 8, 2);
		(void)h; /* the guest may have overwritten the answer since: nothing to assert */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tpm_crb c;
	static uint8_t rsp[LVMM_TPM_BUF_MAX + 64];
	struct tpm_crb_backend be = { .submit = submit };
	struct fin in = { data, size };
	unsigned steps = 0;

	memset(&st, 0, sizeof(st));
	tpm_crb_init(&c, &be);
	while (in.left && steps++ < 4096) {
		uint8_t op = fin_u8(&in) % 6;
		uint64_t off, v, buf[2] = { 0, 0 };
		uint32_t len;

		switch (op) {
		case 0:
			off = fin_u16(&in) % (LVMM_TPM_CRB_SIZE + 16);
			len = 1U << (fin_u8(&in) % 4);
			v = fin_u64(&in);
			tpm_crb_write(&c, off, &v, len);
			break;
		case 1:
			off = fin_u16(&in) % (LVMM_TPM_CRB_SIZE + 16);
			len = 1U << (fin_u8(&in) % 4);
			tpm_crb_read(&c, off, buf, len);
			break;
		case 2: {
			uint8_t n = fin_u8(&in), b[256];
			size_t k = fin_copy(&in, b, n), i = 0;

			for (; i + 8 <= k; i += 8)
				tpm_crb_write(&c, CRB_DATA_BUFFER + i, b + i, 8);
			for (; i < k; i++)
				tpm_crb_write(&c, CRB_DATA_BUFFER + i, b + i, 1);
			break;
		}
		case 3:
			v = 1;
			tpm_crb_write(&c, CRB_CTRL_START, &v, 4);
			break;
		case 4: {
			uint32_t seq = st.seq + fin_u8(&in) % 3;
			uint16_t n = fin_u16(&in) % (sizeof(rsp) + 1);
			int r;

			memset(rsp, 0, sizeof(rsp));
			fin_copy(&in, rsp, n);
			r = tpm_crb_complete(&c, seq, rsp, n);
			if (st.outstanding && seq == st.seq) {
				FUZZ_CHECK(r == 0);
				st.outstanding = 0;
			} else {
				FUZZ_CHECK(r == -ESTALE);
			}
			if (!r) {
				uint8_t h[10];

				tpm_crb_read(&c, CRB_DATA_BUFFER, h, 8);
				tpm_crb_read(&c, CRB_DATA_BUFFER + 8, h + 8, 2);
				FUZZ_CHECK(be32(h + 2) >= 10 && be32(h + 2) <= LVMM_TPM_BUF_MAX);
			}
			break;
		}
		case 5:
			st.fail = 1;
			break;
		default:
			break;
		}
		check(&c);
	}
	tpm_crb_destroy(&c);
	return 0;
}
