/* SPDX-License-Identifier: MIT */
/* Opening the host resources a partition is granted; only the supervisor does this. */
#ifndef LVMM_RESOURCES_H
#define LVMM_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Guest RAM: a sealed-size memfd of size bytes. fd or -errno. */
int res_memfd(const char *name, uint64_t size);

/* A host TAP device in IFF_TAP|IFF_NO_PI|IFF_VNET_HDR mode (created if absent). fd or -errno. */
int res_tap(const char *ifname, char *err, size_t errlen);

/* A disk image, read-only or read-write (the partition locks it: src/vmm/part_config.c). fd or -errno. */
int res_disk(const char *path, int readonly, char *err, size_t errlen);

/*
 * A listening Unix stream socket at path, created mode 0600. A socket file
 * nobody accepts on (left by a run that was killed) is replaced; one that
 * accepts a connection is in use (-EADDRINUSE); any other file is never
 * touched (-EEXIST). fd or -errno, with the reason in err.
 */
int res_unix_listen(const char *path, int backlog, char *err, size_t errlen);

/* A Unix stream socket: listening (as res_unix_listen) or connected. fd or -errno. */
int res_stream(const char *path, int listen_mode, char *err, size_t errlen);

/* A console log file opened for appending. fd or -errno. */
int res_console_file(const char *path, char *err, size_t errlen);

#endif
