/* SPDX-License-Identifier: MIT */
/* `lvmm top`: a live table of a platform's partitions. */
#ifndef LVMM_CLI_TOP_H
#define LVMM_CLI_TOP_H

extern const char top_usage[];

/* lvmm top SOCKET [-b] [-n N] [-d SECONDS]; returns the exit status. */
int top_main(int argc, char **argv);

#endif
