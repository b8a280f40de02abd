/* SPDX-License-Identifier: MIT */
/*
 * Freestanding runtime of the lvmm in-tree test guests.
 *
 * The runtime boots through PVH, sets up long mode at CPL0 and calls main()
 * at CPL3 on the BSP (see README.md for why). Port I/O and MMIO work at
 * CPL3 (TSS I/O bitmap, user-accessible identity map of the first 4 GiB).
 * Never execute sti/cli/hlt in guest code: use the rt_ calls below.
 */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "defs.h"

/* ---- Provided by the guest ------------------------------------------- */
/* Runs at CPL3 on the BSP after the runtime is ready; its return value is
 * the exit status. */
int main(void);
/* Optional (weak): runs at CPL3 on each AP started with rt_start_ap(); the
 * AP stops for good when it returns. */
void ap_main(unsigned apic_id);

/* ---- Port I/O and MMIO (usable at CPL3) ------------------------------ */
static inline void outb(uint16_t port, uint8_t v)
{ __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v)
{ __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v)
{ __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{ uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port)
{ uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint32_t mmio_read32(uint64_t addr)
{ return *(volatile uint32_t *)(uintptr_t)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v)
{ *(volatile uint32_t *)(uintptr_t)addr = v; }
static inline uint8_t mmio_read8(uint64_t addr)
{ return *(volatile uint8_t *)(uintptr_t)addr; }
static inline void mmio_write8(uint64_t addr, uint8_t v)
{ *(volatile uint8_t *)(uintptr_t)addr = v; }

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

/* ---- Exit and service calls ------------------------------------------ */
/* Write v as a 32-bit value to the debug-exit port (lvmm: status v & 0xff;
 * QEMU isa-debug-exit: (v << 1) | 1). Never returns. */
__attribute__((noreturn)) void exit_status(uint32_t v);
/* CPL3 -> CPL0 service call (RT_SYS_*); costs hundreds of emulated
 * instructions, so never use it in a loop. */
long rt_syscall(long nr, long a0, long a1);
/*
 * Waiting for an interrupt instead of polling (rt/irq.c): rt_irq_init()
 * software-enables this CPU's LAPIC (from CPL3, MMIO) with its timer one-shot
 * on timer_vector; rt_ioapic_route() sets IOAPIC pin's entry: lo (vector,
 * mode and mask bits; a bare vector is fixed, physical, edge, active high)
 * for APIC ID dest. Edge-triggered virtio-mmio lines: acknowledge the
 * device's status before checking the rings, so the next completion raises
 * a new edge. rt_wait_irq() sleeps
 * (CPL0 sti; hlt) until an interrupt or timeout_ns (0: none; at most ~4 s),
 * EOIs it and returns its vector. Interrupts stay masked at CPL3, so one that
 * arrived while the guest was busy ends the next wait at once: check, then
 * wait, never the other way round. A service call: ~100s of us here.
 */
void rt_irq_init(uint8_t timer_vector);
uint32_t rt_ioapic_read(uint32_t reg);
void rt_ioapic_write(uint32_t reg, uint32_t v);
void rt_ioapic_route(unsigned pin, uint32_t lo, uint8_t dest);
unsigned rt_wait_irq(uint64_t timeout_ns);
/* Stop the calling CPU for good. */
__attribute__((noreturn)) void rt_halt(void);
/* Triple-fault the machine (fault guest). */
__attribute__((noreturn)) void rt_triple_fault(void);

/* ---- Strings --------------------------------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* Parse an unsigned number: 0x prefix = hex, else decimal. Sets *end. */
uint64_t rt_strtou64(const char *s, const char **end);

/* ---- Console (COM1) ------------------------------------------------- */
/* printf subset: %s %d %u %x %lx %lu %ld %llx %p %c %%, width and 0 flag. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rt_puts_raw(const char *s, size_t n);   /* no lock, no formatting */

/* ---- Spinlock (lock xchg) ------------------------------------------- */
typedef struct { volatile uint32_t v; } rt_spinlock_t;
void rt_spin_lock(rt_spinlock_t *l);
void rt_spin_unlock(rt_spinlock_t *l);

/* ---- Boot information (copied out of hvm_start_info or the Linux zero
 * page before main, whichever boot path ran) -------------------------- */
#define RT_BOOT_NONE  0
#define RT_BOOT_PVH   1      /* ELF + PVH note: hvm_start_info          */
#define RT_BOOT_LINUX 2      /* bzImage, 64-bit boot protocol: zero page */
int rt_boot_protocol(void);                   /* RT_BOOT_*             */
const char *rt_boot_protocol_name(void);      /* "PVH", "Linux 64-bit" */

struct rt_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;      /* 1 = RAM, 2 = reserved, 3 = ACPI, 4 = NVS */
	uint32_t reserved;
};
#define RT_E820_RAM 1
#define RT_MEMMAP_MAX 128
#define RT_CMDLINE_MAX 4096

const char *rt_cmdline(void);                 /* "" when none          */
/* Value of the first "key=value" word (or of the n-th with _nth), copied
 * NUL-terminated into buf. Returns its length, or -1 when absent. A bare
 * "key" word yields "". */
int rt_cmdline_get(const char *key, char *buf, size_t len);
int rt_cmdline_get_nth(const char *key, int n, char *buf, size_t len);
const struct rt_memmap_entry *rt_memmap(int *count);
uint64_t rt_rsdp_paddr(void);                 /* 0 when not given      */
/* Boot modules: PVH hvm_start_info modules (lvmm and QEMU pass --initrd /
 * -initrd as module 0), or the Linux ramdisk. Where they are, not copies. */
struct rt_module {
	uint64_t paddr;
	uint64_t size;
};
#define RT_MODULES_MAX 8
const struct rt_module *rt_modules(int *count);
/* hvm_start_info version (PVH) or boot protocol version (Linux). */
uint32_t rt_start_info_version(void);

/* Guest image (text, data, bss, stacks, page tables), physical = virtual. */
extern char __image_start[], __image_end[];

/* ---- CPUs ------------------------------------------------------------ */
/* TSC at the first instructions of the entry (PVH or Linux). */
extern uint64_t rt_entry_tsc;
unsigned rt_cpu_id(void);                     /* APIC ID of this CPU   */
uint64_t rt_tsc_hz(void);                     /* best guess            */
/* Busy-wait (natively, at CPL3); honours the power button (rt_power_poll). */
void rt_udelay(uint64_t us);
/* The ACPI table with this signature ("APIC", "FACP", ...), checksum
 * verified, found through the RSDP lvmm or QEMU passed (or a scan of
 * 0xe0000-0xfffff); NULL when there is none. */
const void *rt_acpi_table(const char *sig);

/* ---- ACPI power button (lvmm's acpi_pm device, docs/acpi.md) --------- */
/* Call from any wait loop: at most every 10 ms it reads the GED's event
 * register, and on a power-button press prints "power button: powering
 * off" and powers the partition off through the FADT's sleep control
 * register (\_S5), as an ACPI OS would. With "power_button=ignore" on the
 * command line it prints "power button: pressed, ignored" instead (a
 * guest that does not react, for escalation tests). Does nothing where
 * the FADT has no lvmm sleep register (QEMU, other VMMs). */
void rt_power_poll(void);
/* APIC IDs of all CPUs from the MP table (ACPI MADT as a fallback).
 * Returns the count, or -1 when neither table is found. *source is set
 * to "mptable" or "madt". */
int rt_find_cpus(uint8_t *ids, int max, const char **source);
/* The ACPI table with signature sig (4 characters) listed in the XSDT (or
 * RSDT), its checksum verified; NULL when there is none. */
const void *rt_acpi_table(const char *sig);
/* Send INIT-SIPI-SIPI to one AP: it comes up in ap_main(apic_id) at CPL3. */
void rt_start_ap(unsigned apic_id);
/* The same for n APs at once (one INIT delay for all). */
void rt_start_aps(const uint8_t *ids, int n);
/* Number of APs that have reached CPL3 (before ap_main). */
unsigned rt_aps_online(void);

/* ---- Memory above 4 GiB --------------------------------------------- */
/* Identity-map [4 GiB, end) with 2 MiB pages (end is rounded up to 2 MiB,
 * capped at RT_MAX_PHYS_GIB). Returns the mapped end. */
uint64_t rt_map_high(uint64_t end);

#endif
