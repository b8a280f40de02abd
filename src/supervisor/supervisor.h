/* SPDX-License-Identifier: MIT */
/* The supervisor: starts one sandboxed process per partition and keeps them running. */
#ifndef LVMM_SUPERVISOR_H
#define LVMM_SUPERVISOR_H

#include <stdbool.h>

#include "config/platform.h"

/* Exit statuses of `lvmm run` besides the guest's own (docs/cli.md). */
#define LVMM_EXIT_USAGE    2  /* bad command line or platform file */
#define LVMM_EXIT_SETUPERR 3  /* a partition could not be built */
#define LVMM_EXIT_CRASH    4  /* a guest crashed (triple fault, emulation failure) */
#define LVMM_EXIT_DIED     5  /* a partition process died (signal, sandbox) */

struct run_opts {
	int log_level;           /* passed to partitions */
	bool echo_events;        /* print events on stderr */
	const char *events_path; /* overrides the platform file's */
	const char *control_path;/* overrides the platform file's */
};

/*
 * Run the platform until every partition has ended for good (or a signal
 * stops them). Returns the exit status for `lvmm run`: 0 if every
 * partition ended cleanly, else the status of the first one that did not
 * (its debug-exit value, or one of the LVMM_EXIT_* codes above).
 */
int supervisor_run(struct platform *plat, const struct run_opts *opts);

#endif
