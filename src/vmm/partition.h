/* SPDX-License-Identifier: MIT */
/* Entry point of a partition process (lvmm __partition NAME). */
#ifndef LVMM_PARTITION_H
#define LVMM_PARTITION_H

/* Run the partition whose configuration arrives on sup_fd; returns the process exit code. */
int partition_main(int sup_fd);

#endif
