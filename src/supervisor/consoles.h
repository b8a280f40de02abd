/* SPDX-License-Identifier: MIT */
/*
 * Console sockets: one listening Unix socket per partition (mode 0600, in a
 * directory of mode 0700 next to the control socket: console_path() in
 * common/util.h), created once per run and passed to every start of the
 * partition, whose UART serves `lvmm console` clients on it. Guarded like
 * the control socket: only the supervisor's user (and root) can connect.
 */
#ifndef LVMM_CONSOLES_H
#define LVMM_CONSOLES_H

struct sup;

/**
 * cons_init() - create the console sockets of every partition for a
 * platform whose control socket is ctl (NULL or "": none). A partition
 * whose socket cannot be made runs without one (a warning says why).
 */
void cons_init(struct sup *s, const char *ctl);

/** cons_fd() - partition part's listening console socket, or -1. */
int cons_fd(unsigned part);

/** cons_close() - close the sockets and remove them and their directory. */
void cons_close(struct sup *s);

#endif
