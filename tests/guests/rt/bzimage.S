/* SPDX-License-Identifier: MIT */
/*
 * Linux bzImage packaging of a test guest (64-bit boot protocol only; see
 * Documentation/arch/x86/boot.rst): the setup area with the setup header,
 * and the head of the protected-mode part with its 64-bit entry at offset
 * 0x200. Linked by bzimage.ld together with entry.S, which does the rest.
 *
 * There is no real-mode setup code: lvmm never runs it (QEMU would), and
 * the 32-bit entry at offset 0 only reports that it is unsupported.
 *
 * The loader enters rt_bz_start64 in long mode at CPL0 with its own GDT
 * (CS 0x10) and identity map, rsi = the zero page (struct boot_params).
 * We switch to the runtime's GDT (CS 0x08) and page tables (user
 * accessible) and join the PVH path at rt_bsp_start64.
 */
#include "defs.h"

#define BZ_SETUP_SECTS 1        /* setup area: (1 + 1) * 512 bytes */
#define LOADED_HIGH    0x01
#define XLF_KERNEL_64  0x0001
#define BZ_LOAD_ADDR   0x100000

/* ---- Setup area (file offset 0; never loaded by lvmm) ------------------ */
	.section .bzsetup, "a"
bz_setup:
	.ascii	"lvmm test guest: a bzImage for the 64-bit boot protocol only\r\n"
	.org	0x1f1
	.byte	BZ_SETUP_SECTS		/* 0x1f1 setup_sects */
	.word	0			/* 0x1f2 root_flags */
	.long	__bz_syssize		/* 0x1f4 syssize (16-byte units) */
	.word	0			/* 0x1f8 ram_size (obsolete) */
	.word	0xffff			/* 0x1fa vid_mode: "normal" */
	.word	0			/* 0x1fc root_dev */
	.word	0xaa55			/* 0x1fe boot_flag */
	.org	0x200
	.byte	0xeb, bz_hdr_end - 1f	/* 0x200 jump: its 2nd byte = header length */
1:	.ascii	"HdrS"			/* 0x202 header */
	.word	0x020f			/* 0x206 version 2.15 */
	.long	0			/* 0x208 realmode_swtch */
	.word	0x1000			/* 0x20c start_sys_seg (obsolete) */
	.word	bz_version - bz_setup - 0x200 /* 0x20e kernel_version */
	.byte	0			/* 0x210 type_of_loader (loader's) */
	.byte	LOADED_HIGH		/* 0x211 loadflags */
	.word	0			/* 0x212 setup_move_size */
	.long	BZ_LOAD_ADDR		/* 0x214 code32_start */
	.long	0			/* 0x218 ramdisk_image */
	.long	0			/* 0x21c ramdisk_size */
	.long	0			/* 0x220 bootsect_kludge */
	.word	0			/* 0x224 heap_end_ptr */
	.byte	0			/* 0x226 ext_loader_ver */
	.byte	0			/* 0x227 ext_loader_type */
	.long	0			/* 0x228 cmd_line_ptr (loader's) */
	.long	0x7fffffff		/* 0x22c initrd_addr_max */
	.long	0x200000		/* 0x230 kernel_alignment */
	.byte	0			/* 0x234 relocatable_kernel: no */
	.byte	21			/* 0x235 min_alignment (log2) */
	.word	XLF_KERNEL_64		/* 0x236 xloadflags */
	.long	4095			/* 0x238 cmdline_size: RT_CMDLINE_MAX - 1 */
	.long	0			/* 0x23c hardware_subarch: PC */
	.quad	0			/* 0x240 hardware_subarch_data */
	.long	0			/* 0x248 payload_offset: not compressed */
	.long	0			/* 0x24c payload_length */
	.quad	0			/* 0x250 setup_data */
	.quad	BZ_LOAD_ADDR		/* 0x258 pref_address */
	.long	__bz_init_size		/* 0x260 init_size: image incl. bss and stacks */
	.long	0			/* 0x264 handover_offset: no EFI */
	.long	bz_kernel_info - BZ_LOAD_ADDR /* 0x268 kernel_info_offset */
bz_hdr_end:
	.org	0x26c			/* fails to assemble if the header grew */
bz_version:
	.asciz	"lvmm test guest"
	.org	(BZ_SETUP_SECTS + 1) * 512

/* ---- Protected-mode part: loaded at 0x100000 ------------------------- */
	.section .text.bzentry, "ax"
	.code32
	.globl	rt_bz_start32
rt_bz_start32:
	/* The 32-bit boot protocol entry (offset 0): not supported. */
	movl	$0xed, %eax
	outl	%eax, $0xf4
1:	cli
	hlt
	jmp	1b

	.org	0x200, 0xcc
	.code64
	.globl	rt_bz_start64
rt_bz_start64:
	cli
	cld
	movq	%rsi, rt_boot_params_paddr(%rip)	/* before anything else */
	rdtsc
	movl	%eax, rt_entry_tsc(%rip)
	movl	%edx, rt_entry_tsc + 4(%rip)
	lgdt	rt_gdt_ptr(%rip)
	leaq	rt_pml4(%rip), %rax
	movq	%rax, %cr3
	/* Any stack will do for the far return; rt_bsp_start64 picks its own. */
	leaq	rt_kstacks + RT_KSTACK_SIZE(%rip), %rsp
	pushq	$RT_SEL_KCODE
	leaq	rt_bsp_start64(%rip), %rax
	pushq	%rax
	lretq

/* kernel_info (protocol 2.15): found through kernel_info_offset. */
	.section .rodata.kernel_info, "a"
	.p2align 2
bz_kernel_info:
	.ascii	"LToP"			/* header */
	.long	bz_kernel_info_var - bz_kernel_info	/* size */
	.long	bz_kernel_info_end - bz_kernel_info	/* size_total */
	.long	0			/* setup_type_max: we read no setup_data */
bz_kernel_info_var:
bz_kernel_info_end:

	.section .note.GNU-stack, "", @progbits
