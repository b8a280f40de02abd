/* SPDX-License-Identifier: MIT */
/*
 * Boot information: hvm_start_info is read (at CPL3, before main) and the
 * command line and memory map are copied into the image, so that guests may
 * reuse all of low memory afterwards.
 */
#include "rt.h"
#include "internal.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;     /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

static char cmdline[RT_CMDLINE_MAX];
static struct rt_memmap_entry memmap[RT_MEMMAP_MAX];
static int memmap_count;
static uint64_t rsdp;
static uint32_t si_version;

/* Only the first 4 GiB are mapped at this point. */
static int low(uint64_t paddr, uint64_t len)
{
	return paddr && paddr < (1ULL << 32) && len <= (1ULL << 32) - paddr;
}

void rt_boot_info_init(uint32_t paddr)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)paddr;
	if (!paddr || si->magic != HVM_START_MAGIC) {
		printf("guest: no hvm_start_info (ebx=0x%x)\n", paddr);
		return;
	}
	si_version = si->version;
	rsdp = si->rsdp_paddr;
	if (low(si->cmdline_paddr, 1)) {
		const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
		size_t i;
		for (i = 0; i + 1 < sizeof(cmdline) && c[i]; i++)
			cmdline[i] = c[i];
		cmdline[i] = '\0';
	}
	if (si->version >= 1 && si->memmap_entries &&
	    low(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(memmap[0]))) {
		int n = si->memmap_entries < RT_MEMMAP_MAX ? (int)si->memmap_entries
							   : RT_MEMMAP_MAX;
		memcpy(memmap, (const void *)(uintptr_t)si->memmap_paddr,
		       (size_t)n * sizeof(memmap[0]));
		memmap_count = n;
	}
}

const char *rt_cmdline(void)
{
	return cmdline;
}

const struct rt_memmap_entry *rt_memmap(int *count)
{
	*count = memmap_count;
	return memmap;
}

uint64_t rt_rsdp_paddr(void)
{
	return rsdp;
}

uint32_t rt_start_info_version(void)
{
	return si_version;
}

int rt_cmdline_get_nth(const char *key, int nth, char *buf, size_t len)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t wlen = (size_t)(p - w);
		if (wlen < klen || strncmp(w, key, klen) != 0)
			continue;
		if (wlen != klen && w[klen] != '=')
			continue;
		if (nth-- > 0)
			continue;
		const char *v = wlen == klen ? w + klen : w + klen + 1;
		size_t vlen = (size_t)(p - v);
		if (len) {
			size_t c = vlen < len - 1 ? vlen : len - 1;
			memcpy(buf, v, c);
			buf[c] = '\0';
		}
		return (int)vlen;
	}
	return -1;
}

int rt_cmdline_get(const char *key, char *buf, size_t len)
{
	return rt_cmdline_get_nth(key, 0, buf, len);
}
