// SPDX-License-Identifier: MIT
#include "vmm/devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio_devices.h"

static const struct device_ops *const builtin[] = {
	&uart_ops, &i8042_ops, &rtc_ops, &debug_exit_ops,
};

/* Config device types; NULL where this build has no model yet. */
static const struct device_ops *dev_ops_for(uint32_t type)
{
	switch (type) {
	case LVMM_DEV_BLK: return &virtio_blk_ops;
	case LVMM_DEV_NET_TAP: return &virtio_net_tap_ops;
	case LVMM_DEV_STREAM: return &virtio_stream_ops;
	case LVMM_DEV_NET_LINK: return &virtio_net_link_ops;
	default: return NULL;
	}
}

int devices_create(struct vm *vm, char *err, size_t errlen)
{
	const struct lvmm_part_config *cfg = vm->cfg;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(builtin); i++) {
		r = vm_add_device(vm, builtin[i], NULL);
		if (r) {
			snprintf(err, errlen, "device %s: %s", builtin[i]->name, strerror(-r));
			return r;
		}
	}
	for (i = 0; i < cfg->ndevs; i++) {
		const struct device_ops *ops = dev_ops_for(cfg->devs[i].type);

		if (!ops) {
			snprintf(err, errlen, "device %s: type %u is not supported by this build",
				 cfg->devs[i].id, cfg->devs[i].type);
			return -ENOTSUP;
		}
		r = vm_add_device(vm, ops, &cfg->devs[i]);
		if (r) {
			snprintf(err, errlen, "device %s (%s): %s", cfg->devs[i].id, ops->name,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}
