/* SPDX-License-Identifier: MIT */
/*
 * Kernel image loaders: Linux bzImage (boot protocol >= 2.06, 64-bit entry)
 * and ELF with a PVH note. Parsing is separate from placement so that every
 * check runs (and is unit-tested) on the file bytes alone, and nothing is
 * written into guest memory until the whole image has been accepted.
 */
#ifndef LVMM_LOADER_H
#define LVMM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define LOADER_MAX_SEGS 16
#define LOADER_ERR_MAX  256

enum image_kind { IMAGE_NONE = 0, IMAGE_BZIMAGE, IMAGE_PVH_ELF };

struct boot_segment {
	uint64_t gpa;      /* where it goes */
	uint64_t file_off; /* bytes come from here ... */
	uint64_t filesz;   /* ... this many; the rest up to memsz is zeroed */
	uint64_t memsz;
	uint32_t flags;    /* ELF p_flags (PF_X 1, PF_W 2, PF_R 4); 0 for a bzImage */
};

struct boot_image {
	enum image_kind kind;
	uint64_t entry; /* PVH: 32-bit physical entry; bzImage: 64-bit entry address */
	struct boot_segment segs[LOADER_MAX_SEGS];
	unsigned nsegs;
	uint64_t end;   /* highest guest-physical byte the kernel may use (exclusive) */

	/* bzImage only */
	uint16_t protocol;
	uint32_t setup_size;     /* (setup_sects + 1) * 512 */
	uint32_t hdr_len;        /* bytes of setup header to copy from offset 0x1f1 */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;   /* max cmdline length incl. NUL */
	uint32_t init_size;
	uint16_t xloadflags;
};

/* Memory layout the image is placed into. */
struct guest_layout {
	uint64_t mem_bytes;  /* total RAM */
	uint64_t lowmem_end; /* end of RAM below the MMIO hole */
	uint64_t rsdp_gpa;   /* ACPI RSDP for the boot structures; 0: none */
};

/* Fill a layout from a RAM size (see docs/platform.md). */
void layout_from_size(uint64_t mem_bytes, struct guest_layout *lay);

/*
 * Parse an image held in buf[0..len). On success fill *img and return 0.
 * On failure return -EINVAL (or -E2BIG, -ERANGE) and put a precise reason
 * ("bzImage: setup header version 2.04 is too old: need 2.06 or later")
 * in err.
 */
int loader_parse(const uint8_t *buf, size_t len, const struct guest_layout *lay,
		 struct boot_image *img, char *err, size_t errlen) MUST_CHECK;

/*
 * Choose where the initrd goes (page aligned, as high as allowed, above the
 * kernel, below lowmem_end and initrd_addr_max). 0 or -E2BIG with err set.
 */
int loader_place_initrd(const struct boot_image *img, const struct guest_layout *lay,
			uint64_t initrd_size, uint64_t *gpa, char *err, size_t errlen) MUST_CHECK;

/* Check that a command line fits the image's limit. 0 or -E2BIG with err set. */
int loader_check_cmdline(const struct boot_image *img, size_t cmdline_len, char *err,
			 size_t errlen) MUST_CHECK;

struct gmem;
/*
 * Build guest memory for the parsed image: copy segments, write the boot
 * structures (zero page / hvm_start_info, e820/memmap, command line, GDT,
 * page tables for the 64-bit entry) and the initrd. With LOADER_MEM_ZEROED
 * the zero-fill part of segments is not written (touching it would fault
 * in every page of a large bss for nothing). Everything was
 * validated by loader_parse()/loader_place_initrd() already; gmem access
 * failures here are still returned as -EFAULT.
 */
#define LOADER_MEM_ZEROED 1 /* guest memory is known to be all zero: skip zeroing bss */
int loader_load(struct gmem *m, const struct guest_layout *lay, const struct boot_image *img,
		const uint8_t *kernel, size_t kernel_len, const uint8_t *initrd,
		size_t initrd_len, uint64_t initrd_gpa, const char *cmdline,
		unsigned flags) MUST_CHECK;

/* A short name for the image kind ("bzImage", "ELF (PVH)"). */
const char *image_kind_name(enum image_kind k);

#endif
