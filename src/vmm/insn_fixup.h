/* SPDX-License-Identifier: MIT */
/*
 * Completing the two instructions this host's KVM emulator rejects at
 * CPL0 (DESIGN.md §5): `int3` (0xcc) and `fwait`/`wait` (0x9b). KVM runs
 * guest CPL0 code in its instruction emulator here, which gives up on
 * both with an emulation failure although their semantics are exact and
 * simple: int3 raises #BP with the return address after the instruction;
 * fwait does nothing unless an x87 exception is pending (or CR0.TS and
 * CR0.MP make it #NM). A stock Linux kernel executes int3 during boot
 * (its alternatives self-test) and fwait in its FPU code.
 *
 * The decision is a pure function of the vCPU's state at the failure, so
 * it is unit-tested without KVM (tests/unit/test_insn_fixup.c); vcpu.c
 * carries it out. Anything else is reported as an emulation failure, as
 * before: lvmm completes exactly these two, and only where they are
 * unambiguous.
 */
#ifndef LVMM_VMM_INSN_FIXUP_H
#define LVMM_VMM_INSN_FIXUP_H

#include <stdbool.h>
#include <stdint.h>

enum insn_fixup {
	FIXUP_NONE = 0,  /* report the emulation failure */
	FIXUP_INT3 = 1,  /* RIP += 1, then inject #BP (vector 3, no error code) */
	FIXUP_FWAIT = 2, /* RIP += 1: nothing else happens */
};

struct insn_state {
	const uint8_t *insn; /* the instruction's bytes at CS:RIP */
	unsigned insn_len;   /* how many of them could be read (0: none) */
	bool protected_mode; /* CR0.PE */
	unsigned cpl;        /* CS.RPL (= SS.DPL) */
	uint64_t rflags;
	uint64_t cr0;
	uint16_t fsw, fcw;   /* x87 status and control words (fwait only) */
};

/* What to do about an emulation failure at this state. */
enum insn_fixup insn_fixup_decide(const struct insn_state *s);

/*
 * RIP after a one-byte instruction at rip in a code segment of this
 * kind: 64-bit code (cs.l) does not wrap, 32-bit code (cs.db) wraps at
 * 4 GiB, 16-bit code at 64 KiB.
 */
uint64_t insn_fixup_next_rip(uint64_t rip, bool cs_l, bool cs_db);

/*
 * The linear address of the instruction at CS:rip. In 64-bit mode
 * (EFER.LMA and CS.L) the CPU ignores CS's base, whatever the descriptor
 * cache holds (KVM's saved cs.base can keep a 32-bit base); elsewhere the
 * base counts and the address is 32 bits wide.
 */
uint64_t insn_fixup_linear(uint64_t rip, uint64_t cs_base, uint64_t efer, bool cs_l);

/* A short name for messages ("int3", "fwait"). */
const char *insn_fixup_name(enum insn_fixup f);

#endif
