/* SPDX-License-Identifier: MIT */
/* Runtime-internal declarations. */
#ifndef RT_INTERNAL_H
#define RT_INTERNAL_H

#include <stdint.h>

#include "lvmm/guest_abi.h"

#define LVMM_DEBUG_EXIT_PORT LVMM_PORT_DEBUG_EXIT

void rt_console_init(void);
/* Where the entry code left the boot information (0: not this path). */
extern uint32_t rt_start_info_paddr;
extern uint64_t rt_boot_params_paddr;
/* Copy the command line and memory map out of whichever boot path ran. */
void rt_boot_info_init(void);
/* CPL0-safe report of an unexpected trap on COM1. */
void rt_trap_report(const char *name, uint64_t vector, uint64_t error,
		    uint64_t rip, uint64_t cs, uint64_t rsp, uint64_t cr2);
long rt_syscall3(long nr, long a0, long a1, long a2);

#endif
