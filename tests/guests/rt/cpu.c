/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU setup (CPL0), trap and service-call handling (CPL0), and the
 * first CPL3 code of each CPU.
 *
 * CPL0 code is emulated on this host, so everything here is short and
 * straight-line; the IDT is the only loop (256 gates, once, on the BSP).
 */
#include "rt.h"
#include "internal.h"

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/*
 * One TSS per CPU, RT_TSS_STRIDE apart, followed by a single I/O permission
 * bitmap shared by all of them (each TSS's iomap_base reaches it; its limit
 * covers the bitmap and the trailing 0xff byte). All-zero bits allow every
 * port at CPL3: this host drops IOPL on iretq, so the bitmap is the only way.
 */
struct tss_area {
	uint8_t tss[RT_MAX_CPUS][RT_TSS_STRIDE];
	uint8_t iomap[RT_IOMAP_BYTES];
	uint8_t iomap_end;
} __attribute__((packed, aligned(128)));

static struct tss_area tss_area = { .iomap_end = 0xff };

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern uint64_t rt_gdt[];
extern char rt_trap_stubs[];
extern char rt_kstacks[];
extern uint64_t rt_pdpt[];

/* Written by the entry code: which boot path ran, and what it was given. */
uint32_t rt_start_info_paddr;   /* PVH: ebx = hvm_start_info */
uint64_t rt_boot_params_paddr;  /* Linux 64-bit: rsi = boot_params */
uint64_t rt_entry_tsc;

static void idt_fill(unsigned first, unsigned end)
{
	for (unsigned v = first; v < end; v++) {
		uint64_t a = (uint64_t)(uintptr_t)rt_trap_stubs + 16 * v;
		idt[v].off_lo = (uint16_t)a;
		idt[v].sel = RT_SEL_KCODE;
		idt[v].ist = 0;
		/* Interrupt gates; only the service call is reachable from CPL3. */
		idt[v].type = v == RT_SYSCALL_VECTOR ? 0xee : 0x8e;
		idt[v].off_mid = (uint16_t)(a >> 16);
		idt[v].off_hi = (uint32_t)(a >> 32);
	}
}

/* CPL0, once per CPU, from entry.S (stack = this CPU's kernel stack). */
void rt_cpu_init(unsigned id, int bsp);
void rt_cpu_init(unsigned id, int bsp)
{
	/* Exceptions only: CPL0 is emulated; rt_user_bsp() does the rest. */
	if (bsp)
		idt_fill(0, 32);

	struct tss64 *t = (struct tss64 *)(void *)tss_area.tss[id];
	uint64_t base = (uint64_t)(uintptr_t)t;
	uint32_t iomap = (uint32_t)(RT_MAX_CPUS - id) * RT_TSS_STRIDE;
	uint32_t limit = iomap + RT_IOMAP_BYTES; /* includes the 0xff byte */
	t->rsp0 = (uint64_t)(uintptr_t)rt_kstacks + (uint64_t)(id + 1) * RT_KSTACK_SIZE;
	t->iomap_base = (uint16_t)iomap;

	uint64_t *d = &rt_gdt[RT_SEL_TSS / 8 + 2 * id];
	d[0] = (limit & 0xffffULL) | ((base & 0xffffffULL) << 16) |
	       (0x89ULL << 40) | /* present, 64-bit TSS (available) */
	       ((uint64_t)(limit >> 16) & 0xf) << 48 |
	       ((base >> 24) & 0xffULL) << 56;
	d[1] = base >> 32;

	uint16_t sel = (uint16_t)(RT_SEL_TSS + 16 * id);
	__asm__ volatile("ltr %0" : : "r"(sel));
	struct desc_ptr p = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

struct rt_trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "?", "#TS", "#NP", "#SS", "#GP", "#PF", "?",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

static inline __attribute__((noreturn)) void cpl0_stop(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

static __attribute__((noreturn)) void cpl0_triple_fault(void)
{
	struct desc_ptr p = { 0, 0 };
	__asm__ volatile("lidt %0" : : "m"(p));
	/* #UD with no IDT: #GP, then #DF, then shutdown. */
	__asm__ volatile("ud2");
	cpl0_stop();
}

static long cpl0_map(uint64_t first_gib, uint64_t count, uint64_t pds)
{
	if (first_gib < 4 || first_gib + count > RT_MAX_PHYS_GIB)
		return -1;
	for (uint64_t i = 0; i < count; i++)
		rt_pdpt[first_gib + i] = (pds + 4096 * i) | 0x7;
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
	return 0;
}

/* RT_SYS_INT3: the #BP that int3 raises at CPL0 (one CPU at a time: the BSP). */
static volatile uint64_t bp_seen, bp_rip;
static volatile int bp_expected;

static long cpl0_int3(void)
{
	uint64_t after;

	bp_seen = 0;
	bp_expected = 1;
	__asm__ volatile("int3\n1:\n\tlea 1b(%%rip), %0" : "=r"(after) : : "memory");
	bp_expected = 0;
	if (!bp_seen)
		return 0;
	return bp_rip == after ? 1 : 2;
}

/* RT_SYS_WAIT_IRQ: one CPU at a time (the BSP). */
#define LAPIC_EOI   0x0b0
#define LAPIC_TMICT 0x380
static volatile uint64_t wait_vector;
static volatile int waiting;

static long cpl0_wait_irq(uint64_t ns)
{
	wait_vector = 0;
	waiting = 1;
	if (ns)
		mmio_write32(LVMM_LAPIC_BASE + LAPIC_TMICT, ns > 0xffffffffu ? 0xffffffffu : (uint32_t)ns);
	/* sti's shadow covers hlt: an interrupt already pending ends the hlt. */
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	waiting = 0;
	if (ns)
		mmio_write32(LVMM_LAPIC_BASE + LAPIC_TMICT, 0);
	return (long)wait_vector;
}

/* CPL0: every exception, interrupt and service call. */
void rt_trap(struct rt_trapframe *tf);
void rt_trap(struct rt_trapframe *tf)
{
	/* The int3 of RT_SYS_INT3 (a trap: the frame holds the address after it). */
	if (tf->vector == 3 && (tf->cs & 3) == 0 && bp_expected) {
		bp_seen = 1;
		bp_rip = tf->rip;
		return;
	}
	/*
	 * This host raises #UD at "int $N" executed at CPL3 instead of going
	 * through the gate, so a #UD on "int $0x80" from CPL3 is the service
	 * call too (elsewhere the DPL3 gate delivers vector 0x80 directly).
	 */
	if (tf->vector == 6 && (tf->cs & 3) == 3) {
		const uint8_t *ip = (const uint8_t *)(uintptr_t)tf->rip;
		if (ip[0] == 0xcd && ip[1] == RT_SYSCALL_VECTOR) {
			tf->rip += 2;
			tf->vector = RT_SYSCALL_VECTOR;
		}
	}
	if (tf->vector == RT_SYSCALL_VECTOR) {
		switch (tf->rax) {
		case RT_SYS_HALT:
			cpl0_stop();
		case RT_SYS_TRIPLE:
			cpl0_triple_fault();
		case RT_SYS_MAP:
			tf->rax = (uint64_t)cpl0_map(tf->rdi, tf->rsi, tf->rdx);
			return;
		case RT_SYS_NOP:
			tf->rax = 0;
			return;
		case RT_SYS_POKE:
			*(volatile uint64_t *)(uintptr_t)tf->rdi = tf->rsi;
			tf->rax = 0;
			return;
		case RT_SYS_SPIN:
			/* A wedged kernel: interrupts off, never leaves CPL0. */
			__asm__ volatile("cli; 1: jmp 1b");
			return;
		case RT_SYS_INT3:
			tf->rax = (uint64_t)cpl0_int3();
			return;
		case RT_SYS_WAIT_IRQ:
			tf->rax = (uint64_t)cpl0_wait_irq(tf->rdi);
			return;
		case RT_SYS_FWAIT:
			__asm__ volatile("fwait" ::: "memory");
			tf->rax = 0;
			return;
		case RT_SYS_WRMSR:
			__asm__ volatile("wrmsr" : : "c"((uint32_t)tf->rdi),
					 "a"((uint32_t)tf->rsi),
					 "d"((uint32_t)(tf->rsi >> 32)));
			tf->rax = 0;
			return;
		case RT_SYS_CPUID: {
			uint32_t r[4];
			__asm__ volatile("cpuid"
					 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
					 : "a"((uint32_t)tf->rdi), "c"((uint32_t)(tf->rdi >> 32)));
			tf->rax = r[tf->rsi & 3];
			return;
		}
		case RT_SYS_RDMSR: {
			uint32_t lo, hi;
			__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi)
					 : "c"((uint32_t)tf->rdi));
			tf->rax = ((uint64_t)hi << 32) | lo;
			return;
		}
		default:
			tf->rax = (uint64_t)-1;
			return;
		}
	}
	/* The interrupt that ended an RT_SYS_WAIT_IRQ (only there is IF set). */
	if (tf->vector >= 32 && waiting) {
		wait_vector = tf->vector;
		mmio_write32(LVMM_LAPIC_BASE + LAPIC_EOI, 0);
		return;
	}
	uint64_t cr2 = 0;
	if (tf->vector == 14)
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	rt_trap_report(tf->vector < 32 ? exc_names[tf->vector] : "interrupt",
		       tf->vector, tf->error, tf->rip, tf->cs, tf->rsp, cr2);
	outl(LVMM_DEBUG_EXIT_PORT, 0xee);
	cpl0_stop();
}

long rt_syscall(long nr, long a0, long a1)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1) : "memory");
	return ret;
}

long rt_syscall3(long nr, long a0, long a1, long a2)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "memory");
	return ret;
}

void rt_halt(void)
{
	rt_syscall(RT_SYS_HALT, 0, 0);
	for (;;)
		cpu_relax();
}

void rt_triple_fault(void)
{
	rt_syscall(RT_SYS_TRIPLE, 0, 0);
	for (;;)
		cpu_relax();
}

void exit_status(uint32_t v)
{
	outl(LVMM_DEBUG_EXIT_PORT, v);
	/* No debug-exit device: stop instead of running on. */
	rt_halt();
}

unsigned rt_cpu_id(void)
{
	/* Each CPU runs on its own user stack, indexed by APIC ID. */
	extern char rt_ustacks[];
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	return (unsigned)((sp - (uintptr_t)rt_ustacks) / RT_USTACK_SIZE);
}

static volatile uint32_t aps_online;

unsigned rt_aps_online(void)
{
	return __atomic_load_n(&aps_online, __ATOMIC_ACQUIRE);
}

__attribute__((weak)) void ap_main(unsigned apic_id)
{
	(void)apic_id;
}

/* First CPL3 code of an AP (iretq from entry.S). */
__attribute__((noreturn, used)) void rt_user_ap(unsigned id);
void rt_user_ap(unsigned id)
{
	__atomic_add_fetch(&aps_online, 1, __ATOMIC_RELEASE);
	ap_main(id);
	rt_halt();
}

/* First CPL3 code of the BSP (iretq from entry.S). */
__attribute__((noreturn, used)) void rt_user_bsp(unsigned id);
void rt_user_bsp(unsigned id)
{
	(void)id;
	/* The IDT is ordinary user-writable memory: fill the rest natively. */
	idt_fill(32, 256);
	rt_console_init();
	rt_boot_info_init();
	exit_status((uint32_t)main());
}
