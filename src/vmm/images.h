/* SPDX-License-Identifier: MIT */
/*
 * The partition's boot images, sealed by the partition itself (docs/trust.md
 * "Sealed images"): the supervisor opens each configured image file
 * read-only and hands the fd over; the partition copies it once into a
 * memfd and seals it, and loads only from that copy. With a trust process
 * (a gated start) the empty memfds go to it first, read-only, on the gate
 * (LVMM_MSG_GATE_IMAGES), so that it hashes each one while it is filled:
 * what it verifies and measures is, byte for byte, what the partition
 * loads.
 */
#ifndef LVMM_VMM_IMAGES_H
#define LVMM_VMM_IMAGES_H

#include <stddef.h>

#include "lvmm/proto.h"

#define IMAGE_MAX (4ULL << 30) /* a boot image file, at most */

/**
 * image_copy() - copy the regular file in (read from offset 0, at most
 * IMAGE_MAX bytes) into the memfd fd and seal fd against every change,
 * also after a failure (whoever hashes it meanwhile learns that it is
 * complete). 0 or -errno with err set (what names the image).
 */
int image_copy(int fd, int in, const char *what, char *err, size_t errlen);

/**
 * images_seal() - replace the image fds of cfg (kernel, initrd, and a safe
 * image's) in fds[] by sealed copies; with gate >= 0, the trust process
 * gets the empty copies (read-only) on it first. Every file fd is closed.
 * 0 or -errno with err set.
 */
int images_seal(struct lvmm_part_config *cfg, int *fds, int gate, char *err, size_t errlen);

#endif
