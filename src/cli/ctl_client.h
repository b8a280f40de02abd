/* SPDX-License-Identifier: MIT */
/* `lvmm ctl`: a client of the control API. */
#ifndef LVMM_CTL_CLIENT_H
#define LVMM_CTL_CLIENT_H

extern const char ctl_usage[];

/* lvmm ctl SOCKET OP [ARGS]; returns the exit status. */
int ctl_client_main(int argc, char **argv);

#endif
