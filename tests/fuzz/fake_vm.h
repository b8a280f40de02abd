/* SPDX-License-Identifier: MIT */
/*
 * A fake partition for virtio unit tests and fuzzers (no KVM): guest RAM is
 * a heap buffer behind the real translator (gmem), the MMIO bus and the
 * I/O thread's epoll set are the real ones, and the vm_* functions that
 * need KVM are replaced by eventfds:
 *   vm_irqfd       -> an eventfd we can read to count interrupts
 *   vm_ioeventfd   -> an eventfd; fake_kick() writes it as KVM would
 *   vm_alloc_virtio_slot, vm_event -> recorded
 * fake_run() dispatches ready handlers on the calling thread, the way
 * iothread_run() does, until nothing is pending.
 *
 * Include this in exactly one translation unit per test binary.
 */
#ifndef LVMM_FAKE_VM_H
#define LVMM_FAKE_VM_H

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lvmm/guest_abi.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

#define FAKE_MAX_FDS 64

struct fake_ioevent {
	uint64_t addr, data;
	int fd;
};

static struct {
	struct fake_ioevent ioev[FAKE_MAX_FDS];
	unsigned nioev;
	int irqfd[LVMM_VIRTIO_MMIO_MAX];
	unsigned nirq;
	unsigned events;
	uint32_t ev_kind;
	uint64_t ev_a, ev_b;
	char ev_dev[LVMM_NAME_MAX];
	bool fail_slot; /* make vm_alloc_virtio_slot fail */
} fake;

int vm_irqfd(struct vm *vm, uint32_t gsi, int *efd_out)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	(void)vm;
	(void)gsi;
	if (fd < 0)
		return -errno;
	if (fake.nirq < LVMM_VIRTIO_MMIO_MAX)
		fake.irqfd[fake.nirq++] = fd;
	*efd_out = fd;
	return 0;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool datamatch,
		 uint64_t data, int *efd_out)
{
	int fd;

	(void)vm;
	(void)len;
	(void)pio;
	(void)datamatch;
	if (fake.nioev >= FAKE_MAX_FDS)
		return -ENOSPC;
	fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	fake.ioev[fake.nioev++] = (struct fake_ioevent){ addr, data, fd };
	*efd_out = fd;
	return 0;
}

int vm_alloc_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *irq)
{
	static const uint32_t irqs[] = LVMM_VIRTIO_IRQS;

	if (fake.fail_slot || vm->nr_virtio_slots >= LVMM_VIRTIO_MMIO_MAX)
		return -ENOSPC;
	*base = LVMM_VIRTIO_MMIO_BASE + vm->nr_virtio_slots * LVMM_VIRTIO_MMIO_SIZE;
	*irq = irqs[vm->nr_virtio_slots];
	vm->nr_virtio_slots++;
	return 0;
}

void vm_event(struct vm *vm, uint32_t kind, const char *dev, uint64_t a, uint64_t b, uint64_t c)
{
	(void)vm;
	(void)c;
	fake.events++;
	fake.ev_kind = kind;
	fake.ev_a = a;
	fake.ev_b = b;
	snprintf(fake.ev_dev, sizeof(fake.ev_dev), "%s", dev ? dev : "");
}

/* A partition with ram bytes of RAM at guest-physical 0 and fds[] as its config fds. */
static inline struct vm *fake_vm_new(uint64_t ram, const int *fds, unsigned nfds)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	void *mem;

	if (!vm)
		return NULL;
	mem = aligned_alloc(4096, ram);
	if (!mem) {
		free(vm);
		return NULL;
	}
	memset(mem, 0, ram);
	memset(&fake, 0, sizeof(fake));
	vm->mem = mem;
	vm->mem_bytes = ram;
	vm->fds = fds;
	vm->nfds = nfds;
	bus_init(&vm->mmio, "mmio");
	bus_init(&vm->pio, "pio");
	if (gmem_add_slot(&vm->gmem, 0, ram, mem, 0, false) || iothread_init(&vm->io)) {
		free(mem);
		free(vm);
		return NULL;
	}
	return vm;
}

static inline void fake_vm_free(struct vm *vm)
{
	/* ioeventfds and irqfds belong to the devices: their destroy() closed them. */
	iothread_destroy(&vm->io);
	free(vm->mem);
	free(vm);
	memset(&fake, 0, sizeof(fake));
}

/* One round of the I/O thread: dispatch what is ready within timeout_ms. Returns events seen. */
static inline int fake_poll(struct vm *vm, int timeout_ms)
{
	int n = iothread_poll(&vm->io, timeout_ms);

	return n < 0 ? 0 : n;
}

/* Run the I/O thread until idle (bounded: a busy loop is a bug the test must see). */
static inline int fake_run(struct vm *vm)
{
	int rounds = 0;

	while (rounds < 10000 && fake_poll(vm, 0) > 0)
		rounds++;
	return rounds;
}

/* Doorbell for queue q of the device at base, as KVM's ioeventfd would ring it. */
static inline bool fake_kick(uint64_t base, unsigned q)
{
	uint64_t one = 1;
	unsigned i;

	for (i = 0; i < fake.nioev; i++) {
		if (fake.ioev[i].addr == base + VMMIO_QUEUE_NOTIFY && fake.ioev[i].data == q)
			return write(fake.ioev[i].fd, &one, sizeof(one)) == sizeof(one);
	}
	return false;
}

/* Interrupts sent on slot i's irqfd since the last call. */
static inline uint64_t fake_irqs(unsigned slot)
{
	uint64_t v = 0;

	if (slot >= fake.nirq || read(fake.irqfd[slot], &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* ---- MMIO register access through the real bus ---- */

static inline uint32_t mmio_rd(struct vm *vm, uint64_t base, uint64_t off)
{
	uint32_t v = 0;

	bus_access(&vm->mmio, false, base + off, &v, 4);
	return le32toh(v);
}

static inline void mmio_wr(struct vm *vm, uint64_t base, uint64_t off, uint32_t v)
{
	v = htole32(v);
	bus_access(&vm->mmio, true, base + off, &v, 4);
}

/* ---- A tiny guest-side split-ring driver ---- */

struct gq {
	uint8_t *mem;      /* guest RAM (gpa 0) */
	uint16_t size;
	uint64_t desc, avail, used; /* gpas */
	uint16_t avail_idx, used_seen;
};

static inline void gq_init(struct gq *q, uint8_t *mem, uint16_t size, uint64_t desc,
			   uint64_t avail, uint64_t used)
{
	*q = (struct gq){ .mem = mem, .size = size, .desc = desc, .avail = avail, .used = used };
	memset(mem + desc, 0, 16ULL * size);
	memset(mem + avail, 0, 6 + 2ULL * size);
	memset(mem + used, 0, 6 + 8ULL * size);
}

static inline void gq_desc(struct gq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
			   uint16_t next)
{
	uint8_t *d = q->mem + q->desc + 16ULL * i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &f, 2);
	memcpy(d + 14, &n, 2);
}

/* Write a raw descriptor anywhere in RAM (indirect tables). */
static inline void gq_desc_at(uint8_t *mem, uint64_t gpa, uint64_t addr, uint32_t len,
			      uint16_t flags, uint16_t next)
{
	struct gq tmp = { .mem = mem, .desc = gpa };

	gq_desc(&tmp, 0, addr, len, flags, next);
}

static inline void gq_put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static inline uint16_t gq_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t gq_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* Make chain head available (and publish the new avail idx). */
static inline void gq_publish(struct gq *q, uint16_t head)
{
	gq_put16(q->mem + q->avail + 4 + 2ULL * (q->avail_idx % q->size), head);
	q->avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gq_put16(q->mem + q->avail + 2, q->avail_idx);
}

static inline void gq_set_avail_idx(struct gq *q, uint16_t idx)
{
	q->avail_idx = idx;
	gq_put16(q->mem + q->avail + 2, idx);
}

static inline void gq_set_used_event(struct gq *q, uint16_t v)
{
	gq_put16(q->mem + q->avail + 4 + 2ULL * q->size, v);
}

static inline uint16_t gq_avail_event(const struct gq *q)
{
	return gq_get16(q->mem + q->used + 4 + 8ULL * q->size);
}

static inline uint16_t gq_used_idx(const struct gq *q)
{
	return gq_get16(q->mem + q->used + 2);
}

/* Next used element, if any. */
static inline bool gq_get_used(struct gq *q, uint32_t *id, uint32_t *len)
{
	const uint8_t *e;

	if (gq_used_idx(q) == q->used_seen)
		return false;
	e = q->mem + q->used + 4 + 8ULL * (q->used_seen % q->size);
	*id = gq_get32(e);
	*len = gq_get32(e + 4);
	q->used_seen++;
	return true;
}

/*
 * Bring a virtio-mmio device at base to DRIVER_OK with feature set feat
 * (low 32 | high 32), setting up queues 0..nq-1 from qs[]. Returns the
 * status read back.
 */
static inline uint32_t fake_driver_init(struct vm *vm, uint64_t base, uint64_t feat,
					struct gq *qs, unsigned nq)
{
	unsigned i;

	mmio_wr(vm, base, VMMIO_STATUS, 0);
	mmio_wr(vm, base, VMMIO_STATUS, 1);
	mmio_wr(vm, base, VMMIO_STATUS, 1 | 2);
	mmio_wr(vm, base, VMMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(vm, base, VMMIO_DRIVER_FEATURES, (uint32_t)feat);
	mmio_wr(vm, base, VMMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(vm, base, VMMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	mmio_wr(vm, base, VMMIO_STATUS, 1 | 2 | 8);
	if (!(mmio_rd(vm, base, VMMIO_STATUS) & 8))
		return mmio_rd(vm, base, VMMIO_STATUS);
	for (i = 0; i < nq; i++) {
		mmio_wr(vm, base, VMMIO_QUEUE_SEL, i);
		mmio_wr(vm, base, VMMIO_QUEUE_NUM, qs[i].size);
		mmio_wr(vm, base, VMMIO_QUEUE_DESC_LOW, (uint32_t)qs[i].desc);
		mmio_wr(vm, base, VMMIO_QUEUE_DESC_HIGH, (uint32_t)(qs[i].desc >> 32));
		mmio_wr(vm, base, VMMIO_QUEUE_DRIVER_LOW, (uint32_t)qs[i].avail);
		mmio_wr(vm, base, VMMIO_QUEUE_DRIVER_HIGH, (uint32_t)(qs[i].avail >> 32));
		mmio_wr(vm, base, VMMIO_QUEUE_DEVICE_LOW, (uint32_t)qs[i].used);
		mmio_wr(vm, base, VMMIO_QUEUE_DEVICE_HIGH, (uint32_t)(qs[i].used >> 32));
		mmio_wr(vm, base, VMMIO_QUEUE_READY, 1);
	}
	mmio_wr(vm, base, VMMIO_STATUS, 1 | 2 | 8 | 4);
	return mmio_rd(vm, base, VMMIO_STATUS);
}

#endif
