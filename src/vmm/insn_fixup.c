// SPDX-License-Identifier: MIT
/* See insn_fixup.h: which emulation failures lvmm completes, and how. */
#include "vmm/insn_fixup.h"

#define RFLAGS_TF   (1ULL << 8)
#define CR0_MP      (1ULL << 1)
#define CR0_TS      (1ULL << 3)
#define FSW_ES      (1U << 7)  /* error summary: an unmasked exception is pending */
#define FPU_EXC_MASK 0x3fU     /* IE DE ZE OE UE PE, in FSW (flags) and FCW (masks) */
#define EFER_LMA    (1ULL << 10) /* long mode active */

enum insn_fixup insn_fixup_decide(const struct insn_state *s)
{
	/*
	 * Only at CPL0 in protected mode: CPL3 code runs natively here (an
	 * int3 there never reaches lvmm), and real mode delivers through the
	 * IVT, which lvmm does not model. A single-stepping guest (TF) would
	 * expect a #DB after the instruction: left to the report too.
	 */
	if (!s->insn || s->insn_len < 1 || !s->protected_mode || s->cpl != 0 ||
	    (s->rflags & RFLAGS_TF))
		return FIXUP_NONE;
	/* The first byte is the opcode itself: any prefix makes it something else. */
	switch (s->insn[0]) {
	case 0xcc:
		return FIXUP_INT3;
	case 0x9b:
		/* With CR0.MP and CR0.TS set, fwait raises #NM (a lazy FPU switch). */
		if ((s->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
			return FIXUP_NONE;
		/* A pending unmasked x87 exception: fwait raises #MF; not ours to do. */
		if ((s->fsw & FSW_ES) || (s->fsw & ~s->fcw & FPU_EXC_MASK))
			return FIXUP_NONE;
		return FIXUP_FWAIT;
	default:
		return FIXUP_NONE;
	}
}

uint64_t insn_fixup_next_rip(uint64_t rip, bool cs_l, bool cs_db)
{
	if (cs_l)
		return rip + 1;
	if (cs_db)
		return (rip + 1) & 0xffffffffULL;
	return (rip + 1) & 0xffffULL;
}

uint64_t insn_fixup_linear(uint64_t rip, uint64_t cs_base, uint64_t efer, bool cs_l)
{
	if ((efer & EFER_LMA) && cs_l)
		return rip;
	return (cs_base + rip) & 0xffffffffULL;
}

const char *insn_fixup_name(enum insn_fixup f)
{
	switch (f) {
	case FIXUP_INT3: return "int3";
	case FIXUP_FWAIT: return "fwait";
	case FIXUP_NONE:
	default: return "none";
	}
}
