/* SPDX-License-Identifier: MIT */
/* Loading the boot image into a partition's guest memory. */
#ifndef LVMM_BOOT_H
#define LVMM_BOOT_H

#include <stddef.h>

#include "vmm/vm.h"

/*
 * Load the kernel (and initrd) named by the config's fds with the command
 * line plus the virtio-mmio devices created so far, write the ACPI and MP
 * tables and set the boot vCPU's registers. 0 or -errno with the reason
 * in err; nothing of the image is written unless all of it was accepted.
 */
int boot_load(struct vm *vm, char *err, size_t errlen) MUST_CHECK;

/*
 * Resolve the config's protect regions (kernel_text, kernel_rodata) from
 * the kernel's ELF program headers into page-rounded ranges in *out,
 * before the VM exists (its memslots are built with them). A region on a
 * kernel without program headers (a bzImage) is an error naming it.
 * 0 or -errno with err set.
 */
int boot_kernel_regions(const struct lvmm_part_config *cfg, const int *fds,
			struct gmem_prot_list *out, char *err, size_t errlen) MUST_CHECK;

#endif
