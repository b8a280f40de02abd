/* SPDX-License-Identifier: MIT */
/*
 * The virtio device types, for the VMM's device table. Each creates a
 * virtio-mmio device from one struct lvmm_dev_cfg (docs/virtio.md):
 *   LVMM_DEV_BLK     -> virtio_blk_ops      (fd[0] = raw image)
 *   LVMM_DEV_NET_TAP -> virtio_net_tap_ops  (fd[0] = TAP with IFF_VNET_HDR)
 *   LVMM_DEV_STREAM  -> virtio_stream_ops   (fd[0] = stream socket, or listening with F_LISTEN)
 */
#ifndef LVMM_VIRTIO_DEVICES_H
#define LVMM_VIRTIO_DEVICES_H

#include "vmm/vm.h"

extern const struct device_ops virtio_blk_ops;
extern const struct device_ops virtio_net_tap_ops;
extern const struct device_ops virtio_stream_ops;

#endif
