/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio transport, modern layout only (virtio 1.x section 4.2.2,
 * Version 2). One 4 KiB slot per device: registers below 0x100, device
 * config space from 0x100.
 *
 *  - registers take aligned 32-bit accesses only; anything else is ignored
 *    (reads return 0) and logged with rate limiting;
 *  - the config window takes 1/2/4/8-byte naturally aligned accesses;
 *  - QueueNotify arrives through one KVM ioeventfd per queue (datamatch on
 *    the queue index) and is served on the I/O thread; a notify write that
 *    still reaches us (no ioeventfd matched) is forwarded to the same fd,
 *    so device work never runs on a vCPU thread;
 *  - interrupts leave through one irqfd (edge); InterruptStatus bit 0 =
 *    used buffers, bit 1 = configuration change.
 */
#ifndef LVMM_VIRTIO_MMIO_H
#define LVMM_VIRTIO_MMIO_H

#include <stdint.h>

#include "common/util.h"
#include "virtio/virtio.h"
#include "vmm/bus.h"

#define VIRTIO_MMIO_MAGIC 0x74726976U /* "virt" */
#define VIRTIO_MMIO_VERSION 2

/* Register offsets (spec 4.2.2). */
enum virtio_mmio_reg {
	VMMIO_MAGIC = 0x000,
	VMMIO_VERSION = 0x004,
	VMMIO_DEVICE_ID = 0x008,
	VMMIO_VENDOR_ID = 0x00c,
	VMMIO_DEVICE_FEATURES = 0x010,
	VMMIO_DEVICE_FEATURES_SEL = 0x014,
	VMMIO_DRIVER_FEATURES = 0x020,
	VMMIO_DRIVER_FEATURES_SEL = 0x024,
	VMMIO_QUEUE_SEL = 0x030,
	VMMIO_QUEUE_NUM_MAX = 0x034,
	VMMIO_QUEUE_NUM = 0x038,
	VMMIO_QUEUE_READY = 0x044,
	VMMIO_QUEUE_NOTIFY = 0x050,
	VMMIO_INTERRUPT_STATUS = 0x060,
	VMMIO_INTERRUPT_ACK = 0x064,
	VMMIO_STATUS = 0x070,
	VMMIO_QUEUE_DESC_LOW = 0x080,
	VMMIO_QUEUE_DESC_HIGH = 0x084,
	VMMIO_QUEUE_DRIVER_LOW = 0x090,
	VMMIO_QUEUE_DRIVER_HIGH = 0x094,
	VMMIO_QUEUE_DEVICE_LOW = 0x0a0,
	VMMIO_QUEUE_DEVICE_HIGH = 0x0a4,
	VMMIO_SHM_SEL = 0x0ac,
	VMMIO_SHM_LEN_LOW = 0x0b0,
	VMMIO_SHM_LEN_HIGH = 0x0b4,
	VMMIO_SHM_BASE_LOW = 0x0b8,
	VMMIO_SHM_BASE_HIGH = 0x0bc,
	VMMIO_QUEUE_RESET = 0x0c0,
	VMMIO_CONFIG_GENERATION = 0x0fc,
	VMMIO_CONFIG = 0x100,
};

/*
 * Attach vdev to the partition as a virtio-mmio device: reserve a slot
 * (vm_alloc_virtio_slot), create its irqfd and one ioeventfd per queue,
 * register the queue and sync handlers on vm->io and the register window
 * on vm->mmio. Setup time only (before the I/O thread and vCPUs run).
 * 0 or -errno; on error everything this call made is undone except the
 * slot and the KVM-side ioeventfd/irqfd bindings (vm.h has no release).
 */
int virtio_mmio_create(struct vm *vm, struct virtio_dev *vdev) MUST_CHECK;

/* Undo virtio_mmio_create(): after vCPUs and the I/O thread have stopped. */
void virtio_mmio_destroy(struct virtio_dev *vdev);

/* Register access handlers (struct bus_ops); opaque is the struct virtio_dev. */
void virtio_mmio_read(void *opaque, uint64_t off, void *data, uint32_t len);
void virtio_mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len);

extern const struct bus_ops virtio_mmio_bus_ops;

#endif
