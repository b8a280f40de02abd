// SPDX-License-Identifier: MIT
#include "virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* Descriptor flags and ring flags of the split ring (spec 2.7.5, 2.7.6, 2.7.8). */
#define DESC_F_NEXT      1
#define DESC_F_WRITE     2
#define DESC_F_INDIRECT  4
#define USED_F_NO_NOTIFY 1
#define AVAIL_F_NO_INTERRUPT 1
#define F_INDIRECT_DESC  28
#define F_EVENT_IDX      29

/* Our local copy of one descriptor; never read twice from guest memory. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static const char *const err_names[] = {
	[VIRTIO_ERR_NONE] = "none",
	[VIRTIO_ERR_AVAIL_IDX] = "avail index jumped by more than the queue size",
	[VIRTIO_ERR_HEAD_INDEX] = "avail ring entry out of range",
	[VIRTIO_ERR_NEXT_INDEX] = "next index out of range",
	[VIRTIO_ERR_CHAIN_TOO_LONG] = "chain too long (loop?)",
	[VIRTIO_ERR_IOV_FULL] = "too many buffers for this device",
	[VIRTIO_ERR_ZERO_LEN] = "zero-length descriptor",
	[VIRTIO_ERR_TOO_BIG] = "chain too large",
	[VIRTIO_ERR_DMA] = "buffer outside guest memory",
	[VIRTIO_ERR_ORDER] = "readable descriptor after a writable one",
	[VIRTIO_ERR_INDIRECT_FEATURE] = "indirect descriptor not negotiated",
	[VIRTIO_ERR_INDIRECT_LEN] = "bad indirect table length",
	[VIRTIO_ERR_INDIRECT_NESTED] = "nested indirect table",
	[VIRTIO_ERR_INDIRECT_NEXT] = "indirect descriptor with NEXT",
	[VIRTIO_ERR_RING_ADDR] = "ring misaligned or outside guest memory",
	[VIRTIO_ERR_QUEUE_SIZE] = "bad queue size",
	[VIRTIO_ERR_REQUEST] = "request violates the device's layout rules",
};

const char *virtio_err_str(unsigned reason)
{
	if (reason >= sizeof(err_names) / sizeof(err_names[0]) || !err_names[reason])
		return "unknown";
	return err_names[reason];
}

/* ---- Ring field access ------------------------------------------------ */
/*
 * Ring areas are checked for alignment at QueueReady, so these loads and
 * stores are naturally aligned; atomics keep the compiler from tearing,
 * merging or repeating them.
 */
static inline uint16_t ld16(const uint8_t *p, memory_order mo)
{
	return le16toh(atomic_load_explicit((const _Atomic uint16_t *)(const void *)p, mo));
}

static inline void st16(uint8_t *p, uint16_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint16_t *)(void *)p, htole16(v), mo);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	atomic_store_explicit((_Atomic uint32_t *)(void *)p, htole32(v), memory_order_relaxed);
}

#define AVAIL_FLAGS(vq)      ((vq)->avail + 0)
#define AVAIL_IDX(vq)        ((vq)->avail + 2)
#define AVAIL_RING(vq, i)    ((vq)->avail + 4 + 2 * (size_t)(i))
#define AVAIL_USED_EVENT(vq) ((vq)->avail + 4 + 2 * (size_t)(vq)->size)
#define USED_FLAGS(vq)       ((vq)->used + 0)
#define USED_IDX(vq)         ((vq)->used + 2)
#define USED_ELEM(vq, i)     ((vq)->used + 4 + 8 * (size_t)(i))
#define USED_AVAIL_EVENT(vq) ((vq)->used + 4 + 8 * (size_t)(vq)->size)

/* Copy descriptor i of a table (possibly an unaligned indirect table) into d. */
static void read_desc(const uint8_t *table, uint32_t i, struct desc *d)
{
	uint8_t raw[16];

	memcpy(raw, table + 16 * (size_t)i, sizeof(raw));
	/* One fetch: everything below works on raw, never on guest memory. */
	__asm__ __volatile__("" ::: "memory");
	memcpy(&d->addr, raw, 8);
	memcpy(&d->len, raw + 8, 4);
	memcpy(&d->flags, raw + 12, 2);
	memcpy(&d->next, raw + 14, 2);
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* ---- Setup ------------------------------------------------------------- */

void vq_init(struct virtqueue *vq, struct gmem *gmem, const char *dev, unsigned index,
	     uint16_t max_size, uint32_t max_chain_bytes)
{
	memset(vq, 0, sizeof(*vq));
	vq->gmem = gmem;
	vq->dev = dev;
	vq->index = index;
	vq->max_size = max_size > VQ_MAX_SIZE ? VQ_MAX_SIZE : max_size;
	vq->max_chain_bytes = max_chain_bytes ? max_chain_bytes : (uint32_t)VQ_MAX_CHAIN_BYTES;
	vq_reset(vq);
}

void vq_reset(struct virtqueue *vq)
{
	vq->generation++;
	vq->size = vq->max_size;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->ready = false;
	vq->event_idx = vq->indirect = false;
	vq->desc = vq->avail = vq->used = NULL;
	vq->last_avail = vq->shadow_avail = vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->notify_enabled = true;
	vq->broken = false;
	vq->err = VIRTIO_ERR_NONE;
}

static void *map_ring(struct virtqueue *vq, uint64_t gpa, uint64_t len, uint64_t align,
		      enum dma_dir dir)
{
	void *p;

	if (gpa & (align - 1))
		return NULL;
	p = gmem_translate(vq->gmem, vq->dev, gpa, len, dir);
	/* Host alignment too: the atomics above need it, whatever the slot layout. */
	if (p && ((uintptr_t)p & (align - 1)))
		return NULL;
	return p;
}

int vq_set_ready(struct virtqueue *vq, uint64_t features)
{
	uint16_t n = vq->size;

	if (!n || n > vq->max_size || (n & (n - 1))) {
		/* Power of two: ring slots are free-running u16 indices mod size. */
		vq->err = VIRTIO_ERR_QUEUE_SIZE;
		return -EINVAL;
	}
	vq->desc = map_ring(vq, vq->desc_gpa, vq_desc_bytes(n), 16, DMA_TO_DEVICE);
	vq->avail = map_ring(vq, vq->avail_gpa, vq_avail_bytes(n), 2, DMA_TO_DEVICE);
	vq->used = map_ring(vq, vq->used_gpa, vq_used_bytes(n), 4, DMA_FROM_DEVICE);
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = vq->avail = vq->used = NULL;
		vq->err = VIRTIO_ERR_RING_ADDR;
		return -EFAULT;
	}
	vq->generation++;
	vq->event_idx = features & (1ULL << F_EVENT_IDX);
	vq->indirect = features & (1ULL << F_INDIRECT_DESC);
	vq->last_avail = vq->shadow_avail = vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->notify_enabled = true;
	vq->broken = false;
	vq->err = VIRTIO_ERR_NONE;
	/* The driver may have left garbage here; start with kicks wanted. */
	st16(USED_FLAGS(vq), 0, memory_order_relaxed);
	st16(USED_IDX(vq), 0, memory_order_relaxed);
	st16(USED_AVAIL_EVENT(vq), 0, memory_order_relaxed);
	vq->ready = true;
	return 0;
}

/* ---- Popping ---------------------------------------------------------- */

static int vq_fail(struct virtqueue *vq, enum virtio_err why, int err)
{
	vq->broken = true;
	vq->err = why;
	return err;
}

/* Refresh shadow_avail; false (and the queue broken) if the driver's index is impossible. */
static bool refresh_avail(struct virtqueue *vq)
{
	uint16_t idx = ld16(AVAIL_IDX(vq), memory_order_acquire);

	if ((uint16_t)(idx - vq->last_avail) > vq->size) {
		vq_fail(vq, VIRTIO_ERR_AVAIL_IDX, -EINVAL);
		return false;
	}
	vq->shadow_avail = idx;
	return true;
}

uint16_t vq_avail_count(struct virtqueue *vq)
{
	if (!vq->ready || vq->broken || !refresh_avail(vq))
		return 0;
	return (uint16_t)(vq->shadow_avail - vq->last_avail);
}

static int walk_chain(struct virtqueue *vq, uint16_t head, struct vq_chain *c)
{
	const uint8_t *table = vq->desc;
	uint32_t table_size = vq->size;
	uint32_t idx = head;
	unsigned direct = 0, in_table = 0, total = 0;
	bool indirect = false, seen_write = false;
	uint64_t bytes = 0;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		struct desc d;
		bool write;
		void *p;

		/*
		 * Every walk step is counted against three caps, so a loop in
		 * either table ends here no matter how next indices are set.
		 */
		if (++total > VQ_MAX_CHAIN)
			return vq_fail(vq, VIRTIO_ERR_CHAIN_TOO_LONG, -ELOOP);
		if (indirect ? ++in_table > table_size : ++direct > vq->size)
			return vq_fail(vq, VIRTIO_ERR_CHAIN_TOO_LONG, -ELOOP);
		read_desc(table, idx, &d);

		if (d.flags & DESC_F_INDIRECT) {
			uint64_t n;

			if (!vq->indirect)
				return vq_fail(vq, VIRTIO_ERR_INDIRECT_FEATURE, -EINVAL);
			if (indirect)
				return vq_fail(vq, VIRTIO_ERR_INDIRECT_NESTED, -EINVAL);
			if (d.flags & DESC_F_NEXT)
				return vq_fail(vq, VIRTIO_ERR_INDIRECT_NEXT, -EINVAL);
			n = d.len / 16;
			if (!d.len || d.len % 16 || n > VQ_MAX_INDIRECT)
				return vq_fail(vq, VIRTIO_ERR_INDIRECT_LEN, -EINVAL);
			/* The WRITE flag of the indirect descriptor itself is ignored (spec). */
			table = gmem_translate(vq->gmem, vq->dev, d.addr, d.len, DMA_TO_DEVICE);
			if (!table)
				return vq_fail(vq, VIRTIO_ERR_DMA, -EFAULT);
			table_size = (uint32_t)n;
			indirect = true;
			idx = 0;
			continue;
		}

		if (!d.len)
			return vq_fail(vq, VIRTIO_ERR_ZERO_LEN, -EINVAL);
		write = d.flags & DESC_F_WRITE;
		if (!write && seen_write)
			return vq_fail(vq, VIRTIO_ERR_ORDER, -EINVAL);
		bytes += d.len;
		if (bytes > vq->max_chain_bytes)
			return vq_fail(vq, VIRTIO_ERR_TOO_BIG, -E2BIG);
		if (c->n_out + c->n_in >= c->iov_cap)
			return vq_fail(vq, VIRTIO_ERR_IOV_FULL, -E2BIG);
		p = gmem_translate(vq->gmem, vq->dev, d.addr, d.len,
				   write ? DMA_FROM_DEVICE : DMA_TO_DEVICE);
		if (!p)
			return vq_fail(vq, VIRTIO_ERR_DMA, -EFAULT);
		c->iov[c->n_out + c->n_in] = (struct iovec){ .iov_base = p, .iov_len = d.len };
		if (write) {
			seen_write = true;
			c->n_in++;
			c->in_len += d.len;
		} else {
			c->n_out++;
			c->out_len += d.len;
		}

		if (!(d.flags & DESC_F_NEXT))
			break;
		if (d.next >= table_size)
			return vq_fail(vq, VIRTIO_ERR_NEXT_INDEX, -EINVAL);
		idx = d.next;
	}
	c->ndesc = (uint16_t)total;
	return 1;
}

int vq_pop(struct virtqueue *vq, struct vq_chain *c)
{
	uint16_t head;
	int r;

	if (!vq->ready)
		return 0;
	if (vq->broken)
		return -EIO;
	if (vq->last_avail == vq->shadow_avail) {
		if (!refresh_avail(vq))
			return -EINVAL;
		if (vq->last_avail == vq->shadow_avail)
			return 0;
	}
	/* Acquire on avail->idx (refresh_avail) orders this read after it. */
	head = ld16(AVAIL_RING(vq, vq->last_avail & (vq->size - 1)), memory_order_relaxed);
	if (head >= vq->size)
		return vq_fail(vq, VIRTIO_ERR_HEAD_INDEX, -EINVAL);
	r = walk_chain(vq, head, c);
	if (r < 0)
		return r;
	vq->last_avail++;
	if (vq->event_idx && vq->notify_enabled)
		st16(USED_AVAIL_EVENT(vq), vq->last_avail, memory_order_relaxed);
	return 1;
}

void vq_unpop(struct virtqueue *vq, uint16_t n)
{
	vq->last_avail -= n;
	if (vq->ready && vq->event_idx && vq->notify_enabled)
		st16(USED_AVAIL_EVENT(vq), vq->last_avail, memory_order_relaxed);
}

/* ---- Completing --------------------------------------------------------- */

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	uint8_t *e;

	if (!vq->ready)
		return;
	e = USED_ELEM(vq, vq->used_idx & (vq->size - 1));
	st32(e, head);
	st32(e + 4, len);
	vq->used_idx++;
}

void vq_flush(struct virtqueue *vq)
{
	if (!vq->ready)
		return;
	/* Release: the elements above become visible before the new index. */
	st16(USED_IDX(vq), vq->used_idx, memory_order_release);
}

bool vq_should_notify(struct virtqueue *vq)
{
	uint16_t old, event;
	bool valid;

	if (!vq->ready)
		return false;
	/* Our used idx store must be visible before we read the driver's wishes. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!vq->event_idx)
		return !(ld16(AVAIL_FLAGS(vq), memory_order_relaxed) & AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	valid = vq->signalled_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	event = ld16(AVAIL_USED_EVENT(vq), memory_order_relaxed);
	return vq_need_event(event, vq->used_idx, old);
}

void vq_disable_notify(struct virtqueue *vq)
{
	if (!vq->ready || !vq->notify_enabled)
		return;
	vq->notify_enabled = false;
	/* With EVENT_IDX the stale avail_event already suppresses kicks. */
	if (!vq->event_idx)
		st16(USED_FLAGS(vq), USED_F_NO_NOTIFY, memory_order_relaxed);
}

void vq_suppress_notify(struct virtqueue *vq)
{
	if (!vq->ready || vq->broken)
		return;
	vq->notify_enabled = false;
	if (vq->event_idx)
		st16(USED_AVAIL_EVENT(vq), (uint16_t)(vq->last_avail - 1), memory_order_relaxed);
	else
		st16(USED_FLAGS(vq), USED_F_NO_NOTIFY, memory_order_relaxed);
}

bool vq_enable_notify(struct virtqueue *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	vq->notify_enabled = true;
	if (vq->event_idx)
		st16(USED_AVAIL_EVENT(vq), vq->last_avail, memory_order_relaxed);
	else
		st16(USED_FLAGS(vq), 0, memory_order_relaxed);
	/* Publish before re-checking, or a buffer added in between is never seen. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!refresh_avail(vq))
		return true; /* the next pop reports the malformed index */
	return vq->shadow_avail != vq->last_avail;
}

bool vq_notify_on_more(struct virtqueue *vq)
{
	uint16_t seen;

	if (!vq->ready || vq->broken)
		return false;
	vq->notify_enabled = true;
	if (!refresh_avail(vq))
		return true;
	seen = vq->shadow_avail;
	if (vq->event_idx)
		st16(USED_AVAIL_EVENT(vq), seen, memory_order_relaxed);
	else
		st16(USED_FLAGS(vq), 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	/* A buffer added before our store was published would not kick us. */
	if (!refresh_avail(vq))
		return true;
	return vq->shadow_avail != seen;
}
