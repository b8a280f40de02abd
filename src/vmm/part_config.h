/* SPDX-License-Identifier: MIT */
/*
 * The partition's side of the CONFIG message (include/lvmm/proto.h): it
 * builds its own configuration from its platform entry and the
 * supervisor's grant, and locks its disk images itself.
 */
#ifndef LVMM_PART_CONFIG_H
#define LVMM_PART_CONFIG_H

#include <stddef.h>

#include "config/platform.h"
#include "lvmm/proto.h"

/*
 * Build cfg from m: the entry's settings, and a device description for
 * each granted device, in the entry's order (its id, peer, MAC, rate
 * limits, flags, the grant's fds). A message that is malformed (a string
 * without its NUL, more devices than LVMM_MAX_DEVS, a grant for a device
 * the entry does not have, an unknown grant flag) is refused. The fd
 * indices and ranges are checked afterwards, on cfg (partition.c).
 * 0, or -EINVAL with the reason in err.
 */
int part_config_build(const struct plat_config_msg *m, struct lvmm_part_config *cfg, char *err,
		      size_t errlen);

/*
 * Lock every granted disk image (fds: the message's, nfds of them): shared
 * when read-only, exclusive otherwise, so that two writers never share an
 * image. A lock held by a partition that just died (its io_uring keeps the
 * image a little longer) is waited for, at most about 500 ms. 0, or -errno
 * with the reason (naming the image) in err.
 */
int part_lock_disks(const struct plat_config_msg *m, const int *fds, unsigned nfds, char *err,
		    size_t errlen);

#endif
