/* SPDX-License-Identifier: MIT */
/*
 * virtio 1.x over virtio-mmio (version 2 register layout) for the test
 * guests: device discovery from "virtio_mmio.device=SIZE@BASE:IRQ" command
 * line words, feature negotiation, split virtqueues polled from CPL3, and
 * small blk / net / console drivers. One request in flight per queue is
 * the common use; the queue layer itself allows more.
 */
#ifndef RT_VIRTIO_H
#define RT_VIRTIO_H

#include "rt.h"

#define VIRTIO_ID_NET      1
#define VIRTIO_ID_BLK      2
#define VIRTIO_ID_CONSOLE  3

#define VIRTIO_F_VERSION_1     (1ULL << 32)
#define VIRTIO_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_EVENT_IDX     (1ULL << 29)

/* virtio-mmio registers (version 2 layout). */
#define VIRTIO_MMIO_MAGIC          0x000
#define VIRTIO_MMIO_VERSION        0x004
#define VIRTIO_MMIO_DEVICE_ID      0x008
#define VIRTIO_MMIO_DEV_FEATURES   0x010
#define VIRTIO_MMIO_DEV_FEAT_SEL   0x014
#define VIRTIO_MMIO_DRV_FEATURES   0x020
#define VIRTIO_MMIO_DRV_FEAT_SEL   0x024
#define VIRTIO_MMIO_QUEUE_SEL      0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX  0x034
#define VIRTIO_MMIO_QUEUE_NUM      0x038
#define VIRTIO_MMIO_QUEUE_READY    0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY   0x050
#define VIRTIO_MMIO_IRQ_STATUS     0x060
#define VIRTIO_MMIO_IRQ_ACK        0x064
#define VIRTIO_MMIO_STATUS         0x070
#define VIRTIO_MMIO_QUEUE_DESC_LO  0x080
#define VIRTIO_MMIO_QUEUE_DESC_HI  0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LO 0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HI 0x094
#define VIRTIO_MMIO_QUEUE_USED_LO  0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HI  0x0a4
#define VIRTIO_MMIO_CONFIG_GEN     0x0fc
#define VIRTIO_MMIO_CONFIG         0x100

#define MAGIC_VIRT 0x74726976 /* "virt" */

/* Device status bits. */
#define VIRTIO_S_ACKNOWLEDGE 1
#define VIRTIO_S_DRIVER      2
#define VIRTIO_S_DRIVER_OK   4
#define VIRTIO_S_FEATURES_OK 8
#define VIRTIO_S_NEEDS_RESET 0x40
#define VIRTIO_S_FAILED      128

#define VIRTIO_MAX_DEVICES 16
#define VIRTQ_MAX_SIZE     128

struct virtio_dev {
	uint64_t base;           /* MMIO base */
	uint64_t size;
	uint32_t irq;
	uint32_t device_id;
	uint64_t features;       /* negotiated */
};

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4

#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

struct virtq {
	struct virtio_dev *dev;
	uint16_t index;          /* queue number */
	uint16_t size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t free_head;
	uint16_t num_free;
	uint16_t last_used;
	uint16_t kicked_avail;   /* avail idx at the last kick check (EVENT_IDX) */
	int event_idx;           /* VIRTIO_F_EVENT_IDX negotiated */
	uint64_t kicks;          /* QueueNotify writes */
	uint16_t chain_len[VIRTQ_MAX_SIZE];
};

/* One buffer of a descriptor chain. */
struct virtq_buf {
	const void *addr;        /* guest-physical = virtual in these guests */
	uint32_t len;
	int device_writes;       /* 1: device-writable (VRING_DESC_F_WRITE) */
};

/* All virtio-mmio devices announced on the command line that answer with
 * the right magic and version 2. Returns how many were written to devs. */
int virtio_discover(struct virtio_dev *devs, int max);
/* The nth (0-based) device with this device ID; 0 or -1 when absent. */
int virtio_find(uint32_t device_id, int nth, struct virtio_dev *dev);
/* Reset, ACKNOWLEDGE, DRIVER, negotiate (VERSION_1 | wanted) & offered,
 * FEATURES_OK. Returns 0, or -1 (device left FAILED). */
int virtio_init(struct virtio_dev *d, uint64_t wanted);
/* Set up queue `index` with at most max entries (one page from a static
 * pool of 32, never given back). Returns 0 or -1. */
int virtq_setup(struct virtio_dev *d, struct virtq *q, unsigned index,
		unsigned max);
/* The same in the caller's page-aligned 4 KiB mem (may be reused after a
 * device reset): descriptors at 0, avail ring at 2 KiB, used at 2.5 KiB. */
int virtq_setup_at(struct virtio_dev *d, struct virtq *q, unsigned index,
		   unsigned max, void *mem);
void virtio_driver_ok(struct virtio_dev *d);
void virtio_fail(struct virtio_dev *d);
uint32_t virtio_status(struct virtio_dev *d);
/* Read device config space bytes [off, off+len) consistently. */
void virtio_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			uint32_t len);
/* Read and acknowledge the interrupt status (for interrupt-driven use). */
uint32_t virtio_irq_ack(struct virtio_dev *d);
/* Raw 32-bit register access (VIRTIO_MMIO_*), for guests that break rules. */
uint32_t virtio_reg_read(struct virtio_dev *d, uint32_t off);
void virtio_reg_write(struct virtio_dev *d, uint32_t off, uint32_t v);

/* Post a chain; returns its head descriptor, or -1 when the queue is full. */
int virtq_add(struct virtq *q, const struct virtq_buf *bufs, int n);
void virtq_kick(struct virtq *q);
/* Kick unless the device set VRING_USED_F_NO_NOTIFY (it is still working
 * through the ring and will see what was added). 1 if it kicked. */
int virtq_kick_if_needed(struct virtq *q);
/* Ask the device not to interrupt for this queue (polling drivers). */
void virtq_no_interrupt(struct virtq *q);
/* With EVENT_IDX: kick only if the device asked for one (its avail_event
 * lies among the entries added since the last kick). 1 if it kicked. */
int virtq_kick_event(struct virtq *q);
/* With EVENT_IDX: interrupt me when the next chain completes (used_event =
 * last_used), or (want = 0) practically never. */
void virtq_want_interrupt(struct virtq *q, int want);
/* Take one completed chain: returns its head (and the written length), or
 * -1 when none is ready. */
int virtq_get(struct virtq *q, uint32_t *len);
/* virtq_get, waiting at most timeout_us. */
int virtq_wait(struct virtq *q, uint32_t *len, uint64_t timeout_us);

/* ---- virtio-blk --------------------------------------------------- */
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

struct vblk {
	struct virtio_dev dev;
	struct virtq q;
	uint64_t capacity;       /* 512-byte sectors */
	int read_only;
	int has_flush;
};
int vblk_open(struct vblk *b, int nth);
/* The same, also asking for the feature bits in extra (accepted if the device offers them). */
int vblk_open_features(struct vblk *b, int nth, uint64_t extra);
/* Returns a VIRTIO_BLK_S_* status, or -1 on timeout or bad arguments. */
int vblk_read(struct vblk *b, uint64_t sector, void *buf, uint32_t nsectors);
int vblk_write(struct vblk *b, uint64_t sector, const void *buf,
	       uint32_t nsectors);
int vblk_flush(struct vblk *b);

/* ---- virtio-net --------------------------------------------------- */
#define VNET_RX_BUFS  16
#define VNET_BUF_SIZE 1536       /* 12-byte header + 1514-byte frame */
#define VNET_HDR_LEN  12

struct vnet {
	struct virtio_dev dev;
	struct virtq rx, tx;
	uint8_t mac[6];
	uint8_t rx_buf[VNET_RX_BUFS][VNET_BUF_SIZE] __attribute__((aligned(64)));
	uint8_t tx_buf[VNET_BUF_SIZE] __attribute__((aligned(64)));
};
int vnet_open(struct vnet *n, int nth);
/* Send one Ethernet frame (without the virtio header). 0 or -1. */
int vnet_send(struct vnet *n, const void *frame, uint32_t len);
/* Receive one frame into buf; its length, or -1 on timeout. */
int vnet_recv(struct vnet *n, void *buf, uint32_t max, uint64_t timeout_us);

/* ---- virtio-console (port 0 only, no MULTIPORT) -------------------- */
#define VCONS_RX_BUFS 8
#define VCONS_BUF_SIZE 256

struct vcons {
	struct virtio_dev dev;
	struct virtq rx, tx;
	uint8_t rx_buf[VCONS_RX_BUFS][VCONS_BUF_SIZE];
	uint8_t tx_buf[VCONS_BUF_SIZE];
	int cur;                 /* rx buffer being consumed, or -1 */
	uint32_t cur_len, cur_off;
};
int vcons_open(struct vcons *c, int nth);
/* 0 or -1 (the device did not take a buffer within 1 s). */
int vcons_write(struct vcons *c, const void *buf, uint32_t len);
/* The same, waiting at most timeout_us for each buffer. */
int vcons_write_timeout(struct vcons *c, const void *buf, uint32_t len,
			uint64_t timeout_us);
/* Up to max bytes; 0 on timeout. */
int vcons_read(struct vcons *c, void *buf, uint32_t max, uint64_t timeout_us);

#endif
