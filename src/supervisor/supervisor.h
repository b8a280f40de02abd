/* SPDX-License-Identifier: MIT */
/* The supervisor: starts one sandboxed process per partition and keeps them running. */
#ifndef LVMM_SUPERVISOR_H
#define LVMM_SUPERVISOR_H

#include <stdbool.h>

#include "config/platform.h"

/*
 * lvmm's own exit statuses (docs/cli.md): 120-123, apart from the guest's
 * debug-exit values, which are reported as 0-119 (a larger value as 119),
 * and from 124-127 and 128+N, which timeout(1) and the shell use.
 */
#define LVMM_EXIT_GUEST_MAX 119 /* highest status a guest's debug-exit value gives */
#define LVMM_EXIT_USAGE    120  /* bad command line, platform file or image: nothing started */
#define LVMM_EXIT_SETUPERR 121  /* a partition could not be built */
#define LVMM_EXIT_CRASH    122  /* a guest crashed (triple fault, emulation failure) */
#define LVMM_EXIT_DIED     123  /* a partition process died (signal, sandbox) */

struct run_opts {
	int log_level;           /* passed to partitions */
	bool echo_events;        /* print events on stderr */
	const char *events_path; /* overrides the platform file's */
	const char *control_path;/* overrides the platform file's */
	const char *tools_path;  /* lvmm-tools, run for trust processes (NULL: this binary) */
};

/*
 * Run the platform until every partition has ended for good (or a signal
 * stops them). Returns the exit status for `lvmm run`: 0 if every
 * partition ended cleanly, else the status of the first one that did not
 * (its debug-exit value, or one of the LVMM_EXIT_* codes above).
 */
int supervisor_run(struct platform *plat, const struct run_opts *opts);

#endif
