// SPDX-License-Identifier: MIT
/* Loader parsing and placement, on images built in memory. No KVM needed. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "lvmm/guest_abi.h"
#include "lvmm/proto.h"
#include "unit/unit.h"
#include "vmm/acpi.h"
#include "vmm/gmem.h"
#include "vmm/loader.h"
#include "vmm/mptable.h"

#define MEM (64ULL << 20)

static char err[LOADER_ERR_MAX];
static struct guest_layout lay;

/* ---- ELF builder ---------------------------------------------------------- */

struct elf_img {
	uint8_t buf[8192];
	size_t len;
};

/* One PT_LOAD at paddr (0x1000 bytes of code at file offset 0x1000) and a PT_NOTE with the PVH entry. */
static void make_elf(struct elf_img *im, uint64_t paddr, uint64_t entry)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im->buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(im->buf + sizeof(*eh));
	uint8_t *note = im->buf + 0x800;

	memset(im, 0, sizeof(*im));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	eh->e_ehsize = sizeof(*eh);
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_paddr = paddr,
			      .p_vaddr = paddr, .p_filesz = 0x1000, .p_memsz = 0x2000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x800, .p_filesz = 20 };
	/* namesz 4, descsz 4, type 18, "Xen\0", entry */
	memcpy(note, (uint32_t[]){ 4, 4, 18 }, 12);
	memcpy(note + 12, "Xen", 4);
	memcpy(note + 16, &(uint32_t){ (uint32_t)entry }, 4);
	memset(im->buf + 0x1000, 0x90, 0x1000);
	im->len = 0x2000;
}

static Elf64_Phdr *phdr(struct elf_img *im, int i)
{
	return (Elf64_Phdr *)(im->buf + sizeof(Elf64_Ehdr)) + i;
}

static int parse(const void *buf, size_t len, struct boot_image *img)
{
	err[0] = 0;
	return loader_parse(buf, len, &lay, img, err, sizeof(err));
}

static void test_elf_valid(void)
{
	struct elf_img im;
	struct boot_image img;

	make_elf(&im, 0x100000, 0x100010);
	CHECK_EQ(parse(im.buf, im.len, &img), 0);
	CHECK_EQ(img.kind, IMAGE_PVH_ELF);
	CHECK_EQ(img.entry, 0x100010);
	CHECK_EQ(img.nsegs, 1);
	CHECK_EQ(img.segs[0].memsz, 0x2000);
	CHECK_EQ(img.end, 0x102000);
}

static void test_elf_malformed(void)
{
	struct elf_img im;
	struct boot_image img;

	/* truncated: only part of the header */
	make_elf(&im, 0x100000, 0x100010);
	CHECK(parse(im.buf, 40, &img) < 0);
	CHECK(strstr(err, "truncated") != NULL);
	/* truncated: segment runs past the end of the file */
	CHECK(parse(im.buf, 0x1800, &img) < 0);
	CHECK(strstr(err, "runs past the end") != NULL);
	/* bad magic */
	make_elf(&im, 0x100000, 0x100010);
	im.buf[1] = 'X';
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "not a kernel") != NULL);
	/* wrong machine */
	make_elf(&im, 0x100000, 0x100010);
	((Elf64_Ehdr *)im.buf)->e_machine = EM_AARCH64;
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "not x86-64") != NULL);
	/* entry outside every segment */
	make_elf(&im, 0x100000, 0x200000);
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "outside every loaded segment") != NULL);
	/* entry in the zero-filled (bss) part only */
	make_elf(&im, 0x100000, 0x101800);
	CHECK(parse(im.buf, im.len, &img) < 0);
	/* segment in the boot area */
	make_elf(&im, 0x8000, 0x8010);
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "boot area") != NULL);
	/* segment beyond RAM */
	make_elf(&im, MEM - 0x1000, MEM - 0x1000);
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "does not fit in guest RAM") != NULL);
	/* segment address that wraps around 2^64 */
	make_elf(&im, 0x100000, 0x100010);
	phdr(&im, 0)->p_paddr = 0xfffffffffffff000ULL;
	CHECK(parse(im.buf, im.len, &img) < 0);
	/* file size larger than memory size */
	make_elf(&im, 0x100000, 0x100010);
	phdr(&im, 0)->p_memsz = 0x100;
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "larger than its memory size") != NULL);
	/* huge offset */
	make_elf(&im, 0x100000, 0x100010);
	phdr(&im, 0)->p_offset = 0xffffffffffffff00ULL;
	CHECK(parse(im.buf, im.len, &img) < 0);
	/* program headers outside the file */
	make_elf(&im, 0x100000, 0x100010);
	((Elf64_Ehdr *)im.buf)->e_phoff = 0x10000;
	CHECK(parse(im.buf, im.len, &img) < 0);
	/* no PVH note */
	make_elf(&im, 0x100000, 0x100010);
	phdr(&im, 1)->p_type = PT_NULL;
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "no PVH entry note") != NULL);
	/* note claiming more bytes than its area */
	make_elf(&im, 0x100000, 0x100010);
	memcpy(im.buf + 0x800, (uint32_t[]){ 4, 0x10000, 18 }, 12);
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "runs past its note area") != NULL);
}

static void test_elf_overlap(void)
{
	struct elf_img im;
	struct boot_image img;

	make_elf(&im, 0x100000, 0x100010);
	*phdr(&im, 1) = *phdr(&im, 0);        /* second PT_LOAD ... */
	phdr(&im, 1)->p_paddr = 0x101000;       /* ... overlapping the first's bss */
	((Elf64_Ehdr *)im.buf)->e_phnum = 3;
	*phdr(&im, 2) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x800, .p_filesz = 20 };
	CHECK(parse(im.buf, im.len, &img) < 0);
	CHECK(strstr(err, "overlaps an earlier segment") != NULL);
}

/* ---- bzImage builder ------------------------------------------------------ */

static uint8_t bz[16384];

static void make_bz(uint16_t version)
{
	memset(bz, 0, sizeof(bz));
	bz[0x1f1] = 1;                                   /* setup_sects: setup = 1024 bytes */
	memcpy(bz + 0x1fe, (uint16_t[]){ 0xaa55 }, 2);
	bz[0x200] = 0xeb;
	bz[0x201] = 0x6a;                                /* header ends at 0x26c */
	memcpy(bz + 0x202, "HdrS", 4);
	memcpy(bz + 0x206, &version, 2);
	bz[0x211] = 0x01;                                /* LOADED_HIGH */
	memcpy(bz + 0x22c, (uint32_t[]){ 0x37ffffff }, 4); /* initrd_addr_max */
	memcpy(bz + 0x236, (uint16_t[]){ 0x1 }, 2);      /* XLF_KERNEL_64 */
	memcpy(bz + 0x238, (uint32_t[]){ 2047 }, 4);     /* cmdline_size */
	memcpy(bz + 0x258, (uint64_t[]){ 0x1000000 }, 8);/* pref_address */
	memcpy(bz + 0x260, (uint32_t[]){ 0x800000 }, 4); /* init_size: 8 MiB */
	memcpy(bz + 0x1f4, (uint32_t[]){ (sizeof(bz) - 1024) / 16 }, 4); /* syssize: all of it */
}

static void test_bz_valid(void)
{
	struct boot_image img;
	uint64_t gpa;

	make_bz(0x20f);
	CHECK_EQ(parse(bz, sizeof(bz), &img), 0);
	CHECK_EQ(img.kind, IMAGE_BZIMAGE);
	CHECK_EQ(img.entry, 0x100200);
	CHECK_EQ(img.segs[0].gpa, 0x100000);
	CHECK_EQ(img.segs[0].file_off, 1024);
	CHECK_EQ(img.segs[0].filesz, sizeof(bz) - 1024);
	CHECK_EQ(img.end, 0x1800000);          /* pref_address + init_size */
	CHECK_EQ(loader_check_cmdline(&img, 2047, err, sizeof(err)), 0);
	CHECK(loader_check_cmdline(&img, 2048, err, sizeof(err)) < 0);
	CHECK_EQ(loader_place_initrd(&img, &lay, 1 << 20, &gpa, err, sizeof(err)), 0);
	CHECK_EQ(gpa % 4096, 0);
	CHECK(gpa >= img.end);
	CHECK_EQ(gpa + (1 << 20), MEM);
	/* an initrd that does not fit */
	CHECK(loader_place_initrd(&img, &lay, MEM, &gpa, err, sizeof(err)) < 0);
	CHECK(strstr(err, "does not fit") != NULL);
	/* older protocol without xloadflags is accepted */
	make_bz(0x20a);
	CHECK_EQ(parse(bz, sizeof(bz), &img), 0);
}

static void test_bz_malformed(void)
{
	struct boot_image img;

	make_bz(0x204);
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "too old") != NULL);
	make_bz(0x20f);
	bz[0x211] = 0;
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "LOADED_HIGH") != NULL);
	make_bz(0x20f);
	memset(bz + 0x236, 0, 2);
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "64-bit") != NULL);
	make_bz(0x20f);
	bz[0x1fe] = 0;
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "boot flag") != NULL);
	make_bz(0x20f);
	bz[0x1f1] = 40; /* setup larger than the file */
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "truncated") != NULL);
	make_bz(0x20f);
	CHECK(parse(bz, 700, &img) < 0);
	make_bz(0x20f);
	memcpy(bz + 0x260, (uint32_t[]){ 0xf0000000 }, 4); /* needs more RAM than we have */
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "give it more memory") != NULL);
}

/* The header says how much kernel there is: a file with less, or a header that does not say, is refused. */
static void test_bz_truncated(void)
{
	struct boot_image img;

	make_bz(0x20f);
	CHECK(parse(bz, sizeof(bz) - 16, &img) < 0);
	CHECK(strstr(err, "syssize") != NULL && strstr(err, "truncated") != NULL);
	CHECK(parse(bz, sizeof(bz) - 1, &img) < 0);
	CHECK_EQ(parse(bz, sizeof(bz), &img), 0);
	/* More than declared is fine (a signature appended by the signing tool). */
	memcpy(bz + 0x1f4, (uint32_t[]){ (sizeof(bz) - 1024) / 16 - 10 }, 4);
	CHECK_EQ(parse(bz, sizeof(bz), &img), 0);
	CHECK_EQ(img.segs[0].filesz, sizeof(bz) - 1024);
	/* No arithmetic wrap: syssize * 16 does not fit 32 bits. */
	memcpy(bz + 0x1f4, (uint32_t[]){ 0xffffffffU }, 4);
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "truncated") != NULL);
	memcpy(bz + 0x1f4, (uint32_t[]){ 0x10000000U }, 4);
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	/* A header that declares no protected-mode kernel at all. */
	memcpy(bz + 0x1f4, (uint32_t[]){ 0 }, 4);
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "syssize") != NULL);
	/* setup_sects 0: the ancient "means 4" rule is not guessed at. */
	make_bz(0x20f);
	bz[0x1f1] = 0;
	CHECK(parse(bz, sizeof(bz), &img) < 0);
	CHECK(strstr(err, "setup_sects") != NULL);
}

/* ---- placement ------------------------------------------------------------ */

static uint8_t *ram;
static struct gmem gm;

static void test_load_pvh(void)
{
	struct elf_img im;
	struct boot_image img;
	uint32_t u32;
	uint64_t u64;

	make_elf(&im, 0x100000, 0x100010);
	memset(ram, 0xaa, MEM);
	CHECK_EQ(parse(im.buf, im.len, &img), 0);
	CHECK_EQ(loader_load(&gm, &lay, &img, im.buf, im.len, (const uint8_t *)"RD", 2,
			     0x3000000, "console=ttyS0", 0), 0);
	CHECK_EQ(ram[0x100000], 0x90);
	CHECK_EQ(ram[0x101fff], 0);                          /* bss zeroed */
	memcpy(&u32, ram + LVMM_BOOT_START_INFO, 4);
	CHECK_EQ(u32, 0x336ec578);
	memcpy(&u32, ram + LVMM_BOOT_START_INFO + 12, 4);    /* nr_modules */
	CHECK_EQ(u32, 1);
	memcpy(&u64, ram + LVMM_BOOT_START_INFO + 24, 8);    /* cmdline_paddr */
	CHECK_EQ(u64, LVMM_BOOT_CMDLINE);
	CHECK_STR((char *)ram + LVMM_BOOT_CMDLINE, "console=ttyS0");
	memcpy(&u32, ram + LVMM_BOOT_START_INFO + 48, 4);    /* memmap_entries */
	CHECK_EQ(u32, 4);
	memcpy(&u64, ram + LVMM_BOOT_MEMMAP + 3 * 24 + 8, 8); /* size of the RAM above 1 MiB */
	CHECK_EQ(u64, MEM - 0x100000);
	CHECK_EQ(memcmp(ram + 0x3000000, "RD", 2), 0);
}

/* Is [a, b) inside one e820 entry of type `type` of the PVH memory map in guest memory? */
static bool in_e820(uint64_t a, uint64_t b, uint32_t type)
{
	uint32_t n, t;
	uint64_t base, size;

	memcpy(&n, ram + LVMM_BOOT_START_INFO + 48, 4);
	for (uint32_t i = 0; i < n && i < 8; i++) {
		memcpy(&base, ram + LVMM_BOOT_MEMMAP + i * 24, 8);
		memcpy(&size, ram + LVMM_BOOT_MEMMAP + i * 24 + 8, 8);
		memcpy(&t, ram + LVMM_BOOT_MEMMAP + i * 24 + 16, 4);
		if (t == type && a >= base && b <= base + size)
			return true;
	}
	return false;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/*
 * The MP table of every vCPU count lvmm allows lies wholly in memory the
 * e820 map reserves, next to the largest ACPI tables without touching them
 * (with 64 vCPUs it used to run from 0x9fc10 to 0xa021c, past the EBDA).
 */
static void test_mptable_inside_reserved_e820(void)
{
	static const struct acpi_tpm tpm = {
		.crb_base = LVMM_TPM_CRB_BASE, .crb_size = (uint32_t)LVMM_TPM_CRB_SIZE,
		.control_area = LVMM_TPM_CRB_CTRL, .log_base = LVMM_TPM_EVENTLOG_BASE,
		.log_size = (uint32_t)LVMM_TPM_EVENTLOG_SIZE,
	};
	static const uint32_t irqs[] = LVMM_VIRTIO_IRQS;
	struct acpi_mmio_dev devs[LVMM_VIRTIO_MMIO_MAX];
	struct elf_img im;
	struct boot_image img;
	uint64_t rsdp = 0, xsdt, dsdt;
	uint32_t phys, dlen;
	uint16_t len;

	for (unsigned i = 0; i < LVMM_VIRTIO_MMIO_MAX; i++)
		devs[i] = (struct acpi_mmio_dev){ .base = LVMM_VIRTIO_MMIO_BASE + i * LVMM_VIRTIO_MMIO_SIZE,
						  .size = (uint32_t)LVMM_VIRTIO_MMIO_SIZE, .irq = irqs[i] };
	make_elf(&im, 0x100000, 0x100010);
	for (unsigned cpus = 1; cpus <= LVMM_MAX_VCPUS; cpus++) {
		memset(ram, 0xaa, 1 << 20);
		CHECK_EQ(parse(im.buf, im.len, &img), 0);
		CHECK_EQ(acpi_write_ex(&gm, cpus, devs, LVMM_VIRTIO_MMIO_MAX, &tpm, &rsdp), 0);
		CHECK_EQ(loader_load(&gm, &lay, &img, im.buf, im.len, NULL, 0, 0, "", 0), 0);
		CHECK_EQ(mptable_write(&gm, cpus), 0);
		/* The floating pointer where guests scan for it (the EBDA), then its table. */
		CHECK_EQ(memcmp(ram + LVMM_EBDA_START, "_MP_", 4), 0);
		CHECK(in_e820(LVMM_EBDA_START, LVMM_EBDA_START + 16, 2));
		memcpy(&phys, ram + LVMM_EBDA_START + 4, 4);
		memcpy(&len, ram + phys + 4, 2);
		CHECK_EQ(memcmp(ram + phys, "PCMP", 4), 0);
		CHECK_EQ(len, 268 + 20 * cpus);
		CHECK_EQ(sum8(ram + phys, len), 0);
		CHECK(in_e820(phys, (uint64_t)phys + len, 2));
		if (!in_e820(phys, (uint64_t)phys + len, 2)) {
			printf("# %u vCPUs: MP table 0x%x-0x%x is not e820-reserved\n", cpus, phys,
			       phys + len);
			break;
		}
		/* The ACPI tables it shares the area with are intact: XSDT and DSDT checksums. */
		memcpy(&xsdt, ram + rsdp + 24, 8);
		CHECK_EQ(sum8(ram + xsdt, 60), 0);
		memcpy(&dsdt, ram + ACPI_AREA_START + 0x80 + 140, 8); /* FADT X_DSDT */
		memcpy(&dlen, ram + dsdt + 4, 4);
		CHECK_EQ(sum8(ram + dsdt, dlen), 0);
	}
}

static void test_load_bz(void)
{
	struct boot_image img;
	uint32_t u32;
	uint64_t pml4;

	make_bz(0x20f);
	memset(ram, 0, MEM);
	CHECK_EQ(parse(bz, sizeof(bz), &img), 0);
	CHECK_EQ(loader_load(&gm, &lay, &img, bz, sizeof(bz), NULL, 0, 0, "quiet", 0), 0);
	CHECK_EQ(ram[LVMM_BOOT_ZERO_PAGE + 0x210], 0xff);    /* type_of_loader */
	memcpy(&u32, ram + LVMM_BOOT_ZERO_PAGE + 0x228, 4);  /* cmd_line_ptr */
	CHECK_EQ(u32, LVMM_BOOT_CMDLINE);
	CHECK_EQ(ram[LVMM_BOOT_ZERO_PAGE + 0x1e8], 4);       /* e820 entries */
	CHECK_EQ(memcmp(ram + LVMM_BOOT_ZERO_PAGE + 0x202, "HdrS", 4), 0);
	memcpy(&pml4, ram + LVMM_BOOT_PAGE_TABLES, 8);
	CHECK_EQ(pml4, (LVMM_BOOT_PAGE_TABLES + 0x1000) | 3);
	CHECK_STR((char *)ram + LVMM_BOOT_CMDLINE, "quiet");
}

int main(void)
{
	ram = calloc(1, MEM);
	if (!ram || gmem_add_slot(&gm, 0, MEM, ram, 0, false))
		return 1;
	layout_from_size(MEM, &lay);
	RUN(test_elf_valid);
	RUN(test_elf_malformed);
	RUN(test_elf_overlap);
	RUN(test_bz_valid);
	RUN(test_bz_malformed);
	RUN(test_bz_truncated);
	RUN(test_load_pvh);
	RUN(test_mptable_inside_reserved_e820);
	RUN(test_load_bz);
	free(ram);
	return unit_done();
}
