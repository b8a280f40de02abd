/* SPDX-License-Identifier: MIT */
/* virtio-mmio transport and split virtqueues (virtio 1.x). */
#include "virtio.h"

static uint32_t rd(struct virtio_dev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void wr(struct virtio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

uint32_t virtio_reg_read(struct virtio_dev *d, uint32_t off)
{
	return rd(d, off);
}

void virtio_reg_write(struct virtio_dev *d, uint32_t off, uint32_t v)
{
	wr(d, off, v);
}

/* "SIZE@BASE:IRQ[:ID]", SIZE with an optional K/M/G suffix. */
static int parse_device(const char *s, struct virtio_dev *d)
{
	const char *p;
	uint64_t size = rt_strtou64(s, &p);
	if (p == s)
		return -1;
	if (*p == 'K' || *p == 'k')
		size <<= 10, p++;
	else if (*p == 'M' || *p == 'm')
		size <<= 20, p++;
	else if (*p == 'G' || *p == 'g')
		size <<= 30, p++;
	if (*p++ != '@')
		return -1;
	const char *b = p;
	uint64_t base = rt_strtou64(b, &p);
	if (p == b || *p++ != ':')
		return -1;
	const char *i = p;
	uint64_t irq = rt_strtou64(i, &p);
	if (p == i || size < 0x200 || base >= (1ULL << 32))
		return -1;
	d->base = base;
	d->size = size;
	d->irq = (uint32_t)irq;
	return 0;
}

int virtio_discover(struct virtio_dev *devs, int max)
{
	char word[64];
	int n = 0;
	for (int k = 0; n < max &&
	     rt_cmdline_get_nth("virtio_mmio.device", k, word, sizeof(word)) >= 0; k++) {
		struct virtio_dev d = { 0 };
		if (parse_device(word, &d))
			continue;
		if (rd(&d, VIRTIO_MMIO_MAGIC) != MAGIC_VIRT ||
		    rd(&d, VIRTIO_MMIO_VERSION) != 2)
			continue;
		d.device_id = rd(&d, VIRTIO_MMIO_DEVICE_ID);
		if (!d.device_id)
			continue; /* empty slot */
		devs[n++] = d;
	}
	return n;
}

int virtio_find(uint32_t device_id, int nth, struct virtio_dev *dev)
{
	struct virtio_dev devs[VIRTIO_MAX_DEVICES];
	int n = virtio_discover(devs, VIRTIO_MAX_DEVICES);
	for (int i = 0; i < n; i++)
		if (devs[i].device_id == device_id && nth-- == 0) {
			*dev = devs[i];
			return 0;
		}
	return -1;
}

uint32_t virtio_status(struct virtio_dev *d)
{
	return rd(d, VIRTIO_MMIO_STATUS);
}

void virtio_fail(struct virtio_dev *d)
{
	wr(d, VIRTIO_MMIO_STATUS, rd(d, VIRTIO_MMIO_STATUS) | VIRTIO_S_FAILED);
}

int virtio_init(struct virtio_dev *d, uint64_t wanted)
{
	wr(d, VIRTIO_MMIO_STATUS, 0);
	for (int i = 0; i < 1000 && rd(d, VIRTIO_MMIO_STATUS); i++)
		cpu_relax();
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	uint64_t offered = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr(d, VIRTIO_MMIO_DEV_FEAT_SEL, sel);
		offered |= (uint64_t)rd(d, VIRTIO_MMIO_DEV_FEATURES) << (32 * sel);
	}
	if (!(offered & VIRTIO_F_VERSION_1)) {
		virtio_fail(d);
		return -1;
	}
	d->features = offered & (wanted | VIRTIO_F_VERSION_1);
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr(d, VIRTIO_MMIO_DRV_FEAT_SEL, sel);
		wr(d, VIRTIO_MMIO_DRV_FEATURES, (uint32_t)(d->features >> (32 * sel)));
	}
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	if (!(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_S_FEATURES_OK)) {
		virtio_fail(d);
		return -1;
	}
	return 0;
}

void virtio_driver_ok(struct virtio_dev *d)
{
	wr(d, VIRTIO_MMIO_STATUS, rd(d, VIRTIO_MMIO_STATUS) | VIRTIO_S_DRIVER_OK);
}

void virtio_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			uint32_t len)
{
	uint8_t *b = buf;
	uint32_t gen;
	do {
		gen = rd(d, VIRTIO_MMIO_CONFIG_GEN);
		for (uint32_t i = 0; i < len; i++)
			b[i] = mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off + i);
	} while (gen != rd(d, VIRTIO_MMIO_CONFIG_GEN));
}

uint32_t virtio_irq_ack(struct virtio_dev *d)
{
	uint32_t s = rd(d, VIRTIO_MMIO_IRQ_STATUS);
	if (s)
		wr(d, VIRTIO_MMIO_IRQ_ACK, s);
	return s;
}

/*
 * One page per queue: descriptors at 0 (16 * 128 = 2 KiB), the available
 * ring at 2 KiB, the used ring at 2.5 KiB (needs 4-byte alignment, 1030 B).
 */
#define VQ_POOL 32
static uint8_t vq_pool[VQ_POOL][4096] __attribute__((aligned(4096)));
static int vq_used_pages;

int virtq_setup(struct virtio_dev *d, struct virtq *q, unsigned index,
		unsigned max)
{
	if (vq_used_pages >= VQ_POOL)
		return -1;
	if (virtq_setup_at(d, q, index, max, vq_pool[vq_used_pages]))
		return -1;
	vq_used_pages++;
	return 0;
}

int virtq_setup_at(struct virtio_dev *d, struct virtq *q, unsigned index,
		   unsigned max, void *mem)
{
	if ((uintptr_t)mem & 4095)
		return -1;
	wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (rd(d, VIRTIO_MMIO_QUEUE_READY))
		return -1;
	unsigned size = rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!size)
		return -1;
	if (size > max)
		size = max;
	if (size > VIRTQ_MAX_SIZE)
		size = VIRTQ_MAX_SIZE;
	/* Split queue sizes are powers of two. */
	while (size & (size - 1))
		size &= size - 1;
	uint8_t *page = mem;
	memset(page, 0, 4096);
	q->dev = d;
	q->index = (uint16_t)index;
	q->size = (uint16_t)size;
	q->desc = (struct vring_desc *)(void *)page;
	q->avail = (struct vring_avail *)(void *)(page + 2048);
	q->used = (struct vring_used *)(void *)(page + 2560);
	for (unsigned i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->free_head = 0;
	q->num_free = (uint16_t)size;
	q->last_used = 0;
	q->kicked_avail = 0;
	q->kicks = 0;
	q->event_idx = !!(d->features & VIRTIO_F_EVENT_IDX);

	uint64_t da = (uint64_t)(uintptr_t)q->desc;
	uint64_t aa = (uint64_t)(uintptr_t)q->avail;
	uint64_t ua = (uint64_t)(uintptr_t)q->used;
	wr(d, VIRTIO_MMIO_QUEUE_NUM, size);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LO, (uint32_t)da);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_HI, (uint32_t)(da >> 32));
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LO, (uint32_t)aa);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HI, (uint32_t)(aa >> 32));
	wr(d, VIRTIO_MMIO_QUEUE_USED_LO, (uint32_t)ua);
	wr(d, VIRTIO_MMIO_QUEUE_USED_HI, (uint32_t)(ua >> 32));
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

int virtq_add(struct virtq *q, const struct virtq_buf *bufs, int n)
{
	if (n < 1 || n > q->num_free)
		return -1;
	uint16_t head = q->free_head, i = head, last = head;
	for (int k = 0; k < n; k++) {
		struct vring_desc *dsc = &q->desc[i];
		dsc->addr = (uint64_t)(uintptr_t)bufs[k].addr;
		dsc->len = bufs[k].len;
		dsc->flags = (uint16_t)((bufs[k].device_writes ? VRING_DESC_F_WRITE : 0) |
					(k + 1 < n ? VRING_DESC_F_NEXT : 0));
		last = i;
		i = dsc->next;
	}
	q->free_head = q->desc[last].next;
	q->num_free = (uint16_t)(q->num_free - n);
	q->chain_len[head] = (uint16_t)n;
	uint16_t ai = q->avail->idx;
	q->avail->ring[ai % q->size] = head;
	/* The ring entry (and the descriptors) before the index. */
	__atomic_store_n(&q->avail->idx, (uint16_t)(ai + 1), __ATOMIC_RELEASE);
	return head;
}

void virtq_kick(struct virtq *q)
{
	mb();
	q->kicks++;
	q->kicked_avail = q->avail->idx;
	wr(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/* used_event follows the available ring; avail_event follows the used ring. */
static volatile uint16_t *used_event(struct virtq *q)
{
	return &q->avail->ring[q->size];
}

static volatile uint16_t *avail_event(struct virtq *q)
{
	return (volatile uint16_t *)(void *)&q->used->ring[q->size];
}

int virtq_kick_event(struct virtq *q)
{
	uint16_t new_idx = q->avail->idx, old = q->kicked_avail;
	/* The index before the device's wish (spec 2.7.10, vring_need_event). */
	mb();
	uint16_t ev = *avail_event(q);
	/*
	 * The window is what was added since the last *check*, as in Linux: an
	 * index the device asked for in an earlier window was already passed
	 * over; measured from the last kick instead, 65,536 buffers without a
	 * kick would make the window empty and no kick would ever come again.
	 */
	q->kicked_avail = new_idx;
	if ((uint16_t)(new_idx - ev - 1) >= (uint16_t)(new_idx - old))
		return 0;
	virtq_kick(q);
	return 1;
}

void virtq_want_interrupt(struct virtq *q, int want)
{
	/* Half the index space behind: the device's next crossing is 32768 chains away. */
	*used_event(q) = want ? q->last_used : (uint16_t)(q->last_used + 0x8000);
	mb();
}

int virtq_kick_if_needed(struct virtq *q)
{
	/* The avail index before the flag read: a device that clears the
	 * flag after our read has to look at the ring again. */
	mb();
	if (q->event_idx)
		return virtq_kick_event(q);
	if (__atomic_load_n(&q->used->flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY)
		return 0;
	q->kicks++;
	wr(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
	return 1;
}

void virtq_no_interrupt(struct virtq *q)
{
	__atomic_store_n(&q->avail->flags, VRING_AVAIL_F_NO_INTERRUPT, __ATOMIC_RELEASE);
}

int virtq_get(struct virtq *q, uint32_t *len)
{
	uint16_t used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	if (used_idx == q->last_used)
		return -1;
	struct vring_used_elem e = q->used->ring[q->last_used % q->size];
	q->last_used++;
	if (e.id >= q->size)
		return -1;      /* a broken device; nothing to free */
	uint16_t head = (uint16_t)e.id, i = head;
	uint16_t n = q->chain_len[head];
	for (uint16_t k = 1; k < n; k++)
		i = q->desc[i].next;
	q->desc[i].next = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + n);
	if (len)
		*len = e.len;
	return head;
}

int virtq_wait(struct virtq *q, uint32_t *len, uint64_t timeout_us)
{
	uint64_t end = rdtsc() + timeout_us * (rt_tsc_hz() / 1000000);
	for (;;) {
		int h = virtq_get(q, len);
		if (h >= 0)
			return h;
		if ((int64_t)(rdtsc() - end) > 0)
			return -1;
		cpu_relax();
	}
}
