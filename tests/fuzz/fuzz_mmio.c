// SPDX-License-Identifier: MIT
/*
 * Fuzz the virtio-mmio register handler and the device core's state
 * machine with sequences of guest accesses, kicks and RAM writes, on a
 * small echo device (2 queues) whose rings live in fuzzed guest RAM.
 *
 * Invariants after every step: DRIVER_OK only with FEATURES_OK, negotiated
 * features a subset of the offered ones and with VERSION_1, a ready queue
 * has a power-of-two size within QueueNumMax and ring pointers in RAM.
 */
#include <string.h>

#include "fuzz/fuzz.h"
#include "fuzz/fake_vm.h"
#include "virtio/iov.h"
#include "virtio/virtio.h"

#define RAM  0x10000
#define BASE LVMM_VIRTIO_MMIO_BASE
#define QMAX 16

struct echo {
	struct virtio_dev vdev;
	struct iovec iov[8];
	uint8_t config[12];
};

static void echo_notify(struct virtio_dev *vdev, unsigned q)
{
	struct echo *e = vdev->priv;
	struct vq_chain c = { .iov = e->iov, .iov_cap = 8 };
	uint8_t buf[64];
	unsigned budget = 32;
	bool pushed = false;

	while (budget-- && virtio_pop(vdev, q, &c) == 1) {
		size_t n = iov_to_buf(c.iov, c.n_out, 0, buf, sizeof(buf));

		n = iov_from_buf(c.iov + c.n_out, c.n_in, 0, buf, n);
		virtio_push(vdev, q, c.head, (uint32_t)n);
		pushed = true;
	}
	if (pushed)
		virtio_flush(vdev, q);
}

static void echo_config_read(struct virtio_dev *vdev, uint32_t off, void *data, uint32_t len)
{
	struct echo *e = vdev->priv;

	virtio_config_copy(e->config, sizeof(e->config), off, data, len);
}

static void echo_config_write(struct virtio_dev *vdev, uint32_t off, const void *data, uint32_t len)
{
	struct echo *e = vdev->priv;

	FUZZ_CHECK(off + len <= sizeof(e->config));
	memcpy(e->config + off, data, len);
}

static int echo_features_ok(struct virtio_dev *vdev, uint64_t f)
{
	(void)vdev;
	return f & (1ULL << 4) ? -EINVAL : 0; /* a device may refuse combinations */
}

static const struct virtio_dev_ops echo_ops = {
	.name = "echo",
	.device_id = 0x2a,
	.features = (1ULL << 3) | (1ULL << 4),
	.num_queues = 2,
	.queue_max_size = QMAX,
	.config_size = 12,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.features_ok = echo_features_ok,
	.queue_notify = echo_notify,
};

static void check_invariants(struct echo *e, struct vm *vm)
{
	struct virtio_dev *v = &e->vdev;
	unsigned q;

	if (v->status & VIRTIO_STATUS_DRIVER_OK)
		FUZZ_CHECK(v->status & VIRTIO_STATUS_FEATURES_OK);
	if (v->status & VIRTIO_STATUS_FEATURES_OK) {
		FUZZ_CHECK(!(v->features & ~v->host_features));
		FUZZ_CHECK(v->features & (1ULL << 32));
	}
	for (q = 0; q < 2; q++) {
		const struct virtqueue *vq = &v->vqs[q];

		if (!vq->ready)
			continue;
		FUZZ_CHECK(vq->size && vq->size <= QMAX && !(vq->size & (vq->size - 1)));
		FUZZ_CHECK(vq->desc >= vm->mem && vq->desc + 16 * vq->size <= vm->mem + RAM);
		FUZZ_CHECK(vq->used >= vm->mem && vq->used + 6 + 8 * vq->size <= vm->mem + RAM);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t lens[] = { 1, 2, 4, 8 };
	struct fin in = { data, size };
	struct vm *vm;
	struct echo *e;
	unsigned steps = 0;

	log_level = LOG_ERR;
	vm = fake_vm_new(RAM, NULL, 0);
	e = calloc(1, sizeof(*e));
	if (!vm || !e)
		abort();
	FUZZ_CHECK(virtio_dev_init(&e->vdev, &echo_ops, vm, &vm->gmem, "fuzz0", e) == 0);
	FUZZ_CHECK(virtio_mmio_create(vm, &e->vdev) == 0);

	while (in.left && steps++ < 512) {
		uint8_t op = fin_u8(&in);
		uint64_t v64 = 0;
		uint32_t len, off;

		switch (op % 8) {
		case 0:
			mmio_wr(vm, BASE, (fin_u8(&in) * 4U) & 0xfc, fin_u32(&in));
			break;
		case 1:
			(void)mmio_rd(vm, BASE, (fin_u8(&in) * 4U) & 0xfc);
			break;
		case 2:
			off = VMMIO_CONFIG + fin_u8(&in) % 16;
			len = lens[op >> 3 & 3];
			v64 = fin_u64(&in);
			bus_access(&vm->mmio, (op >> 5) & 1, BASE + off, &v64, len);
			break;
		case 3:
			off = fin_u16(&in) & 0xfff;
			len = lens[op >> 3 & 3];
			v64 = fin_u64(&in);
			bus_access(&vm->mmio, (op >> 5) & 1, BASE + off, &v64, len);
			break;
		case 4:
			fake_kick(BASE, fin_u8(&in) % 3);
			break;
		case 5:
			fake_run(vm);
			break;
		case 6:
			off = fin_u16(&in);
			len = fin_u8(&in);
			if (off + len > RAM)
				len = RAM - off;
			fin_copy(&in, vm->mem + off, len);
			break;
		default: {
			/* A whole driver bring-up, so deep states are one step away. */
			struct gq qs[2];
			uint64_t feat = fin_u64(&in);

			gq_init(&qs[0], vm->mem, (uint16_t)(1u << (fin_u8(&in) % 5)), 0x1000, 0x2000,
				0x3000);
			gq_init(&qs[1], vm->mem, (uint16_t)(1u << (fin_u8(&in) % 5)), 0x4000, 0x5000,
				0x6000);
			(void)fake_driver_init(vm, BASE, feat, qs, 2);
			break;
		}
		}
		check_invariants(e, vm);
	}
	fake_run(vm);
	check_invariants(e, vm);
	virtio_mmio_destroy(&e->vdev);
	virtio_dev_uninit(&e->vdev);
	free(e);
	fake_vm_free(vm);
	return 0;
}
