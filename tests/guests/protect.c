/* SPDX-License-Identifier: MIT */
/*
 * protect: exercises protected memory and the watchdog (docs/protect.md).
 * Steps run in this order, each only when its option is given:
 *   aps=1             start every AP; each stores to unprotected memory for good
 *   map_high=1        map RAM above 4 GiB first
 *   lock=ADDR[,SIZE]  lock pages at run time (port 0x5a0); prints the status (repeatable)
 *   locks=N@BASE      lock N single pages, every other page from BASE
 *   write=ADDR        write 8 bytes (11 22 .. 88) at CPL3, print unchanged/changed (repeatable)
 *                     (repeat=N: N times)
 *   write0=ADDR       the same write at CPL0 (a service call)
 *   neighbour=ADDR    write there too; it must change
 *   text=1            write into the guest's own text (kernel_text)
 *   rodata=1          write into its read-only data (kernel_rodata)
 *   dma=ADDR          read disk sector 0 into ADDR by virtio-blk
 *   bench_ms=N        write pages [bench_base, +bench_mib MiB) in a loop for N ms
 *                     (bench_skip=S: not the last page of every S bytes)
 *   pet_ms=P,pets=K   pet the watchdog K times, P ms apart, then stop petting
 *   spin=1            then spin at CPL0 with interrupts off (cli; jmp .)
 *   hold_ms=N         then keep printing "protect: alive K" every 100 ms for N ms
 * Exit status 0 when every step saw what it expected (the test checks the
 * console and the events, this status is a summary); 1 otherwise.
 */
#include "lvmm/guest_abi.h"
#include "rt.h"
#include "virtio.h"

static int bad;
/* In .rodata, which protect.ld puts in a read-only segment of its own. */
static const uint64_t ro_mark[8] __attribute__((aligned(64))) = { 0x6c766d6d726f6461ULL };
static volatile uint64_t ap_count; /* APs' stores, with aps=1 */

/* aps=1: every AP stores to unprotected memory for good while the BSP locks pages. */
void ap_main(unsigned apic_id)
{
	(void)apic_id;
	for (;;)
		__atomic_add_fetch(&ap_count, 1, __ATOMIC_RELAXED);
}

static uint64_t opt(const char *key, uint64_t def)
{
	char buf[64];
	const char *end;

	if (rt_cmdline_get(key, buf, sizeof(buf)) < 0)
		return def;
	return rt_strtou64(buf, &end);
}

static uint32_t lock(uint64_t addr, uint64_t size)
{
	outl(LVMM_PORT_PROTECT + LVMM_PROTECT_REG_ADDR_LO, (uint32_t)addr);
	outl(LVMM_PORT_PROTECT + LVMM_PROTECT_REG_ADDR_HI, (uint32_t)(addr >> 32));
	outl(LVMM_PORT_PROTECT + LVMM_PROTECT_REG_SIZE, (uint32_t)size);
	outl(LVMM_PORT_PROTECT + LVMM_PROTECT_REG_CMD, LVMM_PROTECT_CMD_LOCK);
	return inl(LVMM_PORT_PROTECT + LVMM_PROTECT_REG_CMD);
}

/* Write the pattern; 1 if the memory changed. */
static int try_write(uint64_t addr)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)addr;
	uint64_t before = *p, after;

	printf("protect: writing 0x%lx\n", addr);
	*p = 0x8877665544332211ULL;
	after = *p;
	printf("protect: write 0x%lx: before 0x%lx after 0x%lx %s\n", addr, before, after,
	       after == before ? "unchanged" : "changed");
	return after != before;
}

static uint64_t ms_now(void)
{
	return rdtsc() / (rt_tsc_hz() / 1000);
}

static void sleep_ms(uint64_t ms)
{
	rt_udelay(ms * 1000);
}

static void bench(uint64_t ms)
{
	uint64_t base = opt("bench_base", 0x1000000), mib = opt("bench_mib", 8);
	uint64_t skip = opt("bench_skip", 0); /* leave out the last page of every skip bytes */
	uint64_t end, bytes = 0, t0, t;

	/* First touch (host page faults) is not what is measured: one pass before the clock. */
	for (uint64_t a = base; a < base + mib * 1024 * 1024; a += 4096)
		if (!skip || (a - base) % skip < skip - 4096)
			*(volatile uint64_t *)(uintptr_t)a = 0;
	t0 = ms_now();
	end = t0 + ms;
	while (ms_now() < end) {
		for (uint64_t a = base; a < base + mib * 1024 * 1024; a += 64) {
			if (skip && (a - base) % skip >= skip - 4096)
				continue;
			*(volatile uint64_t *)(uintptr_t)a = a;
			bytes += 8;
		}
	}
	t = ms_now() - t0;
	printf("protect: bench wrote %lu MiB in %lu ms: %lu MiB/s\n", bytes >> 20, t,
	       t ? (bytes >> 20) * 1000 / t : 0);
}

int main(void)
{
	char buf[64];
	uint64_t v;
	struct vblk blk;

	if (opt("aps", 0)) {
		uint8_t ids[RT_MAX_CPUS], aps[RT_MAX_CPUS];
		const char *src;
		int n = rt_find_cpus(ids, RT_MAX_CPUS, &src), k = 0;

		for (int i = 0; i < n; i++)
			if (ids[i] != rt_cpu_id() && ids[i] < RT_MAX_CPUS)
				aps[k++] = ids[i];
		rt_start_aps(aps, k);
		for (uint64_t t = ms_now() + 5000; rt_aps_online() < (unsigned)k && ms_now() < t;)
			cpu_relax();
		printf("protect: %u APs storing\n", rt_aps_online());
	}
	if (opt("map_high", 0)) {
		uint64_t end = 0;
		int n;
		const struct rt_memmap_entry *m = rt_memmap(&n);

		for (int i = 0; i < n; i++)
			if (m[i].type == RT_E820_RAM && m[i].addr + m[i].size > end)
				end = m[i].addr + m[i].size;
		printf("protect: mapped up to 0x%lx\n", rt_map_high(end));
	}
	for (int k = 0; rt_cmdline_get_nth("lock", k, buf, sizeof(buf)) >= 0 && k < 16; k++) {
		const char *end;
		uint64_t addr = rt_strtou64(buf, &end), size = 4096;

		if (*end == ',')
			size = rt_strtou64(end + 1, &end);
		printf("protect: lock 0x%lx+0x%lx: status %u\n", addr, size, lock(addr, size));
	}
	if (rt_cmdline_get("locks", buf, sizeof(buf)) >= 0) {
		const char *end;
		uint64_t n = rt_strtou64(buf, &end), base = 0x2000000;
		uint32_t st = 0, last = 0;
		uint64_t ok = 0;

		if (*end == '@')
			base = rt_strtou64(end + 1, &end);
		for (uint64_t i = 0; i < n; i++) {
			st = lock(base + i * 8192, 4096);
			ok += st == LVMM_PROTECT_OK;
			if (st != LVMM_PROTECT_OK && !last)
				printf("protect: lock %lu at 0x%lx: status %u\n", i + 1,
				       base + i * 8192, st);
			last = st;
		}
		printf("protect: %lu of %lu locks ok, last status %u\n", ok, n, st);
	}
	if (opt("aps", 0)) {
		uint64_t c0 = __atomic_load_n(&ap_count, __ATOMIC_RELAXED);

		sleep_ms(20);
		printf("protect: APs %s after the locks\n",
		       __atomic_load_n(&ap_count, __ATOMIC_RELAXED) != c0 ? "still storing" : "stopped");
	}
	for (int k = 0; rt_cmdline_get_nth("write", k, buf, sizeof(buf)) >= 0 && k < 16; k++) {
		const char *end;

		v = rt_strtou64(buf, &end);
		for (uint64_t n = opt("repeat", 1), i = 0; i < n; i++)
			try_write(v);
	}
	if ((v = opt("write0", 0))) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)v;
		uint64_t before = *p;

		printf("protect: writing 0x%lx at CPL0\n", v);
		rt_syscall(RT_SYS_POKE, (long)v, 0x8877665544332211LL);
		printf("protect: write0 0x%lx: before 0x%lx after 0x%lx %s\n", v, before, *p,
		       *p == before ? "unchanged" : "changed");
	}
	if ((v = opt("neighbour", 0)) && !try_write(v))
		bad = 1;
	if (opt("text", 0)) {
		uint64_t t = ((uint64_t)(uintptr_t)&try_write + 64) & ~7ULL;

		printf("protect: text at 0x%lx\n", t);
		if (try_write(t))
			bad = 1;
	}
	if (opt("rodata", 0)) {
		uint64_t t = (uint64_t)(uintptr_t)&ro_mark[0];

		printf("protect: rodata at 0x%lx\n", t);
		if (try_write(t))
			bad = 1;
	}
	if ((v = opt("dma", 0))) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)v;
		uint64_t before = *p;
		int st;

		if (vblk_open(&blk, 0)) {
			printf("protect: no disk\n");
			return 2;
		}
		st = vblk_read(&blk, 0, (void *)(uintptr_t)v, 1);
		printf("protect: dma read into 0x%lx: status %d, %s\n", v, st,
		       *p == before ? "unchanged" : "changed");
	}
	if ((v = opt("bench_ms", 0)))
		bench(v);
	if (rt_cmdline_get("pet_ms", buf, sizeof(buf)) >= 0) {
		uint64_t pet = opt("pet_ms", 50), pets = opt("pets", 5);

		printf("protect: watchdog timeout %u ms\n", inl(LVMM_PORT_WATCHDOG));
		for (uint64_t i = 0; i < pets; i++) {
			outl(LVMM_PORT_WATCHDOG, 1);
			sleep_ms(pet);
		}
		printf("protect: stopped petting\n");
	}
	if (opt("spin", 0)) {
		printf("protect: spinning at CPL0 with interrupts off\n");
		rt_syscall(RT_SYS_SPIN, 0, 0);
	}
	if ((v = opt("hold_ms", 0))) {
		uint64_t end = ms_now() + v;

		for (unsigned k = 1; ms_now() < end; k++) {
			printf("protect: alive %u\n", k);
			sleep_ms(100);
		}
	}
	printf("protect: done\n");
	return bad;
}
