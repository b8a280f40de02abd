/* SPDX-License-Identifier: MIT */
/*
 * The transport-independent part of a virtio 1.x device: the device type
 * interface (struct virtio_dev_ops), the common per-instance state (struct
 * virtio_dev: status, features, queues, interrupt status) and the helpers
 * devices use to pop/push chains and to report a misbehaving driver.
 *
 * Threads: register accesses run on vCPU threads, queue and backend work
 * on the partition's I/O thread. vdev->lock serialises both. The vCPU side
 * never touches the I/O thread's fd table: it signals sync_fd and the I/O
 * thread re-evaluates what it watches (ops->sync).
 *
 * A device is one file: a static const struct virtio_dev_ops, a state
 * struct embedding struct virtio_dev, and a struct device_ops
 * (devices/registry.h) whose create() calls virtio_dev_init() and then a
 * transport (virtio_mmio_create).
 */
#ifndef LVMM_VIRTIO_H
#define LVMM_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "common/util.h"
#include "lvmm/proto.h"
#include "virtio/virtqueue.h"
#include "vmm/gmem.h"

struct vm;
struct virtio_dev;

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_VENDOR_ID  0x4d4d564cU /* "LVMM" */

/* Device status bits (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

/* Interrupt status bits (virtio-mmio InterruptStatus). */
#define VIRTIO_ISR_VRING  0x1
#define VIRTIO_ISR_CONFIG 0x2

/* Reserved feature bits (spec 6). */
#define VIRTIO_FBIT(n)          (1ULL << (n))
#define VIRTIO_F_INDIRECT_DESC_BIT 28
#define VIRTIO_F_EVENT_IDX_BIT     29
#define VIRTIO_F_VERSION_1_BIT     32
/* Offered by every lvmm device; the device adds its own bits. */
#define VIRTIO_COMMON_FEATURES                                                 \
	(VIRTIO_FBIT(VIRTIO_F_VERSION_1_BIT) | VIRTIO_FBIT(VIRTIO_F_EVENT_IDX_BIT) | \
	 VIRTIO_FBIT(VIRTIO_F_INDIRECT_DESC_BIT))

/*
 * A device type. Callbacks run with vdev->lock held. Optional ones may be
 * NULL. Offsets passed to config_read/config_write are already checked:
 * off + len <= config_size.
 */
struct virtio_dev_ops {
	const char *name;          /* "virtio-blk", for logs */
	uint32_t device_id;        /* virtio device ID (1 net, 2 blk, 3 console) */
	uint64_t features;         /* device feature bits always offered */
	unsigned num_queues;       /* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size;   /* QueueNumMax, power of two, <= VQ_MAX_SIZE */
	uint32_t max_chain_bytes;  /* per-chain byte cap (0: VQ_MAX_CHAIN_BYTES) */
	uint32_t config_size;      /* bytes of device config space */
	void (*config_read)(struct virtio_dev *vdev, uint32_t off, void *data, uint32_t len);
	/* Optional; writes are ignored without it. */
	void (*config_write)(struct virtio_dev *vdev, uint32_t off, const void *data, uint32_t len);
	/* Optional: the driver sets FEATURES_OK with these; 0 accepts, -errno refuses. */
	int (*features_ok)(struct virtio_dev *vdev, uint64_t features);
	/* Queue q has new buffers (I/O thread). */
	void (*queue_notify)(struct virtio_dev *vdev, unsigned q);
	/*
	 * Optional, I/O thread: the device state changed (DRIVER_OK, reset,
	 * NEEDS_RESET): start or stop watching backends. Without it the core
	 * runs queue_notify on every ready queue when the device is running.
	 */
	void (*sync)(struct virtio_dev *vdev);
	/* Optional: device reset (any thread): drop in-flight work and device state. */
	void (*reset)(struct virtio_dev *vdev);
};

/* Opaque for the I/O thread: which queue an ioeventfd belongs to. */
struct virtio_kick {
	struct virtio_dev *vdev;
	unsigned q;
};

/* virtio-mmio transport registers that are not device state. */
struct virtio_mmio_regs {
	uint64_t base;
	uint32_t irq;
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	bool registered;           /* ioeventfds/handlers set up (destroy undoes) */
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;                   /* the device's own state */
	struct vm *vm;                /* for events and the I/O thread; may be a fake in tests */
	struct gmem *gmem;
	char name[LVMM_NAME_MAX];     /* device id from the config: names it in events/logs */

	pthread_mutex_t lock;
	uint64_t host_features;       /* offered: ops->features | common | per-instance */
	uint64_t driver_features;     /* as written by the driver */
	uint64_t features;            /* negotiated (valid once FEATURES_OK) */
	bool high_features;           /* driver set a bit above 63 (never offered) */
	uint8_t status;
	uint32_t config_generation;
	atomic_uint isr;

	int irqfd;                    /* edge to the guest, or -1 */
	int sync_fd;                  /* eventfd: vCPU -> I/O thread "re-evaluate" */
	int kick_fd[VIRTIO_MAX_QUEUES];
	struct virtio_kick kick[VIRTIO_MAX_QUEUES];
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];
	struct virtio_mmio_regs mmio;

	struct ratelimit log_rl;      /* guest-triggered log lines */
	struct ratelimit event_rl;    /* LVMM_EV_VIRTIO_ERROR events across resets */
	uint64_t errors;              /* malformed rings/chains seen (stats) */
};

/*
 * Initialise vdev for device type ops (queues reset, features offered,
 * sync eventfd created). vm may be NULL only in tests that never report.
 * 0 or -errno.
 */
int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops, struct vm *vm,
		    struct gmem *gmem, const char *name, void *priv) MUST_CHECK;

/* Undo virtio_dev_init() (after the transport was destroyed). */
void virtio_dev_uninit(struct virtio_dev *vdev);

/* Device reset (status write of 0). Lock held. */
void virtio_reset(struct virtio_dev *vdev);

/* Driver writes the status register: enforce the state machine. Lock held. */
void virtio_set_status(struct virtio_dev *vdev, uint32_t val);

/* Offered feature bits [32*sel, 32*sel+32). */
uint32_t virtio_host_features(const struct virtio_dev *vdev, uint32_t sel);

/* Driver writes feature bits [32*sel, ...): only before FEATURES_OK. Lock held. */
void virtio_set_driver_features(struct virtio_dev *vdev, uint32_t sel, uint32_t val);

/*
 * Driver writes QueueReady for queue q. Enabling validates and translates
 * the rings; a bad ring marks the device NEEDS_RESET. Lock held.
 */
void virtio_queue_set_ready(struct virtio_dev *vdev, unsigned q, bool ready);

/* DRIVER_OK set, and neither NEEDS_RESET nor FAILED: queues may be processed. */
bool virtio_running(const struct virtio_dev *vdev);

/*
 * Pop a chain from queue q of a running device. 1 popped, 0 nothing (or
 * not running), -errno malformed: the device is then NEEDS_RESET and the
 * error has been reported (virtio_dev_error).
 */
int virtio_pop(struct virtio_dev *vdev, unsigned q, struct vq_chain *c);

/*
 * Chains available on queue q of a running device (0 otherwise). A
 * malformed avail index found here is reported like one found by a pop.
 */
uint16_t virtio_avail_count(struct virtio_dev *vdev, unsigned q);

/* Return a chain with len bytes written; visible after virtio_flush(). */
void virtio_push(struct virtio_dev *vdev, unsigned q, uint16_t head, uint32_t len);

/* Publish pushed chains and interrupt the driver if it wants one. */
void virtio_flush(struct virtio_dev *vdev, unsigned q);

/*
 * The two halves of virtio_flush, for devices that complete many requests
 * in one turn: publish each as it completes (a store the driver can poll),
 * and interrupt once for the whole batch (with EVENT_IDX only if the
 * driver's used_event lies in the range published since the last one).
 */
void virtio_publish(struct virtio_dev *vdev, unsigned q);
void virtio_notify(struct virtio_dev *vdev, unsigned q);

/* Set InterruptStatus bits and send an edge to the guest. */
void virtio_raise(struct virtio_dev *vdev, uint32_t isr_bits);

/* Device config changed: bump ConfigGeneration, interrupt if DRIVER_OK. */
void virtio_config_changed(struct virtio_dev *vdev);

/*
 * The driver broke the rules on queue q (or q = -1u for the device): set
 * DEVICE_NEEDS_RESET, raise a config interrupt, report one
 * LVMM_EV_VIRTIO_ERROR and log once (both rate-limited across resets).
 * Nothing more is processed until the driver resets the device.
 */
void virtio_dev_error(struct virtio_dev *vdev, unsigned q, enum virtio_err reason);

/* Ask the I/O thread to run queue q's notify handler again (work left over). */
void virtio_requeue(struct virtio_dev *vdev, unsigned q);
/*
 * The next chain for a device draining queue q with a per-turn budget:
 * 1 with a chain in *c; 0 to stop, either because the queue is empty (kicks
 * re-enabled and the ring re-checked, so none is lost) or because *budget
 * is spent (the queue is kicked again for the next turn); <0 for a
 * malformed ring (already reported, like virtio_pop).
 */
int virtio_pop_budget(struct virtio_dev *vdev, unsigned q, struct vq_chain *c, unsigned *budget);

/* Ask the I/O thread to run ops->sync (from a vCPU thread). */
void virtio_signal_sync(struct virtio_dev *vdev);

/* I/O thread handlers (io_handler_fn): opaque is a struct virtio_kick / struct virtio_dev. */
void virtio_kick_handler(void *opaque, uint32_t events);
void virtio_sync_handler(void *opaque, uint32_t events);

/*
 * Resolve the config's fd slot i (an index into the fds that came with the
 * partition config) to a descriptor. 0 or -EBADF.
 */
int virtio_cfg_fd(const struct vm *vm, const struct lvmm_dev_cfg *cfg, unsigned i, int *fd) MUST_CHECK;

/* Copy [off, off+len) of a config struct of size bytes into data (zeros past the end). */
void virtio_config_copy(const void *cfg, size_t size, uint32_t off, void *data, uint32_t len);

/* Read and discard an eventfd's counter (non-blocking). */
void virtio_drain_eventfd(int fd);

#endif
