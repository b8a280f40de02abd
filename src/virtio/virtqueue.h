/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.x, section "Split Virtqueues"), device side.
 *
 * Everything in a ring is written by a hostile guest, concurrently with us:
 *  - ring areas are translated once, as a whole, when the queue is made
 *    ready (alignment and size per spec); afterwards only the host pointers
 *    are used, and guest RAM never moves for the life of the partition;
 *  - indices are read with atomic loads, each descriptor is copied into a
 *    local before any field is checked or used (no double fetch);
 *  - a chain walk is bounded (queue size, VQ_MAX_CHAIN, caller's iovec
 *    array), checks every index and translates every buffer as a whole
 *    range through the partition's translator (gmem).
 * A malformed chain leaves the queue "broken": nothing more is popped from
 * it until the device is reset. Reporting is the device core's job
 * (virtio.c); this file has no side effects beyond the ring and gmem.
 *
 * Not thread-safe: the owning device serialises access (its lock).
 */
#ifndef LVMM_VIRTQUEUE_H
#define LVMM_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/gmem.h"

/* Largest queue size any lvmm device offers (the spec allows 32768). */
#define VQ_MAX_SIZE 1024
/* Hard cap on descriptors in one chain, direct and indirect together. */
#define VQ_MAX_CHAIN 1024
/* Hard cap on the entries of one indirect table (16 bytes each). */
#define VQ_MAX_INDIRECT 1024
/* Hard cap on the bytes of one chain (the spec's limit is 2^32). */
#define VQ_MAX_CHAIN_BYTES 0xffffffffULL

/*
 * Why a queue was declared broken. Reported as `a` of LVMM_EV_VIRTIO_ERROR;
 * the numbers are ABI (tools print them), append only.
 */
enum virtio_err {
	VIRTIO_ERR_NONE = 0,
	VIRTIO_ERR_AVAIL_IDX = 1,        /* avail idx moved by more than the queue size */
	VIRTIO_ERR_HEAD_INDEX = 2,       /* avail ring entry >= queue size */
	VIRTIO_ERR_NEXT_INDEX = 3,       /* next >= queue size / indirect table size */
	VIRTIO_ERR_CHAIN_TOO_LONG = 4,   /* more descriptors than the queue / table / cap (a loop) */
	VIRTIO_ERR_IOV_FULL = 5,         /* more buffers than the device takes per request */
	VIRTIO_ERR_ZERO_LEN = 6,         /* a descriptor with len 0 */
	VIRTIO_ERR_TOO_BIG = 7,          /* total chain length over the device's cap */
	VIRTIO_ERR_DMA = 8,              /* buffer or table outside guest RAM (DMA fault) */
	VIRTIO_ERR_ORDER = 9,            /* readable descriptor after a writable one */
	VIRTIO_ERR_INDIRECT_FEATURE = 10,/* INDIRECT used but not negotiated */
	VIRTIO_ERR_INDIRECT_LEN = 11,    /* indirect len 0, not a multiple of 16, or too big */
	VIRTIO_ERR_INDIRECT_NESTED = 12, /* INDIRECT inside an indirect table */
	VIRTIO_ERR_INDIRECT_NEXT = 13,   /* INDIRECT together with NEXT */
	VIRTIO_ERR_RING_ADDR = 14,       /* ring misaligned or not wholly in RAM at QueueReady */
	VIRTIO_ERR_QUEUE_SIZE = 15,      /* QueueNum 0, not a power of 2, or > QueueNumMax */
	VIRTIO_ERR_REQUEST = 16,         /* device-specific layout rule broken (e.g. no status byte) */
	VIRTIO_ERR_MAX = 16,
};

/* Short name of a reason code, for logs. */
const char *virtio_err_str(unsigned reason);

/*
 * One popped chain. The caller provides iov/iov_cap; after a successful
 * pop, iov[0, n_out) are device-readable and iov[n_out, n_out + n_in)
 * device-writable buffers, in chain order.
 */
struct vq_chain {
	struct iovec *iov;
	unsigned iov_cap;
	unsigned n_out, n_in;
	uint32_t out_len, in_len; /* bytes in each part */
	uint16_t head;            /* descriptor index to return in the used ring */
	uint16_t ndesc;           /* descriptors walked (incl. the indirect one) */
};

struct virtqueue {
	/* Fixed at init. */
	struct gmem *gmem;
	const char *dev;          /* device id, for DMA fault attribution */
	unsigned index;
	uint16_t max_size;
	uint32_t max_chain_bytes; /* per-device cap, <= VQ_MAX_CHAIN_BYTES */

	/* Driver-written configuration (valid while !ready). */
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Set by vq_set_ready(). */
	bool ready;
	bool event_idx, indirect;
	uint8_t *desc;            /* host pointers into guest RAM */
	uint8_t *avail;
	uint8_t *used;

	/* Device state. */
	uint16_t last_avail;      /* next avail ring slot to consume */
	uint16_t shadow_avail;    /* last avail->idx read */
	uint16_t used_idx;        /* next used ring slot (published by vq_flush) */
	uint16_t signalled_used;  /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_valid;
	bool notify_enabled;      /* do we want kicks (NO_NOTIFY clear / avail_event kept)? */
	bool broken;
	uint8_t err;              /* enum virtio_err of the first malformation */
	/*
	 * Bumped whenever the ring is reset or (re)made ready: a request that
	 * completes after that (asynchronous block I/O) belongs to the old
	 * ring and must not be pushed into the new one.
	 */
	uint32_t generation;
};

/* Initialise a queue in the reset state. max_chain_bytes 0 means VQ_MAX_CHAIN_BYTES. */
void vq_init(struct virtqueue *vq, struct gmem *gmem, const char *dev, unsigned index,
	     uint16_t max_size, uint32_t max_chain_bytes);

/* Back to the reset state (not ready, size = max_size, addresses 0, not broken). */
void vq_reset(struct virtqueue *vq);

/*
 * Driver set QueueReady = 1: validate size and alignment, translate the
 * three ring areas as whole ranges, take EVENT_IDX/INDIRECT_DESC from
 * features. 0, or -EINVAL/-EFAULT with vq->err set (queue stays not ready).
 */
int vq_set_ready(struct virtqueue *vq, uint64_t features) MUST_CHECK;

/*
 * Pop the next available chain into c. Returns 1 (popped), 0 (queue empty
 * or not ready), or -errno for a malformed ring/chain (-EINVAL, -EFAULT,
 * -E2BIG, -ELOOP) with vq->err set and the queue broken.
 */
int vq_pop(struct virtqueue *vq, struct vq_chain *c);

/* Give back the last n popped chains (not yet pushed): they are popped again later. */
void vq_unpop(struct virtqueue *vq, uint16_t n);

/* Chains available to pop right now (re-reads avail idx); 0 if broken/not ready/malformed idx. */
uint16_t vq_avail_count(struct virtqueue *vq);

/* Write a used element (head, bytes written). Not visible to the driver until vq_flush(). */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);

/* Publish the pushed elements (used->idx, release ordering). */
void vq_flush(struct virtqueue *vq);

/*
 * After vq_flush(): does the driver want an interrupt for what was
 * published since the last one? Implements VRING_AVAIL_F_NO_INTERRUPT and
 * the EVENT_IDX used_event rule (vring_need_event).
 */
bool vq_should_notify(struct virtqueue *vq);

/* Ask the driver not to kick while the device is busy on this queue. */
void vq_disable_notify(struct virtqueue *vq);

/*
 * The device polls the queue: no kicks at all until vq_enable_notify. With
 * EVENT_IDX, avail_event just behind what was taken (the driver's index
 * reaches it only after a full wrap); without, VRING_USED_F_NO_NOTIFY.
 */
void vq_suppress_notify(struct virtqueue *vq);

/*
 * Ask for kicks again before going idle. Returns true if buffers arrived
 * meanwhile (the caller must process them: no kick will come for them).
 */
bool vq_enable_notify(struct virtqueue *vq) MUST_CHECK;

/*
 * The device holds back because the available buffers are not enough
 * (e.g. a merged rx frame): ask for a kick on the next buffer the driver
 * adds, not the next one we consume. Returns true if buffers arrived
 * meanwhile (try again now: no kick will come for them).
 */
bool vq_notify_on_more(struct virtqueue *vq) MUST_CHECK;

/* Ring area sizes for a queue of n entries (used by tests and transports). */
static inline uint64_t vq_desc_bytes(uint16_t n) { return 16ULL * n; }
static inline uint64_t vq_avail_bytes(uint16_t n) { return 6ULL + 2ULL * n; }
static inline uint64_t vq_used_bytes(uint16_t n) { return 6ULL + 8ULL * n; }

/* vring_need_event() of the spec: has new_idx passed event since old_idx? */
static inline bool vq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
