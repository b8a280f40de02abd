// SPDX-License-Identifier: MIT
/*
 * Kernel loaders. Every number taken from the image is checked over its
 * whole range before it is used; an image is either accepted whole or
 * refused with a reason, never loaded partially.
 *
 * References: Documentation/arch/x86/boot.rst (Linux boot protocol) and
 * Xen's docs/misc/pvh.pandoc + public/arch-x86/hvm/start_info.h (PVH).
 */
#include "vmm/loader.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lvmm/guest_abi.h"
#include "vmm/gmem.h"
#include "shared/range.h"

#define BOOT_AREA_END LVMM_HIMEM_START /* boot structures, EBDA, MP table below */

/* Linux boot protocol offsets (boot.rst, "The real-mode kernel header"). */
#define BZ_SETUP_SECTS   0x1f1
#define BZ_SYSSIZE       0x1f4
#define BZ_VID_MODE      0x1fa
#define BZ_BOOT_FLAG     0x1fe
#define BZ_JUMP          0x200
#define BZ_HEADER        0x202
#define BZ_VERSION       0x206
#define BZ_TYPE_OF_LOADER 0x210
#define BZ_LOADFLAGS     0x211
#define BZ_RAMDISK_IMAGE 0x218
#define BZ_RAMDISK_SIZE  0x21c
#define BZ_HEAP_END_PTR  0x224
#define BZ_CMD_LINE_PTR  0x228
#define BZ_INITRD_ADDR_MAX 0x22c
#define BZ_XLOADFLAGS    0x236
#define BZ_CMDLINE_SIZE  0x238
#define BZ_PREF_ADDRESS  0x258
#define BZ_INIT_SIZE     0x260
#define BZ_HDR_END_MAX   0x290 /* setup_header ends before edd_mbr_sig_buffer */
#define ZP_ACPI_RSDP     0x070 /* boot_params.acpi_rsdp_addr (protocol 2.14+; ignored before) */
#define ZP_E820_ENTRIES  0x1e8
#define ZP_E820_TABLE    0x2d0
#define ZP_E820_MAX      128
#define LOADED_HIGH      0x01
#define CAN_USE_HEAP     0x80
#define XLF_KERNEL_64    0x01

/* PVH (xen/include/public/arch-x86/hvm/start_info.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578U

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_RAM 1
#define E820_RESERVED 2

#define PVH_MODLIST   (LVMM_BOOT_START_INFO + 0x100)
#define PVH_MEMMAP_MAX ((LVMM_BOOT_ZERO_PAGE - LVMM_BOOT_MEMMAP) / sizeof(struct hvm_memmap_entry))

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

void layout_from_size(uint64_t mem_bytes, struct guest_layout *lay)
{
	lay->mem_bytes = mem_bytes;
	lay->lowmem_end = MIN(mem_bytes, LVMM_MMIO_HOLE_START);
	lay->rsdp_gpa = 0;
}

const char *image_kind_name(enum image_kind k)
{
	switch (k) {
	case IMAGE_BZIMAGE: return "bzImage";
	case IMAGE_PVH_ELF: return "ELF (PVH)";
	case IMAGE_NONE:
	default: return "unknown";
	}
}

/* Kernel memory must sit in low RAM above the boot area. */
static int check_kernel_range(uint64_t gpa, uint64_t size, const struct guest_layout *lay,
			      const char *what, char *err, size_t errlen)
{
	if (gpa < BOOT_AREA_END)
		return fail(err, errlen, -EINVAL,
			    "%s at 0x%" PRIx64 " overlaps the boot area below 1 MiB "
			    "(boot structures, EBDA, MP table)", what, gpa);
	if (!range_within(gpa, size, BOOT_AREA_END, lay->lowmem_end - BOOT_AREA_END))
		return fail(err, errlen, -E2BIG,
			    "%s at 0x%" PRIx64 "-0x%" PRIx64 " does not fit in guest RAM "
			    "(0x100000-0x%" PRIx64 "): give the partition more memory",
			    what, gpa, gpa + size, lay->lowmem_end);
	return 0;
}

/* ---- bzImage ------------------------------------------------------------ */

static int parse_bzimage(const uint8_t *buf, size_t len, const struct guest_layout *lay,
			 struct boot_image *img, char *err, size_t errlen)
{
	unsigned sects;
	uint32_t hdr_end;
	uint64_t pm_size, end, syssize;
	int r;

	if (len < 1024)
		return fail(err, errlen, -EINVAL, "bzImage: file is %zu bytes, too short for a "
			    "setup header", len);
	if (rd16(buf + BZ_BOOT_FLAG) != 0xaa55)
		return fail(err, errlen, -EINVAL, "bzImage: boot flag at 0x1fe is 0x%04x, "
			    "expected 0xaa55", rd16(buf + BZ_BOOT_FLAG));
	img->protocol = rd16(buf + BZ_VERSION);
	if (img->protocol < 0x206)
		return fail(err, errlen, -EINVAL, "bzImage: boot protocol %u.%02u is too old: "
			    "lvmm needs 2.06 or later", img->protocol >> 8,
			    img->protocol & 0xff);
	if (!(buf[BZ_LOADFLAGS] & LOADED_HIGH))
		return fail(err, errlen, -EINVAL, "bzImage: LOADED_HIGH is not set: zImage "
			    "kernels loaded at 0x10000 are not supported");
	if (img->protocol >= 0x20c) {
		img->xloadflags = rd16(buf + BZ_XLOADFLAGS);
		if (!(img->xloadflags & XLF_KERNEL_64))
			return fail(err, errlen, -EINVAL, "bzImage: no 64-bit entry point "
				    "(XLF_KERNEL_64 clear in xloadflags): lvmm boots 64-bit "
				    "kernels only");
	}
	/*
	 * setup_sects 0 meant 4 before 1995; no kernel with the 64-bit entry
	 * has it, so a 0 here is a damaged header, not something to guess at.
	 */
	sects = buf[BZ_SETUP_SECTS];
	if (!sects)
		return fail(err, errlen, -EINVAL, "bzImage: setup_sects at 0x1f1 is 0: damaged "
			    "setup header");
	img->setup_size = (sects + 1) * 512;
	if (img->setup_size >= len)
		return fail(err, errlen, -EINVAL, "bzImage: setup (%u sectors) covers the whole "
			    "%zu-byte file: truncated image", sects, len);
	/*
	 * syssize: the protected-mode kernel in 16-byte units. A file with
	 * less is truncated and would run whatever the missing bytes become.
	 * More is fine (a signature appended by sbsign, for instance).
	 */
	syssize = (uint64_t)rd32(buf + BZ_SYSSIZE) * 16;
	if (!syssize)
		return fail(err, errlen, -EINVAL, "bzImage: syssize at 0x1f4 is 0: the header "
			    "declares no protected-mode kernel");
	if (syssize > len - img->setup_size)
		return fail(err, errlen, -EINVAL, "bzImage: the header declares %" PRIu64 " bytes "
			    "of protected-mode kernel (syssize) but the file has %zu after the "
			    "setup: truncated image", syssize, len - img->setup_size);
	hdr_end = BZ_HEADER + buf[BZ_JUMP + 1];
	if (hdr_end > BZ_HDR_END_MAX)
		hdr_end = BZ_HDR_END_MAX;
	img->hdr_len = hdr_end - BZ_SETUP_SECTS;
	img->cmdline_size = rd32(buf + BZ_CMDLINE_SIZE);
	img->initrd_addr_max = rd32(buf + BZ_INITRD_ADDR_MAX);
	img->init_size = img->protocol >= 0x20a ? rd32(buf + BZ_INIT_SIZE) : 0;

	pm_size = len - img->setup_size;
	img->kind = IMAGE_BZIMAGE;
	img->nsegs = 1;
	img->segs[0] = (struct boot_segment){
		.gpa = LVMM_HIMEM_START, .file_off = img->setup_size,
		.filesz = pm_size, .memsz = pm_size,
	};
	r = check_kernel_range(LVMM_HIMEM_START, pm_size, lay, "bzImage protected-mode kernel",
			       err, errlen);
	if (r)
		return r;
	/*
	 * The kernel decompresses itself to its preferred address and needs
	 * init_size bytes from there; that memory must exist.
	 */
	end = LVMM_HIMEM_START + pm_size;
	if (img->init_size) {
		uint64_t pref = img->protocol >= 0x20a ? rd64(buf + BZ_PREF_ADDRESS) : 0;
		uint64_t base = MAX(pref, (uint64_t)LVMM_HIMEM_START);

		if (base > lay->lowmem_end || img->init_size > lay->lowmem_end - base)
			return fail(err, errlen, -E2BIG,
				    "bzImage: the kernel needs %" PRIu64 " MiB of RAM from "
				    "0x%" PRIx64 " (init_size) but the partition's low RAM ends "
				    "at 0x%" PRIx64 ": give it more memory",
				    (base + img->init_size + MiB - 1) / MiB, base,
				    lay->lowmem_end);
		end = MAX(end, base + img->init_size);
	}
	img->end = ALIGN_UP(end, 4096);
	img->entry = LVMM_HIMEM_START + 0x200;
	return 0;
}

/* ---- ELF + PVH note ----------------------------------------------------- */

struct elf_view {
	bool is64;
	uint64_t phoff, shoff;
	unsigned phnum, phentsize, shnum, shentsize;
};

struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
	uint32_t flags;
};

static void get_phdr(const uint8_t *buf, const struct elf_view *ev, unsigned i, struct phdr *ph)
{
	const uint8_t *p = buf + ev->phoff + (uint64_t)i * ev->phentsize;

	if (ev->is64) {
		const Elf64_Phdr *h = (const Elf64_Phdr *)p;
		Elf64_Phdr c;

		memcpy(&c, h, sizeof(c));
		*ph = (struct phdr){ c.p_type, c.p_offset, c.p_paddr, c.p_filesz, c.p_memsz, c.p_flags };
	} else {
		Elf32_Phdr c;

		memcpy(&c, p, sizeof(c));
		*ph = (struct phdr){ c.p_type, c.p_offset, c.p_paddr, c.p_filesz, c.p_memsz, c.p_flags };
	}
}

/* Scan one note area [off, off+size) for the PVH entry. 1 found, 0 not, <0 bad. */
static int scan_notes(const uint8_t *buf, size_t len, uint64_t off, uint64_t size,
		      uint64_t *entry, char *err, size_t errlen)
{
	uint64_t pos = 0;
	unsigned guard = 0;

	if (!range_within(off, size, 0, len))
		return fail(err, errlen, -EINVAL, "ELF: note area at 0x%" PRIx64 "+0x%" PRIx64
			    " lies outside the %zu-byte file", off, size, len);
	while (size - pos >= 12 && guard++ < 4096) {
		const uint8_t *n = buf + off + pos;
		uint32_t namesz = rd32(n), descsz = rd32(n + 4), type = rd32(n + 8);
		uint64_t nsz = ALIGN_UP((uint64_t)namesz, 4), dsz = ALIGN_UP((uint64_t)descsz, 4);

		if (nsz > size - pos - 12 || dsz > size - pos - 12 - nsz)
			return fail(err, errlen, -EINVAL, "ELF: note at file offset 0x%" PRIx64
				    " runs past its note area", off + pos);
		if (namesz == 4 && !memcmp(n + 12, "Xen", 4) && type == XEN_ELFNOTE_PHYS32_ENTRY) {
			const uint8_t *d = n + 12 + nsz;

			if (descsz == 4) {
				*entry = rd32(d);
			} else if (descsz == 8) {
				*entry = rd64(d);
			} else {
				return fail(err, errlen, -EINVAL, "ELF: PVH entry note has a "
					    "%u-byte value, expected 4 or 8", descsz);
			}
			return 1;
		}
		pos += 12 + nsz + dsz;
	}
	return 0;
}

static int parse_elf(const uint8_t *buf, size_t len, const struct guest_layout *lay,
		     struct boot_image *img, char *err, size_t errlen)
{
	struct elf_view ev = { 0 };
	uint64_t entry = 0;
	bool have_entry = false;
	unsigned i, j;
	int r;

	if (len < EI_NIDENT)
		return fail(err, errlen, -EINVAL, "ELF: file is %zu bytes, too short", len);
	if (buf[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, -EINVAL, "ELF: not little-endian");
	if (buf[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;

		if (len < sizeof(eh))
			return fail(err, errlen, -EINVAL, "ELF: truncated ELF64 header");
		memcpy(&eh, buf, sizeof(eh));
		if (eh.e_machine != EM_X86_64)
			return fail(err, errlen, -EINVAL, "ELF: machine %u is not x86-64 (%u)",
				    eh.e_machine, EM_X86_64);
		ev = (struct elf_view){ true, eh.e_phoff, eh.e_shoff, eh.e_phnum,
					eh.e_phentsize, eh.e_shnum, eh.e_shentsize };
		if (ev.phnum && ev.phentsize != sizeof(Elf64_Phdr))
			return fail(err, errlen, -EINVAL, "ELF: program header size %u, "
				    "expected %zu", ev.phentsize, sizeof(Elf64_Phdr));
	} else if (buf[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;

		if (len < sizeof(eh))
			return fail(err, errlen, -EINVAL, "ELF: truncated ELF32 header");
		memcpy(&eh, buf, sizeof(eh));
		if (eh.e_machine != EM_386 && eh.e_machine != EM_X86_64)
			return fail(err, errlen, -EINVAL, "ELF: machine %u is not x86",
				    eh.e_machine);
		ev = (struct elf_view){ false, eh.e_phoff, eh.e_shoff, eh.e_phnum,
					eh.e_phentsize, eh.e_shnum, eh.e_shentsize };
		if (ev.phnum && ev.phentsize != sizeof(Elf32_Phdr))
			return fail(err, errlen, -EINVAL, "ELF: program header size %u, "
				    "expected %zu", ev.phentsize, sizeof(Elf32_Phdr));
	} else {
		return fail(err, errlen, -EINVAL, "ELF: unknown class %u", buf[EI_CLASS]);
	}
	if (ev.phnum == 0 || ev.phnum > 64)
		return fail(err, errlen, -EINVAL, "ELF: %u program headers (need 1-64)", ev.phnum);
	if (!range_within(ev.phoff, (uint64_t)ev.phnum * ev.phentsize, 0, len))
		return fail(err, errlen, -EINVAL, "ELF: program headers at 0x%" PRIx64
			    " run past the end of the %zu-byte file", ev.phoff, len);

	img->kind = IMAGE_PVH_ELF;
	img->nsegs = 0;
	img->end = 0;
	for (i = 0; i < ev.phnum; i++) {
		struct phdr ph;
		struct boot_segment *s;
		char what[48];

		get_phdr(buf, &ev, i, &ph);
		if (ph.type == PT_NOTE && !have_entry) {
			r = scan_notes(buf, len, ph.offset, ph.filesz, &entry, err, errlen);
			if (r < 0)
				return r;
			have_entry = r == 1;
		}
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (ph.filesz > ph.memsz)
			return fail(err, errlen, -EINVAL, "ELF: segment %u has file size 0x%" PRIx64
				    " larger than its memory size 0x%" PRIx64, i, ph.filesz,
				    ph.memsz);
		if (!range_within(ph.offset, ph.filesz, 0, len))
			return fail(err, errlen, -EINVAL, "ELF: segment %u (file offset 0x%" PRIx64
				    ", 0x%" PRIx64 " bytes) runs past the end of the %zu-byte "
				    "file: truncated image", i, ph.offset, ph.filesz, len);
		snprintf(what, sizeof(what), "ELF segment %u", i);
		r = check_kernel_range(ph.paddr, ph.memsz, lay, what, err, errlen);
		if (r)
			return r;
		for (j = 0; j < img->nsegs; j++)
			if (ranges_overlap(ph.paddr, ph.memsz, img->segs[j].gpa, img->segs[j].memsz))
				return fail(err, errlen, -EINVAL, "ELF: segment %u at 0x%" PRIx64
					    "-0x%" PRIx64 " overlaps an earlier segment at 0x%"
					    PRIx64 "-0x%" PRIx64, i, ph.paddr, ph.paddr + ph.memsz,
					    img->segs[j].gpa, img->segs[j].gpa + img->segs[j].memsz);
		if (img->nsegs == LOADER_MAX_SEGS)
			return fail(err, errlen, -E2BIG, "ELF: more than %d loadable segments",
				    LOADER_MAX_SEGS);
		s = &img->segs[img->nsegs++];
		*s = (struct boot_segment){ ph.paddr, ph.offset, ph.filesz, ph.memsz, ph.flags };
		img->end = MAX(img->end, ph.paddr + ph.memsz);
	}
	if (!img->nsegs)
		return fail(err, errlen, -EINVAL, "ELF: no loadable segments");
	/* Some linkers put notes only in sections. */
	if (!have_entry && ev.shnum && ev.shnum <= 256) {
		size_t shsz = ev.is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);

		if (ev.shentsize == shsz &&
		    range_within(ev.shoff, (uint64_t)ev.shnum * shsz, 0, len)) {
			for (i = 0; i < ev.shnum && !have_entry; i++) {
				const uint8_t *p = buf + ev.shoff + (uint64_t)i * shsz;
				uint64_t off, size;
				uint32_t type;

				if (ev.is64) {
					Elf64_Shdr sh;

					memcpy(&sh, p, sizeof(sh));
					type = sh.sh_type, off = sh.sh_offset, size = sh.sh_size;
				} else {
					Elf32_Shdr sh;

					memcpy(&sh, p, sizeof(sh));
					type = sh.sh_type, off = sh.sh_offset, size = sh.sh_size;
				}
				if (type != SHT_NOTE)
					continue;
				r = scan_notes(buf, len, off, size, &entry, err, errlen);
				if (r < 0)
					return r;
				have_entry = r == 1;
			}
		}
	}
	if (!have_entry)
		return fail(err, errlen, -EINVAL, "ELF: no PVH entry note (\"Xen\" note type 18, "
			    "XEN_ELFNOTE_PHYS32_ENTRY): lvmm boots ELF kernels through PVH "
			    "(for Linux: CONFIG_PVH=y)");
	for (i = 0; i < img->nsegs; i++)
		if (range_within(entry, 1, img->segs[i].gpa, img->segs[i].filesz))
			break;
	if (i == img->nsegs)
		return fail(err, errlen, -EINVAL, "ELF: PVH entry 0x%" PRIx64 " is outside every "
			    "loaded segment", entry);
	img->entry = entry;
	img->end = ALIGN_UP(img->end, 4096);
	return 0;
}

int loader_parse(const uint8_t *buf, size_t len, const struct guest_layout *lay,
		 struct boot_image *img, char *err, size_t errlen)
{
	memset(img, 0, sizeof(*img));
	if (lay->lowmem_end <= BOOT_AREA_END)
		return fail(err, errlen, -E2BIG, "guest RAM of %" PRIu64 " bytes is too small "
			    "to hold a kernel", lay->mem_bytes);
	if (len >= 4 && !memcmp(buf, ELFMAG, SELFMAG))
		return parse_elf(buf, len, lay, img, err, errlen);
	if (len >= BZ_HEADER + 4 && !memcmp(buf + BZ_HEADER, "HdrS", 4))
		return parse_bzimage(buf, len, lay, img, err, errlen);
	return fail(err, errlen, -EINVAL, "not a kernel lvmm can boot: no ELF magic and no "
		    "Linux \"HdrS\" header at 0x202 (expected an ELF with a PVH note or a "
		    "bzImage)");
}

int loader_check_cmdline(const struct boot_image *img, size_t cmdline_len, char *err,
			 size_t errlen)
{
	uint64_t max = LVMM_BOOT_CMDLINE_MAX - 1;

	if (img->kind == IMAGE_BZIMAGE && img->cmdline_size && img->cmdline_size < max)
		max = img->cmdline_size;
	if (cmdline_len > max)
		return fail(err, errlen, -E2BIG, "command line is %zu bytes; this kernel accepts "
			    "at most %" PRIu64, cmdline_len, max);
	return 0;
}

int loader_place_initrd(const struct boot_image *img, const struct guest_layout *lay,
			uint64_t size, uint64_t *gpa, char *err, size_t errlen)
{
	uint64_t top = lay->lowmem_end;
	uint64_t lo = img->end;

	if (img->kind == IMAGE_BZIMAGE && img->initrd_addr_max)
		top = MIN(top, (uint64_t)img->initrd_addr_max + 1);
	top &= ~4095ULL;
	if (!size)
		return fail(err, errlen, -EINVAL, "initrd is empty");
	if (top < lo || size > top - lo)
		return fail(err, errlen, -E2BIG, "initrd of %" PRIu64 " KiB does not fit between "
			    "the kernel's end (0x%" PRIx64 ") and 0x%" PRIx64 ": give the "
			    "partition more memory", (size + 1023) / 1024, lo, top);
	*gpa = (top - size) & ~4095ULL;
	return 0;
}

/* ---- placement ---------------------------------------------------------- */

static unsigned build_e820(const struct guest_layout *lay, struct hvm_memmap_entry *e)
{
	unsigned n = 0;

	e[n++] = (struct hvm_memmap_entry){ 0, LVMM_LOWMEM_RAM_END, E820_RAM, 0 };
	e[n++] = (struct hvm_memmap_entry){ LVMM_EBDA_START, 0xa0000 - LVMM_EBDA_START,
					    E820_RESERVED, 0 };
	/*
	 * ACPI tables (0xe0000-0xeefff, docs/acpi.md), the MP configuration
	 * table (0xef000-0xeffff, mptable.h) and the BIOS area above them.
	 */
	e[n++] = (struct hvm_memmap_entry){ 0xe0000, 0x20000, E820_RESERVED, 0 };
	e[n++] = (struct hvm_memmap_entry){ LVMM_HIMEM_START, lay->lowmem_end - LVMM_HIMEM_START,
					    E820_RAM, 0 };
	if (lay->mem_bytes > lay->lowmem_end)
		e[n++] = (struct hvm_memmap_entry){ LVMM_HIGH_RAM_START,
						    lay->mem_bytes - lay->lowmem_end, E820_RAM, 0 };
	return n;
}

static int put(struct gmem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_loader_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

static int load_bzimage_boot(struct gmem *m, const struct guest_layout *lay,
			     const struct boot_image *img, const uint8_t *kernel,
			     uint64_t initrd_gpa, size_t initrd_len)
{
	uint8_t *zp = gmem_loader_ptr(m, LVMM_BOOT_ZERO_PAGE, 4096);
	uint64_t *pt = gmem_loader_ptr(m, LVMM_BOOT_PAGE_TABLES, 6 * 4096);
	uint64_t gdt[4] = { 0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL };
	struct hvm_memmap_entry mm[8];
	unsigned n, i;

	if (!zp || !pt)
		return -EFAULT;
	memset(zp, 0, 4096);
	memcpy(zp + BZ_SETUP_SECTS, kernel + BZ_SETUP_SECTS, img->hdr_len);
	zp[BZ_TYPE_OF_LOADER] = 0xff;
	zp[BZ_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	wr16(zp + BZ_VID_MODE, 0xffff);
	wr16(zp + BZ_HEAP_END_PTR, 0xfe00);
	wr32(zp + BZ_CMD_LINE_PTR, (uint32_t)LVMM_BOOT_CMDLINE);
	memcpy(zp + ZP_ACPI_RSDP, &lay->rsdp_gpa, 8);
	if (initrd_len) {
		wr32(zp + BZ_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
		wr32(zp + BZ_RAMDISK_SIZE, (uint32_t)initrd_len);
	}
	n = build_e820(lay, mm);
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		struct e820_entry e = { mm[i].addr, mm[i].size, mm[i].type };

		memcpy(zp + ZP_E820_TABLE + i * sizeof(e), &e, sizeof(e));
	}
	/* Identity map of 4 GiB with 2 MiB pages: PML4, PDPT, 4 PDs. */
	memset(pt, 0, 6 * 4096);
	pt[0] = (LVMM_BOOT_PAGE_TABLES + 0x1000) | 3;
	for (i = 0; i < 4; i++)
		pt[512 + i] = (LVMM_BOOT_PAGE_TABLES + 0x2000 + i * 0x1000) | 3;
	for (i = 0; i < 2048; i++)
		pt[1024 + i] = ((uint64_t)i << 21) | 0x83;
	return put(m, LVMM_BOOT_GDT, gdt, sizeof(gdt));
}

static int load_pvh_boot(struct gmem *m, const struct guest_layout *lay, uint64_t initrd_gpa,
			 size_t initrd_len)
{
	/* 0x10: 32-bit code, 0x18: data, 0x20: 32-bit TSS (base 0, limit 0x67). */
	uint64_t gdt[5] = { 0, 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL,
			    0x00008b0000000067ULL };
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC, .version = 1,
		.cmdline_paddr = LVMM_BOOT_CMDLINE, .memmap_paddr = LVMM_BOOT_MEMMAP,
		.rsdp_paddr = lay->rsdp_gpa,
	};
	struct hvm_memmap_entry mm[8];
	int r;

	_Static_assert(8 <= PVH_MEMMAP_MAX, "memmap area too small");
	si.memmap_entries = build_e820(lay, mm);
	r = put(m, LVMM_BOOT_MEMMAP, mm, si.memmap_entries * sizeof(mm[0]));
	if (!r && initrd_len) {
		struct hvm_modlist_entry mod = { .paddr = initrd_gpa, .size = initrd_len };

		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST;
		r = put(m, PVH_MODLIST, &mod, sizeof(mod));
	}
	if (!r)
		r = put(m, LVMM_BOOT_START_INFO, &si, sizeof(si));
	if (!r)
		r = put(m, LVMM_BOOT_GDT, gdt, sizeof(gdt));
	return r;
}

int loader_load(struct gmem *m, const struct guest_layout *lay, const struct boot_image *img,
		const uint8_t *kernel, size_t kernel_len, const uint8_t *initrd,
		size_t initrd_len, uint64_t initrd_gpa, const char *cmdline, unsigned flags)
{
	size_t cl = strlen(cmdline);
	uint16_t ebda_seg = LVMM_EBDA_START >> 4, base_kb = LVMM_EBDA_START / 1024;
	unsigned i;
	int r;

	if (cl >= LVMM_BOOT_CMDLINE_MAX)
		return -E2BIG;
	for (i = 0; i < img->nsegs; i++) {
		const struct boot_segment *s = &img->segs[i];
		uint8_t *dst = gmem_loader_ptr(m, s->gpa, s->memsz);

		if (!dst || !range_within(s->file_off, s->filesz, 0, kernel_len))
			return -EFAULT;
		memcpy(dst, kernel + s->file_off, s->filesz);
		if (!(flags & LOADER_MEM_ZEROED))
			memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	if (initrd_len) {
		r = put(m, initrd_gpa, initrd, initrd_len);
		if (r)
			return r;
	}
	r = put(m, LVMM_BOOT_CMDLINE, cmdline, cl + 1);
	/* BIOS data area: EBDA segment and base memory size, where Linux looks. */
	if (!r)
		r = put(m, 0x40e, &ebda_seg, 2);
	if (!r)
		r = put(m, 0x413, &base_kb, 2);
	if (r)
		return r;
	if (img->kind == IMAGE_BZIMAGE)
		return load_bzimage_boot(m, lay, img, kernel, initrd_gpa, initrd_len);
	return load_pvh_boot(m, lay, initrd_gpa, initrd_len);
}
