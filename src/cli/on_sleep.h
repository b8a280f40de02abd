/* SPDX-License-Identifier: MIT */
/* `lvmm ctl ... on-sleep`: the host hook run when the platform sleeps (docs/acpi.md). */
#ifndef LVMM_ON_SLEEP_H
#define LVMM_ON_SLEEP_H

/* lvmm ctl SOCKET on-sleep [--timeout-ms N] PROGRAM [ARGS...] (argv[0] is "on-sleep"); the exit status. */
int ctl_on_sleep(const char *sock, int argc, char **argv);

#endif
