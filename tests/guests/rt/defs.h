/* SPDX-License-Identifier: MIT */
/*
 * Constants shared by the assembly entry code and the C runtime of the
 * in-tree test guests. Only #defines: this file is included from .S files.
 */
#ifndef RT_DEFS_H
#define RT_DEFS_H

#define RT_MAX_CPUS        64          /* APIC IDs 0..63                    */
#define RT_KSTACK_SIZE     4096        /* CPL0 stack per CPU (traps only)   */
#define RT_USTACK_SIZE     16384       /* CPL3 stack per CPU                */

/* GDT selectors. The TSS of CPU n is at RT_SEL_TSS + 16 * n. */
#define RT_SEL_KCODE       0x08
#define RT_SEL_KDATA       0x10
#define RT_SEL_UDATA       0x18
#define RT_SEL_UCODE       0x20
#define RT_SEL_TSS         0x28
#define RT_GDT_ENTRIES     (5 + 2 * RT_MAX_CPUS)

/* Stride of the per-CPU TSS array; all TSSs share one I/O bitmap after it. */
#define RT_TSS_STRIDE      128
#define RT_IOMAP_BYTES     8192

#define RT_SYSCALL_VECTOR  0x80

/* Real-mode AP trampoline: page-aligned, below 1 MiB, above the boot data. */
#define RT_TRAMPOLINE_ADDR 0x8000

/* Service calls (int $0x80, number in rax, arguments in rdi, rsi). */
#define RT_SYS_HALT        0   /* stop this CPU for good (cli; hlt)          */
#define RT_SYS_TRIPLE      1   /* triple-fault the machine                   */
#define RT_SYS_MAP         2   /* identity-map [4 GiB, rdi) with 2 MiB pages */
#define RT_SYS_NOP         3   /* round trip, for measuring                  */
#define RT_SYS_WRMSR       4   /* wrmsr(rdi, rsi)                            */
#define RT_SYS_RDMSR       5   /* rax = rdmsr(rdi)                           */
#define RT_SYS_POKE        8   /* *(uint64_t *)rdi = rsi at CPL0 (protect tests) */
#define RT_SYS_SPIN        7   /* cli; jmp . at CPL0, for good (watchdog tests)  */
#define RT_SYS_CPUID       6   /* rax = CPUID(leaf rdi[31:0], subleaf rdi[63:32]) register rsi (0 eax .. 3 edx), at CPL0 */
#define RT_SYS_INT3        9   /* int3 at CPL0: rax = 1 if the #BP handler ran with the return address after it, 2 if another, 0 if it did not run */
#define RT_SYS_FWAIT       10  /* fwait at CPL0; rax = 0 */
#define RT_SYS_WAIT_IRQ    11  /* sti; hlt; cli at CPL0, LAPIC timer armed for rdi ns (0: none); rax = the vector that ended it */

/* Physical address space the page tables can cover (memory guest). */
#define RT_MAX_PHYS_GIB    64

#endif
