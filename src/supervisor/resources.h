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

/* A disk image, locked against use by another lvmm. fd or -errno. */
int res_disk(const char *path, int readonly, char *err, size_t errlen);

/* A Unix stream socket: listening (created, mode 0600) or connected. fd or -errno. */
int res_stream(const char *path, int listen_mode, char *err, size_t errlen);

/* A read-only file (kernel, initrd). fd or -errno. */
int res_file_ro(const char *path, char *err, size_t errlen);

/* A console log file opened for appending. fd or -errno. */
int res_console_file(const char *path, char *err, size_t errlen);

#endif
