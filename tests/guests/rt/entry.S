/* SPDX-License-Identifier: MIT */
/*
 * Entry code of the in-tree test guests: PVH note, 32-bit PVH entry, switch
 * to long mode, per-CPU setup, trap stubs, and the AP real-mode trampoline.
 * (bzimage.S holds the Linux 64-bit boot protocol entry; both end up in
 * rt_bsp_start64.)
 *
 * Everything that runs at CPL0 here is emulated by this host's KVM (about
 * 2 million instructions per second), so the page tables are built by the
 * assembler and the boot path stays straight-line.
 */
#include "defs.h"

#define PTE_P     0x001
#define PTE_RW    0x002
#define PTE_US    0x004
#define PTE_PS    0x080
#define MSR_EFER  0xc0000080
#define EFER_LME  0x100
#define CR0_PE    0x00000001
#define CR0_ET    0x00000010
#define CR0_PG    0x80000000
#define CR4_PAE   0x020

/* ---- PVH note: owner "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY) -------- */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4			/* namesz: "Xen\0" */
	.long 8			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.p2align 2
	.quad pvh_start32	/* same value read as 4 or 8 bytes */

/* ---- 32-bit PVH entry (BSP) ------------------------------------------ */
	.section .text.entry, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	movl	%ebx, rt_start_info_paddr	/* before anything else */
	rdtsc
	movl	%eax, rt_entry_tsc
	movl	%edx, rt_entry_tsc + 4
	lgdt	gdt_ptr
	movl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$RT_SEL_KCODE, $bsp_start64

/* ---- 64-bit, CPL0 --------------------------------------------------- */
	.code64
	.globl rt_bsp_start64		/* also reached from the bzImage entry */
rt_bsp_start64:
bsp_start64:
	movl	$1, %r12d		/* r12 = 1 on the BSP */
	jmp	cpu_start64

	.globl rt_ap_start64
rt_ap_start64:
	xorl	%r12d, %r12d
cpu_start64:
	movl	$RT_SEL_KDATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	/* Our APIC ID picks the stacks and the TSS. */
	movl	$1, %eax
	cpuid
	shrl	$24, %ebx
	cmpl	$RT_MAX_CPUS, %ebx
	jae	too_many_cpus
	movl	%ebx, %r13d		/* r13 = APIC ID */
	movl	%ebx, %eax
	incl	%eax
	imull	$RT_KSTACK_SIZE, %eax, %eax
	leaq	rt_kstacks(%rax), %rsp
	movl	%r13d, %edi
	movl	%r12d, %esi
	call	rt_cpu_init		/* TSS, ltr, IDT (built once by the BSP) */
	/* Drop to CPL3: IF clear, IOPL 0 (port access comes from the TSS bitmap). */
	movl	%r13d, %eax
	incl	%eax
	imull	$RT_USTACK_SIZE, %eax, %eax
	leaq	rt_ustacks-8(%rax), %rcx
	pushq	$(RT_SEL_UDATA | 3)
	pushq	%rcx
	pushq	$0x2
	pushq	$(RT_SEL_UCODE | 3)
	leaq	rt_user_ap(%rip), %rax
	leaq	rt_user_bsp(%rip), %rcx
	testl	%r12d, %r12d
	cmovnzq	%rcx, %rax
	pushq	%rax
	movl	%r13d, %edi
	iretq

too_many_cpus:
	movl	$0xee, %eax
	outl	%eax, $0xf4
1:	cli
	hlt
	jmp	1b

/* ---- Trap stubs: 16 bytes each, vector n at rt_trap_stubs + 16 * n ---- */
	.p2align 4
	.globl rt_trap_stubs
rt_trap_stubs:
	.set vec, 0
	.rept 256
	.p2align 4
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	pushq	$vec
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	trap_common
	.set vec, vec + 1
	.endr

trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	cld
	call	rt_trap
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp
	iretq

/* ---- AP trampoline: copied to RT_TRAMPOLINE_ADDR, entered in real mode
 * at CS:IP = (RT_TRAMPOLINE_ADDR >> 4):0. Straight to long mode: real mode
 * is emulated here, so every instruction counts. ---------------------- */
	.section .rodata.trampoline, "a"
	.code16
	.globl rt_trampoline_start, rt_trampoline_end
rt_trampoline_start:
	cli
	lgdtl	%cs:(tramp_gdtr - rt_trampoline_start)
	movl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	$(CR0_PG | CR0_ET | CR0_PE), %eax
	movl	%eax, %cr0
	ljmpl	$RT_SEL_KCODE, $rt_ap_start64
	.p2align 2
tramp_gdtr:
	.word	gdt_end - gdt - 1
	.long	gdt
rt_trampoline_end:
	.code64

/* ---- GDT --------------------------------------------------------------- */
	.section .data.gdt, "aw"
	.p2align 4
	.globl rt_gdt
rt_gdt:
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08 kernel code, 64-bit */
	.quad	0x00cf92000000ffff	/* 0x10 kernel data */
	.quad	0x00cff2000000ffff	/* 0x18 user data, DPL3 */
	.quad	0x00affa000000ffff	/* 0x20 user code, 64-bit, DPL3 */
	.fill	2 * RT_MAX_CPUS, 8, 0	/* 0x28 TSS descriptors, built per CPU */
gdt_end:
	.p2align 3
	.globl rt_gdt_ptr
rt_gdt_ptr:
gdt_ptr:
	.word	gdt_end - gdt - 1
	.quad	gdt

/* ---- Identity map of the first 4 GiB, 2 MiB pages, user-accessible ---- */
	.section .data.pagetables, "aw"
	.p2align 12
	.globl rt_pml4, rt_pdpt, rt_pd
rt_pml4:
pml4:
	.quad	rt_pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill	511, 8, 0
rt_pdpt:
	.quad	rt_pd + 0x0000 + (PTE_P | PTE_RW | PTE_US)
	.quad	rt_pd + 0x1000 + (PTE_P | PTE_RW | PTE_US)
	.quad	rt_pd + 0x2000 + (PTE_P | PTE_RW | PTE_US)
	.quad	rt_pd + 0x3000 + (PTE_P | PTE_RW | PTE_US)
	.fill	508, 8, 0
rt_pd:
	.set addr, 0
	.rept	2048
	.quad	addr + (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.set addr, addr + 0x200000
	.endr

/* ---- Stacks --------------------------------------------------------- */
	/* Own section name: the bzImage link keeps it out of the file. */
	.section .stacks, "aw", @nobits
	.p2align 12
	.globl rt_kstacks, rt_ustacks
rt_kstacks:
	.skip	RT_MAX_CPUS * RT_KSTACK_SIZE
rt_ustacks:
	.skip	RT_MAX_CPUS * RT_USTACK_SIZE

	.section .note.GNU-stack, "", @progbits
