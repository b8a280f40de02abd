// SPDX-License-Identifier: MIT
/*
 * virtio-mmio transport and device core, driven through the real MMIO bus
 * and the I/O thread's epoll set, with a tiny "echo" device: each chain's
 * readable bytes are copied into its writable part.
 */
#include <errno.h>

#include "unit.h"
#include "fuzz/fake_vm.h"
#include "virtio/iov.h"
#include "virtio/mmio.h"
#include "virtio/virtio.h"

#define RAM   (1024 * 1024)
#define BASE  LVMM_VIRTIO_MMIO_BASE
#define QSZ   16
#define VER1  (1ULL << 32)
#define EVIDX (1ULL << 29)
#define INDIR (1ULL << 28)

struct echo {
	struct virtio_dev vdev;
	struct iovec iov[8];
	unsigned notified;
	uint8_t config[12];
};

static void echo_notify(struct virtio_dev *vdev, unsigned q)
{
	struct echo *e = vdev->priv;
	struct vq_chain c = { .iov = e->iov, .iov_cap = 8 };
	uint8_t buf[256];
	bool pushed = false;
	int r;

	e->notified++;
	while ((r = virtio_pop(vdev, q, &c)) == 1) {
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

	memcpy(e->config + off, data, len);
}

static const struct virtio_dev_ops echo_ops = {
	.name = "echo",
	.device_id = 0x2a,
	.features = 1ULL << 3,
	.num_queues = 2,
	.queue_max_size = QSZ,
	.config_size = 12,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.queue_notify = echo_notify,
};

static struct vm *vm;
static struct echo dev;
static struct gq q0, q1;

static void setup(void)
{
	unsigned i;

	vm = fake_vm_new(RAM, NULL, 0);
	if (!vm)
		abort();
	memset(&dev, 0, sizeof(dev));
	if (virtio_dev_init(&dev.vdev, &echo_ops, vm, &vm->gmem, "echo0", &dev) ||
	    virtio_mmio_create(vm, &dev.vdev))
		abort();
	for (i = 0; i < sizeof(dev.config); i++)
		dev.config[i] = (uint8_t)(0x10 + i);
	gq_init(&q0, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	gq_init(&q1, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
}

static void teardown(void)
{
	virtio_mmio_destroy(&dev.vdev);
	virtio_dev_uninit(&dev.vdev);
	fake_vm_free(vm);
}

static uint32_t rd(uint64_t off)
{
	return mmio_rd(vm, BASE, off);
}

static void wr(uint64_t off, uint32_t v)
{
	mmio_wr(vm, BASE, off, v);
}

static uint32_t start(uint64_t feat)
{
	struct gq qs[2] = { q0, q1 };

	return fake_driver_init(vm, BASE, feat, qs, 2);
}

/* Post one echo request on q: out bytes at 0x10000, in buffer at 0x20000. */
static void post_echo(struct gq *q, uint16_t d, const char *msg)
{
	memcpy(vm->mem + 0x10000 + 0x100 * d, msg, strlen(msg));
	gq_desc(q, d, 0x10000 + 0x100 * d, (uint32_t)strlen(msg), 1, (uint16_t)(d + 1));
	gq_desc(q, (uint16_t)(d + 1), 0x20000 + 0x100 * d, 64, 2, 0);
	gq_publish(q, d);
}

static void test_identity(void)
{
	setup();
	CHECK_EQ(rd(VMMIO_MAGIC), 0x74726976);
	CHECK_EQ(rd(VMMIO_VERSION), 2);
	CHECK_EQ(rd(VMMIO_DEVICE_ID), 0x2a);
	CHECK_EQ(rd(VMMIO_VENDOR_ID), VIRTIO_VENDOR_ID);
	wr(VMMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(VMMIO_QUEUE_NUM_MAX), QSZ);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_SEL, 2);
	CHECK_EQ(rd(VMMIO_QUEUE_NUM_MAX), 0); /* no such queue */
	wr(VMMIO_QUEUE_SEL, 0xffffffff);
	CHECK_EQ(rd(VMMIO_QUEUE_NUM_MAX), 0);
	CHECK_EQ(rd(VMMIO_SHM_LEN_LOW), 0xffffffff);
	CHECK_EQ(rd(VMMIO_SHM_LEN_HIGH), 0xffffffff);
	CHECK_EQ(rd(VMMIO_STATUS), 0);
	CHECK_EQ(rd(VMMIO_CONFIG_GENERATION), 0);
	/* Bus registration covers exactly one 4 KiB slot. */
	CHECK(bus_find(&vm->mmio, BASE, 4) != NULL);
	CHECK(bus_find(&vm->mmio, BASE + 0xffc, 4) != NULL);
	CHECK(bus_find(&vm->mmio, BASE + 0x1000, 4) == NULL);
	teardown();
}

static void test_features(void)
{
	setup();
	wr(VMMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_EQ(rd(VMMIO_DEVICE_FEATURES), (1U << 3) | (1U << 28) | (1U << 29));
	wr(VMMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd(VMMIO_DEVICE_FEATURES), 1);
	wr(VMMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(rd(VMMIO_DEVICE_FEATURES), 0);
	CHECK_EQ(start(VER1 | EVIDX | (1ULL << 3)), 0xf);
	CHECK_EQ(dev.vdev.features, VER1 | EVIDX | (1ULL << 3));
	CHECK(dev.vdev.vqs[0].event_idx);
	CHECK(!dev.vdev.vqs[0].indirect);
	/* Feature writes after FEATURES_OK do not count. */
	wr(VMMIO_DRIVER_FEATURES_SEL, 0);
	wr(VMMIO_DRIVER_FEATURES, 0xffffffff);
	CHECK_EQ(dev.vdev.features, VER1 | EVIDX | (1ULL << 3));
	teardown();
}

static void test_features_refused(void)
{
	setup();
	/* No VERSION_1: a legacy driver. */
	CHECK_EQ(start(EVIDX), 1 | 2);
	wr(VMMIO_STATUS, 1 | 2 | 8 | 4);
	CHECK_EQ(rd(VMMIO_STATUS) & 4, 0); /* no DRIVER_OK without FEATURES_OK */
	/* A feature we did not offer. */
	CHECK_EQ(start(VER1 | (1ULL << 40)), 1 | 2);
	CHECK_EQ(start(VER1 | (1ULL << 0)), 1 | 2);
	/* A bit above 63. */
	wr(VMMIO_STATUS, 0);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, 1);
	wr(VMMIO_DRIVER_FEATURES_SEL, 2);
	wr(VMMIO_DRIVER_FEATURES, 4);
	wr(VMMIO_STATUS, 3 | 8);
	CHECK_EQ(rd(VMMIO_STATUS), 3);
	/* A clean negotiation after reset works. */
	CHECK_EQ(start(VER1), 0xf);
	teardown();
}

static void test_status_machine(void)
{
	setup();
	wr(VMMIO_STATUS, 2); /* DRIVER without ACKNOWLEDGE */
	CHECK_EQ(rd(VMMIO_STATUS), 0);
	wr(VMMIO_STATUS, 1);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_STATUS, 1); /* clearing DRIVER */
	CHECK_EQ(rd(VMMIO_STATUS), 3);
	wr(VMMIO_STATUS, 0x103); /* beyond 8 bits */
	CHECK_EQ(rd(VMMIO_STATUS), 3);
	wr(VMMIO_STATUS, 3 | 0x40); /* NEEDS_RESET is the device's bit */
	CHECK_EQ(rd(VMMIO_STATUS), 3);
	wr(VMMIO_STATUS, 3 | 0x80);
	CHECK_EQ(rd(VMMIO_STATUS), 0x83);
	wr(VMMIO_STATUS, 0);
	CHECK_EQ(rd(VMMIO_STATUS), 0);
	teardown();
}

static void test_access_width(void)
{
	uint8_t b = 1;
	uint16_t w = 0x1234;
	uint64_t qw = 0;

	setup();
	bus_access(&vm->mmio, true, BASE + VMMIO_STATUS, &b, 1);
	CHECK_EQ(rd(VMMIO_STATUS), 0);
	bus_access(&vm->mmio, false, BASE + VMMIO_MAGIC, &w, 2);
	CHECK_EQ(w, 0);
	bus_access(&vm->mmio, false, BASE + VMMIO_MAGIC, &qw, 8);
	CHECK_EQ(qw, 0);
	bus_access(&vm->mmio, false, BASE + VMMIO_MAGIC + 1, &w, 2);
	CHECK_EQ(w, 0);
	/* Config space: 1/2/4/8-byte naturally aligned accesses. */
	bus_access(&vm->mmio, false, BASE + VMMIO_CONFIG + 1, &b, 1);
	CHECK_EQ(b, 0x11);
	bus_access(&vm->mmio, false, BASE + VMMIO_CONFIG + 2, &w, 2);
	CHECK_EQ(w, 0x1312);
	bus_access(&vm->mmio, false, BASE + VMMIO_CONFIG + 8, &qw, 4);
	CHECK_EQ(qw, 0x1b1a1918);
	bus_access(&vm->mmio, false, BASE + VMMIO_CONFIG, &qw, 8);
	CHECK_EQ(qw, 0x1716151413121110ULL);
	w = 0xffff;
	bus_access(&vm->mmio, false, BASE + VMMIO_CONFIG + 1, &w, 2); /* unaligned */
	CHECK_EQ(w, 0);
	qw = 0xff;
	bus_access(&vm->mmio, false, BASE + VMMIO_CONFIG + 8, &qw, 8); /* past the end */
	CHECK_EQ(qw, 0);
	bus_access(&vm->mmio, false, BASE + 0xff0, &qw, 4); /* far past the end */
	CHECK_EQ(qw, 0);
	w = 0xbeef;
	bus_access(&vm->mmio, true, BASE + VMMIO_CONFIG + 4, &w, 2);
	CHECK_EQ(dev.config[4], 0xef);
	bus_access(&vm->mmio, true, BASE + VMMIO_CONFIG + 11, &w, 2); /* would run past */
	CHECK_EQ(dev.config[11], 0x1b);
	teardown();
}

static void test_queue_registers(void)
{
	setup();
	wr(VMMIO_STATUS, 1);
	wr(VMMIO_STATUS, 3);
	/* QueueReady before FEATURES_OK is ignored. */
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	CHECK_EQ(start(VER1), 0xf);
	wr(VMMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 1);
	CHECK_EQ(rd(VMMIO_QUEUE_DESC_LOW), 0x1000);
	/* Ready queue: configuration is frozen. */
	wr(VMMIO_QUEUE_NUM, 4);
	wr(VMMIO_QUEUE_DESC_LOW, 0x9000);
	wr(VMMIO_QUEUE_DEVICE_HIGH, 1);
	CHECK_EQ(rd(VMMIO_QUEUE_NUM), QSZ);
	CHECK_EQ(rd(VMMIO_QUEUE_DESC_LOW), 0x1000);
	CHECK_EQ(rd(VMMIO_QUEUE_DEVICE_HIGH), 0);
	/* Missing queue: writes go nowhere, reads are 0. */
	wr(VMMIO_QUEUE_SEL, 7);
	wr(VMMIO_QUEUE_NUM, 4);
	wr(VMMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VMMIO_QUEUE_NUM), 0);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	/* Disabling keeps the addresses; re-enabling restarts at index 0. */
	wr(VMMIO_QUEUE_SEL, 1);
	wr(VMMIO_QUEUE_READY, 0);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	CHECK_EQ(rd(VMMIO_QUEUE_DESC_LOW), 0x4000);
	wr(VMMIO_QUEUE_READY, 2); /* not 0/1 */
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 1);
	CHECK_EQ(rd(VMMIO_STATUS), 0xf);
	teardown();
}

static void test_data_path(void)
{
	uint32_t id = 0, len = 0;

	setup();
	CHECK_EQ(start(VER1), 0xf);
	fake_run(vm); /* DRIVER_OK sync */
	fake_irqs(0);
	post_echo(&q0, 0, "hello");
	CHECK(fake_kick(BASE, 0));
	fake_run(vm);
	CHECK(gq_get_used(&q0, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 5);
	CHECK(!memcmp(vm->mem + 0x20000, "hello", 5));
	CHECK_EQ(fake_irqs(0), 1);
	CHECK_EQ(rd(VMMIO_INTERRUPT_STATUS), 1);
	wr(VMMIO_INTERRUPT_ACK, 1);
	CHECK_EQ(rd(VMMIO_INTERRUPT_STATUS), 0);
	/* A QueueNotify write that reached us still runs on the I/O thread. */
	post_echo(&q1, 2, "world");
	wr(VMMIO_QUEUE_NOTIFY, 1);
	CHECK(!gq_get_used(&q1, &id, &len)); /* nothing happened on "the vCPU" */
	fake_run(vm);
	CHECK(gq_get_used(&q1, &id, &len));
	CHECK_EQ(id, 2);
	CHECK(!memcmp(vm->mem + 0x20200, "world", 5));
	/* Notify for a queue that does not exist: ignored. */
	dev.notified = 0;
	wr(VMMIO_QUEUE_NOTIFY, 9);
	fake_run(vm);
	CHECK_EQ(dev.notified, 0);
	teardown();
}

static void test_notify_before_driver_ok(void)
{
	uint32_t id = 0, len = 0;

	setup();
	/* FEATURES_OK + queues, buffers and a kick, and only then DRIVER_OK. */
	wr(VMMIO_STATUS, 1);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, 1);
	wr(VMMIO_STATUS, 3 | 8);
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_NUM, QSZ);
	wr(VMMIO_QUEUE_DESC_LOW, 0x1000);
	wr(VMMIO_QUEUE_DRIVER_LOW, 0x2000);
	wr(VMMIO_QUEUE_DEVICE_LOW, 0x3000);
	wr(VMMIO_QUEUE_READY, 1);
	post_echo(&q0, 0, "early");
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK(!gq_get_used(&q0, &id, &len));
	wr(VMMIO_STATUS, 0xf);
	fake_run(vm);
	CHECK(gq_get_used(&q0, &id, &len));
	CHECK_EQ(len, 5);
	teardown();
}

static void test_event_idx_suppression(void)
{
	uint32_t id = 0, len = 0;

	setup();
	CHECK_EQ(start(VER1 | EVIDX), 0xf);
	fake_run(vm);
	post_echo(&q0, 0, "a");
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK_EQ(fake_irqs(0), 1); /* the first is always sent */
	CHECK_EQ(gq_avail_event(&q0), 1);
	gq_set_used_event(&q0, 5); /* "interrupt me when used idx passes 5" */
	post_echo(&q0, 2, "b");
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK(gq_get_used(&q0, &id, &len));
	CHECK(gq_get_used(&q0, &id, &len));
	CHECK_EQ(fake_irqs(0), 0);
	teardown();
}

static void test_malformed_chain(void)
{
	uint32_t id = 0, len = 0;

	setup();
	CHECK_EQ(start(VER1), 0xf);
	fake_run(vm);
	fake_irqs(0);
	gq_desc(&q0, 0, 0x10000, 16, 1, QSZ); /* next out of range */
	gq_publish(&q0, 0);
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK_EQ(rd(VMMIO_STATUS), 0xf | 0x40);
	CHECK_EQ(rd(VMMIO_INTERRUPT_STATUS), 2);
	CHECK_EQ(fake_irqs(0), 1);
	CHECK_EQ(fake.events, 1);
	CHECK_EQ(fake.ev_kind, LVMM_EV_VIRTIO_ERROR);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_NEXT_INDEX);
	CHECK_EQ(fake.ev_b, 0);
	CHECK_STR(fake.ev_dev, "echo0");
	/* Nothing more is processed, on any queue, and nothing more is reported. */
	post_echo(&q1, 0, "x");
	fake_kick(BASE, 1);
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK(!gq_get_used(&q1, &id, &len));
	CHECK_EQ(fake.events, 1);
	CHECK_EQ(fake_irqs(0), 0);
	/* The driver resets and starts over: the device works again. */
	gq_init(&q0, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	gq_init(&q1, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
	CHECK_EQ(start(VER1), 0xf);
	fake_run(vm);
	post_echo(&q0, 0, "again");
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK(gq_get_used(&q0, &id, &len));
	CHECK_EQ(len, 5);
	CHECK_EQ(dev.vdev.errors, 1);
	teardown();
}

static void test_event_rate_limit(void)
{
	unsigned i;

	setup();
	/* A guest looping reset + malformed chain gets a bounded number of events. */
	for (i = 0; i < 50; i++) {
		gq_init(&q0, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
		CHECK_EQ(start(VER1), 0xf);
		gq_set_avail_idx(&q0, 100);
		fake_kick(BASE, 0);
		fake_run(vm);
		CHECK(rd(VMMIO_STATUS) & 0x40);
	}
	CHECK_EQ(dev.vdev.errors, 50);
	CHECK(fake.events <= RL_BURST + 1);
	teardown();
}

static void test_bad_ring_address(void)
{
	setup();
	wr(VMMIO_STATUS, 1);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, 1);
	wr(VMMIO_STATUS, 3 | 8);
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_DESC_LOW, 0);
	wr(VMMIO_QUEUE_DESC_HIGH, 0x10); /* 64 GiB: no RAM there */
	wr(VMMIO_QUEUE_DRIVER_LOW, 0x2000);
	wr(VMMIO_QUEUE_DEVICE_LOW, 0x3000);
	wr(VMMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	CHECK_EQ(rd(VMMIO_STATUS), 0xb | 0x40);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_RING_ADDR);
	CHECK_EQ(atomic_load(&vm->gmem.dma_faults), 1);
	/* Queue size not a power of two. */
	wr(VMMIO_STATUS, 0);
	wr(VMMIO_STATUS, 1);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, 1);
	wr(VMMIO_STATUS, 3 | 8);
	wr(VMMIO_QUEUE_NUM, 12);
	wr(VMMIO_QUEUE_DESC_HIGH, 0);
	wr(VMMIO_QUEUE_DESC_LOW, 0x1000);
	wr(VMMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_QUEUE_SIZE);
	teardown();
}

static void test_reset_clears(void)
{
	setup();
	CHECK_EQ(start(VER1 | INDIR), 0xf);
	fake_run(vm);
	post_echo(&q0, 0, "r");
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK_EQ(rd(VMMIO_INTERRUPT_STATUS), 1);
	wr(VMMIO_QUEUE_SEL, 1);
	wr(VMMIO_STATUS, 0);
	CHECK_EQ(rd(VMMIO_STATUS), 0);
	CHECK_EQ(rd(VMMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(rd(VMMIO_QUEUE_SEL), 0); /* write-only: reads 0 */
	wr(VMMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(VMMIO_QUEUE_READY), 0);
	CHECK_EQ(rd(VMMIO_QUEUE_NUM), QSZ);
	CHECK_EQ(rd(VMMIO_QUEUE_DESC_LOW), 0);
	CHECK_EQ(dev.vdev.features, 0);
	/* Kicks after reset do nothing. */
	dev.notified = 0;
	fake_kick(BASE, 0);
	fake_run(vm);
	CHECK_EQ(dev.notified, 0);
	teardown();
}

static void test_create_failure_unwinds(void)
{
	struct echo d2;

	setup();
	fake.fail_slot = true;
	memset(&d2, 0, sizeof(d2));
	CHECK_EQ(virtio_dev_init(&d2.vdev, &echo_ops, vm, &vm->gmem, "echo1", &d2), 0);
	CHECK_EQ(virtio_mmio_create(vm, &d2.vdev), -ENOSPC);
	virtio_dev_uninit(&d2.vdev);
	fake.fail_slot = false;
	teardown();
}

int main(void)
{
	RUN(test_identity);
	RUN(test_features);
	RUN(test_features_refused);
	RUN(test_status_machine);
	RUN(test_access_width);
	RUN(test_queue_registers);
	RUN(test_data_path);
	RUN(test_notify_before_driver_ok);
	RUN(test_event_idx_suppression);
	RUN(test_malformed_chain);
	RUN(test_event_rate_limit);
	RUN(test_bad_ring_address);
	RUN(test_reset_clears);
	RUN(test_create_failure_unwinds);
	return unit_done();
}
