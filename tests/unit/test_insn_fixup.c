// SPDX-License-Identifier: MIT
/*
 * Which emulation failures lvmm completes itself (src/vmm/insn_fixup.c):
 * int3 and fwait at CPL0 in protected mode and nothing else: not at CPL3,
 * not in real mode, not with a prefix, not int $3, not while single-
 * stepping, not fwait with a pending unmasked x87 exception or with
 * CR0.MP+TS (#NM); and the next RIP in each code-segment size.
 */
#include "unit/unit.h"
#include "vmm/insn_fixup.h"

#define CR0_PE 0x1ULL
#define CR0_MP 0x2ULL
#define CR0_TS 0x8ULL

static enum insn_fixup decide(const uint8_t *b, unsigned n, unsigned cpl, uint64_t cr0,
			      uint64_t rflags, uint16_t fsw, uint16_t fcw)
{
	struct insn_state s = {
		.insn = b, .insn_len = n, .protected_mode = cr0 & CR0_PE, .cpl = cpl,
		.rflags = rflags, .cr0 = cr0, .fsw = fsw, .fcw = fcw,
	};

	return insn_fixup_decide(&s);
}

static const uint8_t int3[] = { 0xcc, 0x90 };
static const uint8_t fwait[] = { 0x9b, 0xdf, 0xe0 };
static const uint64_t kcr0 = 0x80050033ULL; /* Linux: PG AM WP NE ET MP PE */

static void test_int3(void)
{
	static const uint8_t pfx[] = { 0x66, 0xcc };
	static const uint8_t int_n[] = { 0xcd, 0x03 };

	CHECK_EQ(decide(int3, 2, 0, kcr0, 0x2, 0, 0x37f), FIXUP_INT3);
	CHECK_EQ(decide(int3, 1, 0, CR0_PE, 0x246, 0, 0), FIXUP_INT3);
	/* Not at CPL3 (runs natively there), 1 or 2, nor in real mode. */
	CHECK_EQ(decide(int3, 2, 3, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(int3, 2, 1, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(int3, 2, 0, 0, 0x2, 0, 0x37f), FIXUP_NONE);
	/* A prefix, or int $3 (cd 03: another instruction with other rules). */
	CHECK_EQ(decide(pfx, 2, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(int_n, 2, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	/* Single-stepping: a #DB would be due too. */
	CHECK_EQ(decide(int3, 2, 0, kcr0, 0x102, 0, 0x37f), FIXUP_NONE);
	/* No bytes. */
	CHECK_EQ(decide(int3, 0, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(NULL, 2, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
}

static void test_fwait(void)
{
	static const uint8_t pfx[] = { 0xf3, 0x9b };

	CHECK_EQ(decide(fwait, 3, 0, kcr0, 0x2, 0, 0x37f), FIXUP_FWAIT);
	/* A masked exception flag (the default control word masks all): still a no-op. */
	CHECK_EQ(decide(fwait, 3, 0, kcr0, 0x2, 0x0004, 0x37f), FIXUP_FWAIT);
	/* Pending: error summary set, or a flag whose mask is clear (#MF is due). */
	CHECK_EQ(decide(fwait, 3, 0, kcr0, 0x2, 0x0084, 0x37b), FIXUP_NONE);
	CHECK_EQ(decide(fwait, 3, 0, kcr0, 0x2, 0x0004, 0x37b), FIXUP_NONE);
	CHECK_EQ(decide(fwait, 3, 0, kcr0, 0x2, 0x0080, 0x37f), FIXUP_NONE);
	/* CR0.MP and CR0.TS: #NM. TS alone does not concern fwait. */
	CHECK_EQ(decide(fwait, 3, 0, kcr0 | CR0_TS, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(fwait, 3, 0, (kcr0 & ~CR0_MP) | CR0_TS, 0x2, 0, 0x37f), FIXUP_FWAIT);
	/* Elsewhere than CPL0 protected mode, with a prefix, single-stepping. */
	CHECK_EQ(decide(fwait, 3, 3, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(fwait, 3, 0, 0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(pfx, 2, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(fwait, 3, 0, kcr0, 0x102, 0, 0x37f), FIXUP_NONE);
}

/* What this host's emulator also rejects stays a reported failure. */
static void test_others_reported(void)
{
	static const uint8_t cmpxchg16b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0e };
	static const uint8_t xrstor[] = { 0x0f, 0xae, 0x2f };
	static const uint8_t hlt[] = { 0xf4 };

	CHECK_EQ(decide(cmpxchg16b, 5, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(xrstor, 3, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_EQ(decide(hlt, 1, 0, kcr0, 0x2, 0, 0x37f), FIXUP_NONE);
	CHECK_STR(insn_fixup_name(FIXUP_INT3), "int3");
	CHECK_STR(insn_fixup_name(FIXUP_FWAIT), "fwait");
}

static void test_next_rip(void)
{
	CHECK_EQ(insn_fixup_next_rip(0xffffffff81000000ULL, true, false), 0xffffffff81000001ULL);
	CHECK_EQ(insn_fixup_next_rip(0xffffffffULL, true, false), 0x100000000ULL);
	CHECK_EQ(insn_fixup_next_rip(0x1000, false, true), 0x1001);
	CHECK_EQ(insn_fixup_next_rip(0xffffffffULL, false, true), 0);
	CHECK_EQ(insn_fixup_next_rip(0xffffULL, false, false), 0);
	CHECK_EQ(insn_fixup_next_rip(0x7fff, false, false), 0x8000);
}

/* Where read_insn_at() reads: 64-bit code ignores CS.base; other modes add it (32-bit wrap). */
static void test_linear_address(void)
{
	const uint64_t lma = 1ULL << 10, lme = 1ULL << 8;

	/* 64-bit mode with a stale 32-bit base in the descriptor cache: the base is ignored. */
	CHECK_EQ(insn_fixup_linear(0xffffffff81000000ULL, 0x10000, lma | lme, true),
		 0xffffffff81000000ULL);
	CHECK_EQ(insn_fixup_linear(0x401000, 0xfffff000ULL, lma | lme, true), 0x401000);
	/* Compatibility mode (LMA, CS.L clear) and legacy protected mode: the base counts. */
	CHECK_EQ(insn_fixup_linear(0x1000, 0x10000, lma | lme, false), 0x11000);
	CHECK_EQ(insn_fixup_linear(0x1000, 0x10000, 0, false), 0x11000);
	CHECK_EQ(insn_fixup_linear(0x2000, 0xfffff000ULL, 0, false), 0x1000);
	/* CS.L without LMA is not 64-bit mode. */
	CHECK_EQ(insn_fixup_linear(0x1000, 0x10000, lme, true), 0x11000);
	/* Real mode: base = selector << 4. */
	CHECK_EQ(insn_fixup_linear(0xfff0, 0xf0000, 0, false), 0xffff0);
}

int main(void)
{
	RUN(test_int3);
	RUN(test_fwait);
	RUN(test_others_reported);
	RUN(test_next_rip);
	RUN(test_linear_address);
	return unit_done();
}
