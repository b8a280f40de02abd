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

#endif
