// SPDX-License-Identifier: MIT
/*
 * Split-ring walker against a fake guest memory: two RAM slots with a hole
 * between them, rings built by hand, every malformed case the spec and
 * docs/virtio.md name.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "unit.h"
#include "fuzz/fake_vm.h"
#include "virtio/virtqueue.h"

#define RAM_A     0x10000ULL   /* slot A: [0, 64 KiB) */
#define B_GPA     0x20000ULL   /* slot B: [128 KiB, 192 KiB); the gap is a hole */
#define RAM_B     0x10000ULL
#define DESC      0x1000ULL
#define AVAIL     0x2000ULL
#define USED      0x3000ULL
#define BUF       0x8000ULL
#define QSZ       8
#define F_INDIRECT (1ULL << 28)
#define F_EVENT    (1ULL << 29)

static uint8_t *ram;  /* slot A; slot B is ram + RAM_A on the host, gpa B_GPA */
static struct gmem gm;
static unsigned faults;
static struct virtqueue vq;
static struct gq g;
static struct iovec iov[16];
static struct vq_chain ch;

static void on_fault(void *opaque, const char *dev, uint64_t gpa, uint64_t len, enum dma_dir dir,
		     enum dma_fault_kind kind)
{
	(void)opaque;
	(void)dev;
	(void)gpa;
	(void)len;
	(void)dir;
	(void)kind;
	faults++;
}

static void setup_features(uint64_t features, uint32_t max_bytes)
{
	if (!ram) {
		ram = aligned_alloc(4096, RAM_A + RAM_B);
		if (!ram)
			abort();
	}
	memset(ram, 0, RAM_A + RAM_B);
	memset(&gm, 0, sizeof(gm));
	if (gmem_add_slot(&gm, 0, RAM_A, ram, 0, false) ||
	    gmem_add_slot(&gm, B_GPA, RAM_B, ram + RAM_A, RAM_A, false))
		abort();
	gm.on_fault = on_fault;
	faults = 0;
	vq_init(&vq, &gm, "test0", 0, QSZ, max_bytes);
	gq_init(&g, ram, QSZ, DESC, AVAIL, USED);
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.size = QSZ;
	if (vq_set_ready(&vq, features))
		abort();
	ch = (struct vq_chain){ .iov = iov, .iov_cap = 16 };
}

static void setup(void)
{
	setup_features(F_INDIRECT | F_EVENT, 0);
}

/* Pop expecting a malformation with this reason; the queue must stay broken. */
static void expect_bad(enum virtio_err why)
{
	int r = vq_pop(&vq, &ch);

	CHECK(r < 0);
	CHECK_EQ(vq.err, why);
	CHECK(vq.broken);
	CHECK_EQ(vq_pop(&vq, &ch), -EIO);
}

static void test_simple_chain(void)
{
	uint32_t id = 0, len = 0;

	setup();
	CHECK_EQ(vq_pop(&vq, &ch), 0);
	gq_desc(&g, 0, BUF, 16, 1, 1);
	gq_desc(&g, 1, BUF + 16, 100, 1, 5);
	gq_desc(&g, 5, BUF + 0x1000, 512, 2, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(ch.head, 0);
	CHECK_EQ(ch.n_out, 2);
	CHECK_EQ(ch.n_in, 1);
	CHECK_EQ(ch.out_len, 116);
	CHECK_EQ(ch.in_len, 512);
	CHECK(iov[0].iov_base == ram + BUF);
	CHECK(iov[1].iov_base == ram + BUF + 16);
	CHECK(iov[2].iov_base == ram + BUF + 0x1000);
	CHECK_EQ(vq_pop(&vq, &ch), 0);
	vq_push(&vq, 0, 512);
	CHECK_EQ(gq_used_idx(&g), 0); /* not published yet */
	vq_flush(&vq);
	CHECK(gq_get_used(&g, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 512);
	CHECK_EQ(faults, 0);
}

static void test_second_slot(void)
{
	setup();
	gq_desc(&g, 0, B_GPA + 0x100, 0x200, 2, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK(iov[0].iov_base == ram + RAM_A + 0x100);
}

static void test_wraparound_of_indices(void)
{
	unsigned i;

	setup();
	/* Drive avail/used indices past 65535: slots are idx mod size. */
	for (i = 0; i < 70000; i++) {
		uint16_t d = (uint16_t)(i % QSZ);

		gq_desc(&g, d, BUF, 8, 0, 0);
		gq_publish(&g, d);
		if (vq_pop(&vq, &ch) != 1 || ch.head != d)
			break;
		vq_push(&vq, d, 0);
		vq_flush(&vq);
	}
	CHECK_EQ(i, 70000);
	CHECK_EQ(gq_used_idx(&g), (uint16_t)70000);
}

static void test_indirect(void)
{
	const uint64_t tbl = 0x5000;

	setup();
	gq_desc_at(ram, tbl + 0, BUF, 16, 1, 1);
	gq_desc_at(ram, tbl + 16, BUF + 16, 32, 3, 2);
	gq_desc_at(ram, tbl + 32, BUF + 64, 64, 2, 0);
	gq_desc(&g, 3, tbl, 48, 4 | 2 /* WRITE on the indirect desc is ignored */, 0);
	gq_publish(&g, 3);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(ch.head, 3);
	CHECK_EQ(ch.n_out, 1);
	CHECK_EQ(ch.n_in, 2);
	CHECK_EQ(ch.in_len, 96);
	CHECK(iov[2].iov_base == ram + BUF + 64);
}

static void test_direct_then_indirect(void)
{
	const uint64_t tbl = 0x5000;

	setup();
	/* Spec 2.7.5.3.2: direct descriptors followed by one indirect one. */
	gq_desc(&g, 0, BUF, 16, 1, 1);
	gq_desc(&g, 1, tbl, 16, 4, 0);
	gq_desc_at(ram, tbl, BUF + 0x100, 1, 2, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(ch.n_out, 1);
	CHECK_EQ(ch.n_in, 1);
	CHECK_EQ(ch.ndesc, 3);
}

static void test_indirect_not_negotiated(void)
{
	setup_features(F_EVENT, 0);
	gq_desc_at(ram, 0x5000, BUF, 16, 0, 0);
	gq_desc(&g, 0, 0x5000, 16, 4, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_INDIRECT_FEATURE);
}

static void test_indirect_nested(void)
{
	setup();
	gq_desc_at(ram, 0x5000, 0x6000, 16, 4, 0);
	gq_desc_at(ram, 0x6000, BUF, 16, 0, 0);
	gq_desc(&g, 0, 0x5000, 16, 4, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_INDIRECT_NESTED);
}

static void test_indirect_bad_len(void)
{
	static const uint32_t lens[] = { 0, 8, 17, 16 * (VQ_MAX_INDIRECT + 1) };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		setup();
		gq_desc(&g, 0, 0x5000, lens[i], 4, 0);
		gq_publish(&g, 0);
		expect_bad(VIRTIO_ERR_INDIRECT_LEN);
	}
}

static void test_indirect_with_next(void)
{
	setup();
	gq_desc_at(ram, 0x5000, BUF, 16, 0, 0);
	gq_desc(&g, 0, 0x5000, 16, 4 | 1, 1);
	gq_desc(&g, 1, BUF, 16, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_INDIRECT_NEXT);
}

static void test_indirect_next_out_of_table(void)
{
	setup();
	gq_desc_at(ram, 0x5000, BUF, 16, 1, 1);
	gq_desc_at(ram, 0x5010, BUF, 16, 1, 2); /* table has 2 entries: next 2 is out */
	gq_desc(&g, 0, 0x5000, 32, 4, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_NEXT_INDEX);
}

static void test_indirect_loop(void)
{
	setup();
	gq_desc_at(ram, 0x5000, BUF, 16, 1, 1);
	gq_desc_at(ram, 0x5010, BUF, 16, 1, 0);
	gq_desc(&g, 0, 0x5000, 32, 4, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_CHAIN_TOO_LONG);
}

static void test_indirect_table_outside_ram(void)
{
	setup();
	gq_desc(&g, 0, RAM_A - 16, 32, 4, 0); /* runs into the hole */
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
	CHECK_EQ(faults, 1);
}

static void test_loop(void)
{
	setup();
	gq_desc(&g, 0, BUF, 16, 1, 1);
	gq_desc(&g, 1, BUF, 16, 1, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_CHAIN_TOO_LONG);
}

static void test_self_loop(void)
{
	setup();
	gq_desc(&g, 4, BUF, 16, 1, 4);
	gq_publish(&g, 4);
	expect_bad(VIRTIO_ERR_CHAIN_TOO_LONG);
}

static void test_longer_than_queue(void)
{
	const uint64_t tbl = 0x5000;
	unsigned i;

	setup();
	/* QSZ direct descriptors are fine... */
	for (i = 0; i < QSZ; i++)
		gq_desc(&g, (uint16_t)i, BUF, 1, i + 1 < QSZ ? 1 : 0, (uint16_t)(i + 1));
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(ch.n_out, QSZ);
	/* ...and the hard cap bounds a huge indirect table walk (iov cap first here). */
	setup();
	for (i = 0; i < 20; i++)
		gq_desc_at(ram, tbl + 16 * i, BUF, 1, 1, (uint16_t)(i + 1));
	gq_desc(&g, 0, tbl, 16 * 20, 4, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_IOV_FULL);
	/* 7 direct + a full 1024-entry table: over the VQ_MAX_CHAIN hard cap. */
	{
		static struct iovec many[2048];

		setup();
		ch = (struct vq_chain){ .iov = many, .iov_cap = 2048 };
		for (i = 0; i < QSZ - 1; i++)
			gq_desc(&g, (uint16_t)i, BUF, 1, 1, (uint16_t)(i + 1));
		gq_desc(&g, QSZ - 1, tbl, 16 * VQ_MAX_INDIRECT, 4, 0);
		for (i = 0; i < VQ_MAX_INDIRECT; i++)
			gq_desc_at(ram, tbl + 16 * i, BUF, 1, i + 1 < VQ_MAX_INDIRECT ? 1 : 0,
				   (uint16_t)(i + 1));
		gq_publish(&g, 0);
		expect_bad(VIRTIO_ERR_CHAIN_TOO_LONG);
	}
}

static void test_next_out_of_range(void)
{
	setup();
	gq_desc(&g, 0, BUF, 16, 1, QSZ);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_NEXT_INDEX);
}

static void test_head_out_of_range(void)
{
	setup();
	gq_publish(&g, QSZ + 3);
	expect_bad(VIRTIO_ERR_HEAD_INDEX);
}

static void test_outside_ram(void)
{
	setup();
	gq_desc(&g, 0, 0x100000000ULL, 16, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
	CHECK_EQ(faults, 1);
	CHECK_EQ(atomic_load(&gm.dma_faults), 1);
}

static void test_into_hole(void)
{
	setup();
	gq_desc(&g, 0, RAM_A - 0x100, 0x200, 2, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
	setup();
	gq_desc(&g, 0, RAM_A + 0x100, 0x10, 2, 0); /* wholly in the hole */
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
	setup();
	gq_desc(&g, 0, B_GPA - 1, 2, 2, 0); /* one byte before slot B */
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
}

static void test_wrap_2_64(void)
{
	setup();
	gq_desc(&g, 0, 0xfffffffffffff000ULL, 0x2000, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
	setup();
	gq_desc(&g, 0, UINT64_MAX, 1, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
}

static void test_len_huge(void)
{
	setup();
	gq_desc(&g, 0, 0, 0xffffffffU, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_DMA);
	/* Per-device cap checked before any translation. */
	setup_features(0, 4096);
	gq_desc(&g, 0, BUF, 4000, 1, 1);
	gq_desc(&g, 1, BUF, 100, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_TOO_BIG);
}

static void test_total_over_4g(void)
{
	const uint64_t big = 8 * GiB;
	uint8_t *m = mmap(NULL, big, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct gmem bg;
	struct virtqueue bq;
	struct gq bgq;

	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	memset(&bg, 0, sizeof(bg));
	CHECK_EQ(gmem_add_slot(&bg, 0, big, m, 0, false), 0);
	vq_init(&bq, &bg, "big", 0, QSZ, 0);
	gq_init(&bgq, m, QSZ, DESC, AVAIL, USED);
	bq.desc_gpa = DESC;
	bq.avail_gpa = AVAIL;
	bq.used_gpa = USED;
	CHECK_EQ(vq_set_ready(&bq, 0), 0);
	/* Three 1.5 GiB buffers: each valid, together past the 2^32 cap. */
	gq_desc(&bgq, 0, 1 * GiB, 0x60000000, 1, 1);
	gq_desc(&bgq, 1, 3 * GiB, 0x60000000, 1, 2);
	gq_desc(&bgq, 2, 5 * GiB, 0x60000000, 0, 0);
	gq_publish(&bgq, 0);
	CHECK(vq_pop(&bq, &ch) < 0);
	CHECK_EQ(bq.err, VIRTIO_ERR_TOO_BIG);
	munmap(m, big);
}

static void test_len_zero(void)
{
	setup();
	gq_desc(&g, 0, BUF, 16, 1, 1);
	gq_desc(&g, 1, BUF, 0, 2, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_ZERO_LEN);
}

static void test_readable_after_writable(void)
{
	setup();
	gq_desc(&g, 0, BUF, 16, 2 | 1, 1);
	gq_desc(&g, 1, BUF, 16, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_ORDER);
	/* Same across a direct -> indirect switch. */
	setup();
	gq_desc(&g, 0, BUF, 16, 2 | 1, 1);
	gq_desc(&g, 1, 0x5000, 16, 4, 0);
	gq_desc_at(ram, 0x5000, BUF, 16, 0, 0);
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_ORDER);
}

static void test_avail_jump(void)
{
	setup();
	gq_set_avail_idx(&g, QSZ + 1);
	expect_bad(VIRTIO_ERR_AVAIL_IDX);
	/* Exactly size is legal (a full ring). */
	setup();
	gq_desc(&g, 0, BUF, 1, 0, 0);
	gq_set_avail_idx(&g, QSZ);
	CHECK_EQ(vq_avail_count(&vq), QSZ);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	/* Going backwards is a jump by nearly 2^16. */
	gq_set_avail_idx(&g, 0);
	vq.shadow_avail = vq.last_avail; /* force a re-read */
	expect_bad(VIRTIO_ERR_AVAIL_IDX);
}

static void test_iov_cap(void)
{
	unsigned i;

	setup();
	ch.iov_cap = 3;
	for (i = 0; i < 4; i++)
		gq_desc(&g, (uint16_t)i, BUF, 4, i < 3 ? 1 : 0, (uint16_t)(i + 1));
	gq_publish(&g, 0);
	expect_bad(VIRTIO_ERR_IOV_FULL);
}

static void test_ring_setup(void)
{
	struct virtqueue q;

	setup();
	vq_init(&q, &gm, "t", 0, QSZ, 0);
	q.desc_gpa = DESC + 8; /* desc table needs 16-byte alignment */
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	CHECK_EQ(vq_set_ready(&q, 0), -EFAULT);
	CHECK_EQ(q.err, VIRTIO_ERR_RING_ADDR);
	CHECK(!q.ready);
	q.desc_gpa = DESC;
	q.used_gpa = USED + 2; /* used ring needs 4 */
	CHECK_EQ(vq_set_ready(&q, 0), -EFAULT);
	q.used_gpa = RAM_A - 8; /* runs into the hole */
	CHECK_EQ(vq_set_ready(&q, 0), -EFAULT);
	q.used_gpa = USED;
	q.avail_gpa = AVAIL + 1;
	CHECK_EQ(vq_set_ready(&q, 0), -EFAULT);
	q.avail_gpa = AVAIL;
	q.size = 6; /* not a power of two */
	CHECK_EQ(vq_set_ready(&q, 0), -EINVAL);
	CHECK_EQ(q.err, VIRTIO_ERR_QUEUE_SIZE);
	q.size = 0;
	CHECK_EQ(vq_set_ready(&q, 0), -EINVAL);
	q.size = QSZ * 2; /* above QueueNumMax */
	CHECK_EQ(vq_set_ready(&q, 0), -EINVAL);
	q.size = 4;
	CHECK_EQ(vq_set_ready(&q, 0), 0);
	CHECK(q.ready);
}

static void test_used_ring_readonly(void)
{
	struct gmem rg;
	struct virtqueue q;

	setup();
	memset(&rg, 0, sizeof(rg));
	CHECK_EQ(gmem_add_slot(&rg, 0, 0x3000, ram, 0, false), 0);
	CHECK_EQ(gmem_add_slot(&rg, 0x3000, 0x1000, ram + 0x3000, 0x3000, true), 0);
	vq_init(&q, &rg, "t", 0, QSZ, 0);
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED; /* in the protected slot: the device may not write there */
	CHECK_EQ(vq_set_ready(&q, 0), -EFAULT);
	CHECK_EQ(atomic_load(&rg.dma_faults), 1);
}

static void test_event_idx(void)
{
	setup();
	gq_desc(&g, 0, BUF, 1, 0, 0);
	gq_desc(&g, 1, BUF, 1, 0, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(gq_avail_event(&g), 1); /* we want a kick at the next buffer */
	vq_push(&vq, 0, 0);
	vq_flush(&vq);
	gq_set_used_event(&g, 0);
	CHECK(vq_should_notify(&vq)); /* first one always */
	gq_publish(&g, 1);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	vq_push(&vq, 1, 0);
	vq_flush(&vq);
	gq_set_used_event(&g, 0); /* driver asked at 0, already passed */
	CHECK(!vq_should_notify(&vq));
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	vq_push(&vq, 0, 0);
	vq_flush(&vq);
	gq_set_used_event(&g, 2); /* used idx went 2 -> 3: crosses event 2 */
	CHECK(vq_should_notify(&vq));
	/* The spec's formula on its own. */
	CHECK(vq_need_event(5, 6, 5));
	CHECK(!vq_need_event(6, 6, 5));
	CHECK(vq_need_event(65535, 0, 65534));
	CHECK(!vq_need_event(10, 3, 2));
}

static void test_no_interrupt_flag(void)
{
	setup_features(0, 0);
	gq_desc(&g, 0, BUF, 1, 0, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	vq_push(&vq, 0, 0);
	vq_flush(&vq);
	CHECK(vq_should_notify(&vq));
	gq_put16(ram + AVAIL, 1); /* VRING_AVAIL_F_NO_INTERRUPT */
	CHECK(!vq_should_notify(&vq));
}

static void test_notify_suppression(void)
{
	setup_features(0, 0);
	vq_disable_notify(&vq);
	CHECK_EQ(gq_get16(ram + USED), 1); /* VRING_USED_F_NO_NOTIFY */
	CHECK(!vq_enable_notify(&vq));
	CHECK_EQ(gq_get16(ram + USED), 0);
	vq_disable_notify(&vq);
	gq_desc(&g, 0, BUF, 1, 0, 0);
	gq_publish(&g, 0);
	CHECK(vq_enable_notify(&vq)); /* arrived while suppressed: caller must look */

	setup();
	gq_desc(&g, 0, BUF, 1, 0, 0);
	gq_publish(&g, 0);
	gq_publish(&g, 0);
	vq_disable_notify(&vq);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(gq_avail_event(&g), 0); /* not updated while suppressed */
	CHECK(vq_enable_notify(&vq));    /* one still pending */
	CHECK_EQ(gq_avail_event(&g), 1);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK(!vq_enable_notify(&vq));
	CHECK_EQ(gq_avail_event(&g), 2);
}

/*
 * Polling (vq_suppress_notify): no kick for anything the driver adds, by
 * the driver's own rule, until kicks are asked for again; with EVENT_IDX
 * too, where a stale avail_event alone still asks for the next buffer.
 */
static void test_notify_suppressed_while_polled(void)
{
	uint16_t i;

	setup();
	gq_desc(&g, 0, BUF, 1, 0, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK(!vq_enable_notify(&vq));
	CHECK(vq_need_event(gq_avail_event(&g), 2, 1)); /* enabled: the next buffer kicks */
	vq_suppress_notify(&vq);
	/* The driver adds 1, then 100 more one by one: none would kick. */
	for (i = 1; i <= 100; i++)
		CHECK(!vq_need_event(gq_avail_event(&g), (uint16_t)(1 + i), i));
	CHECK(!vq_need_event(gq_avail_event(&g), 60000, 1)); /* nor a big batch */
	gq_publish(&g, 0);
	CHECK(vq_enable_notify(&vq)); /* arrived while suppressed: the caller must look */
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK(!vq_enable_notify(&vq));
	CHECK(vq_need_event(gq_avail_event(&g), 3, 2));

	setup_features(0, 0);
	vq_suppress_notify(&vq);
	CHECK_EQ(gq_get16(ram + USED), 1); /* VRING_USED_F_NO_NOTIFY */
	CHECK(!vq_enable_notify(&vq));
	CHECK_EQ(gq_get16(ram + USED), 0);
}

static void test_unpop_and_more(void)
{
	setup();
	gq_desc(&g, 0, BUF, 1, 2, 0);
	gq_publish(&g, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	CHECK_EQ(vq_pop(&vq, &ch), 0);
	vq_unpop(&vq, 2);
	CHECK_EQ(vq_avail_count(&vq), 2);
	CHECK(!vq_notify_on_more(&vq));
	CHECK_EQ(gq_avail_event(&g), 2); /* kick when a third buffer comes */
	CHECK_EQ(vq_pop(&vq, &ch), 1);
}

static void test_concurrent_rewrite_is_harmless(void)
{
	/*
	 * A descriptor is read once: after the pop, rewriting it in guest
	 * memory cannot change what was checked and returned.
	 */
	setup();
	gq_desc(&g, 0, BUF, 16, 0, 0);
	gq_publish(&g, 0);
	CHECK_EQ(vq_pop(&vq, &ch), 1);
	gq_desc(&g, 0, 0xdead0000, 0xffffffff, 0, 0);
	CHECK(iov[0].iov_base == ram + BUF);
	CHECK_EQ(iov[0].iov_len, 16);
}

static void test_reset(void)
{
	setup();
	gq_set_avail_idx(&g, 100);
	expect_bad(VIRTIO_ERR_AVAIL_IDX);
	vq_reset(&vq);
	CHECK(!vq.ready);
	CHECK(!vq.broken);
	CHECK_EQ(vq.size, QSZ);
	CHECK_EQ(vq_pop(&vq, &ch), 0);
	CHECK_STR(virtio_err_str(VIRTIO_ERR_DMA), "buffer outside guest memory");
	CHECK_STR(virtio_err_str(999), "unknown");
}

int main(void)
{
	RUN(test_simple_chain);
	RUN(test_second_slot);
	RUN(test_wraparound_of_indices);
	RUN(test_indirect);
	RUN(test_direct_then_indirect);
	RUN(test_indirect_not_negotiated);
	RUN(test_indirect_nested);
	RUN(test_indirect_bad_len);
	RUN(test_indirect_with_next);
	RUN(test_indirect_next_out_of_table);
	RUN(test_indirect_loop);
	RUN(test_indirect_table_outside_ram);
	RUN(test_loop);
	RUN(test_self_loop);
	RUN(test_longer_than_queue);
	RUN(test_next_out_of_range);
	RUN(test_head_out_of_range);
	RUN(test_outside_ram);
	RUN(test_into_hole);
	RUN(test_wrap_2_64);
	RUN(test_len_huge);
	RUN(test_total_over_4g);
	RUN(test_len_zero);
	RUN(test_readable_after_writable);
	RUN(test_avail_jump);
	RUN(test_iov_cap);
	RUN(test_ring_setup);
	RUN(test_used_ring_readonly);
	RUN(test_event_idx);
	RUN(test_no_interrupt_flag);
	RUN(test_notify_suppression);
	RUN(test_notify_suppressed_while_polled);
	RUN(test_unpop_and_more);
	RUN(test_concurrent_rewrite_is_harmless);
	RUN(test_reset);
	free(ram);
	return unit_done();
}
