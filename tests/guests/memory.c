/* SPDX-License-Identifier: MIT */
/*
 * memory: prints the memory map, writes an address-dependent pattern to
 * every RAM byte outside the guest image (text, data, stacks, page tables)
 * and reads it all back. RAM above 4 GiB is mapped first when present.
 * Aliasing (two addresses backed by the same host page) shows up as a
 * mismatch because every 8-byte word has its own value.
 */
#include "rt.h"

static inline uint64_t pattern(uint64_t word_addr)
{
	uint64_t x = word_addr * 0x9e3779b97f4a7c15ULL;
	return x ^ (x >> 29) ^ 0x6c766d6d6d656d00ULL;
}

static inline uint8_t pattern_byte(uint64_t a)
{
	return (uint8_t)(pattern(a & ~7ULL) >> ((a & 7) * 8));
}

static void fill(uint64_t start, uint64_t end)
{
	uint64_t a = start;
	for (; a < end && (a & 7); a++)
		*(volatile uint8_t *)(uintptr_t)a = pattern_byte(a);
	for (; a + 8 <= end; a += 8)
		*(uint64_t *)(uintptr_t)a = pattern(a);
	for (; a < end; a++)
		*(volatile uint8_t *)(uintptr_t)a = pattern_byte(a);
}

static int check(uint64_t start, uint64_t end)
{
	uint64_t a = start;
	for (; a < end && (a & 7); a++)
		if (*(volatile uint8_t *)(uintptr_t)a != pattern_byte(a))
			goto bad_byte;
	for (; a + 8 <= end; a += 8) {
		uint64_t got = *(uint64_t *)(uintptr_t)a;
		if (got != pattern(a)) {
			printf("memory: mismatch at 0x%lx: got 0x%lx want 0x%lx\n",
			       a, got, pattern(a));
			return -1;
		}
	}
	for (; a < end; a++)
		if (*(volatile uint8_t *)(uintptr_t)a != pattern_byte(a))
			goto bad_byte;
	return 0;
bad_byte:
	printf("memory: mismatch at 0x%lx: got 0x%x want 0x%x\n", a,
	       *(volatile uint8_t *)(uintptr_t)a, pattern_byte(a));
	return -1;
}

/* Apply fn to [start, end) minus the guest image. */
static int each_piece(uint64_t start, uint64_t end, int verify, uint64_t *bytes)
{
	uint64_t is = (uint64_t)(uintptr_t)__image_start;
	uint64_t ie = (uint64_t)(uintptr_t)__image_end;
	uint64_t piece[2][2] = { { start, end < is ? end : is },
				 { start > ie ? start : ie, end } };
	for (int i = 0; i < 2; i++) {
		uint64_t s = piece[i][0], e = piece[i][1];
		if (s >= e)
			continue;
		if (verify) {
			if (check(s, e))
				return -1;
		} else {
			fill(s, e);
			*bytes += e - s;
		}
	}
	return 0;
}

int main(void)
{
	int n;
	const struct rt_memmap_entry *m = rt_memmap(&n);
	if (!n) {
		printf("memory: no memory map (%s boot, version %u)\n",
		       rt_boot_protocol_name(), rt_start_info_version());
		return 2;
	}
	uint64_t top = 0;
	for (int i = 0; i < n; i++) {
		if (!m[i].size)
			continue;
		printf("e820: 0x%016lx - 0x%016lx type %u\n", m[i].addr,
		       m[i].addr + m[i].size, m[i].type);
		if (m[i].type == RT_E820_RAM && m[i].addr + m[i].size > top)
			top = m[i].addr + m[i].size;
	}
	uint64_t mapped = 1ULL << 32;
	if (top > mapped) {
		mapped = rt_map_high(top);
		printf("memory: mapped up to 0x%lx\n", mapped);
		if (mapped < top)
			printf("memory: RAM above 0x%lx is not tested\n", mapped);
	}

	uint64_t t0 = rdtsc(), bytes = 0;
	for (int i = 0; i < n; i++) {
		uint64_t s = m[i].addr, e = m[i].addr + m[i].size;
		if (m[i].type != RT_E820_RAM)
			continue;
		if (e > mapped)
			e = mapped;
		if (s < e)
			each_piece(s, e, 0, &bytes);
	}
	uint64_t t1 = rdtsc();
	for (int i = 0; i < n; i++) {
		uint64_t s = m[i].addr, e = m[i].addr + m[i].size;
		if (m[i].type != RT_E820_RAM)
			continue;
		if (e > mapped)
			e = mapped;
		if (s < e && each_piece(s, e, 1, NULL))
			return 1;
	}
	uint64_t t2 = rdtsc(), khz = rt_tsc_hz() / 1000;
	printf("memory: wrote in %lu ms, checked in %lu ms\n",
	       (t1 - t0) / khz, (t2 - t1) / khz);
	printf("memory: verified %lu MiB\n", bytes >> 20);
	return 0;
}
