/* SPDX-License-Identifier: MIT */
/*
 * Boot information, whichever way the guest was entered:
 *  - PVH (ELF note): ebx = struct hvm_start_info (command line, memory map);
 *  - Linux 64-bit boot protocol (bzImage): rsi = struct boot_params, the
 *    "zero page" (cmd_line_ptr at 0x228, e820 table at 0x2d0).
 * Both are read at CPL3 before main() and copied into the image, so that
 * guests may reuse all of low memory afterwards; the rest of the runtime
 * only sees rt_cmdline() and rt_memmap().
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

/* struct boot_params offsets (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP_ADDR   0x070   /* u64 */
#define BP_EXT_CMD_LINE_PTR 0x0c8   /* u32: bits 32-63 of cmd_line_ptr */
#define BP_E820_ENTRIES     0x1e8   /* u8 */
#define BP_EXT_RAMDISK_IMAGE 0x0c0  /* u32: bits 32-63 of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE 0x0c4   /* u32: bits 32-63 of ramdisk_size */
#define BP_HDR_VERSION      0x206   /* u16, from the setup header */
#define BP_RAMDISK_IMAGE    0x218   /* u32 */
#define BP_RAMDISK_SIZE     0x21c   /* u32 */
#define BP_CMD_LINE_PTR     0x228   /* u32 */
#define BP_E820_TABLE       0x2d0   /* 128 x { u64 addr, u64 size, u32 type } */
#define BP_E820_MAX         128
#define BP_SIZE             4096

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

static char cmdline[RT_CMDLINE_MAX];
static struct rt_module modules[RT_MODULES_MAX];
static int module_count;
static struct rt_memmap_entry memmap[RT_MEMMAP_MAX];
static int memmap_count;
static uint64_t rsdp;
static uint32_t si_version;
static int boot_proto = RT_BOOT_NONE;

/* Only the first 4 GiB are mapped at this point. */
static int low(uint64_t paddr, uint64_t len)
{
	return paddr && paddr < (1ULL << 32) && len <= (1ULL << 32) - paddr;
}

static void copy_cmdline(uint64_t paddr)
{
	if (!low(paddr, 1))
		return;
	const char *c = (const char *)(uintptr_t)paddr;
	size_t i;
	for (i = 0; i + 1 < sizeof(cmdline) && (uint64_t)paddr + i < (1ULL << 32) && c[i]; i++)
		cmdline[i] = c[i];
	cmdline[i] = '\0';
}

static void pvh_init(uint32_t paddr)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)paddr;
	if (si->magic != HVM_START_MAGIC) {
		printf("guest: no hvm_start_info (ebx=0x%x)\n", paddr);
		return;
	}
	boot_proto = RT_BOOT_PVH;
	si_version = si->version;
	rsdp = si->rsdp_paddr;
	copy_cmdline(si->cmdline_paddr);
	if (si->nr_modules &&
	    low(si->modlist_paddr, (uint64_t)si->nr_modules * sizeof(struct hvm_modlist_entry))) {
		const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;
		for (uint32_t i = 0; i < si->nr_modules && module_count < RT_MODULES_MAX; i++)
			modules[module_count++] = (struct rt_module){ m[i].paddr, m[i].size };
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

static uint32_t bp32(const uint8_t *bp, unsigned off)
{
	uint32_t v;
	memcpy(&v, bp + off, 4);
	return v;
}

static uint64_t bp64(const uint8_t *bp, unsigned off)
{
	uint64_t v;
	memcpy(&v, bp + off, 8);
	return v;
}

static void linux_init(uint64_t paddr)
{
	if (!low(paddr, BP_SIZE)) {
		printf("guest: boot_params at 0x%lx is not mapped\n", paddr);
		return;
	}
	const uint8_t *bp = (const uint8_t *)(uintptr_t)paddr;
	boot_proto = RT_BOOT_LINUX;
	si_version = (uint32_t)bp[BP_HDR_VERSION] | (uint32_t)bp[BP_HDR_VERSION + 1] << 8;
	rsdp = bp64(bp, BP_ACPI_RSDP_ADDR);
	copy_cmdline((uint64_t)bp32(bp, BP_EXT_CMD_LINE_PTR) << 32 | bp32(bp, BP_CMD_LINE_PTR));
	uint64_t rd = (uint64_t)bp32(bp, BP_EXT_RAMDISK_IMAGE) << 32 | bp32(bp, BP_RAMDISK_IMAGE);
	uint64_t rs = (uint64_t)bp32(bp, BP_EXT_RAMDISK_SIZE) << 32 | bp32(bp, BP_RAMDISK_SIZE);
	if (rd && rs)
		modules[module_count++] = (struct rt_module){ rd, rs };
	int n = bp[BP_E820_ENTRIES];
	if (n > BP_E820_MAX)
		n = BP_E820_MAX;
	if (n > RT_MEMMAP_MAX)
		n = RT_MEMMAP_MAX;
	for (int i = 0; i < n; i++) {
		const uint8_t *e = bp + BP_E820_TABLE + 20 * i;
		memmap[i].addr = bp64(e, 0);
		memmap[i].size = bp64(e, 8);
		memmap[i].type = bp32(e, 16);
		memmap[i].reserved = 0;
	}
	memmap_count = n;
}

void rt_boot_info_init(void)
{
	if (rt_boot_params_paddr)
		linux_init(rt_boot_params_paddr);
	else if (rt_start_info_paddr)
		pvh_init(rt_start_info_paddr);
	else
		printf("guest: no boot information (ebx and rsi were 0)\n");
}

int rt_boot_protocol(void)
{
	return boot_proto;
}

const char *rt_boot_protocol_name(void)
{
	switch (boot_proto) {
	case RT_BOOT_PVH:
		return "PVH";
	case RT_BOOT_LINUX:
		return "Linux 64-bit";
	default:
		return "none";
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

const struct rt_module *rt_modules(int *count)
{
	*count = module_count;
	return modules;
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
