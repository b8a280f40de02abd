/* SPDX-License-Identifier: MIT */
/*
 * systemd's readiness notification (sd_notify(3), the documented protocol:
 * one datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET). lvmm is linked -static-pie and Debian has no static
 * libsystemd, so the two messages it sends are written here.
 */
#ifndef LVMM_NOTIFY_H
#define LVMM_NOTIFY_H

struct sup;

/** notify_init() - take $NOTIFY_SOCKET (and remove it: partitions must not inherit it). */
void notify_init(void);

/**
 * notify_update() - after each turn of the loop: READY=1 once every partition
 * that starts by itself has been started and none is still setting up;
 * STOPPING=1 once the platform is shutting down. Each is sent once.
 */
void notify_update(struct sup *s);

#endif
