/* SPDX-License-Identifier: MIT */
/* `lvmm console`: attach to a partition's serial console. */
#ifndef LVMM_CLI_CONSOLE_H
#define LVMM_CLI_CONSOLE_H

extern const char console_usage[];

/* lvmm console SOCKET PARTITION; returns the exit status (0 detached, 1 closed, 2 usage). */
int console_main(int argc, char **argv);

#endif
