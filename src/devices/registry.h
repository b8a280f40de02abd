/* SPDX-License-Identifier: MIT */
/*
 * Devices: the interface every device model implements, and the registry
 * that builds a partition's devices from its config (the built-in
 * platform devices, then one instance per config entry) and reaches them
 * afterwards by id. The partition (src/vmm/partition.c) owns one table;
 * the VM object knows nothing about devices.
 */
#ifndef LVMM_DEVICES_REGISTRY_H
#define LVMM_DEVICES_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "lvmm/proto.h"
#include "vmm/vm.h"

/*
 * A device type: one static const table per device file. create() builds
 * an instance from its config entry (cfg is NULL for built-in platform
 * devices) and registers its ranges; destroy() undoes create() in reverse.
 * Both run before the sandbox, so they may allocate, but open nothing:
 * they use only the fds they were given.
 */
struct device_ops {
	const char *name;
	int (*create)(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state);
	void (*destroy)(void *state);
	/* Optional: fill per-device statistics for `lvmm ctl stats`. */
	void (*stats)(void *state, struct lvmm_dev_stats *out);
	/* Optional: control operation (link up/down). 0 or -errno. */
	int (*ctl)(void *state, uint32_t op);
};

#define DEVICES_MAX 32

struct device_instance {
	const struct device_ops *ops;
	void *state;
	char id[LVMM_NAME_MAX];
};

struct device_table {
	struct device_instance dev[DEVICES_MAX];
	unsigned n;
};

/* The built-in platform devices (one file each). */
extern const struct device_ops ioapic_ops;     /* split irqchip only (devices/ioapic.h) */
extern const struct device_ops uart_ops;
extern const struct device_ops i8042_ops;
extern const struct device_ops rtc_ops;
extern const struct device_ops debug_exit_ops;
extern const struct device_ops acpi_pm_ops;     /* sleep registers + GED power button */

/* The device types a config entry may name (enum lvmm_dev_type). */
extern const struct device_ops virtio_blk_ops;      /* LVMM_DEV_BLK: fd[0] = raw image */
/* Requests of a virtio-blk instance popped and not yet completed (tests wait for them). */
unsigned virtio_blk_inflight(void *state);
extern const struct device_ops virtio_net_tap_ops;  /* LVMM_DEV_NET_TAP: fd[0] = TAP */
extern const struct device_ops virtio_net_link_ops; /* LVMM_DEV_NET_LINK: ring + bells */
extern const struct device_ops virtio_stream_ops;   /* LVMM_DEV_STREAM: fd[0] = socket */
extern const struct device_ops tpm_crb_ops;         /* LVMM_DEV_TPM: trust socket + event log */

/*
 * Create the built-in devices, then one instance per entry of vm's config,
 * in config order (the guest sees virtio devices in that order). On
 * failure the reason, naming the device, is in err; what was created
 * stays in t for devices_destroy(). 0 or -errno.
 */
int devices_create(struct device_table *t, struct vm *vm, char *err, size_t errlen) MUST_CHECK;

/* Destroy every device in reverse order of creation (flushes consoles, releases backends). */
void devices_destroy(struct device_table *t);

/* Append the statistics of every device that keeps some to rep (up to its capacity). */
void devices_stats(const struct device_table *t, struct lvmm_ctl_reply *rep);

/* A control operation for the device called id. 0, -ENODEV, -EOPNOTSUPP or the device's -errno. */
int devices_ctl(const struct device_table *t, const char *id, uint32_t op);

#endif
