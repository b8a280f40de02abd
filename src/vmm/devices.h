/* SPDX-License-Identifier: MIT */
/* The device table: built-in platform devices and the types a config may name. */
#ifndef LVMM_DEVICES_H
#define LVMM_DEVICES_H

#include <stddef.h>

#include "vmm/vm.h"

extern const struct device_ops uart_ops;
extern const struct device_ops i8042_ops;
extern const struct device_ops rtc_ops;
extern const struct device_ops debug_exit_ops;
extern const struct device_ops virtio_net_link_ops;

/*
 * Create the built-in devices, then one instance per config entry.
 * 0 or -errno with a reason naming the device in err.
 */
int devices_create(struct vm *vm, char *err, size_t errlen);

#endif
