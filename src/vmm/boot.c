// SPDX-License-Identifier: MIT
/*
 * The boot image: kernel and initrd (fds from the supervisor, mapped
 * read-only only while loading), the command line with the virtio-mmio
 * devices appended, ACPI tables, MP table, and the boot vCPU's registers.
 * Runs after the devices (they hand out the virtio slots the command line
 * and ACPI tables list) and before the sandbox.
 */
#include "vmm/boot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <elf.h>

#include "common/log.h"
#include "lvmm/guest_abi.h"
#include "vmm/acpi.h"
#include "vmm/cmdline.h"
#include "vmm/loader.h"
#include "vmm/mptable.h"
#include "vmm/vcpu.h"
#include "shared/range.h"

#define KERNEL_MAX_BYTES (1ULL << 30)

/* Map a whole file read-only; *len = its size. 0 or -errno with err set. */
static int map_file(int fd, const char *what, const uint8_t **buf, size_t *len, char *err,
		    size_t errlen)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", what);
		return -EINVAL;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s is empty", what);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > KERNEL_MAX_BYTES) {
		snprintf(err, errlen, "%s is %" PRIu64 " MiB; the limit is %llu MiB", what,
			 (uint64_t)st.st_size / MiB, KERNEL_MAX_BYTES / MiB);
		return -EFBIG;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		int e = -errno;

		snprintf(err, errlen, "cannot map %s: %s", what, strerror(-e));
		return e;
	}
	*buf = p;
	*len = (size_t)st.st_size;
	return 0;
}

int boot_kernel_regions(const struct lvmm_part_config *cfg, const int *fds,
			struct gmem_prot_list *out, char *err, size_t errlen)
{
	static const char *const names[] = { "range", "kernel_text", "kernel_rodata" };
	const uint8_t *kernel = NULL;
	struct guest_layout lay;
	struct boot_image img;
	char why[LOADER_ERR_MAX];
	size_t klen = 0;
	unsigned i, k;
	bool any = false;
	int r;

	out->n = 0;
	for (i = 0; i < cfg->nprotect && i < LVMM_MAX_PROTECT; i++)
		any |= cfg->protect[i].region != LVMM_PROT_RANGE;
	if (!any)
		return 0;
	layout_from_size(cfg->mem_bytes, &lay);
	r = map_file(fds[cfg->fd_kernel], "kernel", &kernel, &klen, err, errlen);
	if (r)
		return r;
	r = loader_parse(kernel, klen, &lay, &img, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "kernel: %s", why);
		goto out;
	}
	for (i = 0; i < cfg->nprotect && i < LVMM_MAX_PROTECT; i++) {
		uint32_t reg = cfg->protect[i].region;
		bool found = false;

		if (reg == LVMM_PROT_RANGE)
			continue;
		if (reg > LVMM_PROT_REGION_MAX || img.kind != IMAGE_PVH_ELF) {
			snprintf(err, errlen, "protect: region %s needs an ELF kernel with program "
				 "headers; this kernel is a %s", reg <= LVMM_PROT_REGION_MAX ?
				 names[reg] : "?", image_kind_name(img.kind));
			r = -EINVAL;
			goto out;
		}
		for (k = 0; k < img.nsegs; k++) {
			const struct boot_segment *sg = &img.segs[k];
			bool x = sg->flags & PF_X, w = sg->flags & PF_W;
			uint64_t a, b;

			if (w || (reg == LVMM_PROT_KERNEL_TEXT) != x || !sg->memsz)
				continue;
			/* Whole pages: a segment sharing a page with data is a linker-script bug. */
			a = sg->gpa & ~4095ULL;
			b = ALIGN_UP(sg->gpa + sg->memsz, 4096);
			if (out->n == GMEM_MAX_PROT) {
				snprintf(err, errlen, "protect: more than %d protected ranges",
					 LVMM_MAX_PROTECT);
				r = -ENOSPC;
				goto out;
			}
			out->r[out->n++] = (struct gmem_prot){ a, b - a };
			found = true;
		}
		if (!found) {
			snprintf(err, errlen, "protect: region %s: the kernel has no %s segment",
				 names[reg], reg == LVMM_PROT_KERNEL_TEXT ? "executable read-only" :
				 "read-only non-executable");
			r = -EINVAL;
			goto out;
		}
	}
out:
	munmap((void *)kernel, klen);
	return r;
}

/* Does the partition have a TPM (the CRB device; config validated: at most one)? */
static bool has_tpm(const struct lvmm_part_config *cfg)
{
	unsigned i;

	for (i = 0; i < cfg->ndevs && i < LVMM_MAX_DEVS; i++)
		if (cfg->devs[i].type == LVMM_DEV_TPM)
			return true;
	return false;
}

/*
 * ACPI tables for the vCPUs and the virtio-mmio slots handed out so far,
 * and with a TPM its TPM2 table and MSFT0101 device: that is how Linux's
 * tpm_crb finds the CRB, and its event-log reader the log the device
 * placed at LVMM_TPM_EVENTLOG_BASE.
 */
static int boot_write_acpi(struct vm *vm, uint64_t *rsdp_gpa)
{
	static const struct acpi_tpm tpm = {
		.crb_base = LVMM_TPM_CRB_BASE, .crb_size = (uint32_t)LVMM_TPM_CRB_SIZE,
		.control_area = LVMM_TPM_CRB_CTRL, .log_base = LVMM_TPM_EVENTLOG_BASE,
		.log_size = (uint32_t)LVMM_TPM_EVENTLOG_SIZE,
	};
	struct acpi_mmio_dev devs[LVMM_VIRTIO_MMIO_MAX];
	unsigned i;

	for (i = 0; i < vm->nr_virtio_slots && i < LVMM_VIRTIO_MMIO_MAX; i++) {
		devs[i] = (struct acpi_mmio_dev){ .size = (uint32_t)LVMM_VIRTIO_MMIO_SIZE };
		virtio_slot(i, &devs[i].base, &devs[i].irq);
	}
	return acpi_write_ex(&vm->gmem, vm->nr_vcpus, devs, i, has_tpm(vm->cfg) ? &tpm : NULL,
			     rsdp_gpa);
}

int boot_load(struct vm *vm, char *err, size_t errlen)
{
	const struct lvmm_part_config *cfg = vm->cfg;
	const uint8_t *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	struct guest_layout lay;
	struct boot_image img;
	uint64_t initrd_gpa = 0;
	static char cmdline[CMDLINE_MAX];
	char why[LOADER_ERR_MAX];
	int r;

	layout_from_size(vm->mem_bytes, &lay);
	r = map_file(vm->fds[cfg->fd_kernel], "kernel", &kernel, &klen, err, errlen);
	if (r)
		return r;
	r = loader_parse(kernel, klen, &lay, &img, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "kernel: %s", why);
		goto out;
	}
	/* The string a measured start's PCR 20 holds (the trust process builds it the same way). */
	r = cmdline_build(cfg->cmdline, vm->nr_virtio_slots, cmdline, sizeof(cmdline));
	if (r < 0) {
		snprintf(err, errlen, "cmdline: too long with the virtio_mmio.device= entries");
		goto out;
	}
	r = loader_check_cmdline(&img, strlen(cmdline), why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "cmdline: %s", why);
		goto out;
	}
	if (cfg->fd_initrd != LVMM_NO_FD) {
		r = map_file(vm->fds[cfg->fd_initrd], "initrd", &initrd, &ilen, err, errlen);
		if (r)
			goto out;
		r = loader_place_initrd(&img, &lay, ilen, &initrd_gpa, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "initrd: %s", why);
			goto out;
		}
	}
	/* Tables before the boot structures: those carry the RSDP's address. */
	r = boot_write_acpi(vm, &lay.rsdp_gpa);
	if (r) {
		snprintf(err, errlen, "writing the ACPI tables: %s", strerror(-r));
		goto out;
	}
	/* The supervisor creates a fresh (all-zero) memfd for every start. */
	r = loader_load(&vm->gmem, &lay, &img, kernel, klen, initrd, ilen, initrd_gpa, cmdline,
			LOADER_MEM_ZEROED);
	if (!r)
		r = mptable_write(&vm->gmem, vm->nr_vcpus);
	if (r) {
		snprintf(err, errlen, "writing the boot image into guest memory: %s", strerror(-r));
		goto out;
	}
	r = vcpu_set_boot_state(&vm->vcpus[0], img.kind, img.entry);
	if (r)
		snprintf(err, errlen, "setting boot registers: %s", strerror(-r));
	else
		pr_info("loaded %s, entry 0x%" PRIx64 ", cmdline \"%s\"", image_kind_name(img.kind),
			img.entry, cmdline);
out:
	if (initrd)
		munmap((void *)initrd, ilen);
	munmap((void *)kernel, klen);
	return r;
}
